"""Tasks and escalations end to end, on the template's wiring (tests/support/cloud.py: the local
runtime's dispatcher in-process): events open tasks by rule, deadlines are Scheduler timers that fire
as the clock moves, later events resolve tasks.

Instants are written out by hand from the rules, in UTC. The clinic is in New York (UTC-5 in
December), open Monday to Friday 08:00-17:00. The default ladder is coordinator → nurse → physician;
a no-show is a ``moderate`` escalation (4, 4 and 8 business hours per rung), a safety concern a
``high`` one (1 wall-clock hour per rung, starting with the nurse).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support.cloud import Cloud, cloud
from tests.support.intake import Api
from tests.support.reminders import NyClinic, open_ny_clinic
from tests.support.scheduling import Sched
from tests.support.tasks import SAFETY_POSITIVE, coordinator, nurse, physician

PHONE = "+12125551001"
THURSDAY_NOON = "2026-12-03T17:00:00Z"  # Thursday 12:00 in New York
FRIDAY_1530 = "2026-12-04T20:30:00Z"  # the visit: Friday 15:30; missed, it is a no-show at 16:00
FRIDAY_1600 = "2026-12-04T21:00:00Z"
MONDAY_0900, MONDAY_1059, MONDAY_1100 = "2026-12-07T14:00:00Z", "2026-12-07T15:59:00Z", "2026-12-07T16:00:00Z"
TUESDAY_1059, TUESDAY_1100 = "2026-12-08T15:59:00Z", "2026-12-08T16:00:00Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(PHONE, PHONE.lstrip("+"), "Ana Roe", "ana@example.com")


def open_clinic(c: Cloud, holidays: list[dict[str, str]] | None = None) -> NyClinic:
    clinic = open_ny_clinic(holidays=holidays)
    clinic.add_patient("ana", PHONE, preferred_channels=["sms"])
    c.settle()
    return clinic


@pytest.fixture
def thursday(aws: dict[str, Any]) -> Iterator[Cloud]:
    with cloud(aws, at(THURSDAY_NOON)) as c:
        yield c


def only_task(worklist: dict[str, Any]) -> dict[str, Any]:
    assert len(worklist["items"]) == 1, worklist
    return dict(worklist["items"][0])


def alerts(aws: dict[str, Any]) -> list[dict[str, Any]]:
    """What the work-alert topic was sent (moto keeps every notification of a topic)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    topic = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].topics[aws["stack"].names["WorkAlertTopic"]]
    return [json.loads(message) for _, message, *_ in topic.sent_notifications]


@pytest.mark.parametrize(
    ("holidays", "climbs_before", "climbs_at"),
    [
        ([], MONDAY_1059, MONDAY_1100),
        ([{"date": "2026-12-07", "name": "Closed"}], TUESDAY_1059, TUESDAY_1100),
    ],
    ids=["monday", "monday-is-a-holiday"],
)
def test_a_friday_no_show_climbs_after_four_business_hours(
    thursday: Cloud, aws: dict[str, Any], holidays: list[dict[str, str]], climbs_before: str, climbs_at: str
) -> None:
    c = thursday
    clinic = open_clinic(c, holidays)
    appointment = clinic.book("ana", FRIDAY_1530)
    c.advance_to(at(FRIDAY_1600))

    task = only_task(coordinator().worklist(code="call-patient"))
    assert task["code"] == "call-patient" and task["focus"] == {
        "type": "appointment",
        "id": appointment["id"],
    }
    assert task["patient_id"] == clinic.patients["ana"] and task["patient_name"] == "Ana Roe"
    assert task["role"] == "coordinator" and task["escalation"]["level"] == 0
    assert task["escalation"]["deadline_at"] == climbs_at
    assert "EscalationRaised" in c.detail_types("careloop.escalations")

    c.advance_to(at(climbs_before))
    assert coordinator().task(task["id"])["escalation"]["level"] == 0
    c.advance_to(at(climbs_at))
    climbed = nurse().task(task["id"])
    assert (climbed["role"], climbed["escalation"]["level"], climbed["status"]) == ("nurse", 1, "requested")
    assert [h["action"] for h in climbed["history"]] == ["created", "escalated"]
    assert coordinator().worklist(code="call-patient")["items"] == []
    assert [t["id"] for t in nurse().worklist()["items"]] == [task["id"]]
    assert {"task_id": task["id"], "role": "nurse", "level": 1}.items() <= alerts(aws)[-1].items()
    assert c.failures() == []


def test_acknowledging_first_stops_the_clock(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    clinic.book("ana", FRIDAY_1530)
    c.advance_to(at(FRIDAY_1600))
    task = only_task(coordinator().worklist(code="call-patient"))
    c.advance_to(at(MONDAY_0900))
    accepted = coordinator().act(task["id"], "accept")
    assert accepted["statusCode"] == 200, accepted["body"]
    assert accepted["json"]["owner_id"] == "coord-1" and accepted["json"]["escalation"]["deadline_at"] is None

    c.advance_to(at("2026-12-10T22:00:00Z"))  # days later
    after = coordinator().task(task["id"])
    assert (after["role"], after["escalation"]["level"], after["status"]) == ("coordinator", 0, "accepted")
    assert only_task(coordinator().worklist(queue="mine", code="call-patient"))["id"] == task["id"]
    assert "EscalationEscalated" not in c.detail_types()


def test_a_hold_pauses_the_clock_and_resume_gives_back_the_time_left(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    clinic.book("ana", FRIDAY_1530)
    c.advance_to(at(FRIDAY_1600))
    task = only_task(coordinator().worklist(code="call-patient"))
    c.advance_to(at(MONDAY_0900))  # 2 business hours used (Fri 16-17, Mon 08-09): 2 left
    held = coordinator().act(task["id"], "hold", {"reason": "waiting-for-family"})
    assert held["json"]["escalation"]["remaining_minutes"] == 120
    c.advance_to(at("2026-12-08T14:00:00Z"))  # Tuesday 09:00: it would have climbed on Monday at 11:00
    resumed = coordinator().act(task["id"], "resume")
    assert resumed["json"]["status"] == "requested"
    assert resumed["json"]["escalation"]["deadline_at"] == TUESDAY_1100
    c.advance_to(at(TUESDAY_1100))
    assert nurse().task(task["id"])["escalation"]["level"] == 1


def test_a_safety_concern_reaches_the_nurse_at_once_and_the_physician_an_hour_later(
    thursday: Cloud, aws: dict[str, Any]
) -> None:
    c = thursday
    clinic = open_clinic(c)
    pid = clinic.patients["ana"]
    recorded = Api(org="acme").on("POST", pid, "/assessments", body={"screening": SAFETY_POSITIVE})
    assert recorded["statusCode"] == 201, recorded["body"]
    c.settle()
    task = only_task(nurse().worklist())
    assert (task["code"], task["priority"], task["role"]) == ("safety-check", "urgent", "nurse")
    assert (
        task["escalation"]["clock"] == "wall" and task["escalation"]["deadline_at"] == "2026-12-03T18:00:00Z"
    )
    assert {"task_id": task["id"], "role": "nurse", "level": 1}.items() <= alerts(aws)[-1].items()

    c.advance_to(at("2026-12-03T17:59:00Z"))
    assert physician().worklist()["items"] == []
    c.advance_to(at("2026-12-03T18:00:00Z"))
    assert only_task(physician().worklist())["id"] == task["id"]
    assert {"task_id": task["id"], "role": "physician", "level": 2}.items() <= alerts(aws)[-1].items()

    c.advance_to(at("2026-12-03T19:00:00Z"))  # the top of the ladder: it stays, breached
    top = only_task(physician().worklist())
    assert top["breached"] is True and top["role"] == "physician"
    assert c.detail_types("careloop.escalations").count("EscalationBreached") == 1
    c.advance_to(at("2026-12-04T19:00:00Z"))
    assert c.detail_types("careloop.escalations").count("EscalationBreached") == 1


def put_again(c: Cloud, event: dict[str, Any]) -> None:
    """Deliver ``event`` once more, as EventBridge does when it retries."""
    from tests.conftest import boto_session

    events = boto_session().client("events", region_name="us-east-1")
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "EventBusName": c.stack.bus_name,
    }
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    c.settle()


def test_a_duplicate_delivery_opens_one_task_and_a_recurrence_after_completion_a_new_one(
    thursday: Cloud,
) -> None:
    c = thursday
    clinic = open_clinic(c)
    clinic.book("ana", FRIDAY_1530)
    c.advance_to(at(FRIDAY_1600))
    no_show = next(e for e in c.events if e["detail-type"] == "AppointmentNoShow")
    put_again(c, no_show)
    put_again(c, no_show)
    first = only_task(coordinator().worklist(code="call-patient"))
    pid = clinic.patients["ana"]

    def calls() -> list[dict[str, Any]]:
        return [t for t in coordinator().patient_tasks(pid) if t["code"] == "call-patient"]

    assert [t["id"] for t in calls()] == [first["id"]]

    done = coordinator().act(first["id"], "complete", {"outcome": {"code": "reached", "note": "Rebooked"}})
    assert done["statusCode"] == 200, done["body"]
    put_again(c, no_show)  # the same event again, days later: still nothing new
    assert [t["id"] for t in calls()] == [first["id"]]

    again = {**no_show, "detail": {**no_show["detail"], "event_id": "01KBRECURRED0000000000000A"}}
    put_again(c, again)  # the cause recurs (a new event): a new task
    tasks = calls()
    assert len(tasks) == 2 and tasks[1]["id"] == first["id"] and tasks[0]["status"] == "requested"


def test_confirming_an_appointment_cancels_its_unconfirmed_call(thursday: Cloud) -> None:
    from shared.events.reminders import AppointmentUnconfirmed

    c = thursday
    clinic = open_clinic(c)
    appointment = clinic.book("ana", "2026-12-09T15:00:00Z")
    assert appointment["status"] == "pending"
    unconfirmed = AppointmentUnconfirmed(
        organization_id="acme",
        touch_id="01KBTOUCH00000000000000000",
        patient_id=clinic.patients["ana"],
        subject_kind="appointment",
        subject_id=appointment["id"],
        appointment_id=appointment["id"],
    )
    put_again(
        c,
        {
            "source": unconfirmed.source,
            "detail-type": unconfirmed.detail_type,
            "detail": unconfirmed.detail(),
        },
    )
    task = only_task(coordinator().worklist(code="confirm-appointment"))
    assert task["due_at"] == "2026-12-09T13:00:00Z"  # 2 hours before the visit

    confirmed = Sched(org="acme").act(appointment["id"], "confirm")
    assert confirmed["statusCode"] == 200, confirmed["body"]
    c.settle()
    after = coordinator().task(task["id"])
    assert (after["status"], after["status_reason"]) == ("cancelled", "resolved-by-event")
    assert after["history"][-1]["action"] == "resolved-by-event"
    assert coordinator().worklist(code="confirm-appointment")["items"] == []

    # an unconfirmed event that arrives after the confirmation (out of order) opens nothing
    put_again(c, {"source": unconfirmed.source, "detail-type": unconfirmed.detail_type,
                  "detail": {**unconfirmed.detail(), "event_id": "01KBLATE000000000000000000"}})  # fmt: skip
    assert coordinator().worklist(code="confirm-appointment")["items"] == []


def test_cancelling_an_overdue_referral_never_booked_closes_its_chase(thursday: Cloud) -> None:
    """A referral that never had an appointment says so (``appointment_id: null``) in its events: the
    rule's focus is the referral (this once crashed the consumer on every cancelled unbooked referral)."""
    from shared.events.scheduling import ReferralOverdue

    c = thursday
    clinic = open_clinic(c)
    made = Sched(org="acme").req(
        "POST",
        "/referrals",
        {
            "patient_id": clinic.patients["ana"],
            "specialty": "cardiology",
            "reason": "Chest pain",
            "due_date": "2026-12-05",
            "send": True,
        },
    )
    assert made["statusCode"] == 201, made["body"]
    overdue = ReferralOverdue(
        organization_id="acme",
        referral_id=made["json"]["id"],
        patient_id=clinic.patients["ana"],
        status="sent",
    )
    put_again(c, {"source": overdue.source, "detail-type": overdue.detail_type, "detail": overdue.detail()})
    task = only_task(coordinator().worklist(code="chase-referral"))
    cancelled = Sched(org="acme").req(
        "POST",
        "/referrals/{referral_id}/cancel",
        {"reason": "Seen elsewhere"},
        referral_id=made["json"]["id"],
    )
    assert cancelled["statusCode"] == 200, cancelled["body"]
    c.settle()
    assert coordinator().task(task["id"])["status_reason"] == "resolved-by-event"
    assert c.failures() == []
