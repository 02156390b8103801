"""Scheduling's pure rules: local time across DST, slots, the booking grid, status moves, calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.calendar import Calendar
from shared.domain.referrals import ReferralStatus, next_referral_status
from shared.domain.scheduling import (
    TRANSITIONS,
    AppointmentStatus,
    ProviderIn,
    free_slots,
    local_instant,
    next_status,
    timing_problem,
    units_for,
    units_on,
)

CHICAGO = ZoneInfo("America/Chicago")
EVERY_DAY = range(1, 8)


def provider(
    windows: list[tuple[str, str]] | None = None, zone: str = "America/Chicago", **extra: object
) -> ProviderIn:
    windows = windows or [("09:00", "12:00"), ("13:00", "17:00")]
    return ProviderIn.model_validate(
        {
            "name": "Dr. A",
            "specialty": "cardiology",
            "location": "Clinic",
            "time_zone": zone,
            "appointment_types": ["follow-up"],
            "availability": [{"weekday": d, "start": s, "end": e} for d in EVERY_DAY for s, e in windows],
            **extra,
        }
    )


def slots(
    p: ProviderIn,
    day: date,
    minutes: int = 30,
    busy: list[datetime] | None = None,
    calendar: Calendar | None = None,
) -> list:
    return free_slots(
        p,
        "P",
        "follow-up",
        timedelta(minutes=minutes),
        calendar or Calendar(),
        day,
        day,
        busy or [],
        datetime(2000, 1, 1, tzinfo=UTC),
    )


# ---------------------------------------------------------------- time


def test_a_skipped_wall_time_resolves_to_the_first_minute_after_the_jump() -> None:
    # 2026-03-08: Chicago springs from 02:00 CST straight to 03:00 CDT
    assert local_instant(date(2026, 3, 8), time(2, 30), CHICAGO) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert local_instant(date(2026, 3, 8), time(3, 0), CHICAGO) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)


def test_a_repeated_wall_time_is_its_first_occurrence() -> None:
    # 2026-11-01: 01:30 happens at 06:30Z (CDT) and again at 07:30Z (CST)
    assert local_instant(date(2026, 11, 1), time(1, 30), CHICAGO) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_nine_oclock_stays_nine_oclock_across_the_fall_change() -> None:
    p = provider()
    before, after = slots(p, date(2026, 10, 30)), slots(p, date(2026, 11, 2))
    assert before[0].start == datetime(2026, 10, 30, 14, 0, tzinfo=UTC)
    assert after[0].start == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    assert before[0].local_start.startswith("2026-10-30T09:00:00-05:00")
    assert after[0].local_start.startswith("2026-11-02T09:00:00-06:00")


def test_a_night_shift_loses_an_hour_in_spring_and_gains_one_in_autumn() -> None:
    night = provider([("00:00", "06:00")], slot_minutes=60)
    assert len(units_on(night, Calendar(), date(2026, 3, 8))[0]) == 5
    assert len(units_on(night, Calendar(), date(2026, 11, 1))[0]) == 7
    assert len(units_on(night, Calendar(), date(2026, 11, 2))[0]) == 6


# ---------------------------------------------------------------- slots


def test_slots_fill_each_window_and_skip_lunch() -> None:
    found = slots(provider(), date(2026, 11, 24))
    # 09-12 holds eleven 30-minute starts on a 15-minute grid, 13-17 fifteen
    assert len(found) == 11 + 15
    local = [s.start.astimezone(CHICAGO).time() for s in found]
    assert time(11, 30) in local and time(11, 45) not in local and time(12, 30) not in local
    assert time(13, 0) in local and time(16, 30) in local and time(16, 45) not in local


def test_busy_units_remove_every_slot_that_would_overlap_them() -> None:
    day = date(2026, 11, 24)
    ten = local_instant(day, time(10, 0), CHICAGO)
    found = {s.start for s in slots(provider(), day, busy=[ten])}
    assert ten not in found and ten - timedelta(minutes=15) not in found
    assert ten - timedelta(minutes=30) in found and ten + timedelta(minutes=15) in found


def test_holidays_and_time_off_close_the_day_or_the_hours() -> None:
    day = date(2026, 11, 26)
    holiday = Calendar(holidays=[{"date": day, "name": "Thanksgiving Day"}])
    assert slots(provider(), day, calendar=holiday) == []
    off = provider(time_off=[{"first": "2026-11-24", "last": "2026-11-24", "start": "13:00", "end": "15:00"}])
    local = {s.start.astimezone(CHICAGO).time() for s in slots(off, date(2026, 11, 24))}
    assert time(13, 0) not in local and time(14, 30) not in local and time(15, 0) in local
    away = provider(time_off=[{"first": "2026-11-23", "last": "2026-11-25", "reason": "vacation"}])
    assert slots(away, date(2026, 11, 25)) == [] and slots(away, date(2026, 11, 27)) != []


def test_a_booking_is_checked_against_the_grid_the_hours_and_the_duration() -> None:
    p, cal, day = provider(), Calendar(), date(2026, 11, 24)
    nine = local_instant(day, time(9, 0), CHICAGO)
    assert units_for(p, cal, nine, timedelta(minutes=30)) == [nine, nine + timedelta(minutes=15)]
    assert "not available" in str(units_for(p, cal, nine + timedelta(minutes=7), timedelta(minutes=30)))
    assert "not available" in str(
        units_for(p, cal, local_instant(day, time(12, 0), CHICAGO), timedelta(minutes=30))
    )
    assert "past the end" in str(
        units_for(p, cal, local_instant(day, time(11, 45), CHICAGO), timedelta(minutes=30))
    )
    assert "grid" in str(units_for(p, cal, nine, timedelta(minutes=20)))


def test_provider_hours_must_sit_on_the_grid_and_not_overlap() -> None:
    with pytest.raises(ValidationError, match="grid"):
        provider([("09:10", "12:00")])
    with pytest.raises(ValidationError, match="overlap"):
        provider([("09:00", "12:00"), ("11:00", "13:00")])
    with pytest.raises(ValidationError, match="end must be after start"):
        provider([("12:00", "09:00")])


# ---------------------------------------------------------------- properties

ZONES = ["America/Chicago", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"]
DST_DAYS = [
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 4, 5),
    date(2026, 10, 4),
]


@st.composite
def schedules(draw: st.DrawFn) -> tuple[ProviderIn, date, int, list[datetime]]:
    step = draw(st.sampled_from([15, 30, 60]))
    grid = [time(h, m) for h in range(24) for m in range(0, 60, step)] + [time(23, 59)]
    cuts = sorted(draw(st.sets(st.sampled_from(grid[:-1]), min_size=2, max_size=8)))
    windows = [
        (a.strftime("%H:%M"), b.strftime("%H:%M")) for a, b in zip(cuts[::2], cuts[1::2], strict=False)
    ]
    p = provider(windows, zone=draw(st.sampled_from(ZONES)), slot_minutes=step)
    day = draw(st.sampled_from(DST_DAYS) | st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    units = [u for run in units_on(p, Calendar(), day) for u in run]
    busy = draw(st.lists(st.sampled_from(units), max_size=10)) if units else []
    minutes = step * draw(st.integers(1, 4))
    return p, day, minutes, busy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules())
def test_every_slot_lies_inside_a_window_and_overlaps_no_booking(case: tuple) -> None:
    p, day, minutes, busy = case
    zone, duration = ZoneInfo(p.time_zone), timedelta(minutes=minutes)
    windows = [
        (local_instant(day, w.start, zone), local_instant(day, w.end, zone))
        for w in p.availability
        if w.weekday == day.isoweekday()
    ]
    found = slots(p, day, minutes, busy)
    starts = [s.start for s in found]
    assert starts == sorted(set(starts))
    for slot in found:
        assert slot.end - slot.start == duration
        assert any(a <= slot.start and slot.end <= b for a, b in windows)
        assert slot.start.astimezone(zone).date() == day
        assert not any(slot.start <= b < slot.end for b in busy)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules())
def test_every_free_run_of_units_is_offered_and_bookable(case: tuple) -> None:
    """Completeness: a start whose units are all free is a slot, and booking it is accepted."""
    p, day, minutes, busy = case
    duration = timedelta(minutes=minutes)
    offered = {s.start for s in slots(p, day, minutes, busy)}
    for run in units_on(p, Calendar(), day):
        for unit in run:
            held = units_for(p, Calendar(), unit, duration)
            free = isinstance(held, list) and not set(held) & set(busy)
            assert (unit in offered) == free


@settings(max_examples=200, deadline=None)
@given(schedules(), st.data())
def test_booking_an_offered_slot_removes_exactly_the_slots_it_overlaps(
    case: tuple, data: st.DataObject
) -> None:
    p, day, minutes, busy = case
    duration = timedelta(minutes=minutes)
    before = slots(p, day, minutes, busy)
    if not before:
        return
    chosen = data.draw(st.sampled_from(before))
    held = units_for(p, Calendar(), chosen.start, duration)
    assert isinstance(held, list)
    after = {s.start for s in slots(p, day, minutes, [*busy, *held])}
    for slot in before:
        overlaps = slot.start < chosen.end and chosen.start < slot.end
        assert (slot.start in after) == (not overlaps)


# ---------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        ("pending", "confirm", "booked"),
        ("booked", "check-in", "checked-in"),
        ("arrived", "check-in", "checked-in"),
        ("checked-in", "complete", "fulfilled"),
        ("booked", "no-show", "noshow"),
        ("pending", "cancel", "cancelled"),
        ("booked", "reschedule", "booked"),
    ],
)
def test_legal_moves(status: str, action: str, expected: str) -> None:
    assert next_status(AppointmentStatus(status), action) == AppointmentStatus(expected)


def test_every_other_move_is_refused_with_a_reason() -> None:
    refused = 0
    for status in AppointmentStatus:
        for action, (allowed, _) in TRANSITIONS.items():
            if status not in allowed:
                result = next_status(status, action)
                assert isinstance(result, str) and status.value in result
                refused += 1
    assert refused > 40  # fulfilled, cancelled, noshow... are terminal for every action


def test_no_show_and_complete_wait_for_the_start() -> None:
    start = datetime(2026, 11, 24, 15, tzinfo=UTC)
    assert timing_problem("no-show", start, start - timedelta(minutes=1))
    assert timing_problem("complete", start, start - timedelta(minutes=1))
    assert timing_problem("no-show", start, start) is None
    assert timing_problem("cancel", start, start + timedelta(days=1)) is None


def test_the_referral_loop() -> None:
    r = ReferralStatus
    path = [
        ("send", r.SENT),
        ("accept", r.ACCEPTED),
        ("schedule", r.SCHEDULED),
        ("unschedule", r.ACCEPTED),
        ("schedule", r.SCHEDULED),
        ("complete", r.COMPLETED),
        ("close", r.CLOSED),
    ]
    status = r.DRAFT
    for action, expected in path:
        status = next_referral_status(status, action)  # type: ignore[assignment]
        assert status == expected
    assert isinstance(next_referral_status(r.CLOSED, "cancel"), str)
    assert isinstance(next_referral_status(r.DRAFT, "accept"), str)


# ---------------------------------------------------------------- calendar


def test_business_days_skip_weekends_and_holidays() -> None:
    cal = Calendar(time_zone="America/Chicago", holidays=[{"date": "2026-11-26", "name": "Thanksgiving Day"}])
    assert cal.add_business_days(date(2026, 11, 25), 2) == date(2026, 11, 30)  # Wed -> (Thu off, Fri) -> Mon
    assert cal.add_business_days(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Fri -> Mon
    assert cal.is_open(datetime(2026, 11, 24, 15, tzinfo=UTC))  # Tue 09:00 Chicago
    assert not cal.is_open(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # 17:30
    assert not cal.is_open(datetime(2026, 11, 26, 16, tzinfo=UTC))  # Thanksgiving
    assert cal.local_date(datetime(2026, 11, 25, 3, tzinfo=UTC)) == date(2026, 11, 24)


def test_timers_fire_on_the_first_whole_minute_at_or_after_their_deadline() -> None:
    from shared.timers import at_expression

    assert at_expression(datetime(2026, 11, 23, 14, 15, tzinfo=UTC)) == "at(2026-11-23T14:15:00)"
    assert at_expression(datetime(2026, 11, 23, 14, 15, 0, 1, tzinfo=UTC)) == "at(2026-11-23T14:16:00)"
    assert at_expression(datetime(2026, 11, 23, 8, 59, 30, tzinfo=CHICAGO)) == "at(2026-11-23T15:00:00)"
