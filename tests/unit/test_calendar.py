"""The organization's calendar, probed against rules written out here, not against its own tables.

The calendars below sit far from UTC (the tests run in UTC, so a calendar that forgot its own zone
would be caught): Auckland is UTC+13 in its summer (NZDT, to 2027-04-04) and UTC+12 in its winter
(NZST, from the last Sunday of September 2026, 2026-09-27, back to NZDT). Los Angeles is UTC-8 / -7.

The written rules:
- business hours are weekly windows of local wall-clock time, the start inclusive, the end exclusive;
  with none given, Monday to Friday 08:00-17:00;
- a holiday closes the whole local day; a business day is a day with hours that is not a holiday;
- ``add_business_days(start, n)`` is the n-th business day after ``start`` (``start`` itself for 0;
  negative counts are refused); ``subtract_business_days(start, n)`` the n-th before it;
- ``local_date`` is the date on the organization's wall clock.
"""

from __future__ import annotations

import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from shared.domain.calendar import Calendar, Day, Instant, Weekday, Window

AKL = ZoneInfo("Pacific/Auckland")
LAX = ZoneInfo("America/Los_Angeles")

# Monday 2026-11-23 to Sunday 2026-11-29 in Auckland (NZDT, UTC+13)
MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 11, 23) + timedelta(days=i) for i in range(7))
CHRISTMAS, BOXING_DAY = date(2026, 12, 25), date(2026, 12, 26)  # a Friday and a Saturday


def at(day: date, hh: int, mm: int = 0, zone: ZoneInfo = AKL) -> datetime:
    """An instant given on ``zone``'s wall clock, handed over in UTC as callers do."""
    return datetime.combine(day, time(hh, mm), tzinfo=zone).astimezone(UTC)


def auckland(**extra: object) -> Calendar:
    return Calendar.model_validate({"time_zone": "Pacific/Auckland", **extra})


# ---------------------------------------------------------------- default hours, Mon-Fri 08:00-17:00


def test_the_default_week_is_monday_to_friday_eight_to_five() -> None:
    cal = auckland()
    for day in (MON, TUE, WED, THU, FRI):
        assert not cal.is_open(at(day, 7, 59)), day
        assert cal.is_open(at(day, 8, 0)), day  # opening is inclusive
        assert cal.is_open(at(day, 12, 0)), day
        assert cal.is_open(at(day, 16, 59)), day
        assert not cal.is_open(at(day, 17, 0)), day  # closing is exclusive
        assert not cal.is_open(at(day, 23, 59)), day
    for day in (SAT, SUN):
        for hour in (0, 8, 12, 16, 23):
            assert not cal.is_open(at(day, hour)), (day, hour)


def test_open_is_read_on_the_organizations_clock_not_utc() -> None:
    cal = auckland()
    # Monday 08:30 in Auckland is Sunday 19:30 UTC: open (a UTC reading would say Sunday, closed)
    assert at(MON, 8, 30) == datetime(2026, 11, 22, 19, 30, tzinfo=UTC)
    assert cal.is_open(at(MON, 8, 30))
    # Saturday 09:00 in Auckland is Friday 20:00 UTC: closed (a UTC reading would say Friday 20:00)
    assert not cal.is_open(at(SAT, 9, 0))
    # Friday 16:30 in Auckland is Friday 03:30 UTC: open (a UTC reading would say before opening)
    assert cal.is_open(at(FRI, 16, 30))


def test_an_instant_in_any_offset_is_the_same_instant() -> None:
    cal = auckland()
    # Monday 08:00 in Auckland = Sunday 11:00 in Los Angeles
    seen_from_la = datetime(2026, 11, 22, 11, 0, tzinfo=LAX)
    assert cal.is_open(seen_from_la)
    assert not cal.is_open(seen_from_la - timedelta(minutes=1))


def test_the_hours_follow_the_wall_clock_across_the_change_to_summer_time() -> None:
    cal = auckland()
    # Friday 2026-09-25 is NZST (UTC+12); Monday 2026-09-28 is NZDT (UTC+13)
    friday, monday = date(2026, 9, 25), date(2026, 9, 28)
    assert at(friday, 8) == datetime(2026, 9, 24, 20, 0, tzinfo=UTC)
    assert at(monday, 8) == datetime(2026, 9, 27, 19, 0, tzinfo=UTC)
    for day in (friday, monday):
        assert not cal.is_open(at(day, 8) - timedelta(minutes=1))
        assert cal.is_open(at(day, 8))
        assert cal.is_open(at(day, 17) - timedelta(minutes=1))
        assert not cal.is_open(at(day, 17))
    # the Sunday of the change itself is closed all day, before and after 02:00 jumps to 03:00
    assert not cal.is_open(datetime(2026, 9, 26, 13, 59, tzinfo=UTC))
    assert not cal.is_open(datetime(2026, 9, 26, 14, 0, tzinfo=UTC))


def test_a_holiday_closes_the_whole_local_day() -> None:
    cal = auckland(holidays=[{"date": CHRISTMAS, "name": "Christmas Day"}])
    for hour in (0, 8, 12, 16, 23):
        assert not cal.is_open(at(CHRISTMAS, hour)), hour
    # the days either side are ordinary: Thursday open, Monday open
    assert cal.is_open(at(CHRISTMAS - timedelta(days=1), 8))
    assert cal.is_open(at(date(2026, 12, 28), 8))
    # Christmas Day 08:00 in Auckland is 24 December 19:00 UTC: the holiday is the local date's
    assert not cal.is_open(datetime(2026, 12, 24, 19, 0, tzinfo=UTC))
    # and 25 December 20:00 UTC is already Boxing Day (Saturday) in Auckland: closed, but not a holiday
    assert not cal.is_holiday(cal.local_date(datetime(2026, 12, 25, 20, 0, tzinfo=UTC)))


# ---------------------------------------------------------------- stated hours


def test_stated_hours_with_a_lunch_break_and_a_saturday_morning() -> None:
    windows = [
        {"weekday": 1, "start": "09:00", "end": "12:00"},
        {"weekday": 1, "start": "13:00", "end": "18:30"},
        {"weekday": 6, "start": "10:00", "end": "14:00"},
    ]
    cal = Calendar.model_validate({"time_zone": "America/Los_Angeles", "business_hours": windows})
    monday, tuesday, saturday = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 28)
    expected = {
        (monday, 8, 59): False,
        (monday, 9, 0): True,
        (monday, 11, 59): True,
        (monday, 12, 0): False,  # lunch
        (monday, 12, 59): False,
        (monday, 13, 0): True,
        (monday, 18, 29): True,
        (monday, 18, 30): False,
        (tuesday, 10, 0): False,  # no hours on Tuesday
        (saturday, 9, 59): False,
        (saturday, 10, 0): True,
        (saturday, 13, 59): True,
        (saturday, 14, 0): False,
    }
    for (day, hh, mm), open_ in expected.items():
        assert cal.is_open(at(day, hh, mm, LAX)) is open_, (day, hh, mm)
    assert [cal.is_business_day(d) for d in (monday, tuesday, saturday)] == [True, False, True]


def test_a_calendar_without_hours_is_never_open_and_has_no_business_days() -> None:
    cal = auckland(business_hours=[])
    assert not cal.is_open(at(MON, 10))
    assert not any(cal.is_business_day(MON + timedelta(days=i)) for i in range(7))


def test_windows_are_ordered_local_times_within_one_day() -> None:
    Window(weekday=Weekday.MON, start=time(0, 0), end=time(0, 1))
    for start, end in (("09:00", "09:00"), ("17:00", "08:00")):
        with pytest.raises(ValidationError, match="end must be after start"):
            Window.model_validate({"weekday": 1, "start": start, "end": end})
    with pytest.raises(ValidationError, match="without an offset"):
        Window.model_validate({"weekday": 1, "start": "09:00+02:00", "end": "17:00"})
    with pytest.raises(ValidationError, match="without an offset"):
        Window.model_validate({"weekday": 1, "start": "09:00", "end": "17:00Z"})


# ---------------------------------------------------------------- business days


def test_business_days_by_the_rule() -> None:
    cal = auckland(
        holidays=[
            {"date": CHRISTMAS, "name": "Christmas Day"},
            {"date": date(2026, 12, 28), "name": "Boxing Day (observed)"},
        ]
    )
    assert [cal.is_business_day(d) for d in (MON, TUE, WED, THU, FRI, SAT, SUN)] == [True] * 5 + [False] * 2
    assert not cal.is_business_day(CHRISTMAS) and cal.is_holiday(CHRISTMAS)
    assert not cal.is_holiday(BOXING_DAY)  # a Saturday: closed, but not listed
    cases = [
        (MON, 0, MON),  # zero days: the start itself
        (SAT, 0, SAT),  # even when it is not a business day
        (MON, 1, TUE),
        (THU, 1, FRI),
        (FRI, 1, date(2026, 11, 30)),  # over the weekend
        (SAT, 1, date(2026, 11, 30)),  # from a weekend day: the next business day
        (SUN, 2, date(2026, 12, 1)),
        (MON, 5, date(2026, 11, 30)),  # a full week
        (MON, 10, date(2026, 12, 7)),
        # 24 Dec (Thu) + 1: Fri 25 holiday, weekend, Mon 28 holiday -> Tue 29
        (date(2026, 12, 24), 1, date(2026, 12, 29)),
        (date(2026, 12, 23), 2, date(2026, 12, 29)),
        (date(2026, 12, 23), 3, date(2026, 12, 30)),
    ]
    for start, days, expected in cases:
        assert cal.add_business_days(start, days) == expected, (start, days)


def test_business_days_before_by_the_rule() -> None:
    cal = auckland(
        holidays=[
            {"date": CHRISTMAS, "name": "Christmas Day"},
            {"date": date(2026, 12, 28), "name": "Boxing Day (observed)"},
        ]
    )
    cases = [
        (TUE, 0, TUE),  # zero days: the start itself
        (SUN, 0, SUN),
        (TUE, 1, MON),
        (TUE, 2, date(2026, 11, 20)),  # over the weekend, to the Friday before
        (MON, 1, date(2026, 11, 20)),
        (SUN, 1, FRI),  # from a weekend day: the last business day before it
        (SAT, 2, THU),
        (MON, 5, date(2026, 11, 16)),  # a full week
        # Tue 29 Dec - 1: Mon 28 holiday, weekend, Fri 25 holiday -> Thu 24
        (date(2026, 12, 29), 1, date(2026, 12, 24)),
        (date(2026, 12, 29), 2, date(2026, 12, 23)),
        (date(2026, 12, 30), 2, date(2026, 12, 24)),
    ]
    for start, days, expected in cases:
        assert cal.subtract_business_days(start, days) == expected, (start, days)
        if days and cal.is_business_day(start):  # the two count the same days, both ways
            assert cal.add_business_days(expected, days) == start


def test_a_negative_count_of_business_days_is_refused() -> None:
    for days in (-1, -10):
        with pytest.raises(ValueError, match=r"^days must be >= 0$"):
            auckland().add_business_days(MON, days)
        with pytest.raises(ValueError, match=r"^days must be >= 0$"):
            auckland().subtract_business_days(MON, days)


def test_business_days_count_the_days_the_stated_hours_name() -> None:
    # a clinic open Tuesday and Saturday only
    cal = auckland(
        business_hours=[
            {"weekday": 2, "start": "09:00", "end": "12:00"},
            {"weekday": 6, "start": "09:00", "end": "12:00"},
        ]
    )
    assert cal.add_business_days(MON, 1) == TUE
    assert cal.add_business_days(MON, 2) == SAT
    assert cal.add_business_days(TUE, 2) == date(2026, 12, 1)


# ---------------------------------------------------------------- local dates, days and instants


def test_the_local_date_is_the_organizations() -> None:
    cal = auckland()
    assert cal.local_date(datetime(2026, 11, 23, 10, 59, tzinfo=UTC)) == date(2026, 11, 23)  # 23:59 NZDT
    assert cal.local_date(datetime(2026, 11, 23, 11, 0, tzinfo=UTC)) == date(2026, 11, 24)  # 00:00 NZDT
    la = Calendar(time_zone="America/Los_Angeles")
    assert la.local_date(datetime(2026, 11, 24, 7, 59, tzinfo=UTC)) == date(2026, 11, 23)  # 23:59 PST
    assert la.local_date(datetime(2026, 11, 24, 8, 0, tzinfo=UTC)) == date(2026, 11, 24)
    assert Calendar().zone == ZoneInfo("UTC") and la.zone == LAX


def test_a_holiday_date_appears_once() -> None:
    with pytest.raises(ValidationError, match="each holiday date may appear once"):
        auckland(holidays=[{"date": CHRISTMAS, "name": "A"}, {"date": CHRISTMAS, "name": "B"}])


def test_days_and_instants_stay_within_2000_to_2100() -> None:
    days, instants = TypeAdapter(Day), TypeAdapter(Instant)
    assert days.validate_python("2000-01-01") == date(2000, 1, 1)
    assert days.validate_python("2100-12-31") == date(2100, 12, 31)
    for bad in ("1999-12-31", "2101-01-01"):
        with pytest.raises(ValidationError, match="must be between 2000 and 2100"):
            days.validate_python(bad)
    for bad in ("1999-12-31T23:00:00Z", "2101-01-01T00:00:00Z"):
        with pytest.raises(ValidationError, match="must be between 2000 and 2100"):
            instants.validate_python(bad)
    # an instant in another offset comes back as the same instant, in UTC
    parsed = instants.validate_python("2000-01-01T09:00:00+13:00")
    assert parsed == datetime(1999, 12, 31, 20, 0, tzinfo=UTC) and parsed.utcoffset() == timedelta(0)
    assert instants.validate_python("2100-12-31T23:59:00-08:00").tzinfo == UTC


@pytest.fixture
def machine_clock_in_auckland(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's own zone (``TZ``) set far from UTC, as a developer's laptop may be."""
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time_module.tzset()
    yield
    monkeypatch.undo()
    time_module.tzset()


@pytest.mark.usefixtures("machine_clock_in_auckland")
def test_instants_come_back_in_utc_whatever_the_machines_zone() -> None:
    parsed = TypeAdapter(Instant).validate_python("2026-11-24T09:00:00-06:00")
    assert parsed.isoformat() == "2026-11-24T15:00:00+00:00"
    assert auckland().is_open(at(MON, 8)) and not auckland().is_open(at(MON, 7, 59))


# ---------------------------------------------------------------- business time (SLA clocks)
# The written rule: a clock of n business minutes started at ``s`` runs out at the first instant ``t``
# such that n of the whole minutes in [s, t) are open (each minute judged by ``is_open`` at its start);
# ``business_minutes_between(s, e)`` counts the open minutes in [s, e). The brute-force oracle below
# walks minute by minute with ``is_open`` (tested above), not with the code under test.


def oracle_add(cal: Calendar, start: datetime, minutes: int) -> datetime:
    t, left = start, minutes
    while left:
        if cal.is_open(t):
            left -= 1
        t += timedelta(minutes=1)
    while minutes and not cal.is_open(t - timedelta(minutes=1)):  # ends at the close of the last minute
        t -= timedelta(minutes=1)
    return t


def oracle_between(cal: Calendar, start: datetime, end: datetime) -> int:
    count, t = 0, start
    while t < end:
        count += cal.is_open(t)
        t += timedelta(minutes=1)
    return count


NEW_YORK = ZoneInfo("America/New_York")
FRI_DEC_4 = date(2026, 12, 4)  # a Friday


def new_york(**extra: object) -> Calendar:
    return Calendar.model_validate({"time_zone": "America/New_York", **extra})


def test_four_business_hours_from_friday_four_pm_run_out_on_monday_at_eleven() -> None:
    cal = new_york()
    start = at(FRI_DEC_4, 16, zone=NEW_YORK)
    assert cal.add_business_minutes(start, 4 * 60) == at(date(2026, 12, 7), 11, zone=NEW_YORK)
    with_holiday = new_york(holidays=[{"date": "2026-12-07", "name": "Closed"}])
    assert with_holiday.add_business_minutes(start, 4 * 60) == at(date(2026, 12, 8), 11, zone=NEW_YORK)
    assert cal.business_minutes_between(start, at(date(2026, 12, 7), 11, zone=NEW_YORK)) == 240
    assert with_holiday.business_minutes_between(start, at(date(2026, 12, 8), 11, zone=NEW_YORK)) == 240


def test_a_clock_started_out_of_hours_starts_at_the_next_opening() -> None:
    cal = new_york()
    saturday_night = at(date(2026, 12, 5), 22, zone=NEW_YORK)
    assert cal.add_business_minutes(saturday_night, 30) == at(date(2026, 12, 7), 8, 30, zone=NEW_YORK)
    assert cal.add_business_minutes(saturday_night, 0) == saturday_night
    assert cal.business_minutes_between(saturday_night, at(date(2026, 12, 7), 8, zone=NEW_YORK)) == 0


def test_a_clock_that_runs_out_at_closing_time_runs_out_then() -> None:
    cal = new_york()
    assert cal.add_business_minutes(at(FRI_DEC_4, 16, zone=NEW_YORK), 60) == at(FRI_DEC_4, 17, zone=NEW_YORK)
    assert cal.add_business_minutes(at(FRI_DEC_4, 16, zone=NEW_YORK), 61) == at(
        date(2026, 12, 7), 8, 1, zone=NEW_YORK
    )


def test_business_time_follows_the_wall_clock_across_the_change_to_winter_time() -> None:
    # 2026-11-01 is the fall-back Sunday in New York: an overnight crisis line open 00:00-06:00 that
    # night is open seven real hours (01:00-02:00 happens twice)
    cal = new_york(business_hours=[{"weekday": 7, "start": "00:00", "end": "06:00"}])
    sunday = date(2026, 11, 1)
    assert cal.business_minutes_between(at(sunday, 0, zone=NEW_YORK), at(sunday, 12, zone=NEW_YORK)) == 7 * 60
    assert cal.add_business_minutes(at(sunday, 0, zone=NEW_YORK), 7 * 60) == at(sunday, 6, zone=NEW_YORK)


def test_overlapping_windows_count_once() -> None:
    cal = new_york(
        business_hours=[
            {"weekday": 1, "start": "08:00", "end": "12:00"},
            {"weekday": 1, "start": "10:00", "end": "14:00"},
            {"weekday": 1, "start": "14:00", "end": "15:00"},
        ]
    )
    monday = date(2026, 12, 7)
    assert cal.business_minutes_between(at(monday, 0, zone=NEW_YORK), at(monday, 23, zone=NEW_YORK)) == 7 * 60
    assert cal.add_business_minutes(at(monday, 0, zone=NEW_YORK), 7 * 60) == at(monday, 15, zone=NEW_YORK)
    assert cal.add_business_minutes(at(monday, 0, zone=NEW_YORK), 7 * 60 + 1) == at(
        date(2026, 12, 14), 8, 1, zone=NEW_YORK
    )


def test_a_window_from_the_evening_before_is_counted() -> None:
    # Auckland is ahead of UTC: its Monday 08:00 is Sunday in UTC, so the day before the start in
    # UTC terms must be looked at too
    cal = auckland()
    start = at(MON, 8)
    assert cal.add_business_minutes(start, 60) == at(MON, 9)
    assert cal.business_minutes_between(start, at(MON, 9)) == 60


def test_a_clock_on_a_calendar_without_hours_is_refused_and_negative_minutes_too() -> None:
    with pytest.raises(ValueError, match="no business hours"):
        auckland(business_hours=[]).add_business_minutes(at(MON, 8), 1)
    assert auckland(business_hours=[]).add_business_minutes(at(MON, 8), 0) == at(MON, 8)
    with pytest.raises(ValueError, match=">= 0"):
        auckland().add_business_minutes(at(MON, 8), -1)
    assert auckland().business_minutes_between(at(MON, 12), at(MON, 9)) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    zone=st.sampled_from(["America/New_York", "Pacific/Auckland", "Europe/London"]),
    windows=st.lists(
        st.tuples(
            st.integers(1, 7),
            st.sampled_from([0, 1, 4, 7, 8, 9, 12, 13]),
            st.sampled_from([1, 2, 3, 5, 8, 10]),
        ),
        min_size=1,
        max_size=5,
    ),
    start_day=st.sampled_from([date(2026, 3, 7), date(2026, 3, 27), date(2026, 9, 25), date(2026, 10, 30)]),
    start_minute=st.integers(0, 3 * 24 * 60),
    minutes=st.integers(0, 900),
    holiday=st.booleans(),
)
def test_business_time_matches_a_minute_by_minute_count(
    zone: str,
    windows: list[tuple[int, int, int]],
    start_day: date,
    start_minute: int,
    minutes: int,
    holiday: bool,
) -> None:
    # start days a few days before a DST change in each zone; windows never start or end in the hour
    # a spring-forward skips (02:00-03:00), where a wall time names no instant
    cal = Calendar.model_validate(
        {
            "time_zone": zone,
            "business_hours": [
                {"weekday": d, "start": f"{h:02d}:00", "end": f"{min(h + n, 23):02d}:30"}
                for d, h, n in windows
            ],
            "holidays": [{"date": str(start_day + timedelta(days=1)), "name": "Closed"}] if holiday else [],
        }
    )
    start = datetime.combine(start_day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC) + timedelta(
        minutes=start_minute
    )
    end = cal.add_business_minutes(start, minutes)
    assert end == oracle_add(cal, start, minutes)
    assert cal.business_minutes_between(start, end) == minutes
    assert cal.business_minutes_between(start, end + timedelta(minutes=37)) == oracle_between(
        cal, start, end + timedelta(minutes=37)
    )


def test_on_a_fall_back_night_the_repeated_hour_counts_twice_where_the_window_holds_it() -> None:
    # New York falls back on Sunday 2026-11-01 at 02:00 EDT (06:00 UTC): 01:00-02:00 comes twice
    cal = new_york(business_hours=[{"weekday": 7, "start": "00:00", "end": "01:30"}])
    fall_back = date(2026, 11, 1)
    spans = cal.open_intervals(fall_back)
    assert spans == [
        (datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # EDT
        (datetime(2026, 11, 1, 6, 0, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),  # EST, again
    ]
    sunday_start = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert cal.business_minutes_between(sunday_start, datetime(2026, 11, 1, 7, 0, tzinfo=UTC)) == 120
    assert cal.add_business_minutes(sunday_start, 91) == datetime(2026, 11, 1, 6, 1, tzinfo=UTC)
    assert not cal.is_open(datetime(2026, 11, 1, 5, 45, tzinfo=UTC))  # 01:45 EDT: past the window
    # the next Sunday has no change: 90 minutes
    assert sum((e - s for s, e in cal.open_intervals(date(2026, 11, 8))), timedelta()) == timedelta(
        minutes=90
    )


# ---------------------------------------------------------------- open intervals on days the clock changes
# The written rule: ``open_intervals(day)`` is exactly the set of instants whose wall time in the
# calendar's zone falls on ``day`` and that ``is_open`` calls open, as UTC spans, adjacent or
# overlapping spans merged, none of them empty. The transitions below were read off zoneinfo:
# - New York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC); 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC);
# - London: 2026-03-29 01:00 GMT -> 02:00 BST (01:00 UTC);
# - Santiago changes at midnight: Saturday 2026-04-04 24:00 -03 -> 23:00 -04 (the Saturday's last hour
#   comes twice, 03:00 UTC); Saturday 2026-09-05 24:00 -04 -> Sunday 01:00 -03 (Sunday has no
#   00:00-01:00, 04:00 UTC);
# - Havana: Sunday 2026-11-01 01:00 CDT -> 00:00 CST (00:00-01:00 twice, 05:00 UTC); Sunday
#   2026-03-08 00:00 CST -> 01:00 CDT (05:00 UTC);
# - Beirut: Saturday 2026-10-24 24:00 +03 -> 23:00 +02 (21:00 UTC); Saturday 2026-03-28 24:00 +02 ->
#   Sunday 01:00 +03 (22:00 UTC);
# - Sydney (southern hemisphere, ahead of UTC): Sunday 2026-04-05 03:00 AEDT -> 02:00 AEST (16:00 UTC
#   the day before); Sunday 2026-10-04 02:00 AEST -> 03:00 AEDT (16:00 UTC the day before);
# - Lord Howe Island shifts by half an hour: Sunday 2026-04-05 02:00 +11 -> 01:30 +10:30 (15:00 UTC
#   the day before); Sunday 2026-10-04 02:00 +10:30 -> 02:30 +11 (15:30 UTC the day before);
# - Kolkata has no DST (+05:30 all year).


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def one_window(zone: str, day: date, start: str, end: str, **extra: object) -> Calendar:
    window = {"weekday": day.isoweekday(), "start": start, "end": end}
    return Calendar.model_validate({"time_zone": zone, "business_hours": [window], **extra})


def open_minutes_by_is_open(cal: Calendar, day: date) -> set[datetime]:
    """Every UTC minute of ``day`` (and the hour either side) that ``is_open`` calls open: with
    hours on ``day``'s weekday only, those are the minutes whose wall time is open on ``day``."""
    zone = ZoneInfo(cal.time_zone)
    t = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) - timedelta(hours=1)
    stop = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC) + timedelta(
        hours=1
    )
    minutes = set()
    while t < stop:
        if cal.is_open(t):
            minutes.add(t)
        t += timedelta(minutes=1)
    return minutes


def open_minutes_by_intervals(cal: Calendar, day: date) -> set[datetime]:
    minutes = set()
    for start, end in cal.open_intervals(day):
        assert start < end and start.utcoffset() == timedelta(0)  # no empty span, and in UTC
        t = start
        while t < end:
            minutes.add(t)
            t += timedelta(minutes=1)
    return minutes


CHANGE_DAYS = [
    ("America/New_York", date(2026, 3, 7)),  # the Saturday before spring-forward
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 10, 31)),  # the Saturday before fall-back
    ("America/New_York", date(2026, 11, 1)),
    ("Europe/London", date(2026, 3, 29)),
    ("America/Santiago", date(2026, 4, 4)),
    ("America/Santiago", date(2026, 9, 5)),
    ("America/Santiago", date(2026, 9, 6)),
    ("America/Havana", date(2026, 3, 8)),
    ("America/Havana", date(2026, 11, 1)),
    ("Asia/Beirut", date(2026, 3, 29)),
    ("Asia/Beirut", date(2026, 10, 24)),
    ("Australia/Sydney", date(2026, 4, 5)),
    ("Australia/Sydney", date(2026, 10, 4)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
    ("Australia/Lord_Howe", date(2026, 10, 4)),
    ("Asia/Kolkata", date(2026, 3, 8)),
]
# before, across and after the changes above (midnight, 01:00-03:00, late evening)
WINDOWS = [("00:00", "00:45"), ("00:30", "02:15"), ("01:45", "03:30"), ("08:00", "17:00"), ("22:30", "23:59")]


@pytest.mark.parametrize(("zone", "day"), CHANGE_DAYS, ids=[f"{z}-{d}" for z, d in CHANGE_DAYS])
def test_open_intervals_are_the_minutes_is_open_calls_open_on_the_days_the_clock_changes(
    zone: str, day: date
) -> None:
    for start, end in WINDOWS:
        cal = one_window(zone, day, start, end)
        assert open_minutes_by_intervals(cal, day) == open_minutes_by_is_open(cal, day), (start, end)


def test_business_hours_on_a_spring_forward_sunday_in_utc() -> None:
    sunday = date(2026, 3, 8)  # New York: 02:00 EST is 03:00 EDT, at 07:00 UTC
    expected = {
        ("08:00", "17:00"): [(utc(2026, 3, 8, 12), utc(2026, 3, 8, 21))],  # all EDT: 9 hours
        ("03:00", "05:00"): [(utc(2026, 3, 8, 7), utc(2026, 3, 8, 9))],  # from the first EDT minute
        ("00:00", "01:30"): [(utc(2026, 3, 8, 5), utc(2026, 3, 8, 6, 30))],  # all EST
        ("01:00", "04:00"): [(utc(2026, 3, 8, 6), utc(2026, 3, 8, 8))],  # 2 hours, in one span
        ("01:00", "03:00"): [(utc(2026, 3, 8, 6), utc(2026, 3, 8, 7))],  # to the jump
        ("02:00", "02:30"): [],  # a window wholly in the skipped hour is not there at all
    }
    for (start, end), spans in expected.items():
        assert one_window("America/New_York", sunday, start, end).open_intervals(sunday) == spans, (
            start,
            end,
        )


def test_business_hours_on_a_fall_back_sunday_in_utc() -> None:
    sunday = date(2026, 11, 1)  # New York: 02:00 EDT is 01:00 EST, at 06:00 UTC
    expected = {
        ("08:00", "17:00"): [(utc(2026, 11, 1, 13), utc(2026, 11, 1, 22))],  # all EST: 9 hours
        ("00:00", "01:00"): [(utc(2026, 11, 1, 4), utc(2026, 11, 1, 5))],  # before the repeated hour: once
        ("01:00", "02:00"): [(utc(2026, 11, 1, 5), utc(2026, 11, 1, 7))],  # the repeated hour: twice
        ("02:00", "03:00"): [(utc(2026, 11, 1, 7), utc(2026, 11, 1, 8))],
    }
    for (start, end), spans in expected.items():
        assert one_window("America/New_York", sunday, start, end).open_intervals(sunday) == spans, (
            start,
            end,
        )


def test_a_late_window_the_night_before_a_change_is_the_whole_window() -> None:
    # Saturday 2026-03-07 22:30-23:30 EST, hours before New York springs forward
    saturday = date(2026, 3, 7)
    cal = one_window("America/New_York", saturday, "22:30", "23:30")
    assert cal.open_intervals(saturday) == [(utc(2026, 3, 8, 3, 30), utc(2026, 3, 8, 4, 30))]
    # and the Saturday before Santiago springs forward at midnight (24:00 -04 is 01:00 -03)
    saturday = date(2026, 9, 5)
    cal = one_window("America/Santiago", saturday, "22:00", "23:59")
    assert cal.open_intervals(saturday) == [(utc(2026, 9, 6, 2), utc(2026, 9, 6, 3, 59))]


def test_a_zone_on_utc_in_winter_keeps_the_hour_before_its_change() -> None:
    # London is on GMT (+00:00) until 01:00 on 2026-03-29: 00:00-00:45 that night is 00:00-00:45 UTC
    sunday = date(2026, 3, 29)
    cal = one_window("Europe/London", sunday, "00:00", "00:45")
    assert cal.open_intervals(sunday) == [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 0, 45))]
    cal = one_window("Europe/London", sunday, "00:00", "05:00")  # 00:00-01:00 GMT, then 02:00-05:00 BST
    assert cal.open_intervals(sunday) == [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 4))]


def test_business_hours_where_the_clock_changes_at_midnight() -> None:
    # Santiago, Sunday 2026-09-06: the day begins at 01:00 -03 (04:00 UTC), there is no 00:00-01:00
    sunday = date(2026, 9, 6)
    cal = one_window("America/Santiago", sunday, "00:00", "09:00")
    assert cal.open_intervals(sunday) == [(utc(2026, 9, 6, 4), utc(2026, 9, 6, 12))]  # 8 hours
    assert one_window("America/Santiago", sunday, "00:00", "00:30").open_intervals(sunday) == []
    # Santiago, Saturday 2026-04-04: -03 until 24:00, then 23:00-24:00 again at -04
    saturday = date(2026, 4, 4)
    cal = one_window("America/Santiago", saturday, "08:00", "17:00")
    assert cal.open_intervals(saturday) == [(utc(2026, 4, 4, 11), utc(2026, 4, 4, 20))]  # -03 only
    cal = one_window("America/Santiago", saturday, "22:00", "23:59")
    # 22:00-23:59 at -03, then 23:00-23:59 again at -04 (the minute 23:59-24:00 -03 is closed)
    assert cal.open_intervals(saturday) == [
        (utc(2026, 4, 5, 1), utc(2026, 4, 5, 2, 59)),
        (utc(2026, 4, 5, 3), utc(2026, 4, 5, 3, 59)),
    ]
    # Havana, Sunday 2026-11-01: 00:00-01:00 comes twice (CDT, then CST)
    sunday = date(2026, 11, 1)
    cal = one_window("America/Havana", sunday, "00:00", "01:30")
    assert cal.open_intervals(sunday) == [(utc(2026, 11, 1, 4), utc(2026, 11, 1, 6, 30))]


def test_business_hours_on_change_days_in_the_southern_hemisphere() -> None:
    # Sydney: on Sunday 2026-10-04 08:00-17:00 is all AEDT (+11); on Sunday 2026-04-05 all AEST (+10)
    spring = date(2026, 10, 4)
    assert one_window("Australia/Sydney", spring, "08:00", "17:00").open_intervals(spring) == [
        (utc(2026, 10, 3, 21), utc(2026, 10, 4, 6))
    ]
    autumn = date(2026, 4, 5)
    assert one_window("Australia/Sydney", autumn, "08:00", "17:00").open_intervals(autumn) == [
        (utc(2026, 4, 4, 22), utc(2026, 4, 5, 7))
    ]
    # Lord Howe Island, Sunday 2026-04-05: 01:30-02:00 comes twice, so 01:00-02:30 is 2 hours
    assert one_window("Australia/Lord_Howe", autumn, "01:00", "02:30").open_intervals(autumn) == [
        (utc(2026, 4, 4, 14), utc(2026, 4, 4, 16))
    ]
    # and on Sunday 2026-10-04 02:00-02:30 does not exist, so 01:00-03:00 is 1 hour 30 minutes
    assert one_window("Australia/Lord_Howe", spring, "01:00", "03:00").open_intervals(spring) == [
        (utc(2026, 10, 3, 14, 30), utc(2026, 10, 3, 16))
    ]


def test_a_zone_without_dst_and_back_to_back_windows_give_one_span() -> None:
    monday = date(2026, 3, 9)
    windows = [
        {"weekday": 1, "start": "12:00", "end": "17:00"},
        {"weekday": 1, "start": "08:00", "end": "12:00"},
    ]
    cal = Calendar.model_validate({"time_zone": "Asia/Kolkata", "business_hours": windows})
    assert cal.open_intervals(monday) == [(utc(2026, 3, 9, 2, 30), utc(2026, 3, 9, 11, 30))]  # +05:30
    # two windows, 08:00-12:00 and 13:00-17:00, are two spans
    windows[0]["start"] = "13:00"
    cal = Calendar.model_validate({"time_zone": "Asia/Kolkata", "business_hours": windows})
    assert cal.open_intervals(monday) == [
        (utc(2026, 3, 9, 2, 30), utc(2026, 3, 9, 6, 30)),
        (utc(2026, 3, 9, 7, 30), utc(2026, 3, 9, 11, 30)),
    ]


# ---------------------------------------------------------------- business time: errors, machine zone, reach


def test_the_business_time_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"^minutes must be >= 0$"):
        auckland().add_business_minutes(at(MON, 8), -1)
    with pytest.raises(ValueError, match=r"^the calendar has no business hours to count in$"):
        auckland(business_hours=[]).add_business_minutes(at(MON, 8), 1)


@pytest.fixture
def machine_clock_in_kiritimati(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's zone set to UTC+14, two calendar days ahead of a calendar at UTC-11 at night."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time_module.tzset()
    yield
    monkeypatch.undo()
    time_module.tzset()


@pytest.mark.usefixtures("machine_clock_in_kiritimati")
def test_business_time_is_the_calendars_whatever_the_machines_zone() -> None:
    # American Samoa (UTC-11), open Monday to Friday 22:00-23:59. Monday 2026-11-23 23:30 there is
    # Tuesday 10:30 UTC, and already Wednesday 00:30 on the machine's clock.
    hours = [{"weekday": d, "start": "22:00", "end": "23:59"} for d in range(1, 6)]
    cal = Calendar.model_validate({"time_zone": "Pacific/Pago_Pago", "business_hours": hours})
    start = utc(2026, 11, 24, 10, 30)
    assert cal.add_business_minutes(start, 20) == utc(2026, 11, 24, 10, 50)  # Monday 23:50 there
    assert cal.add_business_minutes(start, 30) == utc(2026, 11, 25, 9, 1)  # Tuesday 22:01 there
    assert cal.business_minutes_between(start, utc(2026, 11, 24, 11, 0)) == 29  # 23:30-23:59
    # and the instants come back in UTC, not in the machine's zone
    for minutes in (0, 20, 30):
        assert cal.add_business_minutes(start, minutes).utcoffset() == timedelta(0), minutes
    assert cal.add_business_minutes(start, 20).isoformat() == "2026-11-24T10:50:00+00:00"


def test_a_clock_looks_for_hours_as_far_as_the_search_horizon_and_no_further() -> None:
    # MAX_SEARCH_DAYS (3 * 366) days are searched, from the day before the start's local date: a
    # clock started on Tuesday 2026-12-01 finds hours as late as 2029-12-01 (day 1096 after it), not later
    start_day = date(2026, 12, 1)
    last_day = start_day + timedelta(days=1096)
    assert last_day == date(2029, 12, 1)  # a Saturday
    closed = [
        start_day + timedelta(days=n)
        for n in range(1096)
        if (start_day + timedelta(days=n)).isoweekday() == 6
    ]
    holidays = [{"date": str(d), "name": "Closed"} for d in closed]
    hours = [{"weekday": 6, "start": "08:00", "end": "17:00"}]
    cal = Calendar.model_validate({"time_zone": "UTC", "business_hours": hours, "holidays": holidays})
    start = utc(2026, 12, 1, 0)
    assert cal.add_business_minutes(start, 60) == utc(2029, 12, 1, 9)
    shut = Calendar.model_validate(
        {
            "time_zone": "UTC",
            "business_hours": hours,
            "holidays": [*holidays, {"date": str(last_day), "name": "X"}],
        }
    )
    with pytest.raises(ValueError, match="no business hours"):
        shut.add_business_minutes(start, 60)
