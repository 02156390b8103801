"""Transitions of care: the hospital-to-home episode and the clocks Medicare's transitional care
management (TCM, CPT 99495 and 99496) is paid on.

A discharge home opens an **episode** with four steps, each worked as a task:

- **contact**: an interactive contact (phone, video, in person, a portal message answered) by the end
  of business on the 2nd business day after the discharge date, on the organization's calendar
  (Thursday → Monday; Friday with Monday a holiday → Wednesday). Two unsuccessful attempts recorded
  in that window count as the rule allows (``met_by: attempts``);
- **visit**: a face-to-face visit held by day 7 (high complexity, 99496) or day 14 (moderate, 99495)
  after the discharge date. A booking inside the window is the step's first part (checked on day 3);
  the visit held completes it. A booking outside the window is a warning, not an error;
- **medication reconciliation**: no later than the visit's date (the visit window's end while none is
  booked);
- **close**: the 30-day period starts on the discharge date, so it ends with day 29's last minute;
  the episode then closes with its outcome, unless staff closed it before.

"Day N" is the discharge date plus N days in the organization's zone; a day's deadline is its last
instant (local midnight after it), a business deadline the close of that day's business hours. A
readmission pauses the episode (no step is missed while the patient is back in hospital); the next
discharge opens a new episode, linked, and closes the paused one. Closing states whether the episode
qualifies for 99495 or 99496 and, if not, every rule that failed.

Everything here is pure: callers pass the time and the organization's calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.domain.base import MULTILINE, Model, Strict
from shared.domain.calendar import Calendar, Instant
from shared.domain.tasks import Id, risk_from

CONTACT_BUSINESS_DAYS = 2
BOOKING_CHECK_DAY = 3
PERIOD_DAYS = 30
ATTEMPTS_THAT_COUNT = 2
MAX_ATTEMPTS = 20
MAX_WARNINGS = 20


class Complexity(StrEnum):
    """The medical decision making the TCM code rests on (moderate: 99495, high: 99496)."""

    MODERATE = "moderate"
    HIGH = "high"


VISIT_DAYS = {Complexity.HIGH: 7, Complexity.MODERATE: 14}
MODERATE_VISIT_DAYS = VISIT_DAYS[Complexity.MODERATE]


class TcmCode(StrEnum):
    MODERATE = "99495"
    HIGH = "99496"


class EpisodeStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"  # readmitted: no step is missed while the patient is back in hospital
    CLOSED = "closed"


class StepStatus(StrEnum):
    PENDING = "pending"
    BOOKED = "booked"  # the visit step: booked, not yet held
    COMPLETED = "completed"
    MISSED = "missed"  # its deadline passed undone (it can still be done, late)


class StepName(StrEnum):
    CONTACT = "contact"
    VISIT = "visit"
    MEDICATION = "medication-reconciliation"
    CLOSE = "close"


# What the events name: the steps, and the visit's booking part (checked on day 3).
Milestone = Literal["contact", "visit-booking", "visit", "medication-reconciliation"]


class ContactChannel(StrEnum):
    """How the interactive contact was made (CMS: telephone, electronic or face to face)."""

    PHONE = "phone"
    VIDEO = "video"
    IN_PERSON = "in-person"
    PORTAL = "portal-message"


class CloseReason(StrEnum):
    COMPLETED = "completed"  # staff: the work is done
    PERIOD_ENDED = "period-ended"  # day 30 came
    READMITTED = "readmitted"  # a new discharge opened the next episode, or day 30 came in hospital
    DECLINED = "declined"
    DECEASED = "deceased"
    MOVED = "moved"
    OTHER = "other"


ManualClose = Literal["completed", "declined", "deceased", "moved", "other"]


class Failure(StrEnum):
    """A TCM rule an episode failed."""

    CONTACT_LATE = "contact-late"
    VISIT_LATE = "visit-late"
    RECONCILIATION_MISSING = "reconciliation-missing"
    READMITTED = "readmitted"
    ENDED_EARLY = "ended-early"


class WarningCode(StrEnum):
    VISIT_OUTSIDE_WINDOW = "visit-outside-window"
    VISIT_CANCELLED = "visit-cancelled"
    VISIT_NO_SHOW = "visit-no-show"


# ---------------------------------------------------------------- input


class TransitionIn(Strict):
    """``POST /transitions``: a discharge learned another way than a partner's notice (a phone call
    from the hospital). One episode per patient and discharge date, and per encounter."""

    patient_id: Id
    discharged_at: Instant
    encounter_id: Id | None = Field(None, description="the stay's encounter, if Careloop holds it")
    disposition: str | None = Field(None, pattern=r"^[a-z-]{1,16}$", examples=["home"])
    complexity: Complexity = Complexity.MODERATE
    owner_id: Id | None = Field(
        None, description="the coordinator who runs it (none: the coordinators' queue)"
    )


class TransitionPatch(Strict):
    """``PATCH /transitions/{id}`` (If-Match): the complexity (moves the visit's deadline) and owner."""

    complexity: Complexity | None = None
    owner_id: Id | None = None


class ContactIn(Strict):
    """``POST /transitions/{id}/contacts``: one attempt, reached or not. ``at`` defaults to now."""

    channel: ContactChannel
    reached: bool
    at: Instant | None = None
    note: str | None = Field(None, max_length=2000, json_schema_extra=MULTILINE)


class VisitIn(Strict):
    """``POST /transitions/{id}/visit``: the patient's appointment that is the face-to-face visit."""

    appointment_id: Id


class ReconciliationIn(Strict):
    """``POST /transitions/{id}/medication-reconciliation``. ``at`` defaults to now."""

    at: Instant | None = None
    changes: int | None = Field(None, ge=0, le=100, description="how many medications changed")
    note: str | None = Field(None, max_length=2000, json_schema_extra=MULTILINE)


class CloseIn(Strict):
    reason: ManualClose
    note: str | None = Field(None, max_length=2000, json_schema_extra=MULTILINE)


# ---------------------------------------------------------------- the episode


class ContactAttempt(Model):
    at: AwareDatetime
    channel: ContactChannel
    reached: bool
    by_id: str
    note: str | None = None


class Step(Model):
    """A step: its deadline, its task, and when it was done (``on_time``: by its deadline)."""

    status: StepStatus = StepStatus.PENDING
    due_at: AwareDatetime
    task_id: str | None = None
    completed_at: AwareDatetime | None = None
    on_time: bool | None = None
    missed_at: AwareDatetime | None = None
    by_id: str | None = None


class ContactStep(Step):
    attempts: list[ContactAttempt] = Field(default_factory=list)
    met_by: Literal["reached", "attempts"] | None = None


class VisitStep(Step):
    booking_due_at: AwareDatetime = Field(description="day 3: a visit should be booked by now")
    booking_missed_at: AwareDatetime | None = None
    appointment_id: str | None = None
    visit_at: AwareDatetime | None = None
    booked_at: AwareDatetime | None = None
    in_window: bool | None = None


class ReconciliationStep(Step):
    changes: int | None = None
    note: str | None = None


class Readmission(Model):
    admitted_at: AwareDatetime
    encounter_id: str | None = None


class TransitionWarning(Model):
    code: WarningCode
    at: AwareDatetime
    appointment_id: str | None = None


class Eligibility(Model):
    qualifies: bool
    code: TcmCode | None = Field(None, description="99495 or 99496 when it qualifies")
    failures: list[Failure] = Field(default_factory=list)


class TransitionOut(Model):
    id: str
    version: int
    patient_id: str
    patient_name: str | None = Field(None, description="the patient's display name when it opened")
    status: EpisodeStatus
    complexity: Complexity
    discharged_at: AwareDatetime
    discharge_date: date = Field(description="in the organization's zone: day 0")
    time_zone: str = Field("UTC", description="the organization's zone its days are counted in")
    period_ends_on: date = Field(description="day 29, the 30-day period's last day")
    encounter_id: str | None = None
    partner_id: str | None = None
    encounter_class: str | None = None
    disposition: str | None = None
    owner_id: str | None = None
    contact: ContactStep
    visit: VisitStep
    medication: ReconciliationStep
    close: Step
    readmission: Readmission | None = None
    previous_id: str | None = Field(None, description="the episode this one follows (a readmission)")
    next_id: str | None = None
    warnings: list[TransitionWarning] = Field(default_factory=list)
    close_reason: CloseReason | None = None
    closed_at: AwareDatetime | None = None
    eligibility: Eligibility | None = Field(None, description="set when it closes")
    opened_by: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    next_due_at: AwareDatetime | None = Field(None, description="the nearest deadline of a step not done")
    days_left: int | None = Field(None, description="local days until next_due_at (negative: overdue)")
    at_risk: list[StepName] = Field(
        default_factory=list,
        description="steps not done that are missed or in the last quarter of their time",
    )

    def steps(self) -> dict[StepName, Step]:
        return {
            StepName.CONTACT: self.contact,
            StepName.VISIT: self.visit,
            StepName.MEDICATION: self.medication,
            StepName.CLOSE: self.close,
        }

    def sort_at(self) -> datetime:
        """The nearest deadline of a step not done (a missed one first): what the open list sorts by."""
        undone = [s.due_at for s in self.steps().values() if s.status is not StepStatus.COMPLETED]
        return min(undone, default=self.close.due_at)

    def as_seen(self, now: datetime, calendar: Calendar) -> TransitionOut:
        """With ``next_due_at``, ``days_left`` and ``at_risk`` as of ``now``."""
        if self.status is EpisodeStatus.CLOSED:
            return self.model_copy(update={"next_due_at": None, "days_left": None, "at_risk": []})
        due = self.sort_at()
        risky = [
            name
            for name, step in self.steps().items()
            if step.status is StepStatus.MISSED
            or (step.status is StepStatus.PENDING and now >= risk_from(self.discharged_at, step.due_at))
        ]
        days = (calendar.local_date(due) - calendar.local_date(now)).days
        return self.model_copy(update={"next_due_at": due, "days_left": days, "at_risk": risky})


# ---------------------------------------------------------------- deadlines


def end_of_day(day: date, calendar: Calendar) -> datetime:
    """``day``'s last instant in the organization's zone: the next local midnight."""
    return datetime.combine(day + timedelta(days=1), time(), calendar.zone).astimezone(UTC)


def close_of_business(day: date, calendar: Calendar) -> datetime:
    """When ``day``'s business hours end (its last window's close), or its end if it has none."""
    intervals = calendar.open_intervals(day)
    return intervals[-1][1] if intervals else end_of_day(day, calendar)


def contact_due(discharge_date: date, calendar: Calendar) -> datetime:
    day = calendar.add_business_days(discharge_date, CONTACT_BUSINESS_DAYS)
    return close_of_business(day, calendar)


def visit_due(discharge_date: date, complexity: Complexity, calendar: Calendar) -> datetime:
    return end_of_day(discharge_date + timedelta(days=VISIT_DAYS[complexity]), calendar)


def reconciliation_due(visit: VisitStep, calendar: Calendar) -> datetime:
    """By the visit's date: the end of the booked (or held) visit's day, or of the window while none
    is booked."""
    if visit.visit_at is not None:
        return end_of_day(calendar.local_date(visit.visit_at), calendar)
    return visit.due_at


def open_episode(
    *,
    episode_id: str,
    patient_id: str,
    discharged_at: datetime,
    complexity: Complexity,
    calendar: Calendar,
    now: datetime,
    opened_by: str,
    **details: object,
) -> TransitionOut:
    """A new episode; ``details``: encounter, partner, class, disposition, owner, previous episode,
    display name (fields of :class:`TransitionOut`)."""
    day0 = calendar.local_date(discharged_at)
    last = day0 + timedelta(days=PERIOD_DAYS - 1)
    visit = VisitStep(
        due_at=visit_due(day0, complexity, calendar),
        booking_due_at=end_of_day(day0 + timedelta(days=BOOKING_CHECK_DAY), calendar),
    )
    return TransitionOut.model_validate(
        {
            "id": episode_id,
            "version": 1,
            "patient_id": patient_id,
            "status": EpisodeStatus.OPEN,
            "complexity": complexity,
            "discharged_at": discharged_at,
            "discharge_date": day0,
            "time_zone": calendar.time_zone,
            "period_ends_on": last,
            "contact": ContactStep(due_at=contact_due(day0, calendar)),
            "visit": visit,
            "medication": ReconciliationStep(due_at=reconciliation_due(visit, calendar)),
            "close": Step(due_at=end_of_day(last, calendar)),
            "opened_by": opened_by,
            "created_at": now,
            "updated_at": now,
            **details,
        }
    )


class Closed(ValueError):
    """The episode is closed: nothing more is recorded on it."""


def _open(episode: TransitionOut) -> None:
    if episode.status is EpisodeStatus.CLOSED:
        raise Closed("closed")


def _done(step: Step, at: datetime, by_id: str | None, *, by_close: bool = False) -> dict[str, object]:
    """Done at ``at``. A day's deadline is its last instant, exclusive (local midnight is the next
    day, as the window and the sweep say); ``by_close``: inclusive, for the contact's close of
    business and the period's end, which the timer closes at that very instant."""
    on_time = at <= step.due_at if by_close else at < step.due_at
    return {"status": StepStatus.COMPLETED, "completed_at": at, "on_time": on_time, "by_id": by_id}


# ---------------------------------------------------------------- what happens to an episode


def record_contact(episode: TransitionOut, attempt: ContactAttempt) -> tuple[TransitionOut, bool]:
    """The episode with ``attempt`` recorded; ``True`` when it completed the contact step: reached,
    or the second unsuccessful attempt inside the window (CMS counts two documented attempts)."""
    _open(episode)
    contact = episode.contact
    attempts = [*contact.attempts, attempt][-MAX_ATTEMPTS:]
    update: dict[str, object] = {"attempts": attempts}
    completes = False
    if contact.status is not StepStatus.COMPLETED:
        tried = [a for a in attempts if not a.reached and a.at <= contact.due_at]
        if attempt.reached:
            update.update(_done(contact, attempt.at, attempt.by_id, by_close=True), met_by="reached")
            completes = True
        elif len(tried) >= ATTEMPTS_THAT_COUNT and attempt.at <= contact.due_at:
            update.update(_done(contact, attempt.at, attempt.by_id, by_close=True), met_by="attempts")
            completes = True
    return _with(episode, contact=contact.model_copy(update=update)), completes


def in_window(episode: TransitionOut, visit_at: datetime) -> bool:
    return episode.discharged_at <= visit_at < episode.visit.due_at


def book_visit(
    episode: TransitionOut,
    appointment_id: str,
    visit_at: datetime,
    now: datetime,
    calendar: Calendar,
    *,
    chosen: bool = False,
) -> tuple[TransitionOut, bool]:
    """The episode with this appointment as its visit when it is the better candidate (none booked,
    or the booked one outside the window and this one inside; the booked one moved). Returns ``True``
    when it met the booking part: a visit inside the window where none was. One outside the window is
    booked with a warning (better late than never). ``chosen``: staff named it, it replaces any."""
    _open(episode)
    visit = episode.visit
    current = visit.appointment_id
    inside = in_window(episode, visit_at)
    if visit.status is StepStatus.COMPLETED or (
        not chosen and current not in (None, appointment_id) and (visit.in_window or not inside)
    ):
        return episode, False
    was_inside = _booked(visit)
    booked = visit.model_copy(
        update={
            "status": StepStatus.MISSED if visit.status is StepStatus.MISSED else StepStatus.BOOKED,
            "appointment_id": appointment_id,
            "visit_at": visit_at,
            "booked_at": visit.booked_at if current == appointment_id else now,
            "in_window": inside,
        }
    )
    warnings = episode.warnings
    if not inside:
        warnings = _warn(warnings, WarningCode.VISIT_OUTSIDE_WINDOW, now, appointment_id)
    return _rereconcile(_with(episode, visit=booked, warnings=warnings), calendar), inside and not was_inside


def unbook_visit(
    episode: TransitionOut, appointment_id: str, code: WarningCode, now: datetime, calendar: Calendar
) -> TransitionOut:
    """The visit's appointment was cancelled or missed: the step waits for another booking."""
    visit = episode.visit
    if (
        episode.status is EpisodeStatus.CLOSED
        or visit.appointment_id != appointment_id
        or visit.status is StepStatus.COMPLETED
    ):
        return episode
    freed = visit.model_copy(
        update={
            "status": StepStatus.MISSED if visit.missed_at is not None else StepStatus.PENDING,
            "appointment_id": None,
            "visit_at": None,
            "booked_at": None,
            "in_window": None,
        }
    )
    updated = _with(episode, visit=freed, warnings=_warn(episode.warnings, code, now, appointment_id))
    return _rereconcile(updated, calendar)


def hold_visit(
    episode: TransitionOut, appointment_id: str, held_at: datetime, by_id: str | None, calendar: Calendar
) -> TransitionOut:
    """The visit took place (its appointment is fulfilled): the step is complete, on time inside the
    window. The reconciliation is now due by the visit's date."""
    _open(episode)
    visit = episode.visit
    if visit.status is StepStatus.COMPLETED:
        return episode
    done = visit.model_copy(
        update={
            **_done(visit, held_at, by_id),
            "appointment_id": appointment_id,
            "visit_at": held_at,
            "in_window": in_window(episode, held_at),
        }
    )
    return _rereconcile(_with(episode, visit=done), calendar)


def reconcile(
    episode: TransitionOut, at: datetime, by_id: str, changes: int | None, note: str | None
) -> TransitionOut:
    """Medication reconciliation done at ``at``. A later one updates what changed and the note; the
    step keeps when it was first met (a follow-up change after the visit does not make it late)."""
    _open(episode)
    med = episode.medication
    first = {} if med.completed_at is not None else _done(med, at, by_id)
    done = med.model_copy(update={**first, "changes": changes, "note": note})
    return _with(episode, medication=done)


def with_complexity(episode: TransitionOut, complexity: Complexity, calendar: Calendar) -> TransitionOut:
    """The visit's window follows the complexity (7 days high, 14 moderate); a visit step missed
    under the shorter window is open again under the longer one."""
    _open(episode)
    visit = episode.visit
    due = visit_due(episode.discharge_date, complexity, calendar)
    update: dict[str, object] = {"due_at": due}
    if visit.visit_at is not None:
        update["in_window"] = episode.discharged_at <= visit.visit_at < due
    if visit.completed_at is not None:
        update["on_time"] = visit.completed_at < due
    if visit.status is StepStatus.MISSED and due > visit.due_at:
        update.update(
            status=StepStatus.BOOKED if visit.appointment_id else StepStatus.PENDING, missed_at=None
        )
    updated = _with(episode, complexity=complexity, visit=visit.model_copy(update=update))
    return _rereconcile(updated, calendar)


def _awaits_booking(visit: VisitStep) -> bool:
    """No visit booked inside the window yet (one outside it does not count), and day 3 not checked."""
    return (
        not _booked(visit)
        and visit.booking_missed_at is None
        and visit.status in (StepStatus.PENDING, StepStatus.BOOKED)
    )


def sweep(episode: TransitionOut, now: datetime) -> tuple[TransitionOut, list[Milestone]]:
    """The deadlines passed by ``now`` marked missed (none while paused), and which."""
    if episode.status is not EpisodeStatus.OPEN:
        return episode, []
    missed: list[Milestone] = []
    contact, visit, med = episode.contact, episode.visit, episode.medication
    if contact.status is StepStatus.PENDING and now >= contact.due_at:
        contact = contact.model_copy(update={"status": StepStatus.MISSED, "missed_at": now})
        missed.append("contact")
    if _awaits_booking(visit) and now >= visit.booking_due_at:
        visit = visit.model_copy(update={"booking_missed_at": now})
        missed.append("visit-booking")
    if visit.status in (StepStatus.PENDING, StepStatus.BOOKED) and now >= visit.due_at:
        visit = visit.model_copy(update={"status": StepStatus.MISSED, "missed_at": now})
        missed.append("visit")
    if med.status is StepStatus.PENDING and now >= med.due_at:
        med = med.model_copy(update={"status": StepStatus.MISSED, "missed_at": now})
        missed.append("medication-reconciliation")
    if not missed:
        return episode, []
    return _with(episode, contact=contact, visit=visit, medication=med), missed


def next_check(episode: TransitionOut) -> datetime | None:
    """When the episode's timer should fire next: its nearest deadline neither done nor missed yet
    (only the period's end while paused); ``None`` once closed."""
    if episode.status is EpisodeStatus.CLOSED:
        return None
    times = [episode.close.due_at]
    if episode.status is EpisodeStatus.OPEN:
        contact, visit, med = episode.contact, episode.visit, episode.medication
        if contact.status is StepStatus.PENDING:
            times.append(contact.due_at)
        if _awaits_booking(visit):
            times.append(visit.booking_due_at)
        if visit.status in (StepStatus.PENDING, StepStatus.BOOKED):
            times.append(visit.due_at)
        if med.status is StepStatus.PENDING:
            times.append(med.due_at)
    return min(times)


def readmit(episode: TransitionOut, admitted_at: datetime, encounter_id: str | None) -> TransitionOut:
    """Back in hospital: recorded, and the episode pauses until the next discharge or day 30."""
    _open(episode)
    return _with(
        episode,
        status=EpisodeStatus.PAUSED,
        readmission=Readmission(admitted_at=admitted_at, encounter_id=encounter_id),
    )


def eligibility(episode: TransitionOut, reason: CloseReason, calendar: Calendar) -> Eligibility:
    """Does the episode qualify for TCM, and for which code; if not, every rule it failed. A high
    complexity episode whose visit came on day 8 to 14 still qualifies for 99495."""
    failures: list[Failure] = []
    contact, visit, med = episode.contact, episode.visit, episode.medication
    if not (contact.status is StepStatus.COMPLETED and contact.on_time):
        failures.append(Failure.CONTACT_LATE)
    held_on = calendar.local_date(visit.completed_at) if visit.completed_at else None
    day = (held_on - episode.discharge_date).days if held_on else None
    if day is None or day > MODERATE_VISIT_DAYS:
        failures.append(Failure.VISIT_LATE)
    by = held_on or calendar.local_date(visit.due_at - timedelta(microseconds=1))
    if med.completed_at is None or calendar.local_date(med.completed_at) > by:
        failures.append(Failure.RECONCILIATION_MISSING)
    if episode.readmission is not None or reason is CloseReason.READMITTED:
        failures.append(Failure.READMITTED)
    if reason in EARLY:
        failures.append(Failure.ENDED_EARLY)
    if failures or day is None:
        return Eligibility(qualifies=False, failures=failures)
    high = episode.complexity is Complexity.HIGH and day <= VISIT_DAYS[Complexity.HIGH]
    return Eligibility(qualifies=True, code=TcmCode.HIGH if high else TcmCode.MODERATE)


EARLY = frozenset({CloseReason.DECLINED, CloseReason.DECEASED, CloseReason.MOVED, CloseReason.OTHER})


def close(
    episode: TransitionOut, reason: CloseReason, now: datetime, by_id: str, calendar: Calendar
) -> TransitionOut:
    """Closed with its outcome; the close step is done."""
    _open(episode)
    return _with(
        episode,
        status=EpisodeStatus.CLOSED,
        close_reason=reason,
        closed_at=now,
        close=episode.close.model_copy(update=_done(episode.close, now, by_id, by_close=True)),
        eligibility=eligibility(episode, reason, calendar),
    )


def _with(episode: TransitionOut, **update: object) -> TransitionOut:
    return episode.model_copy(update=update)


def _warn(
    warnings: list[TransitionWarning], code: WarningCode, at: datetime, appointment_id: str | None
) -> list[TransitionWarning]:
    return [*warnings, TransitionWarning(code=code, at=at, appointment_id=appointment_id)][-MAX_WARNINGS:]


def _rereconcile(episode: TransitionOut, calendar: Calendar) -> TransitionOut:
    """The reconciliation's deadline follows the visit while it is not done."""
    med = episode.medication
    if med.status is not StepStatus.PENDING:
        return episode
    return _with(
        episode, medication=med.model_copy(update={"due_at": reconciliation_due(episode.visit, calendar)})
    )


# ---------------------------------------------------------------- what a change amounts to


def _booked(visit: VisitStep) -> bool:
    return visit.appointment_id is not None and bool(visit.in_window)


def completed(before: TransitionOut, after: TransitionOut) -> list[tuple[Milestone, bool]]:
    """The milestones ``after`` newly met, each with whether on time (its events)."""
    out: list[tuple[Milestone, bool]] = []
    if before.contact.status is not StepStatus.COMPLETED and after.contact.status is StepStatus.COMPLETED:
        out.append(("contact", bool(after.contact.on_time)))
    held = before.visit.status is not StepStatus.COMPLETED and after.visit.status is StepStatus.COMPLETED
    unbooked = before.visit.status is not StepStatus.COMPLETED and not _booked(before.visit)
    if unbooked and (_booked(after.visit) or held):  # a visit held late meets its booking part late
        out.append(("visit-booking", _booked(after.visit) and after.visit.booking_missed_at is None))
    if held:
        out.append(("visit", bool(after.visit.on_time)))
    before_med, after_med = before.medication, after.medication
    if before_med.completed_at is None and after_med.completed_at is not None:
        out.append(("medication-reconciliation", bool(after_med.on_time)))
    return out


# ---------------------------------------------------------------- the report


class TransitionReport(Model):
    """``GET /reports/transitions``: the episodes discharged in ``[from, to]``. A rate counts the
    episodes whose step is decided (done, missed, or the episode closed); ``None`` while none is."""

    first_day: date
    last_day: date
    episodes: int
    open: int
    closed: int
    contact_on_time: int = Field(description="interactive contact within 2 business days (or 2 attempts)")
    contact_rate: float | None
    visit_in_window: int = Field(description="face-to-face visit held within 7 (high) or 14 days")
    visit_rate: float | None
    readmissions: int = Field(description="readmitted within the 30-day period")
    qualifying: dict[TcmCode, int] = Field(description="closed episodes that qualify, by CPT code")
    not_qualifying: dict[Failure, int] = Field(description="closed episodes that do not, by each rule failed")


def report(episodes: list[TransitionOut], first: date, last: date) -> TransitionReport:
    contact_ok = contact_decided = visit_ok = visit_decided = 0
    qualifying = dict.fromkeys(TcmCode, 0)
    failing = dict.fromkeys(Failure, 0)
    closed = readmitted = 0
    for e in episodes:
        done = e.status is EpisodeStatus.CLOSED
        closed += done
        readmitted += e.readmission is not None or e.close_reason is CloseReason.READMITTED
        if done or e.contact.status is not StepStatus.PENDING:
            contact_decided += 1
            contact_ok += e.contact.status is StepStatus.COMPLETED and bool(e.contact.on_time)
        if done or e.visit.status in (StepStatus.COMPLETED, StepStatus.MISSED):
            visit_decided += 1
            visit_ok += e.visit.status is StepStatus.COMPLETED and bool(e.visit.on_time)
        if e.eligibility is not None and e.eligibility.code is not None:
            qualifying[e.eligibility.code] += 1
        for failure in e.eligibility.failures if e.eligibility else []:
            failing[failure] += 1
    return TransitionReport(
        first_day=first,
        last_day=last,
        episodes=len(episodes),
        open=len(episodes) - closed,
        closed=closed,
        contact_on_time=contact_ok,
        contact_rate=round(contact_ok / contact_decided, 4) if contact_decided else None,
        visit_in_window=visit_ok,
        visit_rate=round(visit_ok / visit_decided, 4) if visit_decided else None,
        readmissions=readmitted,
        qualifying=qualifying,
        not_qualifying=failing,
    )
