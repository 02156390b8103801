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

from tests.support import tasks
from tests.support.cloud import Cloud, cloud
from tests.support.reminders import NyClinic, open_ny_clinic
from tests.support.transitions import coordinator

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
