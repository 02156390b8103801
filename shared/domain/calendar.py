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
# How far a business-time clock looks for opening hours before it calls the calendar closed for good.
MAX_SEARCH_DAYS = 3 * 366


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

    # ------------------------------------------------------------ business time (SLA clocks)

    def open_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """``day``'s business hours as UTC instants, overlapping windows merged; none on a holiday:
        exactly the instants :meth:`is_open` says are open. A window is wall-clock time, so one that
        spans a DST change is as long as the clock on the wall says (08:00-17:00 is 9 hours, 01:00-05:00
        on a spring-forward night 3), and on a fall-back night the repeated hour counts twice where
        the window holds it (00:00-01:30 is 2 hours: 00:00-01:30, then 01:00-01:30 again)."""
        if self.is_holiday(day):
            return []
        spans = sorted(
            span
            for w in self.business_hours
            if w.weekday == day.isoweekday()
            for span in self._wall_to_utc(day, w.start, w.end)
        )
        merged: list[tuple[datetime, datetime]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def _wall_to_utc(self, day: date, start: time, end: time) -> list[tuple[datetime, datetime]]:
        """The UTC instants whose wall time on ``day`` is in ``[start, end)``: one span, or on the day
        of a DST change one per UTC offset of the day, each kept to the part of the day it rules."""
        midnight = datetime.combine(day, time(0))
        first = midnight.replace(tzinfo=self.zone).utcoffset() or timedelta(0)
        last = (midnight + timedelta(days=1)).replace(tzinfo=self.zone).utcoffset() or timedelta(0)
        wall_start, wall_end = datetime.combine(day, start), datetime.combine(day, end)
        if first == last:
            return [((wall_start - first).replace(tzinfo=UTC), (wall_end - first).replace(tzinfo=UTC))]
        # the instant the offset changes: bisect the day by the minute (at most 11 steps)
        low, high = (
            (midnight - first).replace(tzinfo=UTC),
            (midnight + timedelta(days=1) - last).replace(tzinfo=UTC),
        )
        while high - low > timedelta(minutes=1):
            middle = low + (high - low) / 2
            if middle.astimezone(self.zone).utcoffset() == first:
                low = middle
            else:
                high = middle
        change = high.replace(second=0, microsecond=0)
        spans = []
        for offset, lower, upper in ((first, None, change), (last, change, None)):
            begin = (wall_start - offset).replace(tzinfo=UTC)
            finish = (wall_end - offset).replace(tzinfo=UTC)
            begin = max(begin, lower) if lower else begin
            finish = min(finish, upper) if upper else finish
            if begin < finish:
                spans.append((begin, finish))
        return spans

    def add_business_minutes(self, start: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` minutes of business hours after ``start`` (aware): an escalation
        clock of 4 business hours started on Friday at 16:00 (hours 08:00-17:00) runs out on Monday
        at 11:00, or Tuesday at 11:00 if Monday is a holiday. A clock started outside business hours
        starts counting at the next opening."""
        if minutes < 0:
            raise ValueError("minutes must be >= 0")
        if not minutes:
            return start.astimezone(UTC)
        left = timedelta(minutes=minutes)
        cursor = start.astimezone(UTC)
        day = start.astimezone(self.zone).date() - timedelta(days=1)  # a window may start the day before
        for _ in range(MAX_SEARCH_DAYS):
            for open_at, close_at in self.open_intervals(day):
                if close_at <= cursor:
                    continue
                begin = max(open_at, cursor)
                if begin + left <= close_at:  # runs out inside (or at the end of) this window
                    return begin + left
                left -= close_at - begin
                cursor = close_at
            day += timedelta(days=1)
        raise ValueError("the calendar has no business hours to count in")

    def business_minutes_between(self, start: datetime, end: datetime) -> int:
        """Whole minutes of business hours in ``[start, end)`` (0 when ``end`` is not after
        ``start``): what is left of a clock put on hold."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        total = timedelta()
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        while day <= last:
            for open_at, close_at in self.open_intervals(day):
                overlap = min(close_at, end) - max(open_at, start)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return int(total.total_seconds() // 60)
