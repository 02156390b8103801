"""Tasks: the one model of work (FHIR Task's words), and escalations, which are tasks with a clock.

A **task** is a piece of work about a patient (or none): a ``code`` saying what, a description for
staff (never in an event or a log), a ``focus`` (what it is about), an owner or a role queue, a due
time, and its history. Its statuses are FHIR's: ``requested`` → ``accepted`` → ``in-progress`` →
``completed``; ``on-hold`` and back; ``cancelled`` or ``failed`` with a reason.

An **escalation** is a task with a severity and a clock that climbs the organization's ladder (default
coordinator → nurse → physician). The clock runs while the task waits for someone to acknowledge it
(status ``requested``), counted in business hours of the organization's calendar or on the wall clock,
as the rule says; on hold it stops and keeps what is left. When it runs out the task moves to the next
level's queue with a new clock; at the top it stays and is ``breached``.

**Rules** turn events into tasks, one active task per cause (rule + focus): declared per organization
as data (:class:`EscalationPolicy`), defaults below. Everything here is pure: callers pass the time
and the organization's :class:`~shared.domain.calendar.Calendar`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from shared.domain.base import MULTILINE, Model, Strict
from shared.domain.calendar import Calendar
from shared.domain.results import CriticalValue, default_critical_values

MAX_RULES = 50
MAX_LADDER = 5
AT_RISK_SHARE = 4  # within a quarter of its limit, an item is at risk

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$", examples=["left-voicemail"])]
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")]


class TaskStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


OPEN = frozenset({TaskStatus.REQUESTED, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS, TaskStatus.ON_HOLD})


class Priority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


# Worklist order: most pressing first (FHIR's own order, stat > asap > urgent > routine).
RANK = {Priority.STAT: 0, Priority.ASAP: 1, Priority.URGENT: 2, Priority.ROUTINE: 3}


class QueueRole(StrEnum):
    """The roles that have a queue (the rungs a ladder is built from)."""

    COORDINATOR = "coordinator"
    NURSE = "nurse"
    PHYSICIAN = "physician"


class TaskCode(StrEnum):
    """What the work is."""

    CALL_PATIENT = "call-patient"
    CONFIRM_APPOINTMENT = "confirm-appointment"
    RESCHEDULE_APPOINTMENT = "reschedule-appointment"
    BOOK_FOLLOW_UP = "book-follow-up"
    CHASE_REFERRAL = "chase-referral"
    FIX_CONTACT_DETAILS = "fix-contact-details"
    READ_REPLY = "read-reply"
    CONNECT_RESOURCE = "connect-resource"
    SAFETY_CHECK = "safety-check"
    REVIEW_RESULT = "review-result"
    RECONCILE_MEDICATIONS = "reconcile-medications"
    CLOSE_TRANSITION = "close-transition"
    TEACH_BACK = "teach-back"  # teach a material and check understanding
    RE_EDUCATE = "re-educate"  # taught again: the teach-back fell short
    REVIEW_CARE_PLAN = "review-care-plan"
    ANSWER_MESSAGE = "answer-message"
    REVIEW_READING = "review-reading"  # a reading out of range, or a trend, from remote monitoring
    OBTAIN_AUTHORIZATION = "obtain-authorization"  # booked without the payer's approval it needs
    FOLLOW_UP_AUTHORIZATION = "follow-up-authorization"  # the payer's decision is nearly due, or the
    # information it asked for
    RENEW_AUTHORIZATION = "renew-authorization"  # the approval's window or units are nearly used up
    SERVICE_RECOVERY = "service-recovery"  # a patient's low score or flagged answer on a survey
    OTHER = "other"


class FocusType(StrEnum):
    APPOINTMENT = "appointment"
    REFERRAL = "referral"
    ASSESSMENT = "assessment"
    REPLY = "reply"
    TOUCH = "touch"
    RESULT = "result"
    TRANSITION = "transition"
    CARE_PLAN = "care-plan"
    EDUCATION = "education"
    MESSAGE = "message"
    OBSERVATION = "observation"
    AUTHORIZATION = "authorization"
    SURVEY_RESPONSE = "survey-response"


class Focus(Strict):
    """What a task is about (FHIR ``Task.focus``)."""

    type: FocusType
    id: Id


def rule_cause(rule_id: str, focus: Focus, qualifier: str = "") -> str:
    """The cause a rule's task holds while it is open (one open task per cause): the rule, what the
    event is about, and what tells two causes on one focus apart (a social need's domain). An area
    that does the rule's work itself opens its task under the same cause, so the work is done once
    whichever comes first."""
    return f"{rule_id}|{focus.type.value}:{focus.id}|{qualifier}"


class Severity(StrEnum):
    """An escalation's severity (FHIR DetectedIssue.severity's words)."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class ClockKind(StrEnum):
    BUSINESS = "business"  # business hours of the organization's calendar
    WALL = "wall"  # every minute counts


class Action(StrEnum):
    ACCEPT = "accept"
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    COMPLETE = "complete"
    CANCEL = "cancel"
    FAIL = "fail"


# action → (the statuses it may leave, where it goes; resume goes back where the hold came from)
MOVES: dict[Action, tuple[frozenset[TaskStatus], TaskStatus | None]] = {
    Action.ACCEPT: (frozenset({TaskStatus.REQUESTED}), TaskStatus.ACCEPTED),
    Action.START: (frozenset({TaskStatus.REQUESTED, TaskStatus.ACCEPTED}), TaskStatus.IN_PROGRESS),
    Action.HOLD: (OPEN - {TaskStatus.ON_HOLD}, TaskStatus.ON_HOLD),
    Action.RESUME: (frozenset({TaskStatus.ON_HOLD}), None),
    Action.COMPLETE: (OPEN - {TaskStatus.ON_HOLD}, TaskStatus.COMPLETED),
    Action.CANCEL: (OPEN, TaskStatus.CANCELLED),
    Action.FAIL: (frozenset({TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS}), TaskStatus.FAILED),
}


class IllegalMove(Exception):
    def __init__(self, status: TaskStatus, action: Action) -> None:
        super().__init__(f"A task that is {status.value} cannot {action.value}.")
        self.status = status


def next_status(status: TaskStatus, action: Action, held_from: TaskStatus | None) -> TaskStatus:
    """Where ``action`` takes a task that is ``status`` (:class:`IllegalMove` if it may not)."""
    allowed, to = MOVES[action]
    if status not in allowed:
        raise IllegalMove(status, action)
    return to or held_from or TaskStatus.REQUESTED


# ---------------------------------------------------------------- rules and the ladder

Trigger = Literal[
    "AppointmentNoShow",
    "AppointmentUnconfirmed",
    "AppointmentConfirmed",
    "AppointmentCheckedIn",
    "AppointmentArrived",
    "AppointmentFulfilled",
    "AppointmentCancelled",
    "AppointmentRescheduled",
    "ReminderUndeliverable",
    "RescheduleRequested",
    "PatientReplied",
    "ReferralOverdue",
    "ReferralScheduled",
    "ReferralCompleted",
    "ReferralClosed",
    "ReferralCancelled",
    "SocialNeedIdentified",
    "SafetyConcernIdentified",
    "ResultAbnormal",
    "ResultCritical",
    "ResultAcknowledged",
    "TransitionStepMissed",
    "TransitionStepCompleted",
    "TransitionClosed",
    "MessageUrgent",
    "MessageUnanswered",
    "MessageAnswered",
    "ObservationOutOfRange",
    "TrendDetected",
    "MeasurementMissed",
    "AuthorizationOverdue",
    "AuthorizationMoved",
]


class DueIn(Strict):
    """When a rule's task is due: after the event, or ``before_visit`` (of the appointment it is
    about; never before the event)."""

    amount: int = Field(ge=0, le=720)
    unit: Literal["minutes", "hours", "business-hours", "business-days"]
    before_visit: bool = False

    @model_validator(mode="after")
    def _wall_before_visit(self) -> DueIn:
        if self.before_visit and self.unit not in ("minutes", "hours"):
            raise ValueError("before_visit takes minutes or hours")
        return self


class Rule(Strict):
    """One event → one task per cause (this rule and the event's focus)."""

    id: Slug
    on: Trigger
    code: TaskCode
    role: QueueRole = QueueRole.COORDINATOR
    priority: Priority = Priority.ROUTINE
    due: DueIn | None = None
    severity: Severity | None = Field(None, description="set: an escalation, with a clock that climbs")
    clock: ClockKind = ClockKind.BUSINESS
    closed_by: list[Trigger] = Field(
        default_factory=list,
        max_length=10,
        description="events that cancel the open task (resolved-by-event)",
    )
    enabled: bool = True
    match: dict[Slug, Slug] | None = Field(
        None,
        max_length=5,
        description="codes the event must carry to open this rule's task or close it (a closing event "
        'without the field closes it whatever): TransitionStepMissed\'s {"step": "contact"}',
    )
    critical_values: list[CriticalValue] | None = Field(
        None,
        max_length=200,
        description="on ResultCritical only: values that make a result critical whatever the lab flagged",
    )

    @model_validator(mode="after")
    def _not_closed_by_itself(self) -> Rule:
        if self.on in self.closed_by:
            raise ValueError("a rule cannot be closed by the event that opens it")
        if self.critical_values is not None and self.on != "ResultCritical":
            raise ValueError("critical_values belong to a rule on ResultCritical")
        return self


def _default_limits() -> dict[Severity, list[int]]:
    return {Severity.LOW: [480, 480, 960], Severity.MODERATE: [240, 240, 480], Severity.HIGH: [60, 60, 60]}


def _default_ladder() -> list[QueueRole]:
    return [QueueRole.COORDINATOR, QueueRole.NURSE, QueueRole.PHYSICIAN]


def _hours(n: int, *, before: bool = False) -> DueIn:
    return DueIn(amount=n, unit="hours", before_visit=before)


def _days(n: int) -> DueIn:
    return DueIn(amount=n, unit="business-days")


APPOINTMENT_ENDS: list[Trigger] = ["AppointmentCancelled", "AppointmentCheckedIn", "AppointmentArrived"]


def _default_rules() -> list[Rule]:
    return [
        Rule(
            id="no-show",
            on="AppointmentNoShow",
            code=TaskCode.CALL_PATIENT,
            due=_days(1),
            severity=Severity.MODERATE,
        ),
        Rule(
            id="unconfirmed",
            on="AppointmentUnconfirmed",
            code=TaskCode.CONFIRM_APPOINTMENT,
            due=_hours(2, before=True),
            closed_by=["AppointmentConfirmed", "AppointmentRescheduled", *APPOINTMENT_ENDS],
        ),
        Rule(
            id="undeliverable",
            on="ReminderUndeliverable",
            code=TaskCode.FIX_CONTACT_DETAILS,
            due=_days(1),
            severity=Severity.LOW,
        ),
        Rule(
            id="reschedule",
            on="RescheduleRequested",
            code=TaskCode.RESCHEDULE_APPOINTMENT,
            due=_days(1),
            closed_by=["AppointmentRescheduled", *APPOINTMENT_ENDS],
        ),
        Rule(id="reply", on="PatientReplied", code=TaskCode.READ_REPLY, due=_days(1)),
        Rule(
            id="referral-overdue",
            on="ReferralOverdue",
            code=TaskCode.CHASE_REFERRAL,
            due=_days(2),
            severity=Severity.LOW,
            closed_by=["ReferralScheduled", "ReferralCompleted", "ReferralClosed", "ReferralCancelled"],
        ),
        Rule(id="social-need", on="SocialNeedIdentified", code=TaskCode.CONNECT_RESOURCE, due=_days(3)),
        Rule(
            id="safety-concern",
            on="SafetyConcernIdentified",
            code=TaskCode.SAFETY_CHECK,
            role=QueueRole.NURSE,
            priority=Priority.URGENT,
            due=_hours(1),
            severity=Severity.HIGH,
            clock=ClockKind.WALL,
        ),
        Rule(
            id="abnormal-result",
            on="ResultAbnormal",
            code=TaskCode.REVIEW_RESULT,
            role=QueueRole.NURSE,
            due=_days(1),
            closed_by=["ResultAcknowledged"],
        ),
        Rule(
            id="critical-result",
            on="ResultCritical",
            code=TaskCode.REVIEW_RESULT,
            role=QueueRole.PHYSICIAN,
            priority=Priority.STAT,
            due=DueIn(amount=30, unit="minutes"),
            severity=Severity.HIGH,
            clock=ClockKind.WALL,
            closed_by=["ResultAcknowledged"],
            critical_values=default_critical_values(),
        ),
        *_transition_rules(),
        *_records_rules(),
    ]


TRANSITION_ENDS: list[Trigger] = ["TransitionStepCompleted", "TransitionClosed"]


def _transition_rules() -> list[Rule]:
    """A transition step's deadline missed (see shared/domain/transitions.py): the contact to the
    coordinators, then up the ladder; a visit not booked by day 3 to the coordinators; a visit or a
    reconciliation missed to the nurses. Each closes when its step is done, or the episode closes."""
    return [
        Rule(
            id="transition-contact-missed",
            on="TransitionStepMissed",
            match={"step": "contact"},
            code=TaskCode.CALL_PATIENT,
            priority=Priority.URGENT,
            due=_hours(4),
            severity=Severity.MODERATE,
            closed_by=TRANSITION_ENDS,
        ),
        Rule(
            id="transition-visit-unbooked",
            on="TransitionStepMissed",
            match={"step": "visit-booking"},
            code=TaskCode.BOOK_FOLLOW_UP,
            due=_days(1),
            severity=Severity.LOW,
            closed_by=TRANSITION_ENDS,
        ),
        Rule(
            id="transition-visit-missed",
            on="TransitionStepMissed",
            match={"step": "visit"},
            code=TaskCode.BOOK_FOLLOW_UP,
            role=QueueRole.NURSE,
            priority=Priority.URGENT,
            due=_days(1),
            severity=Severity.MODERATE,
            closed_by=TRANSITION_ENDS,
        ),
        Rule(
            id="transition-reconciliation-missed",
            on="TransitionStepMissed",
            match={"step": "medication-reconciliation"},
            code=TaskCode.RECONCILE_MEDICATIONS,
            role=QueueRole.NURSE,
            due=_days(1),
            severity=Severity.LOW,
            closed_by=TRANSITION_ENDS,
        ),
    ]


def _records_rules() -> list[Rule]:
    """A patient message with an urgent word to the nurses at once; one waiting past the organization's
    response time to the coordinators (both close when staff answer it). A reading out of range or a
    trend to the nurses (a critical bound makes the task urgent: the event says so); a measurement a
    plan expects that stopped coming to the coordinators."""
    return [
        Rule(
            id="urgent-message",
            on="MessageUrgent",
            code=TaskCode.ANSWER_MESSAGE,
            role=QueueRole.NURSE,
            priority=Priority.URGENT,
            due=DueIn(amount=30, unit="minutes"),
            severity=Severity.HIGH,
            clock=ClockKind.WALL,
            closed_by=["MessageAnswered"],
        ),
        Rule(
            id="message-unanswered",
            on="MessageUnanswered",
            code=TaskCode.ANSWER_MESSAGE,
            due=_hours(4),
            severity=Severity.LOW,
            closed_by=["MessageAnswered"],
        ),
        Rule(
            id="reading-out-of-range",
            on="ObservationOutOfRange",
            code=TaskCode.REVIEW_READING,
            role=QueueRole.NURSE,
            due=_hours(4),
            severity=Severity.MODERATE,
        ),
        Rule(
            id="reading-trend",
            on="TrendDetected",
            code=TaskCode.REVIEW_READING,
            role=QueueRole.NURSE,
            due=_hours(4),
            severity=Severity.MODERATE,
        ),
        Rule(id="measurement-missed", on="MeasurementMissed", code=TaskCode.CALL_PATIENT, due=_days(1)),
        # the payer's decision (or the information it asked for) is late: chase it today; any move of
        # the authorization (decided, information given, cancelled) resolves it
        Rule(
            id="authorization-overdue",
            on="AuthorizationOverdue",
            code=TaskCode.FOLLOW_UP_AUTHORIZATION,
            priority=Priority.URGENT,
            due=_hours(4),
            severity=Severity.MODERATE,
            closed_by=["AuthorizationMoved"],
        ),
    ]


class EscalationPolicy(Strict):
    """``PUT /escalation-rules``: the ladder, its limits and the rules (defaults until an admin writes
    one). ``limits``: minutes per level of the ladder, for each severity."""

    ladder: list[QueueRole] = Field(default_factory=_default_ladder, min_length=1, max_length=MAX_LADDER)
    limits: dict[Severity, list[Annotated[int, Field(ge=1, le=60 * 24 * 30)]]] = Field(
        default_factory=_default_limits,
        description="per severity, the minutes each level of the ladder has to acknowledge",
    )
    rules: list[Rule] = Field(default_factory=_default_rules, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _consistent(self) -> EscalationPolicy:
        if len(set(self.ladder)) != len(self.ladder):
            raise ValueError("a role appears once in the ladder")
        if set(self.limits) != set(Severity):
            raise ValueError("limits name every severity: " + ", ".join(s.value for s in Severity))
        if any(len(minutes) != len(self.ladder) for minutes in self.limits.values()):
            raise ValueError("each severity has one limit per level of the ladder")
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids are unique")
        for rule in self.rules:
            if rule.severity is not None and rule.role not in self.ladder:
                raise ValueError(f"rule {rule.id}: an escalation starts on a rung of the ladder")
        return self

    def rules_on(self, trigger: str, detail: Mapping[str, object] | None = None) -> list[Rule]:
        return [r for r in self.rules if r.enabled and r.on == trigger and _matches(r, detail or {}, False)]

    def rules_closed_by(self, trigger: str, detail: Mapping[str, object] | None = None) -> list[Rule]:
        return [r for r in self.rules if trigger in r.closed_by and _matches(r, detail or {}, True)]

    def critical_values(self) -> list[CriticalValue]:
        """The critical values the enabled ResultCritical rules name."""
        return [v for r in self.rules_on("ResultCritical") for v in r.critical_values or []]


def _matches(rule: Rule, detail: Mapping[str, object], closing: bool) -> bool:
    """Does the event carry the codes the rule's ``match`` names? A closing event that lacks a field
    (an episode's close names no step) matches whatever the rule names for it."""
    return all(
        detail.get(field) == value or (closing and field not in detail)
        for field, value in (rule.match or {}).items()
    )


class EscalationPolicyOut(EscalationPolicy):
    version: int = 0


# ---------------------------------------------------------------- clocks


def add(clock: ClockKind, calendar: Calendar, start: datetime, minutes: int) -> datetime:
    if clock is ClockKind.BUSINESS:
        return calendar.add_business_minutes(start, minutes)
    return start.astimezone(UTC) + timedelta(minutes=minutes)


def minutes_between(clock: ClockKind, calendar: Calendar, start: datetime, end: datetime) -> int:
    if clock is ClockKind.BUSINESS:
        return calendar.business_minutes_between(start, end)
    return max(0, int((end - start).total_seconds() // 60))


def due_at(due: DueIn, now: datetime, calendar: Calendar, visit: datetime | None) -> datetime:
    """A rule's due time for an event at ``now``. Business days keep the local wall time (due in one
    business day from Friday 16:00 is Monday 16:00); before a visit, never earlier than now."""
    now = minute_of(now)
    if due.unit == "business-days":
        local = now.astimezone(calendar.zone)
        day = calendar.add_business_days(local.date(), due.amount)
        return datetime.combine(day, local.time().replace(tzinfo=None), calendar.zone).astimezone(UTC)
    if due.unit == "business-hours":
        return calendar.add_business_minutes(now, due.amount * 60)
    span = timedelta(minutes=due.amount) if due.unit == "minutes" else timedelta(hours=due.amount)
    if due.before_visit and visit is not None:
        return max(now, visit.astimezone(UTC) - span)
    return now + span


def minute_of(at: datetime) -> datetime:
    """Clocks count whole minutes (Scheduler fires to the minute): one started at 16:00:40 started at
    16:00, so its deadline and its timer fall on the same minute."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def risk_from(start: datetime, end: datetime) -> datetime:
    """When a task due at ``end``, set at ``start``, is at risk: the last quarter of its time."""
    return end - (end - start) / AT_RISK_SHARE


class EscalationOut(Model):
    """An escalation's state. ``deadline_at``: when this level's clock runs out (none while it is
    stopped: acknowledged, on hold or breached); ``remaining_minutes``: what a hold kept."""

    severity: Severity
    clock: ClockKind
    ladder: list[QueueRole]
    limits: list[int] = Field(description="minutes per level, from the policy when it was raised")
    level: int = Field(ge=0, description="0 = the first rung")
    deadline_at: AwareDatetime | None = None
    at_risk_at: AwareDatetime | None = None
    remaining_minutes: int | None = None
    acknowledged_at: AwareDatetime | None = None
    breached: bool = False

    @property
    def role(self) -> QueueRole:
        return self.ladder[self.level]

    @property
    def limit(self) -> int:
        return self.limits[self.level]

    @property
    def running(self) -> bool:
        return self.deadline_at is not None


def raise_escalation(
    severity: Severity,
    clock: ClockKind,
    policy: EscalationPolicy,
    role: QueueRole,
    now: datetime,
    calendar: Calendar,
) -> EscalationOut:
    """A new escalation on ``role``'s rung, its clock started at ``now``."""
    level = policy.ladder.index(role)
    started = EscalationOut(
        severity=severity,
        clock=clock,
        ladder=list(policy.ladder),
        limits=list(policy.limits[severity]),
        level=level,
    )
    return run_for(started, started.limit, now, calendar)


def run_for(escalation: EscalationOut, minutes: int, now: datetime, calendar: Calendar) -> EscalationOut:
    """The clock (re)started at ``now`` with ``minutes`` left of this level's limit."""
    now = minute_of(now)
    deadline = add(escalation.clock, calendar, now, minutes)
    quarter = escalation.limit // AT_RISK_SHARE
    at_risk = add(escalation.clock, calendar, now, minutes - quarter) if minutes > quarter else now
    return escalation.model_copy(
        update={"deadline_at": deadline, "at_risk_at": min(at_risk, deadline), "remaining_minutes": None}
    )


def pause(escalation: EscalationOut, now: datetime, calendar: Calendar) -> EscalationOut:
    """On hold: the clock stops and keeps what is left."""
    if escalation.deadline_at is None:
        return escalation
    left = minutes_between(escalation.clock, calendar, minute_of(now), escalation.deadline_at)
    return escalation.model_copy(update={"deadline_at": None, "at_risk_at": None, "remaining_minutes": left})


def resume(escalation: EscalationOut, now: datetime, calendar: Calendar) -> EscalationOut:
    """Back from hold, unacknowledged: the clock restarts with the time it kept."""
    if escalation.remaining_minutes is None:
        return escalation
    return run_for(escalation, escalation.remaining_minutes, now, calendar)


def acknowledge(escalation: EscalationOut, now: datetime) -> EscalationOut:
    """Someone took it: the clock stops for good."""
    if escalation.acknowledged_at is not None:
        return escalation
    return escalation.model_copy(
        update={"deadline_at": None, "at_risk_at": None, "remaining_minutes": None, "acknowledged_at": now}
    )


def climb(escalation: EscalationOut, now: datetime, calendar: Calendar) -> EscalationOut:
    """Its clock ran out: up one rung with a new clock, or, at the top, stay and be breached."""
    if escalation.level + 1 < len(escalation.ladder):
        up = escalation.model_copy(update={"level": escalation.level + 1})
        return run_for(up, up.limit, now, calendar)
    return escalation.model_copy(update={"deadline_at": None, "at_risk_at": None, "breached": True})


# ---------------------------------------------------------------- the task itself


class Outcome(Strict):
    """What came of a task: a code (``reached``, ``left-voicemail``, ``booked``...) and a note."""

    code: Slug
    note: str | None = Field(None, max_length=2000, json_schema_extra=MULTILINE)


class TaskIn(Strict):
    """``POST /tasks``: work made by hand. Without ``owner_id`` it waits in ``role``'s queue."""

    code: TaskCode
    description: str | None = Field(None, max_length=2000, json_schema_extra=MULTILINE)
    patient_id: Id | None = None
    focus: Focus | None = None
    owner_id: Id | None = None
    role: QueueRole = QueueRole.COORDINATOR
    priority: Priority = Priority.ROUTINE
    due_at: AwareDatetime | None = None
    business_status: Slug | None = None
    severity: Severity | None = Field(None, description="set: an escalation whose clock climbs the ladder")
    clock: ClockKind = Field(ClockKind.BUSINESS, description="an escalation's clock: business hours or wall")


class TaskPatch(Strict):
    """``PATCH /tasks/{id}`` (If-Match): what staff may change on an open task; ``owner_id: null``
    puts it back in its role's queue."""

    description: str | None = Field(None, max_length=2000, json_schema_extra=MULTILINE)
    priority: Priority | None = None
    due_at: AwareDatetime | None = None
    owner_id: Id | None = None
    role: QueueRole | None = None
    business_status: Slug | None = None


class TaskActionIn(Strict):
    """``complete`` needs an ``outcome``; ``cancel`` and ``fail`` a ``reason`` (a code)."""

    outcome: Outcome | None = None
    reason: Slug | None = None
    note: str | None = Field(None, max_length=2000, json_schema_extra=MULTILINE)


class HistoryEntry(Model):
    at: AwareDatetime
    actor_id: str
    action: str = Field(description="created, edited, an action, escalated, breached or resolved-by-event")
    from_status: TaskStatus | None = None
    to_status: TaskStatus
    role: QueueRole
    owner_id: str | None = None
    level: int | None = None


class TaskOut(Model):
    id: str
    version: int
    code: TaskCode
    description: str | None = None
    status: TaskStatus
    business_status: str | None = None
    status_reason: str | None = None
    outcome: Outcome | None = None
    priority: Priority
    patient_id: str | None = None
    patient_name: str | None = Field(None, description="the patient's display name when the task was made")
    focus: Focus | None = None
    owner_id: str | None = None
    role: QueueRole
    due_at: AwareDatetime | None = None
    at_risk_at: AwareDatetime | None = None
    rule_id: str | None = None
    escalation: EscalationOut | None = None
    held_from: TaskStatus | None = None
    created_at: AwareDatetime
    created_by: str
    updated_at: AwareDatetime
    at_risk: bool = Field(False, description="open, and within the last quarter of its time")
    overdue: bool = Field(False, description="open, and past its due time")
    breached: bool = Field(False, description="an escalation past its limit at the top of the ladder")

    def sort_at(self) -> datetime | None:
        """The earliest clock on it: its due time or its escalation's deadline."""
        times = [t for t in (self.due_at, self.escalation.deadline_at if self.escalation else None) if t]
        return min(times) if times else None

    def as_seen(self, now: datetime) -> TaskOut:
        """With ``at_risk``, ``overdue`` and ``breached`` as of ``now``."""
        open_ = self.status in OPEN
        esc = self.escalation
        risks = [t for t in (self.at_risk_at, esc.at_risk_at if esc else None) if t]
        return self.model_copy(
            update={
                "at_risk": open_ and any(now >= t for t in risks),
                "overdue": open_ and self.due_at is not None and now >= self.due_at,
                "breached": open_ and esc is not None and esc.breached,
            }
        )


class TaskWithHistory(TaskOut):
    history: list[HistoryEntry] = Field(default_factory=list)


# ---------------------------------------------------------------- moves of a task


class MissingDetail(ValueError):
    """An action without what it needs (complete without an outcome, cancel without a reason)."""


def act(
    task: TaskOut, action: Action, actor_id: str, body: TaskActionIn | None, now: datetime, calendar: Calendar
) -> TaskOut:
    """``task`` after ``action`` by ``actor_id`` (:class:`IllegalMove`, :class:`MissingDetail`).

    Anything but a hold acknowledges an escalation and stops its clock for good; a hold of a task
    nobody has acknowledged pauses it, and resuming it restarts it with the time left. Accepting a
    task from a queue makes it the caller's own."""
    to = next_status(task.status, action, task.held_from)
    body = body or TaskActionIn()
    if action is Action.COMPLETE and body.outcome is None:
        raise MissingDetail("outcome")
    if action in (Action.CANCEL, Action.FAIL) and body.reason is None:
        raise MissingDetail("reason")
    update: dict[str, object] = {"status": to, "updated_at": now}
    if action is Action.HOLD:
        update["held_from"] = task.status
    elif action is Action.RESUME:
        update["held_from"] = None
    if action is Action.COMPLETE:
        update["outcome"] = body.outcome
    if action in (Action.CANCEL, Action.FAIL, Action.HOLD) and body.reason is not None:
        update["status_reason"] = body.reason
    if action in (Action.ACCEPT, Action.START) and task.owner_id is None:
        update["owner_id"] = actor_id
    esc = task.escalation
    if esc is not None:
        if to is TaskStatus.ON_HOLD and task.status is TaskStatus.REQUESTED:
            esc = pause(esc, now, calendar)
        elif to is TaskStatus.REQUESTED:
            esc = resume(esc, now, calendar)
        elif to is not TaskStatus.ON_HOLD:
            esc = acknowledge(esc, now)
        update["escalation"] = esc
    return task.model_copy(update=update)


def climbed(task: TaskOut, now: datetime, calendar: Calendar) -> TaskOut | None:
    """The task after its escalation's clock fired at ``now``, or ``None`` when the clock no longer
    applies (acknowledged, on hold, closed, moved later, already at the top)."""
    esc = task.escalation
    if (
        task.status is not TaskStatus.REQUESTED
        or esc is None
        or esc.deadline_at is None
        or now < esc.deadline_at
    ):
        return None
    up = climb(esc, now, calendar)
    update: dict[str, object] = {"escalation": up, "updated_at": now}
    if up.level != esc.level:
        update.update(role=up.role, owner_id=None)
    return task.model_copy(update=update)


def resolved(task: TaskOut, now: datetime) -> TaskOut:
    """Cancelled because what it was about resolved itself (the appointment got confirmed)."""
    esc = acknowledge(task.escalation, now) if task.escalation else None
    return task.model_copy(
        update={
            "status": TaskStatus.CANCELLED,
            "status_reason": "resolved-by-event",
            "escalation": esc,
            "updated_at": now,
        }
    )
