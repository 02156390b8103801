"""An appointment booked in a partner's EHR, mirrored in our calendar (shared/data/mirror.py), against
moto: it holds our provider's time as our own bookings do, follows the EHR's moves and cancellations,
changes nothing on a repeat or an older update, and never takes time we hold.

The clinic (tests/support/scheduling.py): Dr. Ruiz in Chicago on a 15-minute grid, weekdays 9-12 and
13-17; the clock is Monday 2026-11-23 14:00 UTC; Tuesday 09:00 in Chicago is 15:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared import clock
from shared.data.mirror import PROVIDER_SYSTEM, MirrorOutcome, mirror_appointment, provider_for
from shared.data.patients import Actor
from shared.domain.clinical import ExternalAppointment
from tests.support.ddb import count_calls
from tests.support.intake import PHI
from tests.support.scheduling import TUESDAY_9AM, Clinic, open_clinic, outbox

PARTNER = "01JDPARTNER000000000000001"
EHR = Actor("acme", f"partner:{PARTNER}", "delivery-1", None)


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(*PHI[1:])


@pytest.fixture
def clinic(aws: dict, frozen_clock: clock.FixedClock) -> Clinic:
    return open_clinic(patients=2)


def tuesday(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 24, hour, minute, tzinfo=UTC)


def ehr_appointment(clinic: Clinic, version: int = 1, **changes: Any) -> ExternalAppointment:
    """The EHR's appointment ``appt-1`` with our provider, Tuesday 09:00-09:40 in Chicago (not one of
    our appointment types' lengths), at ``version`` (its ``lastUpdated`` moves with it)."""
    fields: dict[str, Any] = {
        "source_id": "appt-1",
        "version": str(version),
        "last_updated": datetime(2026, 11, 23, 13, version, tzinfo=UTC),
        "status": "booked",
        "start": tuesday(15),
        "end": tuesday(15, 40),
        "practitioners": [
            ("http://hl7.org/fhir/sid/us-npi", "1234567893"),
            (PROVIDER_SYSTEM, clinic.provider_id),
        ],
        "appointment_type": "FOLLOW-UP",
        **changes,
    }
    return ExternalAppointment(**fields)


def mirror(clinic: Clinic, record: ExternalAppointment, patient: int = 0) -> Any:
    provider_id = provider_for(clinic.org, record.practitioners)
    return mirror_appointment(
        clinic.org, PARTNER, record, clinic.patients[patient], provider_id, EHR, clock.now()
    )


def appointment(clinic: Clinic, appointment_id: str) -> dict[str, Any]:
    response = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=appointment_id)
    assert response["statusCode"] == 200, response["body"]
    return response["json"]


def book_here(clinic: Clinic, start: str, patient: int = 1) -> int:
    """Our own booking through the API: its status code."""
    return int(clinic.staff.book(clinic.patients[patient], clinic.provider_id, start=start)["statusCode"])


def table_items(aws: dict) -> int:
    import boto3

    return int(boto3.client("dynamodb").scan(TableName=aws["table_name"], Select="COUNT")["Count"])


def last_event(aws: dict) -> dict[str, Any]:
    return outbox(aws)[-1]


# ---------------------------------------------------------------- booked in the EHR


def test_a_booking_in_the_ehr_holds_our_providers_time_for_the_ehrs_times(aws: dict, clinic: Clinic) -> None:
    with count_calls() as calls:
        done = mirror_appointment(
            "acme", PARTNER, ehr_appointment(clinic), clinic.patients[0], clinic.provider_id, EHR, clock.now()
        )
    assert done.outcome is MirrorOutcome.BOOKED and done.reason is None and done.appointment_id
    assert calls == {"BatchGetItem": 1, "TransactWriteItems": 1}
    record = appointment(clinic, done.appointment_id)
    assert (record["start"], record["end"]) == (TUESDAY_9AM, "2026-11-24T15:40:00Z")  # not the type's 30
    assert record["status"] == "booked" and record["appointment_type"] == "follow-up"
    assert record["source_partner_id"] == PARTNER and record["booked_by"] == EHR.subject
    event = last_event(aws)
    assert event["detail-type"] == "AppointmentBooked"
    assert event["detail"]["appointment_id"] == done.appointment_id
    assert event["detail"]["source_partner_id"] == PARTNER  # the sender never echoes it to this partner
    # 09:00, 09:15 and 09:30 are held (the visit ends at 09:40): our API cannot book over them
    for start in (TUESDAY_9AM, "2026-11-24T15:15:00Z", "2026-11-24T15:30:00Z"):
        assert book_here(clinic, start) == 409
    assert book_here(clinic, "2026-11-24T15:45:00Z") == 201


def test_the_ehr_may_book_outside_our_hours_and_a_pending_visit_is_confirmed_there(
    aws: dict, clinic: Clinic
) -> None:
    lunch = ehr_appointment(clinic, status="pending", start=tuesday(18), end=tuesday(18, 30))  # noon
    done = mirror(clinic, lunch)
    assert done.outcome is MirrorOutcome.BOOKED
    record = appointment(clinic, done.appointment_id or "")
    assert record["status"] == "pending" and record["start"] == "2026-11-24T18:00:00Z"
    # a later version, the same time, now booked: ours is confirmed
    confirmed = mirror(clinic, lunch.model_copy(update={"version": "2", "status": "booked"}))
    assert confirmed.outcome is MirrorOutcome.BOOKED and confirmed.appointment_id == done.appointment_id
    assert appointment(clinic, done.appointment_id or "")["status"] == "booked"
    assert last_event(aws)["detail-type"] == "AppointmentConfirmed"


def test_the_same_delivery_twice_changes_nothing_and_an_older_version_is_stale(
    aws: dict, clinic: Clinic
) -> None:
    first = mirror(clinic, ehr_appointment(clinic, version=2))
    items, events = table_items(aws), len(outbox(aws))
    again = mirror(clinic, ehr_appointment(clinic, version=2))
    assert again.outcome is MirrorOutcome.UNCHANGED and again.appointment_id == first.appointment_id
    older = mirror(clinic, ehr_appointment(clinic, version=1, start=tuesday(16), end=tuesday(16, 30)))
    assert older.outcome is MirrorOutcome.STALE and older.reason == "older-version"
    assert (table_items(aws), len(outbox(aws))) == (items, events)
    day = clinic.staff.req(
        "GET",
        "/providers/{provider_id}/appointments",
        provider_id=clinic.provider_id,
        query={"date": "2026-11-24"},
    )
    assert [a["id"] for a in day["json"]["items"]] == [first.appointment_id]
    assert day["json"]["items"][0]["start"] == TUESDAY_9AM
    assert book_here(clinic, "2026-11-24T16:00:00Z") == 201  # the stale time was never taken


# ---------------------------------------------------------------- moved and cancelled in the EHR


def test_a_move_in_the_ehr_moves_ours_frees_the_old_time_and_never_lands_on_ours(
    aws: dict, clinic: Clinic
) -> None:
    booked = mirror(clinic, ehr_appointment(clinic))
    moved = mirror(clinic, ehr_appointment(clinic, version=2, start=tuesday(16), end=tuesday(16, 30)))
    assert moved.outcome is MirrorOutcome.MOVED and moved.appointment_id == booked.appointment_id
    record = appointment(clinic, booked.appointment_id or "")
    assert (record["start"], record["end"]) == ("2026-11-24T16:00:00Z", "2026-11-24T16:30:00Z")
    assert record["rescheduled_count"] == 1 and record["reschedules"][0]["start"] == TUESDAY_9AM
    event = last_event(aws)
    assert event["detail-type"] == "AppointmentRescheduled"
    assert event["detail"]["source_partner_id"] == PARTNER
    assert book_here(clinic, TUESDAY_9AM) == 201  # the old time is free: now it is ours
    assert book_here(clinic, "2026-11-24T16:15:00Z") == 409  # the new one is held
    # the EHR moves it back onto our booking: refused, and the mirrored visit keeps its time
    items, events = table_items(aws), len(outbox(aws))
    back = mirror(clinic, ehr_appointment(clinic, version=3))
    assert (back.outcome, back.reason) == (MirrorOutcome.CONFLICT, "slot-taken")
    assert back.appointment_id == booked.appointment_id
    assert (table_items(aws), len(outbox(aws))) == (items, events)
    assert appointment(clinic, booked.appointment_id or "") == record
    assert book_here(clinic, "2026-11-24T16:15:00Z") == 409  # still held by the mirrored visit


def test_a_cancellation_in_the_ehr_cancels_ours_and_frees_its_time(aws: dict, clinic: Clinic) -> None:
    booked = mirror(clinic, ehr_appointment(clinic))
    cancelled = mirror(
        clinic, ehr_appointment(clinic, version=2, status="cancelled", cancelation_reason="pat")
    )
    assert cancelled.outcome is MirrorOutcome.CANCELLED and cancelled.appointment_id == booked.appointment_id
    record = appointment(clinic, booked.appointment_id or "")
    assert record["status"] == "cancelled"
    assert record["cancellation"]["reason"] == "patient" and record["cancellation"]["by_role"] == "partner"
    event = last_event(aws)
    assert event["detail-type"] == "AppointmentCancelled" and event["detail"]["reason"] == "patient"
    assert event["detail"]["source_partner_id"] == PARTNER and event["detail"]["by_patient"] is False
    assert book_here(clinic, TUESDAY_9AM) == 201
    repeat = mirror(clinic, ehr_appointment(clinic, version=3, status="cancelled"))
    assert repeat.outcome is MirrorOutcome.UNCHANGED


# ---------------------------------------------------------------- never over time we hold


def test_a_booking_over_one_of_ours_is_a_conflict_and_writes_nothing(aws: dict, clinic: Clinic) -> None:
    assert book_here(clinic, TUESDAY_9AM) == 201  # 09:00-09:30, ours
    ours = clinic.staff.req("GET", "/patients/{patient_id}/appointments", patient_id=clinic.patients[1])[
        "json"
    ]["items"][0]
    items, events = table_items(aws), len(outbox(aws))
    overlapping = ehr_appointment(clinic, start=tuesday(15, 15), end=tuesday(15, 45))
    done = mirror(clinic, overlapping)
    assert done.outcome is MirrorOutcome.CONFLICT and done.reason == "slot-taken"
    assert done.appointment_id is None
    assert (table_items(aws), len(outbox(aws))) == (items, events)
    assert appointment(clinic, ours["id"]) == ours  # untouched
    # nothing was remembered either: once our visit is cancelled, the same delivery books
    assert clinic.staff.act(ours["id"], "cancel", {"reason": "patient"})["statusCode"] == 200
    assert mirror(clinic, overlapping).outcome is MirrorOutcome.BOOKED


# ---------------------------------------------------------------- whose provider


def test_only_an_active_provider_of_ours_named_by_our_identifier_system_is_ours(
    aws: dict, clinic: Clinic
) -> None:
    ours = clinic.provider_id
    assert provider_for("acme", [(PROVIDER_SYSTEM, ours)]) == ours
    assert provider_for("acme", [("http://hl7.org/fhir/sid/us-npi", ours)]) is None  # another system
    assert provider_for("acme", [(PROVIDER_SYSTEM, "01JD0000000000000000000000")]) is None  # unknown
    assert provider_for("acme", [(PROVIDER_SYSTEM, "x#PROFILE")]) is None  # not an id at all
    assert provider_for("globex", [(PROVIDER_SYSTEM, ours)]) is None  # another organization's
    assert provider_for("acme", []) is None
    items = table_items(aws)
    stranger = ehr_appointment(clinic, practitioners=[(PROVIDER_SYSTEM, "01JD0000000000000000000000")])
    done = mirror(clinic, stranger)
    assert (done.outcome, done.reason) == (MirrorOutcome.NOT_OURS, "unknown-provider")
    assert table_items(aws) == items
