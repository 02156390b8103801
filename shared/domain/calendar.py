"""An organization's calendar: its time zone, business hours and holidays, and the scheduling policy
every area reads from it (waitlist hold, minimum notice for automatic offers).

Pure functions over the model; other areas reuse them (a TCM contact due in 2 business days is
:func:`add_business_days`; an escalation clock counted in business hours asks :func:`is_open`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from shared.domain.base import Strict, WallTime
from shared.domain.patients import TimeZone

MAX_HOLIDAYS = 400
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _sane_day(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be between {FIRST_YEAR} and {LAST_YEAR}")
    return value


def _sane_instant(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:  # before converting: year 1 at +05:00 overflows
        raise ValueError(f"must be between {FIRST_YEAR} and {LAST_YEAR}")
    return value.astimezone(UTC)


# Dates and instants a calendar can hold (arithmetic on 9999-12-31 overflows); instants in UTC.
Day = Annotated[date, AfterValidator(_sane_day)]
Instant = Annotated[AwareDatetime, AfterValidator(_sane_instant)]


class Weekday(IntEnum):
    """ISO weekday numbers (``date.isoweekday()``): Monday is 1."""

    MON = 1
    TUE = 2
    WED = 3
    THU = 4
    FRI = 5
    SAT = 6
    SUN = 7


class Window(Strict):
    """A weekly window of local wall-clock time, ``start`` inclusive, ``end`` exclusive."""

    weekday: Weekday = Field(description="ISO weekday, Monday = 1")
    start: WallTime
    end: WallTime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("times are local wall-clock times, without an offset")
        if self.end <= self.start:
            raise ValueError("end must be after start (windows do not cross midnight)")
        return self


class Holiday(Strict):
    date: Day
    name: str = Field(min_length=1, max_length=80, examples=["Thanksgiving Day"])


def _default_hours() -> list[Window]:
    return [Window(weekday=Weekday(d), start=time(8, 0), end=time(17, 0)) for d in range(1, 6)]


class Calendar(Strict):
    """``PUT /organization/calendar``. Holidays close every provider of the organization."""

    time_zone: TimeZone = "UTC"
    business_hours: list[Window] = Field(default_factory=_default_hours, max_length=50)
    holidays: list[Holiday] = Field(default_factory=list, max_length=MAX_HOLIDAYS)
    waitlist_hold_minutes: int = Field(
        15, ge=1, le=24 * 60, description="how long a freed slot is held for the patient offered it"
    )
    minimum_notice_hours: int = Field(
        24, ge=0, le=24 * 30, description="no automatic waitlist offer for a slot closer than this"
    )

    @model_validator(mode="after")
    def _distinct_holidays(self) -> Calendar:
        days = [h.date for h in self.holidays]
        if len(days) != len(set(days)):
            raise ValueError("each holiday date may appear once")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_holiday(self, day: date) -> bool:
        return day in {h.date for h in self.holidays}

    def is_business_day(self, day: date) -> bool:
        weekday = day.isoweekday()
        return not self.is_holiday(day) and any(w.weekday == weekday for w in self.business_hours)

    def add_business_days(self, start: date, days: int) -> date:
        """The business day ``days`` business days after ``start`` (TCM's "2 business days")."""
        if days < 0:
            raise ValueError("days must be >= 0")
        day = start
        while days:
            day += timedelta(days=1)
            if self.is_business_day(day):
                days -= 1
        return day

    def subtract_business_days(self, start: date, days: int) -> date:
        """The business day ``days`` business days before ``start`` (a reminder "2 business days"
        before a Tuesday visit goes out on the Friday before, or the Thursday if Friday is a
        holiday)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        day = start
        while days:
            day -= timedelta(days=1)
            if self.is_business_day(day):
                days -= 1
        return day

    def is_open(self, at: datetime) -> bool:
        """Is ``at`` (aware) inside business hours on a business day, in the organization's zone?"""
        local = at.astimezone(self.zone)
        if self.is_holiday(local.date()):
            return False
        wall = local.time().replace(tzinfo=None)
        return any(w.weekday == local.isoweekday() and w.start <= wall < w.end for w in self.business_hours)

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()
