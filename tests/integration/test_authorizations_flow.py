"""Prior authorizations end to end on the template's wiring (tests/support/cloud.py): the payer's clock
is a Scheduler timer that fires as the clock moves, its follow-up a task, its overdue decision an
escalation; a gated booking waits for an approval; visits held use its units.

The clinic is in New York (UTC-5 in December), open Monday to Friday. 2026-12-04 is a Friday.
Instants are written out by hand in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.support import records, tasks
from tests.support.authorizations import MRI, PHYSICAL_THERAPY, add_coverage, admin, coordinator
from tests.support.cloud import Cloud, cloud
from tests.support.records import attachments_bucket
from tests.support.reminders import NyClinic, open_ny_clinic
from tests.support.scheduling import patient_api

__all__ = ["attachments_bucket"]  # a fixture these tests use
PHONE = "+12125551003"
FRIDAY_4PM = "2026-12-04T21:00:00Z"
FRIDAY_5PM = "2026-12-04T22:00:00Z"
MONDAY_5PM = "2026-12-07T22:00:00Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(PHONE, PHONE.lstrip("+"), "Cy Roe", "cy@example.com")


@pytest.fixture
def friday(aws: dict[str, Any]) -> Iterator[Cloud]:
    with cloud(aws, at(FRIDAY_4PM)) as c:
        yield c


def open_clinic(c: Cloud, holidays: list[dict[str, str]] | None = None, gated: bool = True) -> NyClinic:
    clinic = open_ny_clinic(holidays=holidays)
    if gated:  # the provider's follow-up visits need the payer's approval of an MRI (a test's stand-in)
        body = {"display": "Follow-up", "duration_minutes": 30, "authorization": MRI}
        put = clinic.admin.req("PUT", "/appointment-types/{code}", body, code="follow-up")
        assert put["statusCode"] == 200, put["body"]
    clinic.add_patient("cy", PHONE, preferred_channels=["sms"])
    c.settle()
    return clinic


def draft(clinic: NyClinic, **extra: Any) -> dict[str, Any]:
    pid = clinic.patients["cy"]
    return coordinator().draft(pid, add_coverage(pid), clinic.provider_id, **extra)


def hold(c: Cloud, clinic: NyClinic, appointment_id: str, day: str) -> None:
    """The 15:00 UTC visit of ``day``: arrived, then held."""
    c.advance_to(at(f"{day}T14:58:00Z"))
    assert clinic.staff.act(appointment_id, "arrive")["statusCode"] == 200
    c.advance_to(at(f"{day}T15:30:00Z"))
    assert clinic.staff.act(appointment_id, "complete")["statusCode"] == 200


def worklist(code: str) -> list[dict[str, Any]]:
    items = tasks.Tasks(roles=("coordinator", "nurse", "physician")).worklist()["items"]
    return [t for t in items if t["code"] == code]


def test_an_expedited_request_submitted_friday_5pm_is_due_monday_5pm_and_escalates_undecided(
    friday: Cloud,
) -> None:
    c = friday
    clinic = open_clinic(c)
    auth = draft(clinic, urgency="expedited")
    c.advance_to(at(FRIDAY_5PM))
    sent = coordinator().moved(auth, "submit", reference="PA-1")
    assert (sent["status"], sent["due_at"], sent["follow_up_at"]) == (
        "submitted",
        MONDAY_5PM,  # 72 hours, weekend and all
        "2026-12-07T10:00:00Z",  # 12 hours before
    )
    assert sent["history"][-1]["reference"] == "PA-1" and sent["history"][-1]["by"] == "coord-1"
    c.settle()
    assert worklist("follow-up-authorization") == []
    c.advance_to(at("2026-12-07T10:01:00Z"))
    (follow_up,) = worklist("follow-up-authorization")
    assert follow_up["focus"] == {"type": "authorization", "id": auth["id"]}
    assert follow_up["due_at"] == MONDAY_5PM and follow_up.get("rule_id") is None
    assert "AuthorizationOverdue" not in c.detail_types()
    c.advance_to(at("2026-12-07T22:01:00Z"))
    assert c.detail_types("careloop.authorizations").count("AuthorizationOverdue") == 1
    escalations = [t for t in worklist("follow-up-authorization") if t.get("rule_id")]
    assert [t["rule_id"] for t in escalations] == ["authorization-overdue"]
    assert escalations[0]["escalation"]["level"] == 0
    # the timer coming twice raises nothing twice
    assert c.redeliver("AuthorizationOverdue", "EscalationEventsFunction")
    assert len([t for t in worklist("follow-up-authorization") if t.get("rule_id")]) == 1

    # the payer decides, late: the decision says so, and the follow-up and the escalation close
    current = coordinator().get(auth["id"])
    decided = coordinator().moved(
        current, "approve", number="AUTH-77", valid_from="2026-12-07", valid_to="2027-03-07"
    )
    assert decided["history"][-1]["on_time"] is False
    c.settle()
    assert worklist("follow-up-authorization") == []
    # on the patient's timeline for staff (each move, the overdue), never in the patient's own
    pid = clinic.patients["cy"]
    entries = records.coordinator().timeline(pid, kind="authorization")["items"]
    assert [e["type"] for e in entries] == [
        "AuthorizationMoved",
        "AuthorizationOverdue",
        "AuthorizationMoved",
        "AuthorizationRequested",
    ]
    assert entries[0]["record"]["href"] == f"/authorizations/{auth['id']}"
    assert entries[0]["codes"]["status"] == "approved"
    assert "authorization" not in {e["kind"] for e in records.patient(pid).timeline(pid)["items"]}
    assert c.failures() == []


def test_a_standard_request_is_due_seven_calendar_days_later_whatever_the_holidays(
    aws: dict[str, Any],
) -> None:
    with cloud(aws, at("2026-12-22T15:00:00Z")) as c:  # Tuesday 10:00
        clinic = open_clinic(c, holidays=[{"date": "2026-12-25", "name": "Christmas"}])
        auth = draft(clinic, service_date="2027-01-05")
        sent = coordinator().moved(auth, "submit")
        assert sent["due_at"] == "2026-12-29T15:00:00Z"
        assert sent["follow_up_at"] == "2026-12-28T15:00:00Z"  # 24 hours before
        # the payer asks for records: its clock stops, the information is due in 14 days
        asked = coordinator().moved(sent, "request-info")
        assert (asked["status"], asked["due_at"], asked["info_due_on"]) == (
            "pending-info",
            None,
            "2027-01-05",
        )
        chase = coordinator().listing(status="pending")["items"]
        assert [a["id"] for a in chase] == [auth["id"]]
        c.advance_to(at("2027-01-06T05:01:00Z"))  # the end of the 5th in New York
        overdue = [e for e in c.events if e["detail-type"] == "AuthorizationOverdue"]
        assert [e["detail"]["alert"] for e in overdue] == ["info-due"]
        assert c.failures() == []


def test_a_payers_own_clock_from_the_policy(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c)
    rules = {"standard_days": 3, "follow_up_before_standard_hours": 0}
    put = admin().req(
        "PUT", "/authorization-policy", {"payers": {"  blue   PLAN ": rules}}
    )  # as people type it
    assert put["statusCode"] == 200, put["body"]
    sent = coordinator().moved(draft(clinic), "submit")
    assert sent["due_at"] == "2026-12-07T21:00:00Z" == sent["follow_up_at"]
    stale = admin().req("PUT", "/authorization-policy", {"unapproved_booking": "refuse"})
    assert stale["statusCode"] == 428
    assert c.failures() == []


def test_booking_a_gated_visit_without_approval_warns_opens_a_task_and_an_approval_clears_it(
    friday: Cloud,
) -> None:
    c = friday
    clinic = open_clinic(c)
    pid = clinic.patients["cy"]
    visit = clinic.book("cy", "2026-12-10T15:00:00Z")
    assert (visit["insurance"], visit["authorization_id"]) == ("awaiting-insurance-approval", None)
    c.settle()
    (task,) = worklist("obtain-authorization")
    assert task["focus"] == {"type": "appointment", "id": visit["id"]}
    assert task["due_at"] == "2026-12-10T15:00:00Z"
    # the patient reads the words, never the payer's reasons nor the authorization
    mine = patient_api(pid).req("GET", "/appointments/{appointment_id}", appointment_id=visit["id"])
    assert mine["json"]["insurance"] == "awaiting-insurance-approval"
    assert "authorization_id" not in mine["json"]
    # the payer approves: the visit is approved and linked, the task completes
    auth = draft(clinic, service_date="2026-12-10", units_requested=3)
    auth = coordinator().moved(auth, "submit")
    coordinator().moved(auth, "deny", reason="missing-information")
    c.settle()
    assert clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=visit["id"])["json"][
        "insurance"
    ] == ("awaiting-insurance-approval")
    appealed = coordinator().moved(coordinator().get(auth["id"]), "appeal")
    coordinator().moved(
        appealed,
        "partially-approve",
        number="A-9",
        approved_units=2,
        valid_from="2026-12-01",
        valid_to="2026-12-31",
    )
    c.settle()
    seen = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=visit["id"])["json"]
    assert (seen["insurance"], seen["authorization_id"]) == ("approved", auth["id"])
    assert worklist("obtain-authorization") == []
    # a second visit now finds the approval at booking
    second = clinic.book("cy", "2026-12-17T15:00:00Z")
    assert (second["insurance"], second["authorization_id"]) == ("approved", auth["id"])
    assert c.failures() == []


def test_where_the_policy_refuses_a_gated_visit_without_approval_is_a_409(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c)
    assert admin().req("PUT", "/authorization-policy", {"unapproved_booking": "refuse"})["statusCode"] == 200
    for booking in (
        clinic.staff.book(clinic.patients["cy"], clinic.provider_id, "2026-12-10T15:00:00Z"),
        patient_api(clinic.patients["cy"]).book(
            clinic.patients["cy"], clinic.provider_id, "2026-12-10T15:00:00Z"
        ),
    ):
        assert booking["statusCode"] == 409, booking["body"]
        assert booking["json"]["conflict"] == "authorization-required"
    assert clinic.staff.req("GET", "/appointments", query={"date": "2026-12-10"})["json"]["items"] == []
    c.settle()
    assert worklist("obtain-authorization") == []
    assert c.failures() == []


def test_six_units_count_down_as_visits_are_held_and_the_last_opens_a_renewal(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c)
    auth = coordinator().moved(draft(clinic, units_requested=6), "submit")
    auth = coordinator().moved(
        auth, "approve", number="AUTH-6", valid_from="2026-12-07", valid_to="2027-06-30"
    )
    c.settle()
    days = ["2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10", "2026-12-11", "2026-12-14", "2026-12-15"]
    left = []
    for n, day in enumerate(days):
        visit = clinic.book("cy", f"{day}T15:00:00Z")
        assert visit["insurance"] == ("approved" if n < 6 else "awaiting-insurance-approval"), n
        c.advance_to(at(f"{day}T14:58:00Z"))
        assert clinic.staff.act(visit["id"], "arrive")["statusCode"] == 200
        c.advance_to(at(f"{day}T15:30:00Z"))
        assert clinic.staff.act(visit["id"], "complete")["statusCode"] == 200
        c.settle()
        left.append(coordinator().get(auth["id"])["units_left"])
        renewals = worklist("renew-authorization")
        assert len(renewals) == (1 if n >= 4 else 0), (n, renewals)  # at the last unit, once
    assert left == [5, 4, 3, 2, 1, 0, 0]
    assert coordinator().get(auth["id"])["units_used"] == 6
    # the same visit told twice counts once
    c.redeliver("AppointmentFulfilled", "AuthorizationEventsFunction")
    assert left == [5, 4, 3, 2, 1, 0, 0]
    assert coordinator().get(auth["id"])["units_used"] == 6
    # the 7th visit, held without an approval, is in the report
    report = admin().req("GET", "/reports/authorizations", query={"from": "2026-12-01", "to": "2026-12-31"})
    assert report["statusCode"] == 200, report["body"]
    assert [v["on"] for v in report["json"]["without_approval"]] == ["2026-12-15"]
    (row,) = report["json"]["turnaround"]
    assert (row["payer"], row["urgency"], row["submitted"], row["decided"], row["on_time"]) == (
        "Blue Plan",
        "standard",
        1,
        1,
        1,
    )
    assert c.failures() == []


def test_an_approval_expires_at_its_windows_end(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c, gated=False)
    auth = coordinator().moved(draft(clinic), "submit")
    auth = coordinator().moved(auth, "approve", number="A-1", valid_from="2026-12-04", valid_to="2026-12-20")
    c.settle()
    c.advance_to(at("2026-12-07T05:01:00Z"))  # the renewal day: 14 days before the 20th
    (renewal,) = worklist("renew-authorization")
    assert renewal["due_at"] == "2026-12-21T05:00:00Z"
    c.advance_to(at("2026-12-21T05:01:00Z"))  # midnight after the 20th in New York
    assert coordinator().get(auth["id"])["status"] == "expired"
    assert coordinator().listing(status="closed")["items"][0]["id"] == auth["id"]
    assert c.failures() == []


def test_moves_the_lifecycle_forbids_and_stale_edits_change_nothing(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c)
    auth = draft(clinic)
    early = coordinator().move(auth, "approve", number="X", valid_from="2026-12-04", valid_to="2026-12-20")
    assert early["statusCode"] == 409 and early["json"]["current_status"] == "draft"
    sent = coordinator().moved(auth, "submit")
    stale = coordinator().move(auth, "cancel")  # the draft's version
    assert stale["statusCode"] == 409
    missing = coordinator().req(
        "POST",
        "/authorizations/{authorization_id}/actions",
        {"action": "cancel"},
        authorization_id=auth["id"],
    )
    assert missing["statusCode"] == 428
    assert coordinator().move(sent, "expire")["statusCode"] == 422  # the timer's move
    too_many = coordinator().move(
        sent,
        "partially-approve",
        number="X",
        approved_units=2,
        valid_from="2026-12-04",
        valid_to="2026-12-20",
    )
    assert too_many["statusCode"] == 422
    assert coordinator().get(auth["id"])["version"] == sent["version"]
    assert c.failures() == []


def test_a_request_needs_a_coverage_in_force_and_things_of_this_patient(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c)
    pid = clinic.patients["cy"]
    ended = add_coverage(pid, payer="Old Plan", start="2025-01-01", effective_end="2025-12-31")
    other = clinic.add_patient("di", "+12125551004")
    others = add_coverage(other)
    base = {
        "service": MRI,
        "ordering_provider_id": clinic.provider_id,
        "diagnoses": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R51.9"}],
        "service_date": "2026-12-15",
    }
    for body, field in (
        ({**base, "coverage_id": ended}, "coverage_id"),
        ({**base, "coverage_id": others}, "coverage_id"),
        (
            {**base, "coverage_id": add_coverage(pid), "ordering_provider_id": "01J00000000000000000000000"},
            "ordering_provider_id",
        ),
        (
            {**base, "coverage_id": add_coverage(pid), "service": {"system": MRI["system"], "code": "7055"}},
            "service",
        ),
        (
            {
                **base,
                "coverage_id": add_coverage(pid),
                "purpose": {"type": "appointment", "id": "01J00000000000000000000000"},
            },
            "purpose",
        ),
    ):
        out = coordinator().request(pid, **body)
        assert out["statusCode"] == 422, (field, out["body"])
        assert field in out["body"]
    assert (
        coordinator().req("GET", "/patients/{patient_id}/authorizations", patient_id=pid)["json"]["items"]
        == []
    )
    assert c.failures() == []


def test_documents_for_the_payer_go_up_as_attachments_and_are_read_through_the_authorization(
    friday: Cloud, attachments_bucket: str
) -> None:
    from tests.integration.test_records_timeline import upload

    c = friday
    clinic = open_clinic(c)
    pid = clinic.patients["cy"]
    auth = draft(clinic)
    made = records.coordinator().ok(
        "POST",
        "/patients/{patient_id}/attachments",
        {"content_type": "application/pdf", "size": 2000},
        201,
        patient_id=pid,
    )
    attach = "/authorizations/{authorization_id}/documents"
    headers = {"if-match": f'"{auth["version"]}"'}
    early = coordinator().req(
        "POST", attach, {"attachment_ids": [made["id"]]}, authorization_id=auth["id"], headers=headers
    )
    assert early["statusCode"] == 422  # nothing uploaded yet
    assert upload(made["upload"], b"%PDF-1.7 clinic notes") in (200, 204)
    done = coordinator().req(
        "POST", attach, {"attachment_ids": [made["id"]]}, authorization_id=auth["id"], headers=headers
    )
    assert done["statusCode"] == 200, done["body"]
    assert [d["attachment_id"] for d in done["json"]["documents"]] == [made["id"]]
    read = coordinator().get(auth["id"])
    assert requests.get(read["documents"][0]["download_url"], timeout=10).content == b"%PDF-1.7 clinic notes"
    # one document goes with one request, once
    again = coordinator().req(
        "POST",
        attach,
        {"attachment_ids": [made["id"]]},
        authorization_id=auth["id"],
        headers={"if-match": f'"{read["version"]}"'},
    )
    assert again["statusCode"] == 422
    # and never with a message
    message = records.patient(pid).req(
        "POST",
        "/patients/{patient_id}/messages",
        {"text": "Mine", "attachment_ids": [made["id"]]},
        patient_id=pid,
    )
    assert message["statusCode"] == 422
    assert c.failures() == []


def test_units_booked_are_spoken_for_at_booking_and_when_an_approval_arrives(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c)
    waiting = [clinic.book("cy", f"2026-12-{day}T15:00:00Z") for day in ("08", "09", "10")]
    assert {v["insurance"] for v in waiting} == {"awaiting-insurance-approval"}
    c.settle()
    assert len(worklist("obtain-authorization")) == 3
    auth = coordinator().moved(draft(clinic, units_requested=3), "submit")
    coordinator().moved(
        auth,
        "partially-approve",
        number="P-2",
        approved_units=2,
        valid_from="2026-12-07",
        valid_to="2026-12-31",
    )
    c.settle()
    seen = [
        clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=v["id"])["json"]["insurance"]
        for v in waiting
    ]
    assert seen == ["approved", "approved", "awaiting-insurance-approval"]  # the first two, by date
    (left,) = worklist("obtain-authorization")
    assert left["focus"]["id"] == waiting[2]["id"]
    # both units are booked: a fourth visit is not covered either
    assert clinic.book("cy", "2026-12-11T15:00:00Z")["insurance"] == "awaiting-insurance-approval"
    # a cancelled visit gives its unit back
    cancel = clinic.staff.act(waiting[0]["id"], "cancel", {"reason": "patient"})
    assert cancel["statusCode"] == 200, cancel["body"]
    assert clinic.book("cy", "2026-12-14T15:00:00Z")["insurance"] == "approved"
    assert c.failures() == []


def test_an_approval_for_another_service_leaves_a_waiting_visit_waiting(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c)  # follow-up visits need an MRI approved
    visit = clinic.book("cy", "2026-12-10T15:00:00Z")
    therapy = coordinator().moved(draft(clinic, service=PHYSICAL_THERAPY, units_requested=5), "submit")
    coordinator().moved(therapy, "approve", number="PT-1", valid_from="2026-12-01", valid_to="2026-12-31")
    c.settle()
    seen = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=visit["id"])["json"]
    assert (seen["insurance"], seen["authorization_id"]) == ("awaiting-insurance-approval", None)
    assert len(worklist("obtain-authorization")) == 1
    # held so, it is a visit without approval, and the therapy approval keeps its units
    hold(c, clinic, visit["id"], "2026-12-10")
    c.settle()
    assert coordinator().get(therapy["id"])["units_used"] == 0
    report = admin().req("GET", "/reports/authorizations", query={"from": "2026-12-01", "to": "2026-12-31"})
    assert [v["appointment_id"] for v in report["json"]["without_approval"]] == [visit["id"]]
    assert c.failures() == []


def test_a_visit_whose_approval_was_cancelled_is_held_without_approval_and_counted_once(
    friday: Cloud,
) -> None:
    c = friday
    clinic = open_clinic(c)
    auth = coordinator().moved(draft(clinic, units_requested=2), "submit")
    auth = coordinator().moved(auth, "approve", number="A-2", valid_from="2026-12-01", valid_to="2026-12-31")
    first, second = (clinic.book("cy", f"2026-12-{d}T15:00:00Z") for d in ("08", "09"))
    assert first["authorization_id"] == second["authorization_id"] == auth["id"]
    hold(c, clinic, first["id"], "2026-12-08")
    c.settle()
    # told twice, the first visit still used one unit
    c.redeliver("AppointmentFulfilled", "AuthorizationEventsFunction")
    assert coordinator().get(auth["id"])["units_used"] == 1
    coordinator().moved(coordinator().get(auth["id"]), "cancel")
    hold(c, clinic, second["id"], "2026-12-09")
    c.settle()
    report = admin().req("GET", "/reports/authorizations", query={"from": "2026-12-01", "to": "2026-12-31"})
    assert [v["appointment_id"] for v in report["json"]["without_approval"]] == [second["id"]]
    assert coordinator().get(auth["id"])["units_used"] == 1
    assert c.failures() == []


def test_a_redelivered_visit_after_the_last_unit_is_not_a_visit_without_approval(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c, gated=False)
    visit = clinic.book("cy", "2026-12-08T15:00:00Z")  # booked before its type was gated: not linked
    body = {"display": "Follow-up", "duration_minutes": 30, "authorization": MRI}
    assert clinic.admin.req("PUT", "/appointment-types/{code}", body, code="follow-up")["statusCode"] == 200
    auth = coordinator().moved(draft(clinic), "submit")
    auth = coordinator().moved(auth, "approve", number="A-1", valid_from="2026-12-01", valid_to="2026-12-31")
    hold(c, clinic, visit["id"], "2026-12-08")
    c.settle()
    assert coordinator().get(auth["id"])["units_left"] == 0
    assert c.redeliver("AppointmentFulfilled", "AuthorizationEventsFunction") == [
        {"outcome": "already-counted"}
    ]
    report = admin().req("GET", "/reports/authorizations", query={"from": "2026-12-01", "to": "2026-12-31"})
    assert report["json"]["without_approval"] == []
    assert c.failures() == []


def test_a_visit_under_way_keeps_its_unit_and_a_cancelled_waiting_visit_drops_its_task(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c)
    auth = coordinator().moved(draft(clinic), "submit")
    coordinator().moved(auth, "approve", number="A-1", valid_from="2026-12-01", valid_to="2026-12-31")
    first = clinic.book("cy", "2026-12-07T15:00:00Z")
    assert first["insurance"] == "approved"
    c.advance_to(at("2026-12-07T14:58:00Z"))
    assert clinic.staff.act(first["id"], "arrive")["statusCode"] == 200
    c.advance_to(at("2026-12-07T15:10:00Z"))  # under way, not marked complete yet
    second = clinic.book("cy", "2026-12-10T15:00:00Z")
    assert second["insurance"] == "awaiting-insurance-approval"
    c.settle()
    assert [t["focus"]["id"] for t in worklist("obtain-authorization")] == [second["id"]]
    assert clinic.staff.act(second["id"], "cancel", {"reason": "patient"})["statusCode"] == 200
    c.settle()
    assert worklist("obtain-authorization") == []
    assert c.failures() == []


def test_two_bookings_at_once_cannot_take_one_last_unit(friday: Cloud) -> None:
    from functions.scheduling import booking
    from shared import clock
    from shared.data import scheduling as sched
    from shared.data.patients import Actor
    from shared.data.tx import Cancelled
    from shared.http.auth import Principal

    c = friday
    clinic = open_clinic(c)
    auth = coordinator().moved(draft(clinic), "submit")
    coordinator().moved(auth, "approve", number="A-1", valid_from="2026-12-01", valid_to="2026-12-31")
    pid, now = clinic.patients["cy"], clock.now()
    staff = Principal(subject="coord-1", organization_id="acme", roles=frozenset({"coordinator"}))
    actor = Actor("acme", "coord-1", None, None)
    both = []
    for start in ("2026-12-09T15:00:00Z", "2026-12-10T15:00:00Z"):  # both read before either writes
        ctx = booking.load(staff, pid, clinic.provider_id, "follow-up")
        at_ = datetime.fromisoformat(start.replace("Z", "+00:00"))
        record = booking.new_appointment(ctx, staff, "follow-up", at_, now)
        decided = booking.gate(ctx, record, now)
        assert decided.record.authorization_id == auth["id"]
        both.append(
            booking.gated(
                booking.booking_change(ctx, decided.record, booking.units(ctx, at_, None, now), actor, now),
                ctx,
                decided,
            )
        )
    both[0].commit()
    with pytest.raises(Cancelled) as lost:
        both[1].commit()
    assert "authorization" in lost.value.failed
    day = sched.visits_since("acme", pid, at("2026-12-01T00:00:00Z"))
    assert len(day) == 1


def test_a_rescheduled_visit_is_gated_again_at_its_new_date(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c)
    auth = coordinator().moved(draft(clinic), "submit")
    coordinator().moved(auth, "approve", number="A-1", valid_from="2026-12-01", valid_to="2026-12-15")
    visit = clinic.book("cy", "2026-12-10T15:00:00Z")
    assert visit["insurance"] == "approved"
    # out of the window: it awaits approval again, with a task
    out = clinic.staff.act(visit["id"], "reschedule", {"start": "2026-12-18T15:00:00Z"})
    assert out["statusCode"] == 200, out["body"]
    assert (out["json"]["insurance"], out["json"]["authorization_id"]) == (
        "awaiting-insurance-approval",
        None,
    )
    c.settle()
    assert [t["focus"]["id"] for t in worklist("obtain-authorization")] == [visit["id"]]
    # its unit is free for another visit meanwhile
    other = clinic.book("cy", "2026-12-11T15:00:00Z")
    assert other["insurance"] == "approved"
    assert clinic.staff.act(other["id"], "cancel", {"reason": "patient"})["statusCode"] == 200
    # back inside (its own old unit not counted against it): approved, the task completed
    back = clinic.staff.act(visit["id"], "reschedule", {"start": "2026-12-14T15:00:00Z"})
    assert back["statusCode"] == 200, back["body"]
    assert (back["json"]["insurance"], back["json"]["authorization_id"]) == ("approved", auth["id"])
    moved_again = clinic.staff.act(visit["id"], "reschedule", {"start": "2026-12-15T15:00:00Z"})
    assert moved_again["json"]["insurance"] == "approved"
    c.settle()
    assert worklist("obtain-authorization") == []
    assert c.failures() == []
