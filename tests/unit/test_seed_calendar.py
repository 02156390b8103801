"""The demo organization's holidays (local/seed.py) follow the runtime's year, whenever it is run."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from local.seed import demo_calendar
from shared.domain.calendar import Calendar


def thanksgiving(year: int) -> date:
    """The fourth Thursday of November, counted here rather than asked of the holidays package."""
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


@pytest.mark.parametrize("today", [date(2026, 12, 1), date(2031, 1, 2), date(2044, 7, 4)])
def test_the_demo_closes_on_this_and_next_years_holidays(today: date) -> None:
    calendar = Calendar.model_validate(demo_calendar(today))  # what PUT /organization/calendar accepts
    closed = {h.date for h in calendar.holidays}
    for year in (today.year, today.year + 1):
        assert {date(year, 1, 1), date(year, 7, 4), date(year, 12, 25), thanksgiving(year)} <= closed
    assert {d.year for d in closed} == {today.year, today.year + 1}
    assert calendar.time_zone == "America/Chicago"


def test_a_holiday_on_a_weekend_closes_the_weekday_it_is_observed_on() -> None:
    closed = {h["date"]: h["name"] for h in demo_calendar(date(2027, 3, 1))["holidays"]}
    assert date(2027, 12, 25).weekday() == 5  # Christmas 2027 is a Saturday
    assert "Christmas" in closed["2027-12-24"]
