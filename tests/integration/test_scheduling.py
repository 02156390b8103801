"""Scheduling through its handler, against moto: availability, booking without double-booking, moves,
reschedules, overrides, views and the walls between patients and tenants."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.scheduling import booking
from shared import clock
from shared.data import scheduling as repo
from shared.data.patients import Actor
from shared.data.tx import Cancelled
from shared.http.auth import Principal, Role
from tests.support.ddb import count_calls
from tests.support.intake import PHI, Api
from tests.support.scheduling import TUESDAY_9AM, Clinic, open_clinic, outbox, patient_api, staff

ADMIN_INTAKE = Api(roles=("admin",), sub="admin-1")


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(*PHI[1:])


@pytest.fixture
def clinic(aws: dict, frozen_clock: clock.FixedClock) -> Clinic:
    return open_clinic(patients=3)


def booked_types(stack: dict) -> list[str]:
    return [e["detail-type"] for e in outbox(stack) if e["source"] == "careloop.scheduling"]


def starts(response: dict) -> list[str]:
    return [s["start"] for s in response["json"]["items"]]


# ---------------------------------------------------------------- availability


def test_availability_is_the_week_minus_lunch_holidays_and_weekends(clinic: Clinic) -> None:
    with count_calls() as calls:
        tuesday = clinic.staff.availability(provider_id=clinic.provider_id, limit="200")
    assert tuesday["statusCode"] == 200, tuesday["body"]
    assert calls == {"BatchGetItem": 1, "Query": 1}
    items = tuesday["json"]["items"]
    assert len(items) == 26 and tuesday["json"]["next_cursor"] is None
    assert items[0] == {
        "provider_id": clinic.provider_id,
        "appointment_type": "follow-up",
        "start": "2026-11-24T15:00:00Z",
        "end": "2026-11-24T15:30:00Z",
        "local_start": "2026-11-24T09:00:00-06:00",
    }
    assert "2026-11-24T18:00:00Z" not in starts(tuesday)  # noon: lunch
    week = clinic.staff.availability(provider_id=clinic.provider_id, to="2026-11-29", limit="200")
    days = {s["local_start"][:10] for s in week["json"]["items"]}
    assert days == {"2026-11-24", "2026-11-25", "2026-11-27"}  # Thanksgiving and the weekend are closed


def test_availability_pages_with_a_cursor_bound_to_its_query(clinic: Clinic) -> None:
    first = clinic.staff.availability(provider_id=clinic.provider_id, limit="10")
    assert len(first["json"]["items"]) == 10
    rest = clinic.staff.availability(
        provider_id=clinic.provider_id, limit="100", cursor=first["json"]["next_cursor"]
    )
    assert len(rest["json"]["items"]) == 16
    assert set(starts(first)).isdisjoint(starts(rest))
    other = clinic.staff.availability(specialty="cardiology", cursor=first["json"]["next_cursor"])
    assert other["statusCode"] == 400
    from shared.http.pagination import encode_cursor

    list_id = f"availability:{clinic.provider_id}::follow-up:2026-11-24:2026-11-24"
    for start in ("x", "2026-11-24T15:00:00"):  # hand-made: not an instant, or one without an offset
        key = {"start": {"S": start}, "provider_id": {"S": clinic.provider_id}}
        forged = encode_cursor(list_id, key, tenant="acme")
        assert clinic.staff.availability(provider_id=clinic.provider_id, cursor=forged)["statusCode"] == 400


def test_availability_by_specialty_reads_each_provider_once(clinic: Clinic) -> None:
    second = clinic.admin.req("POST", "/providers", {**_provider_body(), "name": "Dr. B"})["json"]["id"]
    with count_calls() as calls:
        response = clinic.staff.availability(specialty="cardiology", limit="200")
    assert calls == {"BatchGetItem": 1, "Query": 3}  # the specialty, then one per provider
    assert {s["provider_id"] for s in response["json"]["items"]} == {clinic.provider_id, second}
    assert len(response["json"]["items"]) == 52


def _provider_body() -> dict[str, Any]:
    from tests.support.scheduling import CARDIOLOGIST

    return dict(CARDIOLOGIST)


def test_availability_cost_does_not_grow_with_appointments_elsewhere(clinic: Clinic) -> None:
    other = clinic.admin.req("POST", "/providers", {**_provider_body(), "name": "Dr. B"})["json"]["id"]
    with count_calls() as before_calls:
        before = clinic.staff.availability(provider_id=clinic.provider_id)
    hours = [15, 16, 17, 19, 20]  # 09:00 to 14:00 in Chicago, skipping lunch
    for n in range(10):  # 10 bookings with another provider, and one on another day with this one
        start = f"2026-11-24T{hours[n // 2]}:{n % 2 * 30:02d}:00Z"
        assert clinic.staff.book(clinic.patients[n % 3], other, start=start)["statusCode"] == 201
    assert (
        clinic.staff.book(clinic.patients[0], clinic.provider_id, start="2026-11-25T15:00:00Z")["statusCode"]
        == 201
    )
    with count_calls() as after_calls:
        after = clinic.staff.availability(provider_id=clinic.provider_id)
    assert after_calls == before_calls
    assert after["json"] == before["json"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "2026-12-31"}, "to"),
        ({"to": "2026-11-20"}, "to"),
        ({"specialty": "cardiology"}, "provider_id"),
        ({"appointment_type": "massage"}, "appointment_type"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "from"),
    ],
)
def test_availability_refuses_bad_searches_by_name(clinic: Clinic, query: dict, field: str) -> None:
    response = clinic.staff.availability(provider_id=clinic.provider_id, **query)
    assert response["statusCode"] == 422, response["body"]
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert response["json"]["errors"][0]["loc"][-1] == field


def test_another_organizations_provider_does_not_exist(clinic: Clinic) -> None:
    open_clinic(org="globex", patients=0)
    response = staff("globex").availability(provider_id=clinic.provider_id)
    assert response["statusCode"] == 404


# ---------------------------------------------------------------- booking


def test_booking_holds_the_slot_in_one_transaction(aws: dict, clinic: Clinic) -> None:
    with count_calls() as calls:
        response = clinic.staff.book(clinic.patients[0], clinic.provider_id)
    assert response["statusCode"] == 201, response["body"]
    assert calls == {"BatchGetItem": 1, "TransactWriteItems": 1}
    body = response["json"]
    assert body["status"] == "pending"  # booked by staff: waits for the patient's confirmation
    assert (body["start"], body["end"]) == ("2026-11-24T15:00:00Z", "2026-11-24T15:30:00Z")
    assert response["headers"]["Location"] == f"/appointments/{body['id']}"
    assert booked_types(aws) == ["AppointmentBooked"]
    event = outbox(aws)[-1]["detail"]
    assert set(event) == {
        "event_id",
        "organization_id",
        "occurred_at",
        "correlation_id",
        "schema_version",
        "appointment_id",
        "patient_id",
        "provider_id",
        "status",
        "overbooked",
        "referral_id",
        "offer_id",
        "source_partner_id",
    }
    assert event["source_partner_id"] is None  # booked here, not mirrored from a partner's EHR
    free = starts(clinic.staff.availability(provider_id=clinic.provider_id))
    assert "2026-11-24T15:00:00Z" not in free and "2026-11-24T14:45:00Z" not in free
    assert "2026-11-24T15:30:00Z" in free


def test_a_taken_slot_is_a_409_and_nothing_is_written(aws: dict, clinic: Clinic) -> None:
    assert clinic.staff.book(clinic.patients[0], clinic.provider_id)["statusCode"] == 201
    events = len(outbox(aws))
    same = clinic.staff.book(clinic.patients[1], clinic.provider_id)
    overlapping = clinic.staff.book(clinic.patients[1], clinic.provider_id, start="2026-11-24T15:15:00Z")
    longer = clinic.staff.book(clinic.patients[1], clinic.provider_id, start="2026-11-24T14:45:00Z")
    for response in (same, overlapping):
        assert response["statusCode"] == 409, response["body"]
        assert response["json"]["conflict"] == "slot"
    assert longer["statusCode"] == 422  # 08:45 is before the provider's day starts
    assert len(outbox(aws)) == events
    adjacent = clinic.staff.book(clinic.patients[1], clinic.provider_id, start="2026-11-24T15:30:00Z")
    assert adjacent["statusCode"] == 201


def test_fifty_concurrent_bookings_of_one_slot_let_exactly_one_in(aws: dict, clinic: Clinic) -> None:
    """The race is at the table: 50 threads each commit a prepared booking transaction for the same
    slot (moto's writes are serialized like DynamoDB's; see local/atomic.py)."""
    principal = Principal(subject="coord-1", organization_id="acme", roles=frozenset({Role.COORDINATOR}))
    now, start = clock.now(), datetime(2026, 11, 24, 16, tzinfo=UTC)
    prepared = []
    for n in range(50):
        ctx = booking.load(principal, clinic.patients[n % 3], clinic.provider_id, "follow-up")
        record = booking.new_appointment(ctx, principal, "follow-up", start, now)
        change = booking.booking_change(
            ctx, record, booking.units(ctx, start, None, now), Actor("acme", "coord-1", None, None), now
        )
        prepared.append(change)

    def attempt(change: repo.Change) -> str:
        try:
            change.commit()
        except Cancelled as cancelled:
            return cancelled.failed[0]
        return "booked"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(attempt, prepared))
    assert outcomes.count("booked") == 1
    assert outcomes.count("slot") == 49
    day = clinic.staff.req(
        "GET",
        "/providers/{provider_id}/appointments",
        provider_id=clinic.provider_id,
        query={"date": "2026-11-24"},
    )
    assert len(day["json"]["items"]) == 1


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"start": "2026-11-23T13:00:00Z"}, "start", "in the past"),
        ({"start": "2026-11-24T18:00:00Z"}, "start", "not available"),  # noon: lunch
        ({"start": "2026-11-26T15:00:00Z"}, "start", "not available"),  # Thanksgiving
        ({"start": "2026-11-24T15:05:00Z"}, "start", "not available"),  # off the grid
        ({"start": "2026-11-24T17:45:00Z"}, "start", "past the end"),
        ({"end": "2026-11-24T15:45:00Z"}, "end", "lasts 30 minutes"),
        ({"appointment_type": "physio"}, "appointment_type", "no appointment type"),
        ({"start": "2027-12-24T15:00:00Z"}, "start", "days ahead"),
        ({"start": "0001-01-01T00:00:00+05:00"}, "start", "between 2000 and 2100"),
    ],
)
def test_bad_bookings_name_the_problem_and_write_nothing(
    aws: dict, clinic: Clinic, change: dict, field: str, words: str
) -> None:
    body = {
        "patient_id": clinic.patients[0],
        "provider_id": clinic.provider_id,
        "appointment_type": "follow-up",
        "start": TUESDAY_9AM,
        **change,
    }
    response = clinic.staff.req("POST", "/appointments", body)
    assert response["statusCode"] == 422, response["body"]
    assert response["json"]["errors"][0]["loc"] == ["body", field]
    assert words in response["json"]["errors"][0]["msg"]
    assert booked_types(aws) == []


def test_inactive_patients_and_other_organizations_providers_cannot_be_booked(
    aws: dict, clinic: Clinic
) -> None:
    pid = clinic.patients[2]
    assert (
        ADMIN_INTAKE.on("PATCH", pid, body={"status": "inactive"}, headers={"If-Match": '"1"'})["statusCode"]
        == 200
    )
    inactive = clinic.staff.book(pid, clinic.provider_id)
    assert inactive["statusCode"] == 422 and "inactive" in inactive["json"]["errors"][0]["msg"]
    elsewhere = open_clinic(org="globex", patients=1)
    foreign = clinic.staff.book(clinic.patients[0], elsewhere.provider_id)
    assert foreign["statusCode"] == 422
    assert foreign["json"]["errors"][0]["loc"] == ["body", "provider_id"]
    assert booked_types(aws) == []


# ---------------------------------------------------------------- moves


def test_confirm_check_in_complete_and_the_moves_that_are_refused(
    aws: dict, clinic: Clinic, frozen_clock: clock.FixedClock
) -> None:
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    early = clinic.staff.act(appt["id"], "no-show")
    assert early["statusCode"] == 409 and "before it starts" in early["json"]["detail"]
    confirmed = clinic.staff.act(appt["id"], "confirm")
    assert confirmed["json"]["status"] == "booked" and confirmed["headers"]["ETag"] == '"2"'
    again = clinic.staff.act(appt["id"], "confirm")
    assert again["statusCode"] == 409 and again["json"]["current_status"] == "booked"
    assert clinic.staff.act(appt["id"], "check-in")["json"]["status"] == "checked-in"
    frozen_clock.set(datetime(2026, 11, 24, 15, 10, tzinfo=UTC))
    done = clinic.staff.act(appt["id"], "complete")
    assert done["json"]["status"] == "fulfilled" and done["json"]["completed_at"] == "2026-11-24T15:10:00Z"
    for action in ("cancel", "no-show", "check-in"):
        body = {"reason": "other"} if action == "cancel" else None
        assert clinic.staff.act(appt["id"], action, body)["statusCode"] == 409
    assert booked_types(aws) == [
        "AppointmentBooked",
        "AppointmentConfirmed",
        "AppointmentCheckedIn",
        "AppointmentFulfilled",
    ]


def test_a_stale_if_match_is_refused(clinic: Clinic) -> None:
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    clinic.staff.act(appt["id"], "confirm")
    stale = clinic.staff.req(
        "POST",
        "/appointments/{appointment_id}/check-in",
        appointment_id=appt["id"],
        headers={"If-Match": '"1"'},
    )
    assert stale["statusCode"] == 409 and stale["json"]["current_version"] == 2


def test_cancel_records_who_and_why_and_frees_the_slot(aws: dict, clinic: Clinic) -> None:
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    with count_calls() as calls:
        response = clinic.staff.act(appt["id"], "cancel", {"reason": "patient", "note": "car broke down"})
    assert response["statusCode"] == 200
    assert calls == {"GetItem": 1, "Query": 1, "TransactWriteItems": 1}
    cancellation = response["json"]["cancellation"]
    assert cancellation["by"] == "coord-1" and cancellation["by_role"] == "coordinator"
    assert cancellation["reason"] == "patient" and cancellation["at"] == "2026-11-23T14:00:00Z"
    event = outbox(aws)[-1]
    assert event["detail-type"] == "AppointmentCancelled" and event["detail"]["reason"] == "patient"
    assert "car broke down" not in str(event)
    assert TUESDAY_9AM in starts(clinic.staff.availability(provider_id=clinic.provider_id))
    assert clinic.staff.book(clinic.patients[1], clinic.provider_id)["statusCode"] == 201


def test_reschedule_frees_the_old_slot_only_if_the_new_one_is_taken(aws: dict, clinic: Clinic) -> None:
    mine = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    theirs = clinic.staff.book(clinic.patients[1], clinic.provider_id, start="2026-11-24T16:00:00Z")["json"]
    blocked = clinic.staff.act(mine["id"], "reschedule", {"start": theirs["start"]})
    assert blocked["statusCode"] == 409 and blocked["json"]["conflict"] == "slot"
    unchanged = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=mine["id"])["json"]
    assert unchanged["start"] == TUESDAY_9AM and unchanged["version"] == 1
    assert clinic.staff.book(clinic.patients[2], clinic.provider_id)["statusCode"] == 409  # still held
    # two 15-minute shifts: each keeps the unit the old and new times share, releases one, takes one
    for n, start in enumerate(("2026-11-24T15:15:00Z", "2026-11-24T15:30:00Z"), start=1):
        moved = clinic.staff.act(mine["id"], "reschedule", {"start": start})
        assert moved["statusCode"] == 200, moved["body"]
        assert moved["json"]["rescheduled_count"] == n and moved["json"]["start"] == start
    assert [(r["start"], r["version"]) for r in moved["json"]["reschedules"]] == [
        (TUESDAY_9AM, 2),
        ("2026-11-24T15:15:00Z", 3),
    ]
    assert moved["json"]["status"] == "pending"  # moved by staff: the patient confirms the new time
    free = starts(clinic.staff.availability(provider_id=clinic.provider_id))
    assert free[0] == TUESDAY_9AM and "2026-11-24T15:15:00Z" not in free
    assert clinic.staff.book(clinic.patients[2], clinic.provider_id)["statusCode"] == 201
    assert booked_types(aws)[-2:] == ["AppointmentRescheduled", "AppointmentBooked"]


def test_staff_may_double_book_on_purpose_and_it_is_audited(aws: dict, clinic: Clinic) -> None:
    assert clinic.staff.book(clinic.patients[0], clinic.provider_id)["statusCode"] == 201
    over = clinic.staff.book(clinic.patients[1], clinic.provider_id, allow_double_booking=True)
    assert over["statusCode"] == 201 and over["json"]["overbooked"] is True
    assert outbox(aws)[-1]["detail"]["overbooked"] is True
    trail = ADMIN_INTAKE.on("GET", clinic.patients[1], "/audit")["json"]["items"]
    assert "appointment.overbook" in [e["action"] for e in trail]
    free_slot = clinic.staff.book(
        clinic.patients[2], clinic.provider_id, start="2026-11-24T16:00:00Z", allow_double_booking=True
    )
    assert free_slot["json"]["overbooked"] is False  # nothing to override: a normal booking


# ---------------------------------------------------------------- patients and walls


def test_a_patient_books_confirms_and_cancels_only_their_own(aws: dict, clinic: Clinic) -> None:
    me, other = clinic.patients[0], clinic.patients[1]
    api = patient_api(me)
    mine = api.book(me, clinic.provider_id)
    assert mine["statusCode"] == 201 and mine["json"]["status"] == "booked"  # they booked it: confirmed
    assert api.book(other, clinic.provider_id, start="2026-11-24T16:00:00Z")["statusCode"] == 404
    assert (
        api.book(me, clinic.provider_id, start="2026-11-24T16:00:00Z", allow_double_booking=True)[
            "statusCode"
        ]
        == 403
    )
    theirs = clinic.staff.book(other, clinic.provider_id, start="2026-11-24T17:00:00Z")["json"]
    assert api.req("GET", "/appointments/{appointment_id}", appointment_id=theirs["id"])["statusCode"] == 404
    assert api.act(theirs["id"], "confirm")["statusCode"] == 404
    assert api.act(theirs["id"], "cancel", {"reason": "patient"})["statusCode"] == 404
    assert api.act(mine["json"]["id"], "check-in")["statusCode"] == 403
    for route, params in (
        ("/providers/{provider_id}/appointments", {"provider_id": clinic.provider_id}),
        ("/appointments", {}),
    ):
        assert api.req("GET", route, query={"date": "2026-11-24"}, **params)["statusCode"] == 403
    assert api.req("GET", "/patients/{patient_id}/appointments", patient_id=other)["statusCode"] == 404
    # availability shows free time only, never whose it is
    slots = api.availability(provider_id=clinic.provider_id)["json"]["items"]
    assert all(set(s) == {"provider_id", "appointment_type", "start", "end", "local_start"} for s in slots)
    moved = api.act(mine["json"]["id"], "reschedule", {"start": "2026-11-24T16:30:00Z"})
    assert moved["json"]["status"] == "booked" and moved["json"]["confirmed_at"] == "2026-11-23T14:00:00Z"
    cancelled = api.act(mine["json"]["id"], "cancel", {"reason": "patient"})
    assert cancelled["json"]["cancellation"]["by_patient"] is True
    assert outbox(aws)[-1]["detail"]["by_patient"] is True


# ---------------------------------------------------------------- views


def test_the_three_views_are_one_query_each(clinic: Clinic, frozen_clock: clock.FixedClock) -> None:
    pid, prov = clinic.patients[0], clinic.provider_id
    past = clinic.staff.book(pid, prov, start="2026-11-23T21:00:00Z")["json"]  # Monday 15:00, later today
    clinic.staff.book(pid, prov, start="2026-11-25T15:00:00Z")
    clinic.staff.book(clinic.patients[1], prov)
    frozen_clock.set(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
    with count_calls() as calls:
        upcoming = clinic.staff.req("GET", "/patients/{patient_id}/appointments", patient_id=pid)
    assert calls == {"Query": 1}
    assert starts(upcoming) == ["2026-11-25T15:00:00Z"]
    history = clinic.staff.req(
        "GET", "/patients/{patient_id}/appointments", patient_id=pid, query={"when": "past"}
    )
    assert [a["id"] for a in history["json"]["items"]] == [past["id"]]
    with count_calls() as calls:
        day = clinic.staff.req(
            "GET", "/providers/{provider_id}/appointments", provider_id=prov, query={"date": "2026-11-24"}
        )
    assert calls == {"Query": 1} and starts(day) == [TUESDAY_9AM]
    with count_calls() as calls:
        org_day = clinic.staff.req("GET", "/appointments", query={"date": "2026-11-23"})
    assert calls == {"Query": 1} and starts(org_day) == ["2026-11-23T21:00:00Z"]
    assert (
        patient_api(pid).req("GET", "/patients/{patient_id}/appointments", patient_id=pid)["statusCode"]
        == 200
    )


def test_when_the_original_leaves_the_overbooked_visit_takes_its_time(aws: dict, clinic: Clinic) -> None:
    first = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    over = clinic.staff.book(clinic.patients[1], clinic.provider_id, allow_double_booking=True)["json"]
    assert clinic.staff.act(first["id"], "cancel", {"reason": "patient"})["statusCode"] == 200
    # the overbooked visit still happens: the time is not free, and is not bookable without an override
    assert TUESDAY_9AM not in starts(clinic.staff.availability(provider_id=clinic.provider_id))
    assert clinic.staff.book(clinic.patients[2], clinic.provider_id)["statusCode"] == 409
    # and when it is cancelled too, the time is free again
    assert clinic.staff.act(over["id"], "cancel", {"reason": "patient"})["statusCode"] == 200
    assert clinic.staff.book(clinic.patients[2], clinic.provider_id)["statusCode"] == 201


def test_a_provider_with_bookings_keeps_their_grid_and_zone(clinic: Clinic) -> None:
    from tests.support.scheduling import CARDIOLOGIST

    assert (
        clinic.staff.book(clinic.patients[0], clinic.provider_id, start="2026-11-24T15:15:00Z")["statusCode"]
        == 201
    )
    change = lambda **body: clinic.admin.req(  # noqa: E731
        "PUT",
        "/providers/{provider_id}",
        {**CARDIOLOGIST, **body},
        provider_id=clinic.provider_id,
        headers={"If-Match": '"1"'},
    )
    refused = change(slot_minutes=30)
    assert refused["statusCode"] == 409 and refused["json"]["conflict"] == "bookings"
    assert change(time_zone="America/New_York")["statusCode"] == 409
    renamed = change(location="Main St Clinic, suite 9")
    assert renamed["statusCode"] == 200 and renamed["headers"]["ETag"] == '"2"'


@pytest.mark.parametrize(
    ("route", "body"),
    [
        (
            "/appointments",
            lambda c: {
                "patient_id": c.patients[0],
                "provider_id": c.provider_id,
                "appointment_type": "follow-up",
                "start": TUESDAY_9AM,
            },
        ),
        (
            "/referrals",
            lambda c: {
                "patient_id": c.patients[0],
                "specialty": "cardiology",
                "reason": "x",
                "due_date": "2026-11-30",
            },
        ),
        (
            "/waitlist",
            lambda c: {
                "patient_id": c.patients[0],
                "provider_id": c.provider_id,
                "appointment_type": "follow-up",
                "earliest": "2026-11-24",
                "latest": "2026-11-30",
            },
        ),
    ],
)
def test_creates_honour_idempotency_keys(aws: dict, clinic: Clinic, route: str, body: Any) -> None:
    key = {"Idempotency-Key": f"retry-{route.strip('/')}"}
    first = clinic.staff.req("POST", route, body(clinic), headers=key)
    events = len(outbox(aws))
    again = clinic.staff.req("POST", route, body(clinic), headers=key)
    assert first["statusCode"] == again["statusCode"] == 201, again["body"]
    assert again["json"] == first["json"] and again["headers"]["Idempotent-Replayed"] == "true"
    assert len(outbox(aws)) == events  # nothing written twice
    other = clinic.staff.req("POST", route, {**body(clinic), "patient_id": clinic.patients[1]}, headers=key)
    assert other["statusCode"] == 422
