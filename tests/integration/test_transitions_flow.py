"""Transitions of care end to end on the template's wiring (tests/support/cloud.py): an episode's
steps are tasks, its deadlines a Scheduler timer that fires as the clock moves, its misses escalations.

The clinic is in New York (UTC-5 in December), open Monday to Friday 08:00-17:00. 2026-12-03 is a
Thursday. Instants are written out by hand in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support import tasks, webhooks
from tests.support.cloud import Cloud, cloud
from tests.support.reminders import NyClinic, open_ny_clinic
from tests.support.transitions import admin, coordinator, nurse

PHONE = "+12125551002"
THURSDAY_NOON = "2026-12-03T17:00:00Z"
THURSDAY_DISCHARGE = "2026-12-03T15:00:00Z"  # 10:00 in New York
MONDAY_CLOSE = "2026-12-07T22:00:00Z"  # Monday 17:00: the end of the 2nd business day


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(PHONE, PHONE.lstrip("+"), "Bea Roe", "bea@example.com")


@pytest.fixture
def thursday(aws: dict[str, Any]) -> Iterator[Cloud]:
    with cloud(aws, at(THURSDAY_NOON)) as c:
        yield c


def open_clinic(c: Cloud, holidays: list[dict[str, str]] | None = None) -> NyClinic:
    clinic = open_ny_clinic(holidays=holidays)
    clinic.add_patient("bea", PHONE, preferred_channels=["sms"])
    c.settle()
    return clinic


def test_a_thursday_discharge_is_due_a_contact_by_monday_close(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    episode = coordinator().open(clinic.patients["bea"], THURSDAY_DISCHARGE)
    c.settle()
    assert episode["contact"]["due_at"] == MONDAY_CLOSE
    assert episode["visit"]["due_at"] == "2026-12-18T05:00:00Z"  # end of day 14 (moderate)
    assert episode["period_ends_on"] == "2027-01-01"
    work = tasks.coordinator().worklist()["items"]
    assert {t["code"] for t in work} == {"call-patient", "book-follow-up", "close-transition"}
    assert [t["code"] for t in tasks.nurse().worklist(queue="nurse")["items"]] == ["reconcile-medications"]
    assert c.failures() == []

    c.advance_to(at(MONDAY_CLOSE))
    read = coordinator().get(episode["id"])
    assert read["contact"]["status"] == "missed"
    assert "TransitionStepMissed" in c.detail_types("careloop.transitions")
    esc = [t for t in tasks.coordinator().worklist()["items"] if t.get("escalation")]
    assert [t["rule_id"] for t in esc] == ["transition-contact-missed"], esc
    assert c.failures() == []


FRIDAY_DISCHARGE = "2026-12-04T16:00:00Z"  # Friday 11:00
WEDNESDAY_CLOSE = "2026-12-09T22:00:00Z"  # Monday 7th a holiday: Tuesday 1, Wednesday 2


@pytest.fixture
def friday(aws: dict[str, Any]) -> Iterator[Cloud]:
    with cloud(aws, at("2026-12-04T18:00:00Z")) as c:
        yield c


def test_two_attempts_in_the_window_meet_the_contact_over_a_holiday_weekend(friday: Cloud) -> None:
    c = friday
    clinic = open_clinic(c, holidays=[{"date": "2026-12-07", "name": "Closed"}])
    episode = coordinator().open(clinic.patients["bea"], FRIDAY_DISCHARGE)
    assert episode["contact"]["due_at"] == WEDNESDAY_CLOSE
    c.settle()
    first = coordinator().do(episode["id"], "contacts", {"channel": "phone", "reached": False})
    assert first["statusCode"] == 200, first["body"]
    assert first["json"]["contact"]["status"] == "pending"
    c.advance_to(at("2026-12-09T21:59:00Z"))  # Wednesday 16:59, still in the window
    second = coordinator().do(
        episode["id"], "contacts", {"channel": "phone", "reached": False, "note": "voicemail full"}
    )
    contact = second["json"]["contact"]
    assert (contact["status"], contact["met_by"], contact["on_time"]) == ("completed", "attempts", True)
    task = tasks.coordinator().task(contact["task_id"])
    assert (task["status"], task["outcome"]["code"]) == ("completed", "two-attempts")
    c.advance_to(at("2026-12-10T15:00:00Z"))
    # the contact was met: no escalation for it; the visit unbooked by day 3 (Monday) has its own
    escalated = {
        t["rule_id"] for t in tasks.Tasks(roles=("coordinator", "nurse", "physician")).worklist()["items"]
    }
    assert escalated - {None} == {"transition-visit-unbooked"}
    assert "voicemail" not in str(c.events)  # the note stays on the episode
    assert c.failures() == []


def test_no_contact_escalates_to_the_coordinator_then_the_nurse(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    episode = coordinator().open(clinic.patients["bea"], THURSDAY_DISCHARGE)
    c.settle()
    c.advance_to(at(MONDAY_CLOSE))
    (esc,) = [t for t in tasks.coordinator().worklist()["items"] if t.get("rule_id")]
    assert esc["escalation"]["level"] == 0 and esc["focus"] == {"type": "transition", "id": episode["id"]}
    assert esc["escalation"]["deadline_at"] == "2026-12-08T17:00:00Z"  # 4 business hours: Tuesday 12:00
    c.advance_to(at("2026-12-08T17:00:00Z"))
    climbed = tasks.nurse().task(esc["id"])
    assert (climbed["role"], climbed["escalation"]["level"]) == ("nurse", 1)
    # a late contact still completes the step (late), and resolves the escalation
    reached = coordinator().do(episode["id"], "contacts", {"channel": "video", "reached": True})
    assert reached["json"]["contact"]["on_time"] is False
    c.settle()
    resolved = tasks.nurse().task(esc["id"])
    assert (resolved["status"], resolved["status_reason"]) == ("cancelled", "resolved-by-event")
    assert c.failures() == []


def admission(mrn: str, source_id: str, start: str) -> dict[str, Any]:
    """The hospital's notice that the patient is back in (an Encounter in progress)."""
    body = webhooks.discharge(mrn, source_id=source_id, start=start)
    encounter = body["entry"][0]["resource"]
    encounter["status"] = "in-progress"
    encounter["period"] = {"start": start}
    del encounter["hospitalization"]
    return body


def test_a_partner_discharge_a_day_6_visit_and_a_reconciliation_qualify_for_99496(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    bea = clinic.patients["bea"]
    hospital = webhooks.add_partner(c, kind="hospital")
    webhooks.give_mrn(c, bea, "MRN-2001")
    notice = webhooks.discharge("MRN-2001", source_id="enc-9", end=THURSDAY_DISCHARGE, complexity="high")
    for _ in range(2):  # the hospital sends it twice (a retry with a new webhook-id)
        assert webhooks.deliver(c, hospital.id, notice, hospital.secret)["statusCode"] == 202
        c.settle()
    (episode,) = coordinator().listing()["items"]
    assert (episode["complexity"], episode["encounter_id"] is not None) == ("high", True)
    assert episode["visit"]["due_at"] == "2026-12-11T05:00:00Z"  # end of day 7
    assert c.detail_types("careloop.transitions").count("TransitionOpened") == 1

    visit = clinic.book("bea", "2026-12-09T14:00:00Z")  # Wednesday 09:00, day 6
    c.settle()
    booked = coordinator().get(episode["id"])["visit"]
    assert (booked["status"], booked["appointment_id"], booked["in_window"]) == ("booked", visit["id"], True)
    assert clinic.rem.touches(visit["id"]), "the patient's reminders cover the visit"
    assert (
        coordinator().get(episode["id"])["medication"]["due_at"] == "2026-12-10T05:00:00Z"
    )  # the visit's day

    c.advance_to(at("2026-12-07T15:00:00Z"))  # Monday 10:00
    reached = coordinator().do(episode["id"], "contacts", {"channel": "phone", "reached": True})
    assert reached["json"]["contact"]["on_time"] is True
    rec = nurse().do(episode["id"], "medication-reconciliation", {"changes": 2})
    assert rec["statusCode"] == 200, rec["body"]
    c.advance_to(at("2026-12-09T13:55:00Z"))
    assert clinic.staff.act(visit["id"], "arrive")["statusCode"] == 200
    c.advance_to(at("2026-12-09T14:30:00Z"))
    held = clinic.staff.act(visit["id"], "complete")
    assert held["statusCode"] == 200, held["body"]
    c.settle()
    c.advance_to(at("2026-12-10T15:00:00Z"))  # the day after the visit, a follow-up change
    again = nurse().do(episode["id"], "medication-reconciliation", {"changes": 3})
    assert again["json"]["medication"]["completed_at"] == rec["json"]["medication"]["completed_at"]
    assert again["json"]["medication"]["changes"] == 3
    done = coordinator().get(episode["id"])
    assert (done["visit"]["status"], done["visit"]["on_time"]) == ("completed", True)
    closed = coordinator().do(
        episode["id"], "close", {"reason": "completed"}, headers={"if-match": f'"{done["version"]}"'}
    )
    assert closed["statusCode"] == 200, closed["body"]
    assert closed["json"]["eligibility"] == {"qualifies": True, "code": "99496", "failures": []}
    c.settle()
    open_work = tasks.Tasks(roles=("coordinator", "nurse", "physician")).worklist(patient_id=bea)["items"]
    assert open_work == [], "every step's task is closed with the episode"

    report = admin().req("GET", "/reports/transitions", query={"from": "2026-12-01", "to": "2026-12-31"})
    assert report["statusCode"] == 200, report["body"]
    figures = report["json"]
    assert (figures["episodes"], figures["qualifying"]["99496"], figures["contact_rate"]) == (1, 1, 1.0)
    assert c.failures() == []


def test_a_readmission_on_day_10_pauses_the_episode_and_the_next_discharge_starts_another(
    thursday: Cloud,
) -> None:
    c = thursday
    clinic = open_clinic(c)
    bea = clinic.patients["bea"]
    hospital = webhooks.add_partner(c, kind="hospital")
    webhooks.give_mrn(c, bea, "MRN-2002")
    webhooks.deliver(c, hospital.id, webhooks.discharge("MRN-2002", end=THURSDAY_DISCHARGE), hospital.secret)
    c.settle()
    (first,) = coordinator().listing()["items"]

    c.advance_to(at("2026-12-11T15:00:00Z"))  # day 8: an emergency visit is not a readmission
    er = admission("MRN-2002", "enc-er", "2026-12-11T14:00:00Z")
    er["entry"][0]["resource"]["class"]["code"] = "EMER"
    assert webhooks.deliver(c, hospital.id, er, hospital.secret)["statusCode"] == 202
    c.settle()
    assert coordinator().get(first["id"])["status"] == "open"
    c.advance_to(at("2026-12-13T15:00:00Z"))  # day 10
    back_in = admission("MRN-2002", "enc-2", "2026-12-13T14:00:00Z")
    assert webhooks.deliver(c, hospital.id, back_in, hospital.secret)["statusCode"] == 202
    c.settle()
    paused = coordinator().get(first["id"])
    assert (paused["status"], paused["readmission"]["admitted_at"]) == ("paused", "2026-12-13T14:00:00Z")
    step_tasks = [tasks.coordinator().task(paused[s]["task_id"]) for s in ("visit", "close")]
    assert {(t["status"], t["status_reason"]) for t in step_tasks} == {("on-hold", "readmitted")}
    c.advance_to(at("2026-12-20T15:00:00Z"))  # past the visit's day 14: nothing is missed while paused
    assert coordinator().get(first["id"])["visit"]["status"] != "missed"

    again = webhooks.discharge(
        "MRN-2002", source_id="enc-2", start="2026-12-13T14:00:00Z", end="2026-12-18T16:00:00Z"
    )
    webhooks.deliver(c, hospital.id, again, hospital.secret)
    c.settle()
    old = coordinator().get(first["id"])
    assert (old["status"], old["close_reason"]) == ("closed", "readmitted")
    assert "readmitted" in old["eligibility"]["failures"] and old["eligibility"]["qualifies"] is False
    (second,) = coordinator().listing()["items"]
    assert (second["previous_id"], old["next_id"]) == (first["id"], second["id"])
    assert second["discharge_date"] == "2026-12-18"

    report = admin().req("GET", "/reports/transitions", query={"from": "2026-12-01", "to": "2026-12-31"})
    figures = report["json"]
    assert (figures["episodes"], figures["closed"], figures["readmissions"]) == (2, 1, 1)
    assert figures["not_qualifying"]["readmitted"] == 1
    assert c.failures() == []
