"""Scheduling's pure rules: local time across DST, slots, the booking grid, status moves, calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.calendar import Calendar
from shared.domain.referrals import ReferralStatus, next_referral_status
from shared.domain.scheduling import (
    TRANSITIONS,
    AppointmentOut,
    AppointmentStatus,
    AppointmentTypeIn,
    Insurance,
    ProviderIn,
    days,
    duration_problem,
    free_slots,
    local_instant,
    next_status,
    timing_problem,
    units_for,
    units_on,
    within_booking_horizon,
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


@st.composite
def weeks(draw: st.DrawFn) -> dict[str, Any]:
    """A provider with time off (whole days and hours), an organization with holidays, a range of one
    to four days (across DST changes too), some booked units and a ``not_before`` anywhere from
    before the range to its end."""
    step = draw(st.sampled_from([15, 30, 60]))
    grid = [time(h, m) for h in range(24) for m in range(0, 60, step)]
    cuts = sorted(draw(st.sets(st.sampled_from(grid), min_size=2, max_size=6)))
    windows = [
        (a.strftime("%H:%M"), b.strftime("%H:%M")) for a, b in zip(cuts[::2], cuts[1::2], strict=False)
    ]
    first = draw(st.sampled_from(DST_DAYS) | st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    last = first + timedelta(days=draw(st.integers(0, 3)))
    near = st.integers(-1, (last - first).days + 1).map(lambda n: first + timedelta(days=n))
    time_off = []
    for _ in range(draw(st.integers(0, 3))):
        a = draw(near)
        off: dict[str, Any] = {"first": a, "last": a + timedelta(days=draw(st.integers(0, 2)))}
        if draw(st.booleans()):
            s, e = sorted(draw(st.sets(st.sampled_from(grid), min_size=2, max_size=2)))
            off |= {"start": s.strftime("%H:%M"), "end": e.strftime("%H:%M")}
        time_off.append(off)
    zone = draw(st.sampled_from([*ZONES, "Pacific/Auckland", "America/Los_Angeles"]))
    p = provider(windows, zone=zone, slot_minutes=step, time_off=time_off)
    holidays = sorted(draw(st.sets(near, max_size=2)))
    calendar = Calendar(holidays=[{"date": d, "name": "Holiday"} for d in holidays])
    minutes = step * draw(st.integers(1, 4))
    candidates = [t for day in days(first, last) for t in _grid_starts(p, day, step)]
    busy = draw(st.lists(st.sampled_from(candidates), max_size=8)) if candidates else []
    midnight = local_instant(first, time(0), ZoneInfo(zone))
    not_before = midnight + timedelta(
        minutes=step * draw(st.integers(-4, (len(list(days(first, last))) * 24 * 60) // step))
    )
    return {
        "p": p,
        "calendar": calendar,
        "first": first,
        "last": last,
        "minutes": minutes,
        "busy": busy,
        "not_before": not_before,
    }


def _grid_starts(p: ProviderIn, day: date, step: int) -> list[datetime]:
    zone = ZoneInfo(p.time_zone)
    out = []
    for w in p.availability:
        if w.weekday == day.isoweekday():
            t, end = local_instant(day, w.start, zone), local_instant(day, w.end, zone)
            while t < end:
                out.append(t)
                t += timedelta(minutes=step)
    return out


def expected_slots(case: dict[str, Any]) -> list[datetime]:
    """The rule, applied start by start: a grid start of a window whose visit ends inside the window,
    on a day that is not a holiday, touching no time off and no booked unit, not before not_before."""
    p, minutes = case["p"], case["minutes"]
    zone, step, duration = (
        ZoneInfo(p.time_zone),
        timedelta(minutes=p.slot_minutes),
        timedelta(minutes=minutes),
    )
    out = []
    for day in days(case["first"], case["last"]):
        if case["calendar"].is_holiday(day):
            continue
        closed = []
        for off in p.time_off:
            if off.first <= day <= off.last:
                if off.start is None or off.end is None:
                    closed.append(
                        (local_instant(day, time(0), zone), local_instant(day + timedelta(1), time(0), zone))
                    )
                else:
                    closed.append((local_instant(day, off.start, zone), local_instant(day, off.end, zone)))
        for w in p.availability:
            if w.weekday != day.isoweekday():
                continue
            t, end = local_instant(day, w.start, zone), local_instant(day, w.end, zone)
            while t + duration <= end:
                units = [t + i * step for i in range(duration // step)]
                if (
                    t >= case["not_before"]
                    and not any(a < t + duration and t < b for a, b in closed)
                    and not set(units) & set(case["busy"])
                ):
                    out.append(t)
                t += step
    return sorted(out)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weeks())
def test_free_slots_are_exactly_what_the_written_rule_allows(case: dict[str, Any]) -> None:
    found = free_slots(
        case["p"],
        "P",
        "follow-up",
        timedelta(minutes=case["minutes"]),
        case["calendar"],
        case["first"],
        case["last"],
        case["busy"],
        case["not_before"],
    )
    assert [s.start for s in found] == expected_slots(case)
    zone = ZoneInfo(case["p"].time_zone)
    for s in found:
        assert s.end - s.start == timedelta(minutes=case["minutes"])
        assert case["first"] <= s.start.astimezone(zone).date() <= case["last"]


# ---------------------------------------------------------------- statuses


# FHIR R4 Appointment.status, and the moves Careloop makes along it, written out here from the
# standard's meanings rather than read from TRANSITIONS: pending (awaiting the patient's
# confirmation) -> booked (confirmed) -> arrived (in the building) -> checked-in (paperwork done) ->
# fulfilled (seen). Before the patient is there a visit can be cancelled, moved, or marked a no-show;
# once they are there it can only go on (checked in, completed), never cancelled or a no-show; a
# visit is completed only after arrival or check-in. fulfilled, cancelled and noshow are final;
# proposed, waitlist and entered-in-error are not statuses Careloop moves anything from.
ACTIONS = ("confirm", "arrive", "check-in", "complete", "no-show", "cancel", "reschedule")
FHIR_MOVES: dict[str, dict[str, str]] = {
    "proposed": {},
    "pending": {
        "confirm": "booked",
        "arrive": "arrived",
        "check-in": "checked-in",
        "no-show": "noshow",
        "cancel": "cancelled",
        "reschedule": "pending",
    },
    "booked": {
        "arrive": "arrived",
        "check-in": "checked-in",
        "no-show": "noshow",
        "cancel": "cancelled",
        "reschedule": "booked",
    },
    "arrived": {"check-in": "checked-in", "complete": "fulfilled"},
    "checked-in": {"complete": "fulfilled"},
    "fulfilled": {},
    "cancelled": {},
    "noshow": {},
    "entered-in-error": {},
    "waitlist": {},
}
REFUSED_AS = {
    "confirm": "confirmed",
    "arrive": "marked arrived",
    "check-in": "checked in",
    "complete": "completed",
    "no-show": "marked no-show",
    "cancel": "cancelled",
    "reschedule": "rescheduled",
}


def test_the_written_machine_covers_every_fhir_status_and_every_action() -> None:
    assert set(FHIR_MOVES) == {s.value for s in AppointmentStatus}
    assert set(ACTIONS) == set(TRANSITIONS)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("status", list(FHIR_MOVES))
def test_every_status_and_action_moves_as_fhir_says(status: str, action: str) -> None:
    result = next_status(AppointmentStatus(status), action)
    if action in FHIR_MOVES[status]:
        assert result == AppointmentStatus(FHIR_MOVES[status][action])
    else:
        assert result == f"an appointment that is {status} cannot be {REFUSED_AS[action]}"


def test_no_show_and_complete_wait_for_the_start() -> None:
    start = datetime(2026, 11, 24, 15, tzinfo=UTC)
    early = start - timedelta(microseconds=1)
    assert (
        timing_problem("no-show", start, early) == "an appointment cannot be marked no-show before it starts"
    )
    assert timing_problem("complete", start, early) == "an appointment cannot be completed before it starts"
    for action in ACTIONS:
        assert timing_problem(action, start, start) is None, action
        assert timing_problem(action, start, start + timedelta(days=1)) is None, action
        if action not in ("no-show", "complete"):
            assert timing_problem(action, start, start - timedelta(days=1)) is None, action


def test_bookings_are_taken_from_now_to_366_days_ahead() -> None:
    now = datetime(2026, 11, 24, 15, tzinfo=UTC)
    assert within_booking_horizon(now, now) is None
    assert within_booking_horizon(now + timedelta(days=366), now) is None
    assert within_booking_horizon(now - timedelta(microseconds=1), now) == "the start is in the past"
    assert within_booking_horizon(now + timedelta(days=366, microseconds=1), now) == (
        "appointments can be booked up to 366 days ahead"
    )


def test_an_end_given_must_be_the_start_plus_the_types_duration() -> None:
    start, half_hour = datetime(2026, 11, 24, 15, tzinfo=UTC), timedelta(minutes=30)
    assert duration_problem(start, None, half_hour) is None
    assert duration_problem(start, start + half_hour, half_hour) is None
    for wrong in (start + timedelta(minutes=29), start + timedelta(minutes=31), start):
        assert duration_problem(start, wrong, half_hour) == (
            "this appointment type lasts 30 minutes: end must be start + 30 minutes"
        )


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


# ---------------------------------------------------------------- prior authorization


def test_an_appointment_type_may_name_the_service_a_payer_must_approve_first() -> None:
    plain = AppointmentTypeIn(display="New patient visit", duration_minutes=30)
    assert plain.authorization is None
    gated = AppointmentTypeIn.model_validate(
        {
            "display": "Physical therapy",
            "duration_minutes": 45,
            "authorization": {"system": "http://www.ama-assn.org/go/cpt", "code": "97110"},
        }
    )
    assert gated.authorization is not None
    assert (gated.authorization.system.value, gated.authorization.code) == (
        "http://www.ama-assn.org/go/cpt",
        "97110",
    )
    for bad in (
        {"system": "http://www.ama-assn.org/go/cpt", "code": "J1885"},  # HCPCS, not CPT
        {"system": "http://snomed.info/sct", "code": "84114007"},  # a diagnosis, not a service
    ):
        with pytest.raises(ValidationError):
            AppointmentTypeIn.model_validate({"display": "X", "duration_minutes": 30, "authorization": bad})


def test_a_visit_records_where_its_insurance_approval_stands_and_the_approval_used() -> None:
    start = datetime(2026, 12, 14, 15, 0, tzinfo=UTC)
    record = {
        "id": "A1",
        "version": 1,
        "status": "booked",
        "patient_id": "P1",
        "provider_id": "D1",
        "appointment_type": "physio",
        "start": start,
        "end": start + timedelta(minutes=45),
        "time_zone": "America/New_York",
        "booked_by": "coord-1",
        "created_at": start - timedelta(days=3),
        "updated_at": start - timedelta(days=3),
    }
    plain = AppointmentOut.model_validate(record)
    assert (plain.insurance, plain.authorization_id) == (None, None)
    awaiting = AppointmentOut.model_validate({**record, "insurance": "awaiting-insurance-approval"})
    assert (awaiting.insurance, awaiting.authorization_id) == (Insurance.AWAITING, None)
    covered = AppointmentOut.model_validate({**record, "insurance": "approved", "authorization_id": "PA1"})
    assert (covered.insurance, covered.authorization_id) == (Insurance.APPROVED, "PA1")
    with pytest.raises(ValidationError):
        AppointmentOut.model_validate({**record, "insurance": "denied"})
