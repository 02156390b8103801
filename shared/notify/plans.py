"""Reminder plans: from a policy's touches to the instants they go out. Pure: no I/O, no clock reads.

A touch's *planned* time is the policy's (7 days before the visit, 2 business days before on the
organization's calendar at the visit's local time...). Its *send* time is the first allowed minute
from then (:func:`shared.notify.channels.allowed_time`): outside the patient's quiet hours, not on an
organization holiday; or, when that would be after the visit, the last allowed minute before. A touch
moved to the patient's morning is spread over its first 30 minutes (by a hash of its id, so the same
touch always lands on the same minute). A touch already due when the plan is made is skipped; so is
one with no allowed minute left before the visit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.domain.calendar import Calendar
from shared.domain.patients import Channel
from shared.domain.reminders import SkipReason, TouchRule
from shared.domain.scheduling import local_instant
from shared.notify.channels import allowed_time

MORNING_SPREAD_MINUTES = 30


@dataclass(frozen=True)
class PlannedTouch:
    index: int
    offset: str
    asks_confirmation: bool
    channels: tuple[Channel, ...]
    planned_at: datetime
    send_at: datetime | None  # None when skipped
    skip_reason: SkipReason | None


def spread_of(key: str) -> timedelta:
    """A stable minute in [0, 30) for ``key``."""
    digest = hashlib.sha256(key.encode()).digest()
    return timedelta(minutes=int.from_bytes(digest[:4], "big") % MORNING_SPREAD_MINUTES)


def planned_at(rule: TouchRule, start: datetime, calendar: Calendar, visit_zone: ZoneInfo) -> datetime:
    """When the policy puts ``rule``'s touch for a visit at ``start``: days and business days are
    counted on the calendar and keep the visit's local wall time (7 days before a 10:00 visit is
    10:00, across a DST change too); hours are hours."""
    local = start.astimezone(visit_zone)
    wall = local.time().replace(tzinfo=None)
    if rule.business_days:
        return local_instant(
            calendar.subtract_business_days(local.date(), rule.business_days), wall, visit_zone
        )
    day = local_instant(local.date() - timedelta(days=rule.days), wall, visit_zone) if rule.days else start
    return day - timedelta(hours=rule.hours)


def plan(
    rules: list[TouchRule],
    start: datetime,
    now: datetime,
    calendar: Calendar,
    *,
    visit_zone: str,
    quiet: tuple[time, time],
    patient_zone: str,
    key: str,
) -> list[PlannedTouch]:
    """The touches for a visit at ``start`` (local to ``visit_zone``), made at ``now``, in send order
    (skipped ones by their planned time). ``key`` names the plan (spreads its morning touches)."""
    zone = ZoneInfo(patient_zone)
    out: list[tuple[datetime, TouchRule, datetime | None, SkipReason | None]] = []
    for number, rule in enumerate(rules):
        at = planned_at(rule, start, calendar, ZoneInfo(visit_zone))
        if at <= now:
            out.append((at, rule, None, SkipReason.PAST))
            continue
        send = allowed_time(
            at,
            quiet=quiet,
            zone=zone,
            closed=lambda t: calendar.is_holiday(calendar.local_date(t)),
            closed_zone=calendar.zone,
            before=start,
            not_before=now,
            spread=spread_of(f"{key}#{number}"),
        )
        out.append((at, rule, send, None if send else SkipReason.NO_ALLOWED_TIME))
    out.sort(key=lambda t: (t[2] or t[0], t[0]))
    return [
        PlannedTouch(
            index=i,
            offset=rule.offset,
            asks_confirmation=rule.asks_confirmation,
            channels=tuple(rule.channels),
            planned_at=at,
            send_at=send,
            skip_reason=reason,
        )
        for i, (at, rule, send, reason) in enumerate(out)
    ]


def follow_ups(
    days: list[int],
    created: datetime,
    now: datetime,
    calendar: Calendar,
    *,
    quiet: tuple[time, time],
    patient_zone: str,
    key: str,
) -> list[datetime]:
    """A referral's follow-up reminders: ``days`` after it was made, at 10:00 organization time on a
    business day (the next one when that day is not: the patient can call while the clinic is open),
    then out of the patient's quiet hours."""
    out = []
    for n in days:
        day = calendar.local_date(created) + timedelta(days=n)
        while not calendar.is_business_day(day):
            day += timedelta(days=1)
        at = local_instant(day, time(10), calendar.zone)
        send = allowed_time(at, quiet=quiet, zone=ZoneInfo(patient_zone), spread=spread_of(f"{key}#{n}"))
        if send is not None and send > now:
            out.append(send)
    return out
