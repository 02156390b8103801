"""Free slots and bookable times against rules written out here, on a provider far from UTC.

Only the public results are read (``free_slots``' list, ``units_for``' answer), so these hold however
the slots are generated. The provider: Pacific/Auckland (UTC+13 in November; the tests run in UTC,
so a rule applied on the wrong clock is caught), a 15-minute grid, Monday to Friday 09:00-12:00 and
13:00-17:00. The rules:

- a visit of d minutes may start on any grid time t of a window with t + d <= the window's end;
- a start is offered only if none of the visit's minutes is on time off (partial: those hours of
  each day from ``first`` to ``last``; whole days: the whole local days), on a holiday of the
  organization, or held by a booking, and only from ``not_before`` on (inclusive);
- a range of dates is every local date from ``first`` to ``last`` inclusive, in start order;
- a duration must be a whole, positive number of grid steps; one booking holds at most 48 units.
"""

from __future__ import annotations

import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.domain.calendar import Calendar
from shared.domain.scheduling import ProviderIn, Slot, free_slots, units_for

AKL = ZoneInfo("Pacific/Auckland")
LAX = ZoneInfo("America/Los_Angeles")
MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 11, 23) + timedelta(days=i) for i in range(7))
NEXT_MON = date(2026, 11, 30)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
MORNING = ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00", "11:15", "11:30"]
AFTERNOON = [f"{h}:{m:02d}" for h in range(13, 17) for m in (0, 15, 30, 45)][:-1]  # 13:00 .. 16:30
FULL_DAY = MORNING + AFTERNOON


def provider(
    windows: list[tuple[int, str, str]] | None = None, zone: str = "Pacific/Auckland", **extra: Any
) -> ProviderIn:
    if windows is None:
        windows = [(d, s, e) for d in range(1, 6) for s, e in (("09:00", "12:00"), ("13:00", "17:00"))]
    return ProviderIn.model_validate(
        {
            "name": "Dr. A",
            "specialty": "cardiology",
            "location": "Clinic",
            "time_zone": zone,
            "appointment_types": ["follow-up"],
            "availability": [{"weekday": d, "start": s, "end": e} for d, s, e in windows],
            **extra,
        }
    )


def find(
    p: ProviderIn,
    first: date,
    last: date | None = None,
    minutes: int = 30,
    busy: list[datetime] | None = None,
    calendar: Calendar | None = None,
    not_before: datetime = LONG_AGO,
) -> list[Slot]:
    return free_slots(
        p,
        "PROV",
        "follow-up",
        timedelta(minutes=minutes),
        calendar or Calendar(time_zone="Pacific/Auckland"),
        first,
        last or first,
        busy or [],
        not_before,
    )


def local(slots: list[Slot], zone: ZoneInfo = AKL) -> list[str]:
    return [s.start.astimezone(zone).strftime("%H:%M") for s in slots]


def by_day(slots: list[Slot], zone: ZoneInfo = AKL) -> dict[date, list[str]]:
    out: dict[date, list[str]] = {}
    for s in slots:
        out.setdefault(s.start.astimezone(zone).date(), []).append(s.start.astimezone(zone).strftime("%H:%M"))
    return out


def at(day: date, hhmm: str, zone: ZoneInfo = AKL) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=zone).astimezone(UTC)


# ---------------------------------------------------------------- a day


def test_a_day_offers_every_grid_start_whose_visit_ends_inside_its_window() -> None:
    found = find(provider(), TUE)
    assert local(found) == FULL_DAY
    first = found[0]
    assert (first.provider_id, first.appointment_type) == ("PROV", "follow-up")
    assert first.start == datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # Tuesday 09:00 NZDT
    assert first.end == first.start + timedelta(minutes=30)
    assert first.local_start == "2026-11-24T09:00:00+13:00"


def test_a_visit_as_long_as_the_window_has_one_start_and_a_longer_one_none() -> None:
    p = provider([(2, "09:00", "12:00")])
    assert local(find(p, TUE, minutes=180)) == ["09:00"]
    assert find(p, TUE, minutes=195) == []
    assert local(find(p, TUE, minutes=15))[-1] == "11:45"


def test_windows_listed_out_of_order_give_slots_in_order() -> None:
    p = provider([(2, "13:00", "14:00"), (2, "09:00", "10:00")])
    assert local(find(p, TUE, minutes=60)) == ["09:00", "13:00"]


def test_monday_in_auckland_is_sunday_in_utc_and_still_a_working_day() -> None:
    found = find(provider(), MON)
    assert local(found) == FULL_DAY
    assert found[0].start == datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    assert find(provider(), SUN) == [] and find(provider(), SAT) == []


# ---------------------------------------------------------------- time off


def test_time_off_in_the_middle_of_a_window() -> None:
    off = provider(time_off=[{"first": TUE, "last": TUE, "start": "10:00", "end": "11:00"}])
    # 09:30 ends exactly when the time off starts; 11:00 starts exactly when it ends
    assert local(find(off, TUE)) == ["09:00", "09:15", "09:30", "11:00", "11:15", "11:30", *AFTERNOON]
    assert local(find(off, WED)) == FULL_DAY  # only the days it names


def test_partial_time_off_is_on_the_providers_clock_probed_before_it_starts() -> None:
    """13:00-15:00 in Los Angeles is 21:00-23:00 UTC: on a UTC reading it would close nothing."""
    p = provider([(2, "09:00", "17:00")], zone="America/Los_Angeles")
    off = provider(
        [(2, "09:00", "17:00")],
        zone="America/Los_Angeles",
        time_off=[{"first": TUE, "last": TUE, "start": "13:00", "end": "15:00"}],
    )
    cal = Calendar(time_zone="America/Los_Angeles")
    everything = local(find(p, TUE, calendar=cal), LAX)
    left = local(find(off, TUE, calendar=cal), LAX)
    assert "12:30" in left  # ends at 13:00: before the time off starts
    assert [t for t in everything if t not in left] == [
        "12:45",
        *("13:00", "13:15", "13:30", "13:45", "14:00", "14:15", "14:30", "14:45"),
    ]
    assert "15:00" in left  # starts exactly when it ends


def test_whole_days_off_close_every_day_from_first_to_last() -> None:
    away = provider(time_off=[{"first": TUE, "last": WED, "reason": "vacation"}])
    days = by_day(find(away, MON, THU))
    assert list(days) == [MON, THU]
    assert days[MON] == FULL_DAY and days[THU] == FULL_DAY


def test_a_whole_day_off_ends_at_the_next_local_midnight() -> None:
    night = provider([(2, "00:00", "06:00"), (3, "00:00", "06:00")], slot_minutes=60)
    away = provider(
        [(2, "00:00", "06:00"), (3, "00:00", "06:00")],
        slot_minutes=60,
        time_off=[{"first": TUE, "last": TUE}],
    )
    assert by_day(find(night, TUE, WED, minutes=60)) == {
        TUE: ["00:00", "01:00", "02:00", "03:00", "04:00", "05:00"],
        WED: ["00:00", "01:00", "02:00", "03:00", "04:00", "05:00"],
    }
    assert by_day(find(away, TUE, WED, minutes=60)) == {
        WED: ["00:00", "01:00", "02:00", "03:00", "04:00", "05:00"]
    }


def test_partial_time_off_over_several_days_closes_those_hours_of_each() -> None:
    off = provider(time_off=[{"first": TUE, "last": THU, "start": "13:00", "end": "17:00"}])
    days = by_day(find(off, MON, FRI))
    assert days == {MON: FULL_DAY, TUE: MORNING, WED: MORNING, THU: MORNING, FRI: FULL_DAY}


def test_a_holiday_of_the_organization_closes_the_providers_day() -> None:
    cal = Calendar(time_zone="Pacific/Auckland", holidays=[{"date": WED, "name": "A holiday"}])
    assert list(by_day(find(provider(), TUE, THU, calendar=cal))) == [TUE, THU]


# ---------------------------------------------------------------- ranges, bookings, not_before


def test_a_range_is_every_local_date_from_first_to_last_in_start_order() -> None:
    found = find(provider(), THU, NEXT_MON)
    assert list(by_day(found)) == [THU, FRI, NEXT_MON]  # the weekend has no hours
    assert len(found) == 3 * len(FULL_DAY)
    assert [s.start for s in found] == sorted(s.start for s in found)
    assert find(provider(), TUE, MON) == []  # an empty range


def test_a_held_unit_removes_every_visit_that_would_cover_it() -> None:
    found = find(provider(), TUE, busy=[at(TUE, "10:00")])
    assert [t for t in MORNING if t not in local(found)] == ["09:45", "10:00"]
    found = find(provider(), TUE, minutes=60, busy=[at(TUE, "10:00"), at(WED, "09:00")])
    assert [t for t in ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15"] if t not in local(found)] == [
        "09:15",
        "09:30",
        "09:45",
        "10:00",
    ]


def test_nothing_is_offered_before_not_before_and_a_start_at_it_is() -> None:
    p = provider()
    assert local(find(p, TUE, not_before=at(TUE, "10:00")))[0] == "10:00"
    assert local(find(p, TUE, not_before=at(TUE, "10:01")))[0] == "10:15"
    assert local(find(p, TUE, not_before=at(TUE, "11:31"))) == AFTERNOON
    later = find(p, MON, WED, not_before=at(TUE, "16:31"))
    assert list(by_day(later)) == [WED] and local(later) == FULL_DAY


def test_a_duration_must_be_whole_positive_grid_steps() -> None:
    p = provider()
    for minutes in (20, 7, 0, -15):
        assert find(p, TUE, minutes=minutes) == [], minutes
    assert local(find(p, TUE, minutes=45))[-1] == "16:15"


# ---------------------------------------------------------------- a booking's units


def test_a_booking_holds_the_units_it_covers_or_says_why_not() -> None:
    p, cal = provider(), Calendar(time_zone="Pacific/Auckland")
    nine = at(MON, "09:00")  # Sunday 20:00 UTC
    assert units_for(p, cal, nine, timedelta(minutes=45)) == [
        nine,
        nine + timedelta(minutes=15),
        nine + timedelta(minutes=30),
    ]
    assert units_for(p, cal, at(MON, "11:30"), timedelta(minutes=30)) == [
        at(MON, "11:30"),
        at(MON, "11:45"),
    ]
    assert units_for(p, cal, at(MON, "11:45"), timedelta(minutes=30)) == (
        "the appointment would run past the end of the provider's availability"
    )
    closed = "the provider is not available at this time (outside their hours, on time off or a holiday)"
    assert units_for(p, cal, at(MON, "12:00"), timedelta(minutes=30)) == closed
    assert units_for(p, cal, at(MON, "09:05"), timedelta(minutes=30)) == closed
    assert units_for(p, cal, at(SAT, "09:00"), timedelta(minutes=30)) == closed
    holiday = Calendar(time_zone="UTC", holidays=[{"date": MON, "name": "A holiday"}])
    assert units_for(p, holiday, nine, timedelta(minutes=30)) == closed
    assert units_for(p, cal, nine, timedelta(minutes=20)) == (
        "this appointment type lasts 0:20:00 which is not on the provider's 0:15:00 grid"
    )


def test_a_booking_holds_at_most_48_units() -> None:
    p = provider([(2, "08:00", "18:00")], slot_minutes=5)
    cal = Calendar(time_zone="Pacific/Auckland")
    held = units_for(p, cal, at(TUE, "08:00"), timedelta(minutes=240))
    assert isinstance(held, list) and len(held) == 48 and held[-1] == at(TUE, "11:55")
    assert units_for(p, cal, at(TUE, "08:00"), timedelta(minutes=245)) == (
        "this appointment is too long to book in one piece"
    )


@pytest.fixture
def machine_clock_in_los_angeles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's own zone (``TZ``) set away from UTC, as a developer's laptop may be."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time_module.tzset()
    yield
    monkeypatch.undo()
    time_module.tzset()


@pytest.mark.usefixtures("machine_clock_in_los_angeles")
def test_slots_are_given_in_utc_whatever_the_machines_zone() -> None:
    first = find(provider(), TUE)[0]
    assert first.start.isoformat() == "2026-11-23T20:00:00+00:00"
    assert first.end.isoformat() == "2026-11-23T20:30:00+00:00"
    assert first.local_start == "2026-11-24T09:00:00+13:00"


def test_a_whole_day_off_west_of_utc_closes_the_evening_too() -> None:
    """Tuesday's local midnight-to-midnight in Los Angeles runs to 08:00 UTC on Wednesday: a UTC
    reading of its end would reopen the evening from 16:00."""
    evening = [(2, "17:00", "19:00")]
    cal = Calendar(time_zone="America/Los_Angeles")
    assert local(find(provider(evening, zone="America/Los_Angeles"), TUE, calendar=cal), LAX)[0] == "17:00"
    away = provider(evening, zone="America/Los_Angeles", time_off=[{"first": TUE, "last": TUE}])
    assert find(away, TUE, calendar=cal) == []
