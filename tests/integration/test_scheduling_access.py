"""Who may do what: every scheduling route, every role, a patient's own data and another patient's,
and another organization. Deny by default: a role a route does not name gets 403; another patient's
or another organization's object is a 404 (its existence does not leak)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import clock
from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, snapshot
from tests.support.intake import PHI
from tests.support.scheduling import CALENDAR, CARDIOLOGIST, Sched, Worker, open_clinic, outbox

STAFF = ("coordinator", "nurse", "physician", "admin")
ALL_STAFF, ADMIN = STAFF, ("admin",)


@dataclass
class World:
    provider: str
    patient: str  # owns everything below
    other_patient: str
    appointment: str  # pending, Tuesday 09:00 Chicago: confirmed, moved, arrived, checked in, completed
    referral: str
    entry: str
    offer: str  # held for `entry`: accepted
    no_show: str  # pending, Tuesday 15:00 Chicago: marked a no-show once it has started
    to_cancel: str  # pending, Tuesday 16:00 Chicago: cancelled
    second_entry: str
    second_offer: str  # held for `second_entry`: declined, then the entry is removed
    clock: clock.FixedClock


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    staff: tuple[str, ...]  # staff roles allowed
    patient: bool  # may a patient use it on their own data
    body: Callable[[World], Any] | None = None
    query: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    ok: int = 200  # what an allowed caller gets, the calls running in the table's order on one world
    on: str | None = None  # the World field its path id names, when not the obvious one
    at: str | None = None  # the clock for this call (a visit is completed or missed once it started)

    def call(self, api: Sched, w: World) -> dict[str, Any]:
        query = dict(self.query or {})
        if self.path == "/availability":
            query["provider_id"] = w.provider
        body = self.body(w) if self.body else None
        now = w.clock.now()
        if self.at:
            w.clock.set(datetime.fromisoformat(self.at))
        try:
            return api.req(
                self.method,
                self.path,
                body,
                query=query or None,
                headers=self.headers,
                **_params(self.path, w, self.on),
            )
        finally:
            w.clock.set(now)


def _params(path: str, w: World, on: str | None = None) -> dict[str, str]:
    params = {
        "provider_id": w.provider,
        "patient_id": w.patient,
        "appointment_id": w.appointment,
        "referral_id": w.referral,
        "entry_id": w.entry,
        "offer_id": w.offer,
        "code": "follow-up",
        "action": "accept",
    }
    if on:
        (name,) = [n for n in params if "{" + n + "}" in path and n != "code"]
        params[name] = getattr(w, on)
    return {n: v for n, v in params.items() if "{" + n + "}" in path}


def _booking(w: World) -> dict[str, Any]:
    return {
        "patient_id": w.patient,
        "provider_id": w.provider,
        "appointment_type": "follow-up",
        "start": "2026-11-25T15:00:00Z",
    }


def _waitlist(w: World) -> dict[str, Any]:
    return {**_waitlist_for(w.patient), "specialty": "cardiology"}


def _referral(w: World) -> dict[str, Any]:
    return _referral_for(w.patient)


DAY = {"date": "2026-11-24"}
# reads first, then writes, in an order where each allowed call meets the state it needs (the
# appointment is confirmed, moved, arrived, checked in, then completed; other objects are cancelled,
# missed, accepted or declined), so every allowed call must get its route's success status
ROUTES = [
    Route("GET", "/organization/calendar", ALL_STAFF, False),
    Route("GET", "/appointment-types", ALL_STAFF, True),
    Route("GET", "/providers", ALL_STAFF, True),
    Route("GET", "/providers/{provider_id}", ALL_STAFF, True),
    Route("GET", "/providers/{provider_id}/appointments", ALL_STAFF, False, query=DAY),
    Route(
        "GET",
        "/availability",
        ALL_STAFF,
        True,
        query={"appointment_type": "follow-up", "from": "2026-11-24", "to": "2026-11-24"},
    ),
    Route("GET", "/appointments", ALL_STAFF, False, query=DAY),
    Route("GET", "/appointments/{appointment_id}", ALL_STAFF, True),
    Route("GET", "/patients/{patient_id}/appointments", ALL_STAFF, True),
    Route("GET", "/referrals", ALL_STAFF, False),
    Route("GET", "/referrals/{referral_id}", ALL_STAFF, False),
    Route("GET", "/patients/{patient_id}/referrals", ALL_STAFF, True),
    Route("GET", "/waitlist", ALL_STAFF, False, query={"specialty": "cardiology"}),
    Route("GET", "/patients/{patient_id}/waitlist", ALL_STAFF, True),
    Route("GET", "/offers/{offer_id}", ALL_STAFF, True),
    Route(
        "PUT", "/organization/calendar", ADMIN, False, body=lambda w: CALENDAR, headers={"If-Match": '"1"'}
    ),
    Route(
        "PUT",
        "/appointment-types/{code}",
        ADMIN,
        False,
        body=lambda w: {"display": "Follow-up", "duration_minutes": 30},
    ),
    Route("POST", "/providers", ADMIN, False, body=lambda w: CARDIOLOGIST, ok=201),
    Route(
        "PUT",
        "/providers/{provider_id}",
        ADMIN,
        False,
        body=lambda w: CARDIOLOGIST,
        headers={"If-Match": '"1"'},
    ),
    Route("POST", "/appointments", ALL_STAFF, True, body=_booking, ok=201),
    Route("POST", "/referrals", ALL_STAFF, False, body=_referral, ok=201),
    Route("POST", "/referrals/{referral_id}/{action}", ALL_STAFF, False),
    Route("POST", "/waitlist", ALL_STAFF, True, body=_waitlist, ok=201),
    Route("POST", "/appointments/{appointment_id}/confirm", ALL_STAFF, True),
    Route(
        "POST",
        "/appointments/{appointment_id}/reschedule",
        ALL_STAFF,
        True,
        body=lambda w: {"start": "2026-11-24T16:00:00Z"},
    ),
    Route("POST", "/appointments/{appointment_id}/arrive", ALL_STAFF, False),
    Route("POST", "/appointments/{appointment_id}/check-in", ALL_STAFF, False),
    Route(
        "POST", "/appointments/{appointment_id}/complete", ALL_STAFF, False, at="2026-11-24T16:30:00+00:00"
    ),
    Route(
        "POST",
        "/appointments/{appointment_id}/no-show",
        ALL_STAFF,
        False,
        on="no_show",
        at="2026-11-24T22:00:00+00:00",
    ),
    Route(
        "POST",
        "/appointments/{appointment_id}/cancel",
        ALL_STAFF,
        True,
        body=lambda w: {"reason": "patient"},
        on="to_cancel",
    ),
    Route("POST", "/offers/{offer_id}/decline", ALL_STAFF, True, on="second_offer"),
    Route("POST", "/offers/{offer_id}/accept", ALL_STAFF, True, ok=201),
    Route("DELETE", "/waitlist/{entry_id}", ALL_STAFF, True, on="second_entry"),
]


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(*PHI[1:])


@pytest.fixture
def world(aws: dict, frozen_clock: clock.FixedClock, monkeypatch: pytest.MonkeyPatch) -> World:
    """One patient with appointments, a referral, two waitlist entries and an offer held for each."""
    frozen_clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))  # 10:00 in Chicago: offers go out
    for name, value in Worker.environment(aws).items():
        monkeypatch.setenv(name, value)
    clinic = open_clinic(patients=2)
    me, other = clinic.patients
    staff = clinic.staff
    referral = staff.req("POST", "/referrals", {**_referral_for(me), "send": True})["json"]["id"]
    entry = staff.req("POST", "/waitlist", {**_waitlist_for(me), "provider_id": clinic.provider_id})["json"][
        "id"
    ]
    second_entry = staff.req("POST", "/waitlist", {**_waitlist_for(me), "specialty": "cardiology"})["json"][
        "id"
    ]
    freed = [
        staff.book(other, clinic.provider_id, start=start)["json"]["id"]
        for start in ("2026-11-24T19:00:00Z", "2026-11-24T20:00:00Z")
    ]
    appointment = staff.book(me, clinic.provider_id)["json"]["id"]
    no_show = staff.book(me, clinic.provider_id, start="2026-11-24T21:00:00Z")["json"]["id"]
    to_cancel = staff.book(me, clinic.provider_id, start="2026-11-24T22:00:00Z")["json"]["id"]
    for appointment_id in freed:
        assert staff.act(appointment_id, "cancel", {"reason": "patient"})["statusCode"] == 200
        Worker(aws).drain()
    offers = {
        e["detail"]["entry_id"]: e["detail"]["offer_id"]
        for e in outbox(aws)
        if e["detail-type"] == "SlotOffered"
    }
    return World(
        clinic.provider_id,
        me,
        other,
        appointment,
        referral,
        entry,
        offers[entry],
        no_show,
        to_cancel,
        second_entry,
        offers[second_entry],
        frozen_clock,
    )


def _referral_for(pid: str) -> dict[str, Any]:
    return {"patient_id": pid, "specialty": "cardiology", "reason": "x", "due_date": "2026-11-30"}


def _waitlist_for(pid: str) -> dict[str, Any]:
    return {
        "patient_id": pid,
        "appointment_type": "follow-up",
        "earliest": "2026-11-23",
        "latest": "2026-11-30",
    }


def test_every_scheduling_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {
        (r.method, r.path) for r in Template.default().routes if r.function_id == "SchedulingFunction"
    }
    assert {(r.method, r.path) for r in ROUTES} == declared


@pytest.mark.parametrize("role", STAFF)
def test_staff_by_role(aws: dict, world: World, role: str) -> None:
    """An allowed role gets the route's success status; any other gets a 403 problem and writes nothing."""
    api = Sched(roles=(role,), sub=f"{role}-1")
    for r in ROUTES:
        if role in r.staff:
            response = r.call(api, world)
            assert response["statusCode"] == r.ok, (
                r.method,
                r.path,
                response["statusCode"],
                response["body"],
            )
        else:
            before = snapshot(aws)
            assert_refused(r.call(api, world), FORBIDDEN, (role, r.method, r.path))
            assert snapshot(aws) == before, (role, r.method, r.path)


def test_a_patient_on_their_own_data(aws: dict, world: World) -> None:
    me = Sched(roles=("patient",), sub="me", patient_id=world.patient)
    for r in ROUTES:
        if r.patient:
            response = r.call(me, world)
            assert response["statusCode"] == r.ok, (
                r.method,
                r.path,
                response["statusCode"],
                response["body"],
            )
        else:
            before = snapshot(aws)
            assert_refused(r.call(me, world), FORBIDDEN, (r.method, r.path))
            assert snapshot(aws) == before, (r.method, r.path)


def test_a_patient_on_another_patients_data(aws: dict, world: World) -> None:
    """Every route a patient may use, pointed at someone else's appointment, referral, entry, offer
    or record: a 404 that writes nothing. Directory reads (providers, types, free slots) hold no
    patient's data."""
    them = Sched(roles=("patient",), sub="them", patient_id=world.other_patient)
    directory = {"/appointment-types", "/providers", "/providers/{provider_id}", "/availability"}
    checked = 0
    for r in ROUTES:
        if not r.patient or r.path in directory:
            continue
        before = snapshot(aws)
        assert_refused(r.call(them, world), NOT_FOUND, (r.method, r.path))
        assert snapshot(aws) == before, (r.method, r.path)
        checked += 1
    assert checked == 13


def test_another_organization_finds_nothing(aws: dict, world: World) -> None:
    """Staff of another organization, with the right role for each route: another tenant's objects
    (and lists under them) are a 404, its ids in a body a 422 naming the field, the organization's
    lists show none of it (their one Query reads the caller's own partition), routes without an id
    act on the caller's own organization, and nothing of the first organization is written."""
    outsider = Sched(org="globex", roles=("admin",), sub="outsider")
    open_clinic(org="globex", patients=0)
    acme = [i for i in snapshot(aws) if i["PK"]["S"].split("#")[:2] == ["ORG", "acme"]]
    assert acme
    # the organization's lists read only the caller's partition; a list under an id of acme's (a
    # provider's day, a patient's appointments) is a 404 like the object itself
    lists = {"GET /appointments", "GET /referrals", "GET /waitlist"}
    # routes without an id of acme's in the path act on globex's own calendar, types and providers
    own = {
        "GET /organization/calendar": 200,
        "GET /appointment-types": 200,
        "GET /providers": 200,
        "PUT /organization/calendar": 200,
        "PUT /appointment-types/{code}": 200,
        "POST /providers": 201,
    }
    named_in_body = {
        "POST /appointments": "patient_id",
        "POST /referrals": "patient_id",
        "POST /waitlist": "patient_id",
    }
    for r in ROUTES:
        key = f"{r.method} {r.path}"
        response = r.call(outsider, world)
        status, body = response["statusCode"], response["json"]
        if key in lists:
            assert (status, (body or {}).get("items")) == (200, []), (key, status, response["body"])
        elif key in own:
            assert status == own[key], (key, status, response["body"])
        elif key in named_in_body:
            assert status == 422, (key, status)
            assert [e["loc"][-1] for e in body["errors"]] == [named_in_body[key]], (key, body)
        else:  # an id of acme's in the path, or acme's provider in /availability's query
            assert_refused(response, NOT_FOUND, key)
    assert outsider.req("GET", "/providers")["json"]["items"][0]["id"] != world.provider
    assert [i for i in snapshot(aws) if i["PK"]["S"].split("#")[:2] == ["ORG", "acme"]] == acme
