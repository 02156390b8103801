"""Reminders end to end, on the template's wiring (tests/support/cloud.py: the local runtime's
dispatcher in-process): booking makes a plan, timers fire the dispatcher as the clock moves, the send
queue's consumer sends, replies and receipts come back through their topics.

The instants below are written out by hand from the rules, in UTC:
- New York is UTC-4 until Sunday 2026-11-01 02:00 (EDT), UTC-5 after (EST);
- day and business-day touches keep the visit's local wall time; hour touches are hours;
- quiet hours 21:00-09:00 (New York) unless a test says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.cloud import Cloud, cloud
from tests.support.intake import Api
from tests.support.reminders import NyClinic, open_ny_clinic

FAST = {"SMS_PARTS_PER_SECOND": "1000", "EMAILS_PER_SECOND": "1000"}
PHONE = "+12125551001"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def minute(entry: dict[str, Any]) -> str:
    return str(entry["at"])[:16] + "Z"


def sms_to(c: Cloud, phone: str) -> list[dict[str, Any]]:
    return [m for m in c.outbox if m["channel"] == "sms" and m["to"] == phone]


def day_by_day(c: Cloud, until: datetime) -> dict[str, list[str]]:
    """Advance a day at a time; what went out each day (minute, channel)."""
    seen, out = 0, {}
    now = c.clock.now()
    while now < until:
        now = min(now + timedelta(days=1), until)
        c.advance_to(now)
        new = c.outbox[seen:]
        seen += len(new)
        out[now.date().isoformat()] = [f"{minute(m)} {m['channel']}" for m in new]
    return out


@pytest.fixture
def start_wednesday(aws: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[tuple[Cloud, NyClinic]]:
    """Wednesday 2026-10-28 12:00 in New York (16:00 UTC), a clinic, one patient."""
    from functions.reminders import tokens

    tokens.reset()
    when = getattr(request, "param", "2026-10-28T16:00:00Z")
    with cloud(aws, at(when), **FAST) as c:
        clinic = open_ny_clinic(holidays=[{"date": "2026-11-20", "name": "Founders Day"}])
        clinic.add_patient("ana", PHONE, preferred_channels=["sms"])
        c.settle()
        yield c, clinic
    tokens.reset()


def test_a_plan_across_the_dst_change_goes_out_at_the_planned_instants(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")  # Tuesday 10:00 EST, booked Wednesday noon EDT
    c.settle()
    planned = clinic.rem.touches(appt["id"])
    assert [(t["offset"], t["status"], t["planned_at"]) for t in planned] == [
        ("7d", "skipped", "2026-10-27T14:00:00Z"),  # Tuesday 10:00 EDT: before the booking
        ("2bd", "planned", "2026-10-30T14:00:00Z"),  # Friday 10:00 EDT
        ("24h", "planned", "2026-11-02T15:00:00Z"),  # Monday 10:00 EST: 24 hours, across no change
        ("2h", "planned", "2026-11-03T13:00:00Z"),  # Tuesday 08:00 EST: in the quiet hours
    ]
    assert planned[0]["skip_reason"] == "past"
    two_hours = at(planned[3]["send_at"])  # moved to 09:00 EST, spread over the first 30 minutes
    assert at("2026-11-03T14:00:00Z") <= two_hours < at("2026-11-03T14:30:00Z")
    assert two_hours.second == 0

    sent = day_by_day(c, at("2026-11-03T16:00:00Z"))
    assert sent == {
        "2026-10-29": [],
        "2026-10-30": ["2026-10-30T14:00Z sms"],
        "2026-10-31": [],
        "2026-11-01": [],
        "2026-11-02": ["2026-11-02T15:00Z sms"],
        "2026-11-03": [two_hours.strftime("%Y-%m-%dT%H:%MZ") + " sms"],
    }
    texts = [m["text"] for m in sms_to(c, PHONE)]
    assert all("Hudson Clinic" in t and "Reply C to confirm" in t for t in texts)
    assert all("Lee Park" not in t and "cardiology" not in t.lower() for t in texts)  # no provider
    after = clinic.rem.touches(appt["id"])
    assert [t["status"] for t in after] == ["skipped", "sent", "sent", "sent"]
    assert [t["sent_at"][:16] for t in after[1:]] == [m[:16] for m in ("2026-10-30T14:00", "2026-11-02T15:00")] + [
        two_hours.strftime("%Y-%m-%dT%H:%M")
    ]
    # still unconfirmed after the last-but-one touch: raised for a call before the visit
    assert c.detail_types("careloop.reminders").count("AppointmentUnconfirmed") == 1
    assert c.detail_types("careloop.reminders").count("ReminderSent") == 3
    assert not c.failures()


@pytest.mark.parametrize("start_wednesday", ["2026-11-18T17:00:00Z"], indirect=True)
def test_a_plan_across_an_organization_holiday_skips_it(start_wednesday: Any) -> None:
    """Booked Wednesday 18 Nov for Tuesday 24 Nov 10:00; Friday 20 Nov is the clinic's holiday."""
    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-24T15:00:00Z")
    c.settle()
    planned = clinic.rem.touches(appt["id"])
    # two business days before Tuesday: Monday, then (Friday closed) Thursday
    assert [(t["offset"], t["status"], t["send_at"]) for t in planned[:3]] == [
        ("7d", "skipped", None),  # Tuesday 17 Nov: before the booking
        ("2bd", "planned", "2026-11-19T15:00:00Z"),  # Thursday 10:00 EST
        ("24h", "planned", "2026-11-23T15:00:00Z"),
    ]
    sent = day_by_day(c, at("2026-11-24T17:00:00Z"))
    assert [m for day in sent.values() for m in day][:2] == ["2026-11-19T15:00Z sms", "2026-11-23T15:00Z sms"]
    assert sent["2026-11-20"] == [] and sent["2026-11-21"] == []
