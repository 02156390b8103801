"""What happens after a change: no-show timers, referrals' closed loop and chase list, and the waitlist
filling freed time with held offers sent to patients. Events run through the consumer and due
schedules through the timer function, as the cloud would (tests/support/scheduling.py: Worker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.sns.models import sns_backends

from shared import clock
from tests.support.intake import PHI, Api
from tests.support.scheduling import TUESDAY_9AM, Clinic, Worker, open_clinic, outbox, patient_api

ACCOUNT, REGION = "123456789012", "us-east-1"
ADMIN_INTAKE = Api(roles=("admin",), sub="admin-1")


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(*PHI[1:])


@pytest.fixture
def clinic(aws: dict, frozen_clock: clock.FixedClock) -> Clinic:
    return open_clinic(patients=4)


@pytest.fixture
def worker(aws: dict, monkeypatch: pytest.MonkeyPatch) -> Worker:
    for name, value in Worker.environment(aws).items():
        monkeypatch.setenv(name, value)
    return Worker(aws)


def types(stack: dict) -> list[str]:
    return [e["detail-type"] for e in outbox(stack) if e["source"] == "careloop.scheduling"]


def sms() -> list[tuple[str, str]]:
    return list(sns_backends[ACCOUNT][REGION].sms_messages.values())


# ---------------------------------------------------------------- no-show


def test_a_visit_nobody_checked_in_is_a_no_show_30_minutes_after_it_starts(
    aws: dict, clinic: Clinic, worker: Worker, frozen_clock: clock.FixedClock
) -> None:
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    assert worker.drain() == ["AppointmentBooked"]
    (schedule,) = worker.schedules()
    assert schedule["ScheduleExpression"] == "at(2026-11-24T15:30:00)"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    timer = json.loads(schedule["Target"]["Input"])
    assert timer.pop("correlation_id")  # the booking request's, carried to what the timer does
    assert timer == {"kind": "no-show", "organization_id": "acme", "id": appt["id"]}
    frozen_clock.set(datetime(2026, 11, 24, 15, 29, tzinfo=UTC))
    assert worker.fire_due() == []
    frozen_clock.set(datetime(2026, 11, 24, 15, 31, tzinfo=UTC))
    assert [o["outcome"] for o in worker.fire_due()] == ["marked"]
    read = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=appt["id"])["json"]
    assert read["status"] == "noshow"
    event = outbox(aws)[-1]
    assert event["detail-type"] == "AppointmentNoShow" and event["detail"]["automatic"] is True
    # the timer fires again (at-least-once): nothing more happens
    from functions.scheduling.timers import no_show

    assert no_show("acme", appt["id"]) == "not-due"
    assert types(aws).count("AppointmentNoShow") == 1


def test_checked_in_or_rescheduled_visits_are_not_marked(
    clinic: Clinic, worker: Worker, frozen_clock: clock.FixedClock
) -> None:
    seen = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    moved = clinic.staff.book(clinic.patients[1], clinic.provider_id, start="2026-11-24T16:00:00Z")["json"]
    worker.drain()
    clinic.staff.act(seen["id"], "check-in")
    assert clinic.staff.act(moved["id"], "reschedule", {"start": "2026-11-25T16:00:00Z"})["statusCode"] == 200
    worker.drain()
    timers = {s["Name"]: s["ScheduleExpression"] for s in worker.schedules()}
    assert timers[f"no-show-{moved['id']}"] == "at(2026-11-25T16:30:00)"  # moved with the visit
    frozen_clock.set(datetime(2026, 11, 24, 17, 0, tzinfo=UTC))
    assert {o["id"]: o["outcome"] for o in worker.fire_due()} == {seen["id"]: "not-due"}


# ---------------------------------------------------------------- referrals


def referral(clinic: Clinic, **extra: Any) -> dict[str, Any]:
    body = {
        "patient_id": clinic.patients[0],
        "specialty": "cardiology",
        "reason": "chest pain on exertion",
        "urgency": "urgent",
        "due_date": "2026-11-30",
        "send": True,
        **extra,
    }
    response = clinic.staff.req("POST", "/referrals", body)
    assert response["statusCode"] == 201, response["body"]
    return response["json"]


def test_a_referral_closes_its_loop_through_the_appointment_that_fulfils_it(
    aws: dict, clinic: Clinic, frozen_clock: clock.FixedClock
) -> None:
    ref = referral(clinic)
    assert (ref["status"], ref["fhir_status"]) == ("sent", "active")
    act = lambda action, **kw: clinic.staff.req(  # noqa: E731
        "POST", "/referrals/{referral_id}/{action}", kw or None, referral_id=ref["id"], action=action
    )
    assert act("close")["statusCode"] == 409  # not seen yet
    assert act("accept")["json"]["status"] == "accepted"
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id, referral_id=ref["id"])
    assert appt["statusCode"] == 201, appt["body"]
    read = lambda: clinic.staff.req("GET", "/referrals/{referral_id}", referral_id=ref["id"])["json"]  # noqa: E731
    assert read()["status"] == "scheduled" and read()["appointment_id"] == appt["json"]["id"]
    # the patient misses it: the referral needs a new appointment
    frozen_clock.set(datetime(2026, 11, 24, 16, tzinfo=UTC))
    clinic.staff.act(appt["json"]["id"], "no-show")
    assert read()["status"] == "accepted" and read()["appointment_id"] is None
    again = clinic.staff.book(
        clinic.patients[0], clinic.provider_id, start="2026-11-25T15:00:00Z", referral_id=ref["id"]
    )["json"]
    frozen_clock.set(datetime(2026, 11, 25, 15, 5, tzinfo=UTC))
    clinic.staff.act(again["id"], "check-in")
    clinic.staff.act(again["id"], "complete")
    assert read()["status"] == "completed"
    closed = act("close")
    assert closed["json"]["status"] == "closed" and closed["json"]["fhir_status"] == "completed"
    referral_events = [t for t in types(aws) if t.startswith("Referral")]
    assert referral_events == [
        "ReferralCreated",
        "ReferralSent",
        "ReferralAccepted",
        "ReferralScheduled",
        "ReferralUnscheduled",
        "ReferralScheduled",
        "ReferralCompleted",
        "ReferralClosed",
    ]
    assert all("chest" not in json.dumps(e) for e in outbox(aws))


def test_another_patients_referral_cannot_be_used_to_book(clinic: Clinic) -> None:
    ref = referral(clinic)
    response = clinic.staff.book(clinic.patients[1], clinic.provider_id, referral_id=ref["id"])
    assert response["statusCode"] == 422 and response["json"]["errors"][0]["loc"] == ["body", "referral_id"]


def test_the_chase_list_is_open_referrals_past_due_oldest_first(
    aws: dict, clinic: Clinic, worker: Worker, frozen_clock: clock.FixedClock
) -> None:
    late = referral(clinic, due_date="2026-11-24")
    later = referral(clinic, due_date="2026-11-25", patient_id=clinic.patients[1])
    fine = referral(clinic, due_date="2026-12-10")
    done = referral(clinic, due_date="2026-11-24", patient_id=clinic.patients[2])
    clinic.staff.req("POST", "/referrals/{referral_id}/{action}", referral_id=done["id"], action="cancel")
    worker.drain()
    frozen_clock.set(datetime(2026, 11, 27, 15, tzinfo=UTC))
    chase = clinic.staff.req("GET", "/referrals", query={"status": "open", "overdue": "true"})
    assert [r["id"] for r in chase["json"]["items"]] == [late["id"], later["id"]]
    assert all(r["overdue"] for r in chase["json"]["items"])
    everything_open = clinic.staff.req("GET", "/referrals", query={"status": "open"})["json"]["items"]
    assert [r["id"] for r in everything_open] == [late["id"], later["id"], fine["id"]]
    cancelled = clinic.staff.req("GET", "/referrals", query={"status": "cancelled"})["json"]["items"]
    assert [r["id"] for r in cancelled] == [done["id"]]
    bad = clinic.staff.req("GET", "/referrals", query={"status": "closed", "overdue": "true"})
    assert bad["statusCode"] == 422
    # the overdue timers: the morning after each due date (Chicago), once
    outcomes = {o["id"]: o["outcome"] for o in worker.fire_due()}
    assert outcomes == {late["id"]: "raised", later["id"]: "raised"}
    overdue = [e["detail"]["referral_id"] for e in outbox(aws) if e["detail-type"] == "ReferralOverdue"]
    assert overdue == [late["id"], later["id"]]
    from functions.scheduling.timers import referral_overdue

    assert referral_overdue("acme", late["id"]) == "not-due"


def test_referral_input_is_checked(clinic: Clinic) -> None:
    base = {"patient_id": clinic.patients[0], "reason": "x", "due_date": "2026-11-30"}
    assert clinic.staff.req("POST", "/referrals", base)["statusCode"] == 422  # no specialty nor provider
    past = clinic.staff.req(
        "POST", "/referrals", {**base, "specialty": "cardiology", "due_date": "2026-11-01"}
    )
    assert past["statusCode"] == 422 and past["json"]["errors"][0]["loc"] == ["body", "due_date"]
    far = clinic.staff.req(
        "POST", "/referrals", {**base, "specialty": "cardiology", "due_date": "9999-12-31"}
    )
    assert far["statusCode"] == 422
    assert (
        patient_api(clinic.patients[0]).req("POST", "/referrals", {**base, "specialty": "cardiology"})[
            "statusCode"
        ]
        == 403
    )


# ---------------------------------------------------------------- waitlist


@pytest.fixture
def daytime(frozen_clock: clock.FixedClock) -> clock.FixedClock:
    """Monday 10:00 in Chicago: outside the patients' quiet hours (21:00-09:00), when offers go out."""
    frozen_clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))
    return frozen_clock


def waitlist(clinic: Clinic, n: int, **extra: Any) -> dict[str, Any]:
    body = {
        "patient_id": clinic.patients[n],
        "provider_id": clinic.provider_id,
        "appointment_type": "follow-up",
        "earliest": "2026-11-23",
        "latest": "2026-11-30",
        **extra,
    }
    response = clinic.staff.req("POST", "/waitlist", body)
    assert response["statusCode"] == 201, response["body"]
    return response["json"]


def test_a_cancelled_slot_is_offered_to_the_next_patient_who_takes_it(
    aws: dict, clinic: Clinic, worker: Worker, daytime: clock.FixedClock
) -> None:
    first = waitlist(clinic, 1)
    waitlist(clinic, 2)
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    worker.drain()
    clinic.staff.act(appt["id"], "cancel", {"reason": "patient"})
    assert worker.drain() == ["AppointmentCancelled", "SlotOffered"]
    (offered,) = [e["detail"] for e in outbox(aws) if e["detail-type"] == "SlotOffered"]
    assert offered["entry_id"] == first["id"] and offered["patient_id"] == clinic.patients[1]
    ((phone, text),) = sms()
    assert phone == "+15555551001"  # the first waiting patient's phone
    assert "Tue Nov 24 at 09:00" in text and "15 minutes" in text and "Dr. Ana Ruiz" in text
    expiry = [s for s in worker.schedules() if s["Name"].startswith("offer-expiry")]
    assert expiry[0]["ScheduleExpression"] == "at(2026-11-23T16:15:00)"
    # the held slot is no one else's: not offered, not bookable
    assert TUESDAY_9AM not in [
        s["start"] for s in clinic.staff.availability(provider_id=clinic.provider_id)["json"]["items"]
    ]
    assert clinic.staff.book(clinic.patients[3], clinic.provider_id)["statusCode"] == 409
    # another patient cannot take it, the offered one does
    assert (
        patient_api(clinic.patients[2]).req(
            "POST", "/offers/{offer_id}/accept", offer_id=offered["offer_id"]
        )["statusCode"]
        == 404
    )
    taken = patient_api(clinic.patients[1]).req(
        "POST", "/offers/{offer_id}/accept", offer_id=offered["offer_id"]
    )
    assert taken["statusCode"] == 201, taken["body"]
    assert taken["json"]["status"] == "booked" and taken["json"]["start"] == TUESDAY_9AM
    assert taken["json"]["offer_id"] == offered["offer_id"]
    queue = clinic.staff.req("GET", "/waitlist", query={"provider_id": clinic.provider_id})["json"]["items"]
    assert [e["patient_id"] for e in queue] == [clinic.patients[2]]
    again = patient_api(clinic.patients[1]).req(
        "POST", "/offers/{offer_id}/accept", offer_id=offered["offer_id"]
    )
    assert again["statusCode"] == 409
    assert types(aws)[-2:] == ["AppointmentBooked", "SlotOfferAccepted"]
    trail = [e["action"] for e in ADMIN_INTAKE.on("GET", clinic.patients[1], "/audit")["json"]["items"]]
    assert {"waitlist.create", "waitlist.offer", "patient.notify", "appointment.book"} <= set(trail)


def test_an_offer_nobody_takes_passes_to_the_next_patient_after_the_hold(
    aws: dict, clinic: Clinic, worker: Worker, daytime: clock.FixedClock
) -> None:
    waitlist(clinic, 1)
    second = waitlist(clinic, 2)
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    clinic.staff.act(appt["id"], "cancel", {"reason": "provider"})
    worker.drain()
    daytime.advance(timedelta(minutes=16))
    assert [o["outcome"] for o in worker.fire_due()] == ["expired"]
    assert worker.drain() == ["SlotOfferExpired", "SlotOffered"]
    offers = [e["detail"] for e in outbox(aws) if e["detail-type"] == "SlotOffered"]
    assert [o["entry_id"] for o in offers][-1] == second["id"]
    assert [phone for phone, _ in sms()] == ["+15555551001", "+15555551002"]
    # the first offer is gone for good
    late = patient_api(clinic.patients[1]).req(
        "POST", "/offers/{offer_id}/accept", offer_id=offers[0]["offer_id"]
    )
    assert late["statusCode"] == 409


def test_a_hold_that_ran_out_and_was_booked_over_still_closes(
    aws: dict, clinic: Clinic, worker: Worker, daytime: clock.FixedClock
) -> None:
    entry = waitlist(clinic, 1)
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    clinic.staff.act(appt["id"], "cancel", {"reason": "patient"})
    worker.drain()
    daytime.advance(timedelta(minutes=16))  # the hold ran out; its timer has not fired yet
    assert clinic.staff.book(clinic.patients[3], clinic.provider_id)["statusCode"] == 201
    assert [o["outcome"] for o in worker.fire_due()] == ["expired"]
    queue = clinic.staff.req("GET", "/waitlist", query={"provider_id": clinic.provider_id})["json"]["items"]
    assert [(e["id"], e["status"]) for e in queue] == [(entry["id"], "waiting")]
    worker.drain()  # the slot is booked: nothing more to offer
    assert types(aws).count("SlotOffered") == 1


def test_a_declined_offer_goes_to_the_next_and_the_decliner_keeps_waiting(
    aws: dict, clinic: Clinic, worker: Worker, daytime: clock.FixedClock
) -> None:
    first, second = waitlist(clinic, 1), waitlist(clinic, 2)
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    clinic.staff.act(appt["id"], "cancel", {"reason": "patient"})
    worker.drain()
    (offer,) = [e["detail"] for e in outbox(aws) if e["detail-type"] == "SlotOffered"]
    held = patient_api(clinic.patients[1]).req(
        "GET", "/patients/{patient_id}/waitlist", patient_id=clinic.patients[1]
    )
    assert held["json"]["items"][0]["offer_id"] == offer["offer_id"]  # how the app finds the offer
    seen = patient_api(clinic.patients[1]).req("GET", "/offers/{offer_id}", offer_id=offer["offer_id"])
    assert seen["json"]["status"] == "held" and seen["json"]["start"] == TUESDAY_9AM
    declined = patient_api(clinic.patients[1]).req(
        "POST", "/offers/{offer_id}/decline", offer_id=offer["offer_id"]
    )
    assert declined["statusCode"] == 200 and declined["json"]["status"] == "declined"
    assert worker.drain() == ["SlotOfferDeclined", "SlotOffered"]
    offers = [e["detail"]["entry_id"] for e in outbox(aws) if e["detail-type"] == "SlotOffered"]
    assert offers == [first["id"], second["id"]]
    queue = clinic.staff.req("GET", "/waitlist", query={"provider_id": clinic.provider_id})["json"]["items"]
    assert {e["id"]: e["status"] for e in queue} == {first["id"]: "waiting", second["id"]: "offered"}


def test_each_time_a_visit_was_moved_from_is_offered_even_after_two_quick_moves(
    aws: dict, clinic: Clinic, worker: Worker, daytime: clock.FixedClock
) -> None:
    waitlist(clinic, 1)
    waitlist(clinic, 2)
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    for start in ("2026-11-24T16:00:00Z", "2026-11-24T17:00:00Z"):  # before the consumer runs
        assert clinic.staff.act(appt["id"], "reschedule", {"start": start})["statusCode"] == 200
    worker.drain()
    offers = [e["detail"]["offer_id"] for e in outbox(aws) if e["detail-type"] == "SlotOffered"]
    starts = sorted(
        clinic.staff.req("GET", "/offers/{offer_id}", offer_id=o)["json"]["start"] for o in offers
    )
    assert starts == [TUESDAY_9AM, "2026-11-24T16:00:00Z"]


def test_no_automatic_offer_inside_the_minimum_notice(
    aws: dict, clinic: Clinic, worker: Worker, frozen_clock: clock.FixedClock
) -> None:
    waitlist(clinic, 1)
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    frozen_clock.set(datetime(2026, 11, 24, 13, 30, tzinfo=UTC))  # 90 minutes before; notice is 2 hours
    clinic.staff.act(appt["id"], "cancel", {"reason": "patient"})
    assert worker.drain() == ["AppointmentBooked", "AppointmentCancelled"]
    assert "SlotOffered" not in types(aws) and sms() == []


def test_patients_in_quiet_hours_or_without_consent_are_passed_over(
    aws: dict, clinic: Clinic, worker: Worker, daytime: clock.FixedClock
) -> None:
    asleep, unreachable, awake = clinic.patients[1], clinic.patients[2], clinic.patients[3]
    ADMIN_INTAKE.on("PATCH", asleep, body={"time_zone": "Asia/Tokyo"}, headers={"If-Match": '"1"'})
    ADMIN_INTAKE.on(
        "PATCH",
        unreachable,
        body={"consent": {"sms": {"granted": False, "at": "2026-11-22T10:00:00Z", "method": "verbal"}}},
        headers={"If-Match": '"1"'},
    )
    for n in (1, 2, 3):
        waitlist(clinic, n)
    appt = clinic.staff.book(clinic.patients[0], clinic.provider_id)["json"]
    clinic.staff.act(appt["id"], "cancel", {"reason": "patient"})  # 10:00 in Chicago is 01:00 in Tokyo
    worker.drain()
    (offer,) = [e["detail"] for e in outbox(aws) if e["detail-type"] == "SlotOffered"]
    assert offer["patient_id"] == awake


def test_waitlist_rules(clinic: Clinic) -> None:
    mine = patient_api(clinic.patients[1])
    body = {
        "patient_id": clinic.patients[1],
        "specialty": "cardiology",
        "appointment_type": "follow-up",
        "earliest": "2026-11-24",
        "latest": "2026-11-30",
    }
    joined = mine.req("POST", "/waitlist", body)
    assert joined["statusCode"] == 201
    assert mine.req("POST", "/waitlist", {**body, "patient_id": clinic.patients[2]})["statusCode"] == 404
    both = clinic.staff.req("POST", "/waitlist", {**body, "provider_id": clinic.provider_id})
    assert both["statusCode"] == 422
    assert clinic.staff.req("POST", "/waitlist", {**body, "latest": "9999-12-31"})["statusCode"] == 422
    assert mine.req("GET", "/waitlist", query={"specialty": "cardiology"})["statusCode"] == 403
    left = mine.req("DELETE", "/waitlist/{entry_id}", entry_id=joined["json"]["id"])
    assert left["statusCode"] == 200 and left["json"]["status"] == "removed"
    queue = clinic.staff.req("GET", "/waitlist", query={"specialty": "cardiology"})["json"]["items"]
    assert queue == []


@pytest.mark.parametrize("name", ["availability", "book"])
def test_the_http_samples_are_answered(aws: dict, frozen_clock: clock.FixedClock, name: str) -> None:
    from functions.scheduling.app import handler
    from tests.support.events import LambdaContext, load_event

    response = handler(load_event(f"scheduling/{name}.json"), LambdaContext("SchedulingFunction"))
    assert response["statusCode"] in (404, 422)  # the demo clinic is not in this empty table


def test_the_worker_samples_run_on_an_empty_table(aws: dict, worker: Worker) -> None:
    from functions.scheduling.events import handler as on_event
    from functions.scheduling.timers import handler as on_timer
    from tests.support.events import LambdaContext, load_event

    on_event(load_event("scheduling/appointment-cancelled.json"), LambdaContext("SchedulingEventsFunction"))
    assert on_timer(
        load_event("scheduling/timer-no-show.json"), LambdaContext("SchedulingTimerFunction")
    ) == {"outcome": "gone"}


def test_a_referral_books_only_with_its_specialty(clinic: Clinic) -> None:
    from tests.support.scheduling import CARDIOLOGIST

    derm = clinic.admin.req(
        "POST", "/providers", {**CARDIOLOGIST, "name": "Dr. Skin", "specialty": "dermatology"}
    )
    ref = referral(clinic)
    wrong = clinic.staff.book(clinic.patients[0], derm["json"]["id"], referral_id=ref["id"])
    assert wrong["statusCode"] == 422 and "another provider or specialty" in wrong["json"]["errors"][0]["msg"]
