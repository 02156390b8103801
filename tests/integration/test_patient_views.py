"""A patient reads their own view, on every route a patient may call: never who on staff did something
(user ids), notes or reasons staff wrote, what staff recorded about a colleague (time off), nor
anything about another patient. Staff keep reading everything. Each view's keys are asserted exactly,
so a field added to a staff model cannot reach patients unnoticed; staff-written canaries must appear
nowhere in a patient's body, replays included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import clock
from tests.integration.test_scheduling_access import ROUTES
from tests.support.intake import PHI
from tests.support.scheduling import CARDIOLOGIST, Sched, Worker, open_clinic, outbox

STAFF_SUB = "staff-canary-7"  # the coordinator who does everything below
NOTE = "internal: canary"  # what staff wrote on a cancellation
REASON = "internal: canary reason"  # what staff wrote rejecting a referral
SICK = "sick"  # why staff recorded the provider's time off

APPOINTMENT = {
    "id",
    "version",
    "status",
    "patient_id",
    "provider_id",
    "appointment_type",
    "start",
    "end",
    "time_zone",
    "referral_id",
    "offer_id",
    "created_at",
    "updated_at",
    "confirmed_at",
    "arrived_at",
    "checked_in_at",
    "completed_at",
    "cancellation",
    "rescheduled_count",
    "reschedules",
    "insurance",  # the words only: approved, or awaiting insurance approval
}
STAFF_APPOINTMENT = APPOINTMENT | {"booked_by", "overbooked", "source_partner_id", "authorization_id"}
CANCELLATION = {"reason", "at", "by_patient", "note"}
STAFF_CANCELLATION = {"by", "by_role", "reason", "note", "at"}
RESCHEDULE = {"start", "end", "at"}
STAFF_RESCHEDULE = RESCHEDULE | {"by", "version"}
PROVIDER = {
    "id",
    "version",
    "name",
    "specialty",
    "location",
    "time_zone",
    "slot_minutes",
    "appointment_types",
    "availability",
    "active",
}
REFERRAL = {
    "id",
    "status",
    "fhir_status",
    "patient_id",
    "specialty",
    "provider_id",
    "reason",
    "urgency",
    "due_date",
    "overdue",
    "appointment_id",
    "created_at",
    "updated_at",
}
STAFF_REFERRAL = REFERRAL | {"version", "overdue_since", "status_reason", "created_by"}
# nothing in these is staff-only: patients and staff read the same
WAITLIST_ENTRY = {
    "id",
    "version",
    "status",
    "patient_id",
    "provider_id",
    "specialty",
    "appointment_type",
    "earliest",
    "latest",
    "offer_id",
    "created_at",
}
OFFER = {
    "id",
    "status",
    "entry_id",
    "patient_id",
    "provider_id",
    "appointment_type",
    "start",
    "end",
    "expires_at",
    "appointment_id",
}
SLOT = {"provider_id", "appointment_type", "start", "end", "local_start"}
APPOINTMENT_TYPE = {"code", "display", "duration_minutes", "authorization"}
PAGE = {"items", "next_cursor"}


@dataclass
class World:
    provider: str
    me: str
    other: str
    over: str  # mine: booked by staff over another patient's visit
    moved: str  # mine: booked, then moved, by staff
    cancelled: str  # mine: cancelled by staff with a note
    referral: str  # mine: rejected by staff with a reason
    draft: str  # mine: a draft referral
    entry: str  # mine: on the waitlist, holding `offer`
    offer: str
    staff: Sched
    them_appointment: str  # the other patient's

    def canaries(self) -> tuple[str, ...]:
        return (NOTE, REASON, STAFF_SUB, SICK, self.other, self.them_appointment, self.draft)


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(*PHI[1:], NOTE, REASON)


@pytest.fixture
def world(aws: dict, frozen_clock: clock.FixedClock, monkeypatch: pytest.MonkeyPatch) -> World:
    frozen_clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))  # 10:00 in Chicago: offers go out
    for name, value in Worker.environment(aws).items():
        monkeypatch.setenv(name, value)
    clinic = open_clinic(patients=2)
    me, other, prov = clinic.patients[0], clinic.patients[1], clinic.provider_id
    staff = Sched(sub=STAFF_SUB)
    time_off = [{"first": "2026-12-01", "last": "2026-12-01", "reason": SICK}]
    put = clinic.admin.req(
        "PUT",
        "/providers/{provider_id}",
        {**CARDIOLOGIST, "time_off": time_off},
        headers={"If-Match": '"1"'},
        provider_id=prov,
    )
    assert put["statusCode"] == 200, put["body"]
    referral = {"patient_id": me, "specialty": "cardiology", "reason": "chest pain", "due_date": "2026-11-30"}
    sent = staff.req("POST", "/referrals", {**referral, "send": True})["json"]["id"]
    rejected = staff.req(
        "POST", "/referrals/{referral_id}/{action}", {"reason": REASON}, referral_id=sent, action="reject"
    )
    assert rejected["json"]["status_reason"] == REASON
    draft = staff.req("POST", "/referrals", referral)["json"]["id"]
    waitlist = {
        "patient_id": me,
        "provider_id": prov,
        "appointment_type": "follow-up",
        "earliest": "2026-11-23",
        "latest": "2026-11-30",
    }
    entry = staff.req("POST", "/waitlist", waitlist)["json"]["id"]
    theirs = staff.book(other, prov)["json"]["id"]  # Tuesday 09:00
    over = staff.book(me, prov, allow_double_booking=True)["json"]
    assert over["overbooked"] is True
    moved = staff.book(me, prov, start="2026-11-24T16:00:00Z")["json"]["id"]
    assert staff.act(moved, "reschedule", {"start": "2026-11-24T16:30:00Z"})["statusCode"] == 200
    # cancelled by staff: the freed time is offered to the waitlist, i.e. to this patient
    cancelled = staff.book(me, prov, start="2026-11-24T19:00:00Z")["json"]["id"]
    assert staff.act(cancelled, "cancel", {"reason": "provider", "note": NOTE})["statusCode"] == 200
    Worker(aws).drain()
    (offer,) = [e["detail"]["offer_id"] for e in outbox(aws) if e["detail-type"] == "SlotOffered"]
    return World(prov, me, other, over["id"], moved, cancelled, sent, draft, entry, offer, staff, theirs)


def _patient(w: World, org: str = "acme", patient_id: str | None = None) -> Sched:
    pid = patient_id or w.me
    return Sched(org=org, roles=("patient",), sub=f"user-{pid[-6:]}", patient_id=pid)


def _clean(w: World, response: dict[str, Any], status: int = 200) -> Any:
    """The response's JSON, after checking its status and that no staff-only canary is in its body."""
    assert response["statusCode"] == status, response["body"]
    for canary in w.canaries():
        assert canary not in response["body"], canary
    return response["json"]


def _appointment(body: dict[str, Any]) -> None:
    assert set(body) == APPOINTMENT
    if body["cancellation"] is not None:
        assert set(body["cancellation"]) == CANCELLATION
    assert all(set(r) == RESCHEDULE for r in body["reschedules"])


def _page(body: dict[str, Any], keys: set[str]) -> list[dict[str, Any]]:
    assert set(body) == PAGE and body["items"]
    assert all(set(item) == keys for item in body["items"])
    return body["items"]  # type: ignore[no-any-return]


PATIENT_ROUTES = {f"{r.method} {r.path}" for r in ROUTES if r.patient}


def test_the_routes_below_are_every_scheduling_route_a_patient_may_call() -> None:
    covered = {
        "GET /appointment-types",
        "GET /providers",
        "GET /providers/{provider_id}",
        "GET /availability",
        "GET /appointments/{appointment_id}",
        "GET /patients/{patient_id}/appointments",
        "GET /patients/{patient_id}/referrals",
        "GET /patients/{patient_id}/waitlist",
        "GET /offers/{offer_id}",
        "POST /appointments",
        "POST /waitlist",
        "DELETE /waitlist/{entry_id}",
        "POST /appointments/{appointment_id}/confirm",
        "POST /appointments/{appointment_id}/reschedule",
        "POST /appointments/{appointment_id}/cancel",
        "POST /offers/{offer_id}/accept",
        "POST /offers/{offer_id}/decline",
    }
    assert covered == PATIENT_ROUTES


def test_a_patient_reads_their_own_view_and_staff_read_everything(world: World) -> None:
    w, me = world, _patient(world)
    # booked over another patient's visit: nothing says so, nor who on staff booked it
    _appointment(_clean(w, me.req("GET", "/appointments/{appointment_id}", appointment_id=w.over)))
    staff_over = w.staff.req("GET", "/appointments/{appointment_id}", appointment_id=w.over)["json"]
    assert set(staff_over) == STAFF_APPOINTMENT and staff_over["booked_by"] == STAFF_SUB
    assert staff_over["overbooked"] is True
    # moved by staff: when it was moved from, not by whom
    moved = _clean(w, me.req("GET", "/appointments/{appointment_id}", appointment_id=w.moved))
    _appointment(moved)
    assert moved["rescheduled_count"] == 1
    assert moved["reschedules"] == [
        {"start": "2026-11-24T16:00:00Z", "end": "2026-11-24T16:30:00Z", "at": "2026-11-23T16:00:00Z"}
    ]
    staff_moved = w.staff.req("GET", "/appointments/{appointment_id}", appointment_id=w.moved)["json"]
    assert [set(r) for r in staff_moved["reschedules"]] == [STAFF_RESCHEDULE]
    assert staff_moved["reschedules"][0]["by"] == STAFF_SUB
    # cancelled by staff with a note: the patient sees why (the code) and that it was not them
    cancelled = _clean(w, me.req("GET", "/appointments/{appointment_id}", appointment_id=w.cancelled))
    _appointment(cancelled)
    assert cancelled["cancellation"]["reason"] == "provider"
    assert cancelled["cancellation"]["by_patient"] is False and cancelled["cancellation"]["note"] is None
    staff_cancelled = w.staff.req("GET", "/appointments/{appointment_id}", appointment_id=w.cancelled)["json"]
    assert set(staff_cancelled["cancellation"]) == STAFF_CANCELLATION
    assert staff_cancelled["cancellation"]["note"] == NOTE
    assert staff_cancelled["cancellation"]["by"] == STAFF_SUB
    # their list
    listed = _page(
        _clean(w, me.req("GET", "/patients/{patient_id}/appointments", patient_id=w.me)), APPOINTMENT
    )
    assert {a["id"] for a in listed} == {w.over, w.moved, w.cancelled}
    staff_listed = w.staff.req("GET", "/patients/{patient_id}/appointments", patient_id=w.me)["json"]
    assert all(set(a) == STAFF_APPOINTMENT for a in staff_listed["items"])
    # referrals: the reason is theirs; who wrote it and why staff rejected it are not; no drafts
    referrals = _page(_clean(w, me.req("GET", "/patients/{patient_id}/referrals", patient_id=w.me)), REFERRAL)
    assert [(r["id"], r["status"], r["reason"]) for r in referrals] == [
        (w.referral, "rejected", "chest pain")
    ]
    staff_referrals = w.staff.req("GET", "/patients/{patient_id}/referrals", patient_id=w.me)["json"]["items"]
    assert {r["id"] for r in staff_referrals} == {w.referral, w.draft}
    assert all(set(r) == STAFF_REFERRAL and r["created_by"] == STAFF_SUB for r in staff_referrals)
    assert [r["status_reason"] for r in staff_referrals if r["id"] == w.referral] == [REASON]
    # waitlist and offer: nothing staff-only in them
    (entry,) = _page(
        _clean(w, me.req("GET", "/patients/{patient_id}/waitlist", patient_id=w.me)), WAITLIST_ENTRY
    )
    assert entry["id"] == w.entry and entry["offer_id"] == w.offer
    offer = _clean(w, me.req("GET", "/offers/{offer_id}", offer_id=w.offer))
    assert set(offer) == OFFER
    # the directory: no time off, hence no reasons staff recorded about a colleague
    provider = _clean(w, me.req("GET", "/providers/{provider_id}", provider_id=w.provider))
    assert set(provider) == PROVIDER and provider["name"] == CARDIOLOGIST["name"]
    staff_provider = w.staff.req("GET", "/providers/{provider_id}", provider_id=w.provider)["json"]
    assert set(staff_provider) == PROVIDER | {"time_off"}
    assert staff_provider["time_off"][0]["reason"] == SICK
    _page(_clean(w, me.req("GET", "/providers")), PROVIDER)
    assert all("time_off" in p for p in w.staff.req("GET", "/providers")["json"]["items"])
    _page(_clean(w, me.availability(provider_id=w.provider)), SLOT)
    types = _clean(w, me.req("GET", "/appointment-types"))
    assert set(types) == {"items"} and all(set(t) == APPOINTMENT_TYPE for t in types["items"])


def test_a_patients_own_moves_answer_with_their_view(world: World) -> None:
    w, me = world, _patient(world)
    confirmed = _clean(w, me.act(w.moved, "confirm"))
    _appointment(confirmed)
    assert confirmed["status"] == "booked"
    moved = _clean(w, me.act(w.moved, "reschedule", {"start": "2026-11-25T15:00:00Z"}))
    _appointment(moved)
    assert moved["rescheduled_count"] == 2
    cancelled = _clean(w, me.act(w.moved, "cancel", {"reason": "patient", "note": "my own words"}))
    _appointment(cancelled)
    # their own note comes back to them
    assert cancelled["cancellation"] == {
        "reason": "patient",
        "at": "2026-11-23T16:00:00Z",
        "by_patient": True,
        "note": "my own words",
    }
    booked = _clean(w, me.book(w.me, w.provider, start="2026-11-25T16:00:00Z"), 201)
    _appointment(booked)
    joined = _clean(
        w,
        me.req(
            "POST",
            "/waitlist",
            {
                "patient_id": w.me,
                "specialty": "cardiology",
                "appointment_type": "follow-up",
                "earliest": "2026-11-24",
                "latest": "2026-11-30",
            },
        ),
        201,
    )
    assert set(joined) == WAITLIST_ENTRY
    left = _clean(w, me.req("DELETE", "/waitlist/{entry_id}", entry_id=joined["id"]))
    assert set(left) == WAITLIST_ENTRY and left["status"] == "removed"
    declined = _clean(w, me.req("POST", "/offers/{offer_id}/decline", offer_id=w.offer))
    assert set(declined) == OFFER and declined["status"] == "declined"


def test_accepting_an_offer_and_its_replay_give_the_patient_their_view(world: World) -> None:
    w, me = world, _patient(world)
    key = {"Idempotency-Key": "accept-1"}
    first = _clean(w, me.req("POST", "/offers/{offer_id}/accept", headers=key, offer_id=w.offer), 201)
    _appointment(first)
    again = me.req("POST", "/offers/{offer_id}/accept", headers=key, offer_id=w.offer)
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert _clean(w, again, 201) == first


def test_a_replay_of_a_staff_booking_never_shows_a_patient_the_staff_view(world: World) -> None:
    """Keys are scoped to the subject: a user whose account is a patient's now, replaying the key
    they used as staff, gets the stored response in the patient's view."""
    w = world
    body = {"patient_id": w.me, "provider_id": w.provider, "appointment_type": "follow-up"}
    body["start"] = "2026-11-25T17:00:00Z"
    key = {"Idempotency-Key": "booking-1"}
    as_staff = w.staff.req("POST", "/appointments", body, headers=key)
    assert as_staff["statusCode"] == 201 and as_staff["json"]["booked_by"] == STAFF_SUB
    same_user_as_patient = Sched(roles=("patient",), sub=STAFF_SUB, patient_id=w.me)
    replayed = same_user_as_patient.req("POST", "/appointments", body, headers=key)
    assert replayed["headers"]["Idempotent-Replayed"] == "true"
    assert replayed["statusCode"] == 201 and set(replayed["json"]) == APPOINTMENT
    assert replayed["json"]["id"] == as_staff["json"]["id"]
    assert STAFF_SUB not in replayed["body"]
    # and staff replaying their own request still read the whole record
    assert w.staff.req("POST", "/appointments", body, headers=key)["json"] == as_staff["json"]


def test_another_patients_objects_and_another_organizations_are_404_for_a_patient(world: World) -> None:
    w = world
    them = _patient(w, patient_id=w.other)
    elsewhere = _patient(w, org="globex")  # a patient token of another organization, same patient id
    for api in (them, elsewhere):
        for route, params in (
            ("/appointments/{appointment_id}", {"appointment_id": w.moved}),
            ("/offers/{offer_id}", {"offer_id": w.offer}),
            ("/patients/{patient_id}/appointments", {"patient_id": w.me}),
            ("/patients/{patient_id}/referrals", {"patient_id": w.me}),
            ("/patients/{patient_id}/waitlist", {"patient_id": w.me}),
        ):
            response = api.req("GET", route, **params)
            assert response["statusCode"] == 404, (api.claims, route)
            assert w.me not in response["body"]
        for action, body in (("confirm", None), ("cancel", {"reason": "patient"})):
            assert api.act(w.moved, action, body)["statusCode"] == 404
        accept = api.req("POST", "/offers/{offer_id}/accept", offer_id=w.offer)
        assert accept["statusCode"] == 404
    # the other patient reads their own appointment, in their own view
    theirs = them.req("GET", "/appointments/{appointment_id}", appointment_id=w.them_appointment)
    assert theirs["statusCode"] == 200 and set(theirs["json"]) == APPOINTMENT


def test_the_openapi_document_shows_both_views() -> None:
    from local.openapi import document

    spec = document()
    for path, method in (
        ("/appointments/{appointment_id}", "get"),
        ("/appointments", "post"),
        ("/appointments/{appointment_id}/cancel", "post"),
        ("/offers/{offer_id}/accept", "post"),
        ("/providers/{provider_id}", "get"),
    ):
        responses = spec["paths"][path][method]["responses"]
        (success,) = [r for code, r in responses.items() if code in ("200", "201")]
        schema = success["content"]["application/json"]["schema"]
        refs = {s["$ref"].rsplit("/", 1)[-1] for s in schema["anyOf"]}
        assert len(refs) == 2 and any("PatientView" in r for r in refs), (path, refs)
