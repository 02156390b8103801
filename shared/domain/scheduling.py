"""Scheduling rules: providers and their weeks, free slots, appointment statuses and their moves.

Pure: no I/O, no clock reads (``now`` is an argument). Time model:

- a provider works weekly windows of *local wall-clock* time in their own IANA zone; a window on a
  given date becomes two instants (:func:`local_instant`), so a 09:00-17:00 day is 8 hours on a
  normal day, and a 00:00-06:00 night is 5 hours when the clocks spring forward;
- the day is cut into *units* of ``slot_minutes`` from each window's start; an appointment holds
  the units it covers (that is what makes double-booking impossible: one item per unit, each
  written with a condition), and a free slot is a run of free units as long as the visit;
- instants are stored and compared in UTC; local times are only for people.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from shared.domain.base import MULTILINE, Code, Model, Strict, Ulid
from shared.domain.calendar import Calendar, Day, Instant, WallTime, Window
from shared.domain.codes import ServiceCode
from shared.domain.patients import TimeZone

MAX_RANGE_DAYS = 31
MAX_BOOKING_AHEAD_DAYS = 366
MAX_UNITS = 48  # one booking's units, well inside a transaction's 100 items
MAX_DURATION = timedelta(hours=8)


# ---------------------------------------------------------------- time


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``wall`` happens on ``day`` in ``zone``. A wall time the clocks skip
    (02:30 when they spring forward) resolves to the first minute that exists after it; a repeated
    one (01:30 when they fall back) to its first occurrence."""
    naive = datetime.combine(day, wall)
    for minutes in range(0, 24 * 60):
        candidate = naive + timedelta(minutes=minutes)
        instant = candidate.replace(tzinfo=zone).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == candidate:
            return instant
    raise ValueError("no such local time")  # pragma: no cover - no zone skips a whole day


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


# ---------------------------------------------------------------- providers


class TimeOffReason(StrEnum):
    VACATION = "vacation"
    SICK = "sick"
    TRAINING = "training"
    HOLIDAY = "holiday"
    OTHER = "other"


class TimeOff(Strict):
    """An exception to the weekly template: whole days from ``first`` to ``last`` (inclusive), or, with
    ``start`` and ``end``, those hours of each of those days."""

    first: Day
    last: Day
    start: WallTime | None = None
    end: WallTime | None = None
    reason: TimeOffReason = TimeOffReason.OTHER

    @model_validator(mode="after")
    def _valid(self) -> TimeOff:
        if self.last < self.first:
            raise ValueError("last must not be before first")
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither for whole days")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ProviderIn(Strict):
    """``POST /providers`` and ``PUT /providers/{id}``. Names and places of staff, not PHI."""

    name: str = Field(min_length=1, max_length=120, examples=["Dr. Ana Ruiz"])
    specialty: Code
    location: str = Field(min_length=1, max_length=120, examples=["Main St Clinic, room 4"])
    time_zone: TimeZone
    slot_minutes: Literal[5, 10, 15, 20, 30, 60] = Field(15, description="the booking grid")
    appointment_types: list[Code] = Field(min_length=1, max_length=20)
    availability: list[Window] = Field(default_factory=list, max_length=70)
    time_off: list[TimeOff] = Field(default_factory=list, max_length=200)
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> ProviderIn:
        step = self.slot_minutes
        times = [t for w in self.availability for t in (w.start, w.end)]
        times += [t for off in self.time_off for t in (off.start, off.end) if t is not None]
        if any((t.hour * 60 + t.minute) % step or t.second or t.microsecond for t in times):
            raise ValueError(f"times must fall on the {step}-minute booking grid")
        by_day: dict[int, list[Window]] = {}
        for w in self.availability:
            by_day.setdefault(int(w.weekday), []).append(w)
        for windows in by_day.values():
            windows.sort(key=lambda w: w.start)
            if any(a.end > b.start for a, b in pairwise(windows)):
                raise ValueError("windows of one weekday must not overlap")
        if len(set(self.appointment_types)) != len(self.appointment_types):
            raise ValueError("appointment_types must be distinct")
        return self


class ProviderOut(ProviderIn):
    model_config = ProviderIn.model_config | {"extra": "ignore"}
    id: str
    version: int


class AppointmentTypeIn(Strict):
    """``PUT /appointment-types/{code}``."""

    display: str = Field(min_length=1, max_length=80, examples=["New patient visit"])
    duration_minutes: int = Field(ge=5, le=int(MAX_DURATION.total_seconds() // 60))
    authorization: ServiceCode | None = Field(
        None,
        description="the service a payer must approve first (prior authorization): a booking is checked "
        "against the patient's approvals for it",
    )


class AppointmentTypeOut(AppointmentTypeIn):
    model_config = AppointmentTypeIn.model_config | {"extra": "ignore"}
    code: str


# ---------------------------------------------------------------- slots


class Slot(Model):
    """A free slot (FHIR Slot ``free``); ``local_start`` is the provider's wall clock, for display."""

    provider_id: str
    appointment_type: str
    start: datetime
    end: datetime
    local_start: str = Field(examples=["2026-11-24T09:00:00-06:00"])


def _windows_on(provider: ProviderIn, calendar: Calendar, day: date) -> list[tuple[datetime, datetime]]:
    if calendar.is_holiday(day):
        return []
    zone = ZoneInfo(provider.time_zone)
    out = []
    for w in provider.availability:
        if w.weekday == day.isoweekday():
            out.append((local_instant(day, w.start, zone), local_instant(day, w.end, zone)))
    return sorted(out)


def _off_on(provider: ProviderIn, day: date) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(provider.time_zone)
    out = []
    for off in provider.time_off:
        if off.first <= day <= off.last:
            start, end = (off.start, off.end) if off.start and off.end else (time(0), None)
            begin = local_instant(day, start, zone)
            finish = (
                local_instant(day, end, zone) if end else local_instant(day + timedelta(1), time(0), zone)
            )
            out.append((begin, finish))
    return out


def units_on(provider: ProviderIn, calendar: Calendar, day: date) -> list[list[datetime]]:
    """The provider's working units on a local ``day``, one list of consecutive unit starts per
    window, minus holidays and time off."""
    step = timedelta(minutes=provider.slot_minutes)
    off = _off_on(provider, day)
    runs: list[list[datetime]] = []
    for start, end in _windows_on(provider, calendar, day):
        run: list[datetime] = []
        unit = start
        while unit + step <= end:
            if any(a < unit + step and unit < b for a, b in off):
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(unit)
            unit += step
        if run:
            runs.append(run)
    return runs


def free_slots(
    provider: ProviderIn,
    provider_id: str,
    appointment_type: str,
    duration: timedelta,
    calendar: Calendar,
    first: date,
    last: date,
    busy: Iterable[datetime],
    not_before: datetime,
) -> list[Slot]:
    """Free slots of ``duration`` between local dates ``first`` and ``last`` (inclusive): runs of
    consecutive free units, starting at any unit, none before ``not_before``. ``busy`` is the unit
    starts held by bookings and live holds. All of them at once: :func:`provider_slots` unbounded."""
    held = frozenset(busy)
    everything = Budget(units=sys.maxsize)
    slots = provider_slots(
        provider,
        provider_id,
        appointment_type,
        duration,
        calendar,
        first,
        last,
        lambda _start, _end: held,
        not_before,
        everything,
    )
    return [slot for slot in slots if isinstance(slot, Slot)]


# A search's work is bounded: units examined per call, counted a day at a time. Sized so the worst
# search (50 providers on a 5-minute grid, 20 hours a day) still fills a page from one or two days.
MAX_UNITS_PER_CALL = 20_000


@dataclass
class Budget:
    """The units one search may still examine. Each provider's first day is always examined (so every
    call moves forward), later days only while some budget is left."""

    units: int = MAX_UNITS_PER_CALL
    examined: int = 0

    def spend(self, n: int) -> None:
        self.units -= n
        self.examined += n


class Stop(NamedTuple):
    """Where a provider's generation stopped when the budget ran out: nothing of theirs before
    ``start`` is left unseen. Orders before any slot at the same instant (``provider_id`` is empty)."""

    start: datetime
    provider_id: str = ""


Held = Callable[[datetime, datetime], Collection[datetime]]


def provider_slots(
    provider: ProviderIn,
    provider_id: str,
    appointment_type: str,
    duration: timedelta,
    calendar: Calendar,
    first: date,
    last: date,
    held: Held,
    not_before: datetime,
    budget: Budget,
    after: tuple[datetime, str] | None = None,
) -> Iterator[Slot | Stop]:
    """Free slots (see :func:`free_slots`), lazily, in start order, from the local day of
    ``not_before`` on and after ``after`` (a ``(start, provider_id)`` a previous page ended on).
    ``held(a, b)`` gives the unit starts held in ``[a, b)``; it is asked for a day's span only when
    generation reaches a day with working units, for 1, 2, 4, ... days at a time, so a page that
    ends early asks for little. Once ``budget`` is spent, yields a :class:`Stop` at the next day's
    local midnight and ends."""
    step = timedelta(minutes=provider.slot_minutes)
    if duration % step or duration <= timedelta(0):
        return
    need = duration // step
    zone = ZoneInfo(provider.time_zone)
    day = max(first, not_before.astimezone(zone).date())
    midnight = time(0)
    busy: Collection[datetime] = ()
    known_until: datetime | None = None
    span = 1
    started = day
    while day <= last:
        if day > started and budget.units <= 0:
            yield Stop(local_instant(day, midnight, zone))
            return
        runs = units_on(provider, calendar, day)
        budget.spend(sum(len(run) for run in runs))
        if runs and (known_until is None or runs[-1][-1] >= known_until):
            known_until = local_instant(
                min(day + timedelta(days=span), last + timedelta(days=1)), midnight, zone
            )
            busy = held(max(local_instant(day, midnight, zone), not_before), known_until)
            span *= 2
        for run in runs:
            for i in range(len(run) - need + 1):
                start = run[i]
                if start < not_before or (after is not None and (start, provider_id) <= after):
                    continue
                if any(u in busy for u in run[i : i + need]):
                    continue
                yield Slot(
                    provider_id=provider_id,
                    appointment_type=appointment_type,
                    start=start,
                    end=start + duration,
                    local_start=start.astimezone(zone).isoformat(),
                )
        day += timedelta(days=1)


def first_slots(
    streams: Iterable[Iterator[Slot | Stop]], limit: int
) -> tuple[list[Slot], tuple[datetime, str] | None]:
    """Up to ``limit`` slots merged from per-provider ``streams`` (each in start order), ordered by
    start then provider, and where the next page resumes: after the last slot when there are more,
    at a :class:`Stop` when the budget ran out first (the page may then be short, even empty), or
    ``None`` at the end of the range."""
    page: list[Slot] = []
    for item in heapq.merge(*streams, key=lambda s: (s.start, s.provider_id)):
        if isinstance(item, Stop):
            return page, (item.start, item.provider_id)
        if len(page) == limit:
            return page, (page[-1].start, page[-1].provider_id)
        page.append(item)
    return page, None


def units_for(
    provider: ProviderIn, calendar: Calendar, start: datetime, duration: timedelta
) -> list[datetime] | str:
    """The units a booking at ``start`` for ``duration`` would hold, or why it can't be booked there
    (a sentence naming the problem)."""
    step = timedelta(minutes=provider.slot_minutes)
    if duration % step:
        return f"this appointment type lasts {duration} which is not on the provider's {step} grid"
    need = duration // step
    if need > MAX_UNITS:
        return "this appointment is too long to book in one piece"
    day = start.astimezone(ZoneInfo(provider.time_zone)).date()
    for run in units_on(provider, calendar, day):
        if start in run:
            i = run.index(start)
            units = run[i : i + need]
            if len(units) == need:
                return units
            return "the appointment would run past the end of the provider's availability"
    return "the provider is not available at this time (outside their hours, on time off or a holiday)"


# ---------------------------------------------------------------- appointments


class AppointmentStatus(StrEnum):
    """FHIR R4/R5 Appointment.status."""

    PROPOSED = "proposed"
    PENDING = "pending"
    BOOKED = "booked"
    ARRIVED = "arrived"
    CHECKED_IN = "checked-in"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"
    ENTERED_IN_ERROR = "entered-in-error"
    WAITLIST = "waitlist"


S = AppointmentStatus
# action -> (statuses it may start from, status it leads to); anything else is a 409
TRANSITIONS: dict[str, tuple[frozenset[AppointmentStatus], AppointmentStatus | None]] = {
    "confirm": (frozenset({S.PENDING}), S.BOOKED),
    "arrive": (frozenset({S.PENDING, S.BOOKED}), S.ARRIVED),
    "check-in": (frozenset({S.PENDING, S.BOOKED, S.ARRIVED}), S.CHECKED_IN),
    "complete": (frozenset({S.ARRIVED, S.CHECKED_IN}), S.FULFILLED),
    "no-show": (frozenset({S.PENDING, S.BOOKED}), S.NOSHOW),
    "cancel": (frozenset({S.PENDING, S.BOOKED}), S.CANCELLED),
    "reschedule": (frozenset({S.PENDING, S.BOOKED}), None),  # None: booked if the patient moves it
}
NO_SHOW_AFTER = timedelta(minutes=30)


def next_status(current: AppointmentStatus, action: str) -> AppointmentStatus | str:
    """The status ``action`` leads to from ``current``, or why it is refused."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        return f"an appointment that is {current.value} cannot be {_PAST[action]}"
    return target or current


_PAST = {
    "confirm": "confirmed",
    "arrive": "marked arrived",
    "check-in": "checked in",
    "complete": "completed",
    "no-show": "marked no-show",
    "cancel": "cancelled",
    "reschedule": "rescheduled",
}


def timing_problem(action: str, start: datetime, now: datetime) -> str | None:
    """Moves that only make sense once the visit has started."""
    if action in ("no-show", "complete") and now < start:
        return f"an appointment cannot be {_PAST[action]} before it starts"
    return None


class CancelReason(StrEnum):
    """After FHIR's appointment-cancellation-reason, coarsened."""

    PATIENT = "patient"
    PROVIDER = "provider"
    FACILITY = "facility"
    WEATHER = "weather"
    RESCHEDULED_ELSEWHERE = "rescheduled-elsewhere"
    OTHER = "other"


class BookingIn(Strict):
    """``POST /appointments``."""

    patient_id: Ulid
    provider_id: Ulid
    appointment_type: Code
    start: Instant
    end: Instant | None = Field(None, description="optional; must equal start + the type's duration")
    referral_id: Ulid | None = None
    allow_double_booking: bool = Field(
        False, description="staff only: book even if the slot is taken (audited)"
    )


class RescheduleIn(Strict):
    start: Instant
    end: Instant | None = None


class CancelIn(Strict):
    reason: CancelReason
    note: str | None = Field(
        None, max_length=500, description="kept on the record, never in events", json_schema_extra=MULTILINE
    )


class Cancellation(Model):
    by: str
    by_role: str
    reason: CancelReason
    note: str | None = None
    at: datetime


MAX_RESCHEDULES = 10


class Reschedule(Model):
    """A time the appointment was moved away from; ``version`` is the one the move created."""

    start: datetime
    end: datetime
    at: datetime
    by: str
    version: int


class Insurance(StrEnum):
    """Where a visit that needs the payer's prior authorization stands (the patient reads these words,
    never the payer's reasons)."""

    APPROVED = "approved"
    AWAITING = "awaiting-insurance-approval"


class _Appointment(Model):
    """What staff and the patient both read of an appointment."""

    id: str
    version: int
    status: AppointmentStatus
    patient_id: str
    provider_id: str
    appointment_type: str
    start: datetime
    end: datetime
    time_zone: str = Field(description="the provider's zone; show times in it")
    referral_id: str | None = None
    offer_id: str | None = None
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None = None
    arrived_at: datetime | None = None
    checked_in_at: datetime | None = None
    completed_at: datetime | None = None
    rescheduled_count: int = 0
    insurance: Insurance | None = Field(None, description="a visit whose type needs a prior authorization")


class AppointmentOut(_Appointment):
    """FHIR Appointment, flattened: one patient, one provider."""

    overbooked: bool = False
    booked_by: str
    source_partner_id: str | None = Field(
        None,
        description="set when the appointment was booked in a partner's EHR: the partner whose record it "
        "mirrors (moved and cancelled with it)",
    )
    cancellation: Cancellation | None = None
    reschedules: list[Reschedule] = Field(
        default_factory=list, description=f"the times it was moved from, the last {MAX_RESCHEDULES}"
    )
    authorization_id: str | None = Field(None, description="the approval that covers it")


# ---------------------------------------------------------------- what a patient reads
# Staff-only, never in these: who on staff did something (user ids), notes staff wrote, what staff
# recorded about staff (time off and its reasons), anything about other patients (an overbooking says
# someone else holds the time).


class PatientCancellation(Model):
    """A cancellation as the patient reads it: why (a code), when, and whether it was them. Their own
    note comes back to them; a note staff wrote stays with staff."""

    reason: CancelReason
    at: datetime
    by_patient: bool
    note: str | None = Field(None, description="only a note the patient wrote themselves")


class PatientReschedule(Model):
    start: datetime
    end: datetime
    at: datetime


class AppointmentPatientView(_Appointment):
    """What a patient reads of their own appointment: when, with whom, for what, its status and their
    own steps; not who on staff booked, moved or cancelled it, nor staff notes, nor whether it was
    booked over another patient's visit."""

    cancellation: PatientCancellation | None = None
    reschedules: list[PatientReschedule] = Field(default_factory=list)

    @classmethod
    def of(cls, record: AppointmentOut) -> AppointmentPatientView:
        plain = set(cls.model_fields) - {"cancellation", "reschedules"}
        cancelled = record.cancellation
        by_patient = cancelled is not None and cancelled.by_role == "patient"
        return cls(
            **record.model_dump(include=plain),
            cancellation=None
            if cancelled is None
            else PatientCancellation(
                reason=cancelled.reason,
                at=cancelled.at,
                by_patient=by_patient,
                note=cancelled.note if by_patient else None,
            ),
            reschedules=[PatientReschedule(start=r.start, end=r.end, at=r.at) for r in record.reschedules],
        )


class ProviderPatientView(Model):
    """A provider as the directory shows them to patients: who, where, what they see patients for,
    their weekly hours. Not their time off (dates and reasons staff recorded about a colleague): free
    time is what ``GET /availability`` gives, already net of it."""

    id: str
    version: int
    name: str
    specialty: str
    location: str
    time_zone: str
    slot_minutes: int
    appointment_types: list[str]
    availability: list[Window]
    active: bool

    @classmethod
    def of(cls, record: ProviderOut) -> ProviderPatientView:
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


def within_booking_horizon(start: datetime, now: datetime) -> str | None:
    if start < now:
        return "the start is in the past"
    if start > now + timedelta(days=MAX_BOOKING_AHEAD_DAYS):
        return f"appointments can be booked up to {MAX_BOOKING_AHEAD_DAYS} days ahead"
    return None


def duration_problem(start: datetime, end: datetime | None, duration: timedelta) -> str | None:
    if end is not None and end - start != duration:
        minutes = int(duration.total_seconds() // 60)
        return f"this appointment type lasts {minutes} minutes: end must be start + {minutes} minutes"
    return None
