"""Care plans (FHIR CarePlan, Condition, Goal) and the protocols (FHIR PlanDefinition) that stamp them.

A **plan** is a patient's problems, the goals that answer them (a measure and target, a due date,
FHIR's lifecycle and achievement statuses) and the **activities** that get there: an appointment to
book, a referral, an education item, a task, a measurement to take on a schedule. Each activity is
linked to what carries it out, and moves with it:

- appointment: a booking of the activity's appointment type (any route) is linked by itself, the
  earliest-due activity first → ``scheduled``; the visit held → ``completed``; cancelled or a no-show
  → ``not-started`` again (and the booking task opens again);
- referral: the referral is made with the plan (a draft for staff to send); scheduled, unscheduled
  (its visit cancelled), completed and cancelled follow it;
- education: the material is assigned → ``scheduled``; a teach-back short of understood →
  ``in-progress``; understood → ``completed``;
- task: its task completed → ``completed``, cancelled → ``cancelled``;
- measurement: ``in-progress`` while the plan runs, ``completed`` with it.

A plan's status follows FHIR (``draft → active ⇄ on-hold → completed | revoked``). What an activity
needs (its task, referral or assignment) is made when the plan becomes active, once: an activity that
holds its link is never made again. Ending a plan cancels every activity not done.

A **template** (``PUT /care-plan-templates/{code}``) has the same parts with times relative to the
plan's start: an activity is due ``within_days`` of it ("follow-up visit within 14 days", "teach
inhaler use in week 1": 7). Dates are the organization's; a task's deadline is the close of business
of the last business day on or before its activity's due date.

Everything here is pure: callers pass the time, the calendar and new ids.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from shared.domain.base import MULTILINE, Code, Model, Strict, Ulid
from shared.domain.calendar import Calendar, Day
from shared.domain.codes import ClinicalCode, CodeSystem
from shared.domain.monitoring import Frequency
from shared.domain.screening import Domain
from shared.domain.tasks import Id, QueueRole, TaskCode

MAX_PROBLEMS = 30
MAX_GOALS = 30
# what becoming active makes for every activity (a task is 4 items, an assignment and its teaching
# task 6) is one transaction, whose limit is 100 items
MAX_ACTIVITIES = 12
MAX_CARE_TEAM = 20
MAX_HISTORY = 50
DEFAULT_REVIEW_DAYS = 90
MAX_DAYS = 366
BOOKING_BUSINESS_DAYS = 2  # a visit to book: the booking task is due in 2 business days (or its due date)

Text = Annotated[str, Field(min_length=1, max_length=300)]
Note = Annotated[str, Field(min_length=1, max_length=2000, json_schema_extra=MULTILINE)]
Offset = Annotated[int, Field(ge=0, le=MAX_DAYS)]


class PlanStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ON_HOLD = "on-hold"
    REVOKED = "revoked"
    COMPLETED = "completed"


MOVES: dict[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.DRAFT: frozenset({PlanStatus.ACTIVE, PlanStatus.REVOKED}),
    PlanStatus.ACTIVE: frozenset({PlanStatus.ON_HOLD, PlanStatus.COMPLETED, PlanStatus.REVOKED}),
    PlanStatus.ON_HOLD: frozenset({PlanStatus.ACTIVE, PlanStatus.COMPLETED, PlanStatus.REVOKED}),
    PlanStatus.REVOKED: frozenset(),
    PlanStatus.COMPLETED: frozenset(),
}
LIVE = frozenset({PlanStatus.ACTIVE, PlanStatus.ON_HOLD})
ENDED = frozenset({PlanStatus.COMPLETED, PlanStatus.REVOKED})


class Category(StrEnum):
    CHRONIC_CONDITION = "chronic-condition"
    POST_DISCHARGE = "post-discharge"
    SOCIAL_NEEDS = "social-needs"
    PREVENTIVE = "preventive"
    BEHAVIORAL_HEALTH = "behavioral-health"


class ClinicalStatus(StrEnum):
    ACTIVE = "active"
    RECURRENCE = "recurrence"
    RELAPSE = "relapse"
    INACTIVE = "inactive"
    REMISSION = "remission"
    RESOLVED = "resolved"


class GoalLifecycle(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    ACHIEVED = "achieved"
    CANCELLED = "cancelled"


class Achievement(StrEnum):
    IN_PROGRESS = "in-progress"
    IMPROVING = "improving"
    WORSENING = "worsening"
    ACHIEVED = "achieved"
    NOT_ACHIEVED = "not-achieved"


class ActivityKind(StrEnum):
    APPOINTMENT = "appointment"
    REFERRAL = "referral"
    EDUCATION = "education"
    TASK = "task"
    MEASUREMENT = "measurement"


class ActivityStatus(StrEnum):
    NOT_STARTED = "not-started"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


DONE = frozenset({ActivityStatus.COMPLETED, ActivityStatus.CANCELLED})


class IllegalChange(ValueError):
    """Not a move the plan (or its part) can make from where it is: a 409."""


# ---------------------------------------------------------------- parts


class Target(Strict):
    """What counts as reaching a goal: a measure compared with a value (HbA1c < 7 %), or in words
    ("within 2 lb of dry weight")."""

    measure: ClinicalCode | None = Field(None, description="a LOINC code")
    comparator: Literal["<", "<=", ">", ">=", "="] | None = None
    value: float | None = Field(None, ge=-1e6, le=1e6)
    unit: str | None = Field(None, max_length=20, pattern=r"^[^\s]+$", description="UCUM, e.g. %, mmol/L")
    detail: Text | None = Field(None, description="the target in words, when it is not one number")

    @model_validator(mode="after")
    def _complete(self) -> Target:
        if (self.comparator is None) != (self.value is None):
            raise ValueError("a comparator and a value go together")
        if self.value is None and self.detail is None:
            raise ValueError("give a comparator and value, or a detail")
        if self.measure is not None and self.measure.system is not CodeSystem.LOINC:
            raise ValueError("a measure is a LOINC code")
        return self

    def words(self) -> str:
        """The target as a patient reads it: ``HbA1c < 7 %``, or its detail."""
        if self.value is None:
            return self.detail or ""
        name = self.measure.display if self.measure and self.measure.display else "Result"
        unit = f" {self.unit}" if self.unit else ""
        return f"{name} {self.comparator} {self.value:g}{unit}"


class PlanProblemIn(Strict):
    code: ClinicalCode = Field(description="SNOMED CT or ICD-10-CM")
    clinical_status: ClinicalStatus = ClinicalStatus.ACTIVE
    note: Note | None = Field(None, description="staff only")

    @model_validator(mode="after")
    def _system(self) -> PlanProblemIn:
        if self.code.system is CodeSystem.LOINC:
            raise ValueError("a problem is coded in SNOMED CT or ICD-10-CM")
        return self


class PlanProblem(PlanProblemIn):
    id: str
    source: str | None = Field(None, description="what added it: `assessment:<id>:<domain>`")


class PlanProblemPatch(Strict):
    clinical_status: ClinicalStatus | None = Field(None, description="e.g. resolved once the need is met")
    note: Note | None = Field(None, description="staff only")


class GoalIn(Strict):
    description: Text = Field(description="in words the patient reads")
    target: Target | None = None
    due_date: Day | None = None
    lifecycle_status: Literal[GoalLifecycle.PROPOSED, GoalLifecycle.ACTIVE] = GoalLifecycle.ACTIVE
    addresses: list[str] = Field(default_factory=list, max_length=MAX_PROBLEMS, description="problem ids")


class Goal(Model):
    id: str
    description: str
    target: Target | None = None
    due_date: date | None = None
    lifecycle_status: GoalLifecycle
    achievement_status: Achievement = Achievement.IN_PROGRESS
    addresses: list[str] = Field(default_factory=list)
    achieved_at: datetime | None = None


class GoalPatch(Strict):
    description: Text | None = None
    target: Target | None = None
    due_date: Day | None = None
    lifecycle_status: GoalLifecycle | None = None
    achievement_status: Achievement | None = None


class _ActivityBase(Strict):
    """What an activity is; the field its kind needs, and no other kind's."""

    kind: ActivityKind
    title: Text = Field(description="in words the patient reads: what to do")
    appointment_type: Code | None = Field(None, description="appointment: the type to book")
    specialty: Code | None = Field(None, description="referral: where to")
    material: Code | None = Field(None, description="education: the catalog's material")
    task_code: TaskCode | None = Field(None, description="task: its code")
    role: QueueRole = Field(QueueRole.COORDINATOR, description="task and education: whose queue")
    measure: ClinicalCode | None = Field(None, description="measurement: a LOINC code")
    frequency: Frequency | None = Field(None, description="measurement: how often")

    @model_validator(mode="after")
    def _fits_kind(self) -> _ActivityBase:
        needs = {
            ActivityKind.APPOINTMENT: ("appointment_type",),
            ActivityKind.REFERRAL: ("specialty",),
            ActivityKind.EDUCATION: ("material",),
            ActivityKind.TASK: ("task_code",),
            ActivityKind.MEASUREMENT: ("measure", "frequency"),
        }
        for kind, fields in needs.items():
            for name in fields:
                given = getattr(self, name) is not None
                if given != (kind is self.kind):
                    raise ValueError(f"{name} is for a {kind.value} activity, and it needs one")
        if self.measure is not None and self.measure.system is not CodeSystem.LOINC:
            raise ValueError("a measure is a LOINC code")
        return self


class ActivityIn(_ActivityBase):
    due_date: Day | None = None
    goal_ids: list[str] = Field(default_factory=list, max_length=MAX_GOALS)
    note: Note | None = Field(None, description="staff only")


class Activity(ActivityIn):
    id: str
    status: ActivityStatus = ActivityStatus.NOT_STARTED
    appointment_id: str | None = None
    referral_id: str | None = None
    assignment_id: str | None = None
    task_id: str | None = Field(None, description="the task that carries it (booking, teaching, the task)")
    completed_at: datetime | None = None


class ActivityPatch(Strict):
    status: (
        Literal[
            ActivityStatus.ON_HOLD,
            ActivityStatus.NOT_STARTED,
            ActivityStatus.COMPLETED,
            ActivityStatus.CANCELLED,
        ]
        | None
    ) = Field(None, description="by hand: hold, resume (not-started), complete or cancel")
    appointment_id: Ulid | None = Field(None, description="appointment: link this booking of the patient's")
    due_date: Day | None = None
    note: Note | None = None


# ---------------------------------------------------------------- the plan


class CarePlanIn(Strict):
    """``POST /patients/{id}/care-plans``: by hand, or from a ``template`` (whose parts come first)."""

    template: Code | None = Field(None, description="a protocol's code: its parts, dates from `start`")
    title: Text | None = None
    category: Category | None = None
    status: Literal[PlanStatus.DRAFT, PlanStatus.ACTIVE] = PlanStatus.ACTIVE
    start: Day | None = Field(None, description="default today (the organization's zone)")
    end: Day | None = None
    review_date: Day | None = Field(None, description=f"default {DEFAULT_REVIEW_DAYS} days after the start")
    care_team: list[Id] = Field(default_factory=list, max_length=MAX_CARE_TEAM, description="staff ids")
    problems: list[PlanProblemIn] = Field(default_factory=list, max_length=MAX_PROBLEMS)
    goals: list[GoalIn] = Field(default_factory=list, max_length=MAX_GOALS)
    activities: list[ActivityIn] = Field(default_factory=list, max_length=MAX_ACTIVITIES)
    note: Note | None = Field(None, description="staff only")

    @model_validator(mode="after")
    def _named(self) -> CarePlanIn:
        if self.template is None and (self.title is None or self.category is None):
            raise ValueError("give a template, or a title and a category")
        return self


class PlanChange(Model):
    version: int
    at: datetime
    by: str
    action: str
    status: PlanStatus


class CarePlanOut(Model):
    id: str
    version: int
    patient_id: str
    title: str
    category: Category
    status: PlanStatus
    start: date
    end: date | None = None
    review_date: date
    author_id: str
    care_team: list[str] = Field(default_factory=list)
    template: str | None = None
    template_version: int | None = None
    problems: list[PlanProblem] = Field(default_factory=list)
    goals: list[Goal] = Field(default_factory=list)
    activities: list[Activity] = Field(default_factory=list)
    note: str | None = None
    reviewed_at: datetime | None = None
    review_task_id: str | None = None
    screens_add_here: bool = Field(False, description="the social-needs plan positive screens add to")
    created_at: datetime
    updated_at: datetime
    history: list[PlanChange] = Field(default_factory=list, description=f"the last {MAX_HISTORY} changes")

    def activity(self, activity_id: str) -> Activity | None:
        return next((a for a in self.activities if a.id == activity_id), None)


class CarePlanPatch(Strict):
    title: Text | None = None
    status: PlanStatus | None = None
    end: Day | None = None
    review_date: Day | None = None
    care_team: list[Id] | None = Field(None, max_length=MAX_CARE_TEAM)
    note: Note | None = None


class ReviewIn(Strict):
    next_review_date: Day | None = Field(None, description=f"default {DEFAULT_REVIEW_DAYS} days from today")
    note: Note | None = Field(None, description="staff only")


# ---------------------------------------------------------------- what the patient reads


class PatientGoal(Model):
    description: str
    target: str | None = None
    due_date: date | None = None
    status: Achievement


class PatientActivity(Model):
    kind: ActivityKind
    title: str
    status: ActivityStatus
    due_date: date | None = None
    appointment_id: str | None = None
    assignment_id: str | None = None


class CarePlanPatientView(Model):
    """A plan as its patient reads it: goals, activities and what is next, in the words staff wrote
    for them. Never the notes, the problems' codes, the care team's ids or the review bookkeeping."""

    id: str
    title: str
    category: Category
    status: PlanStatus
    start: date
    end: date | None = None
    goals: list[PatientGoal]
    activities: list[PatientActivity]
    next: PatientActivity | None = Field(None, description="the open activity due first")

    @classmethod
    def of(cls, plan: CarePlanOut) -> CarePlanPatientView:
        goals = [
            PatientGoal(
                description=g.description,
                target=g.target.words() if g.target else None,
                due_date=g.due_date,
                status=g.achievement_status,
            )
            for g in plan.goals
            if g.lifecycle_status is not GoalLifecycle.CANCELLED
        ]
        activities = [
            PatientActivity(
                kind=a.kind,
                title=a.title,
                status=a.status,
                due_date=a.due_date,
                appointment_id=a.appointment_id,
                assignment_id=a.assignment_id,
            )
            for a in plan.activities
            if a.status is not ActivityStatus.CANCELLED
        ]
        waiting = [a for a in activities if a.status not in DONE]
        ordered = sorted(waiting, key=lambda a: (a.due_date is None, a.due_date or date.max))
        return cls(
            id=plan.id,
            title=plan.title,
            category=plan.category,
            status=plan.status,
            start=plan.start,
            end=plan.end,
            goals=goals,
            activities=activities,
            next=ordered[0] if ordered else None,
        )


# ---------------------------------------------------------------- templates (protocols)


class CarePlanTemplateGoal(GoalIn):
    due_after_days: Offset | None = Field(None, description="due this many days after the start")
    addresses: list[str] = Field(default_factory=list, max_length=0, description="unused in a template")


class CarePlanTemplateActivity(_ActivityBase):
    within_days: Offset | None = Field(None, description="due this many days after the start")
    goals: list[Annotated[int, Field(ge=0, lt=MAX_GOALS)]] = Field(
        default_factory=list, max_length=MAX_GOALS, description="the template's goals it serves (index)"
    )


class CarePlanTemplateIn(Strict):
    """``PUT /care-plan-templates/{code}``: a protocol."""

    title: Text
    category: Category
    description: Note | None = None
    duration_days: Offset | None = Field(None, description="the plan's end, this many days after its start")
    review_after_days: int = Field(DEFAULT_REVIEW_DAYS, ge=1, le=MAX_DAYS)
    problems: list[PlanProblemIn] = Field(default_factory=list, max_length=MAX_PROBLEMS)
    goals: list[CarePlanTemplateGoal] = Field(default_factory=list, max_length=MAX_GOALS)
    activities: list[CarePlanTemplateActivity] = Field(default_factory=list, max_length=MAX_ACTIVITIES)

    @model_validator(mode="after")
    def _goal_indexes(self) -> CarePlanTemplateIn:
        if any(i >= len(self.goals) for a in self.activities for i in a.goals):
            raise ValueError("an activity names a goal the template does not have")
        return self


class CarePlanTemplateOut(CarePlanTemplateIn):
    code: str
    version: int
    built_in: bool = Field(False, description="shipped with Careloop; an admin's PUT replaces it")
    updated_at: datetime | None = None


NewId = Callable[[], str]


def _day(start: date, days: int | None) -> date | None:
    return start + timedelta(days=days) if days is not None else None


def from_template(
    template: CarePlanTemplateOut, body: CarePlanIn, start: date, new_id: NewId
) -> tuple[list[PlanProblem], list[Goal], list[Activity]]:
    """The template's problems, goals and activities with their dates, then the body's own."""
    problems = [PlanProblem(id=new_id(), **p.model_dump()) for p in template.problems]
    goals = [
        Goal(
            id=new_id(),
            description=g.description,
            target=g.target,
            due_date=_day(start, g.due_after_days),
            lifecycle_status=GoalLifecycle(g.lifecycle_status),
            addresses=[p.id for p in problems],
        )
        for g in template.goals
    ]
    activities = [
        Activity(
            id=new_id(),
            due_date=_day(start, a.within_days),
            goal_ids=[goals[i].id for i in a.goals],
            **a.model_dump(exclude={"within_days", "goals"}),
        )
        for a in template.activities
    ]
    return problems, goals, activities


def new_plan(
    body: CarePlanIn,
    *,
    plan_id: str,
    patient_id: str,
    today: date,
    author_id: str,
    now: datetime,
    new_id: NewId,
    template: CarePlanTemplateOut | None = None,
) -> CarePlanOut:
    """A plan from ``body`` (and ``template``, whose parts come first). A goal or activity naming a
    problem or goal the plan does not have is refused (ValueError naming the field)."""
    start = body.start or today
    problems: list[PlanProblem] = []
    goals: list[Goal] = []
    activities: list[Activity] = []
    if template is not None:
        problems, goals, activities = from_template(template, body, start, new_id)
    problems += [PlanProblem(id=new_id(), **p.model_dump()) for p in body.problems]
    problem_ids = {p.id for p in problems}
    for g in body.goals:
        if not set(g.addresses) <= problem_ids:
            raise ValueError("goals: addresses names a problem the plan does not have")
        goals.append(Goal(id=new_id(), **g.model_dump()))
    goal_ids = {g.id for g in goals}
    for a in body.activities:
        if not set(a.goal_ids) <= goal_ids:
            raise ValueError("activities: goal_ids names a goal the plan does not have")
        activities.append(Activity(id=new_id(), **a.model_dump()))
    _within_limits(problems, goals, activities)
    end = body.end or (_day(start, template.duration_days) if template else None)
    if end is not None and end < start:
        raise ValueError("end: must not be before the start")
    review = body.review_date or start + timedelta(
        days=template.review_after_days if template else DEFAULT_REVIEW_DAYS
    )
    if review < start:
        raise ValueError("review_date: must not be before the start")
    return CarePlanOut(
        id=plan_id,
        version=1,
        patient_id=patient_id,
        title=body.title or (template.title if template else ""),
        category=body.category or (template.category if template else Category.CHRONIC_CONDITION),
        status=PlanStatus(body.status),
        start=start,
        end=end,
        review_date=review,
        author_id=author_id,
        care_team=body.care_team,
        template=template.code if template else None,
        template_version=template.version if template else None,
        problems=problems,
        goals=goals,
        activities=activities,
        note=body.note,
        created_at=now,
        updated_at=now,
    )


# ---------------------------------------------------------------- moves


def move(plan: CarePlanOut, status: PlanStatus, now: datetime) -> CarePlanOut:
    """The plan in ``status``. Ending it (completed, revoked) cancels every activity not done; a
    measurement completes with a completed plan."""
    if status is plan.status:
        return plan
    if status not in MOVES[plan.status]:
        raise IllegalChange(f"a {plan.status.value} plan cannot become {status.value}")
    activities = plan.activities
    if status in ENDED:
        activities = [_ended(a, status, now) for a in activities]
    return plan.model_copy(update={"status": status, "activities": activities})


def _ended(activity: Activity, status: PlanStatus, now: datetime) -> Activity:
    if activity.status in DONE:
        return activity
    measured = activity.kind is ActivityKind.MEASUREMENT and status is PlanStatus.COMPLETED
    return _set(activity, ActivityStatus.COMPLETED if measured else ActivityStatus.CANCELLED, now)


def _set(activity: Activity, status: ActivityStatus, now: datetime) -> Activity:
    done = now if status is ActivityStatus.COMPLETED else None
    return activity.model_copy(update={"status": status, "completed_at": done})


def needs_work(plan: CarePlanOut) -> list[Activity]:
    """The activities of an active plan that still need what carries them out made (a task, a
    referral, an assignment): those not done and not yet linked. A measurement needs none."""
    if plan.status is not PlanStatus.ACTIVE:
        return []
    out = []
    for a in plan.activities:
        if a.status in DONE or a.status is ActivityStatus.ON_HOLD or a.kind is ActivityKind.MEASUREMENT:
            continue
        linked = a.referral_id if a.kind is ActivityKind.REFERRAL else a.task_id
        if linked is None and a.appointment_id is None:
            out.append(a)
    return out


def started(plan: CarePlanOut, now: datetime) -> CarePlanOut:
    """An active plan's measurements are under way."""
    if plan.status is not PlanStatus.ACTIVE:
        return plan
    return replace_activities(
        plan,
        {
            a.id: _set(a, ActivityStatus.IN_PROGRESS, now)
            for a in plan.activities
            if a.kind is ActivityKind.MEASUREMENT and a.status is ActivityStatus.NOT_STARTED
        },
    )


def replace_activities(plan: CarePlanOut, changed: dict[str, Activity]) -> CarePlanOut:
    if not changed:
        return plan
    return plan.model_copy(update={"activities": [changed.get(a.id, a) for a in plan.activities]})


def task_due(day: date | None, today: date, calendar: Calendar, now: datetime) -> datetime:
    """A task's deadline for an activity due on ``day``: the close of business of the last business
    day on or before it (never before now: a day already gone is due at today's close, or the end of
    today when today is closed); no day: ``BOOKING_BUSINESS_DAYS`` business days from today."""
    target = day if day is not None else calendar.add_business_days(today, BOOKING_BUSINESS_DAYS)
    probe = max(target, today)
    for _ in range(MAX_DAYS):
        if probe < today:
            break
        spans = calendar.open_intervals(probe)
        if spans and spans[-1][1] > now:
            return spans[-1][1]
        probe -= timedelta(days=1)
    tomorrow = datetime.combine(today + timedelta(days=1), time(0), calendar.zone)
    return max(tomorrow, now)


def booking_day(activity: Activity, today: date, calendar: Calendar) -> date:
    """When booking an appointment activity is due: ``BOOKING_BUSINESS_DAYS`` business days from
    today, or its own due date when that comes first."""
    soon = calendar.add_business_days(today, BOOKING_BUSINESS_DAYS)
    return min(soon, activity.due_date) if activity.due_date is not None else soon


# ---------------------------------------------------------------- what carries activities out


BOOKED = frozenset({"pending", "booked"})
HELD = frozenset({"fulfilled"})  # arrived or checked in is not yet held: the visit may not happen
FREED = frozenset({"cancelled", "noshow", "entered-in-error"})


def on_appointment(
    plan: CarePlanOut,
    appointment_id: str,
    status: str,
    appointment_type: str,
    day: date,
    now: datetime,
) -> tuple[CarePlanOut, Activity | None]:
    """The plan after the patient's appointment is now ``status``; and the activity that lost its
    booking (its booking task opens again), if one did. A booking not yet linked goes to the open
    appointment activity of its type due first, if it is on or after the plan's start."""
    linked = next((a for a in plan.activities if a.appointment_id == appointment_id), None)
    if linked is None:
        if plan.status not in LIVE or status in FREED or day < plan.start:
            return plan, None
        free = [
            a
            for a in plan.activities
            if a.kind is ActivityKind.APPOINTMENT
            and a.appointment_id is None
            and a.status not in DONE
            and a.status is not ActivityStatus.ON_HOLD
            and a.appointment_type == appointment_type
        ]
        if not free:
            return plan, None
        linked = min(free, key=lambda a: (a.due_date is None, a.due_date or date.max))
        linked = linked.model_copy(update={"appointment_id": appointment_id})
    if linked.status in DONE:
        return plan, None
    if status in HELD:
        return replace_activities(plan, {linked.id: _set(linked, ActivityStatus.COMPLETED, now)}), None
    if status in FREED:
        freed = linked.model_copy(
            update={"appointment_id": None, "status": ActivityStatus.NOT_STARTED, "task_id": None}
        )
        return replace_activities(plan, {linked.id: freed}), freed
    return replace_activities(plan, {linked.id: _set(linked, ActivityStatus.SCHEDULED, now)}), None


def link_appointment(plan: CarePlanOut, activity_id: str, appointment_id: str) -> CarePlanOut:
    """Staff name the booking that carries an appointment activity (the caller checked it is this
    patient's); its status follows from the appointment's with :func:`on_appointment`."""
    activity = plan.activity(activity_id)
    if activity is None or activity.kind is not ActivityKind.APPOINTMENT:
        raise ValueError("appointment_id: only an appointment activity takes one")
    if activity.status in DONE:
        raise IllegalChange("the activity is done")
    taken = next((a for a in plan.activities if a.appointment_id == appointment_id), None)
    if taken is not None and taken.id != activity_id:
        raise IllegalChange("another activity of this plan holds that appointment")
    return replace_activities(
        plan, {activity_id: activity.model_copy(update={"appointment_id": appointment_id})}
    )


def on_task(plan: CarePlanOut, task_id: str, status: str, now: datetime) -> CarePlanOut:
    """A task activity follows its task (completed, cancelled). A booking or teaching task done
    changes nothing: the visit held or the teach-back understood completes those."""
    activity = next((a for a in plan.activities if a.task_id == task_id), None)
    if activity is None or activity.kind is not ActivityKind.TASK or activity.status in DONE:
        return plan
    if status == "completed":
        return replace_activities(plan, {activity.id: _set(activity, ActivityStatus.COMPLETED, now)})
    if status == "cancelled":
        return replace_activities(plan, {activity.id: _set(activity, ActivityStatus.CANCELLED, now)})
    return plan


REFERRAL_MOVES = {
    "scheduled": ActivityStatus.SCHEDULED,
    "unscheduled": ActivityStatus.NOT_STARTED,  # its visit cancelled or missed: back to be booked
    "completed": ActivityStatus.COMPLETED,
    "cancelled": ActivityStatus.CANCELLED,
    "closed": ActivityStatus.CANCELLED,
}


def on_referral(plan: CarePlanOut, referral_id: str, status: str, now: datetime) -> CarePlanOut:
    activity = next((a for a in plan.activities if a.referral_id == referral_id), None)
    moved = REFERRAL_MOVES.get(status)
    if activity is None or moved is None or activity.status in DONE:
        return plan
    return replace_activities(plan, {activity.id: _set(activity, moved, now)})


def on_education(plan: CarePlanOut, assignment_id: str, understood: bool, now: datetime) -> CarePlanOut:
    activity = next((a for a in plan.activities if a.assignment_id == assignment_id), None)
    if activity is None or activity.status in DONE:
        return plan
    status = ActivityStatus.COMPLETED if understood else ActivityStatus.IN_PROGRESS
    return replace_activities(plan, {activity.id: _set(activity, status, now)})


def edit_activity(plan: CarePlanOut, activity_id: str, patch: ActivityPatch, now: datetime) -> CarePlanOut:
    """Staff's edit of one activity (the link is :func:`link_appointment`'s)."""
    activity = plan.activity(activity_id)
    if activity is None:
        raise LookupError(activity_id)
    fields = patch.model_fields_set
    update: dict[str, object] = {}
    if "due_date" in fields:
        update["due_date"] = patch.due_date
    if "note" in fields:
        update["note"] = patch.note
    activity = activity.model_copy(update=update)
    if patch.status is not None and patch.status is not activity.status:
        if activity.status in DONE:
            raise IllegalChange(f"the activity is {activity.status.value}")
        resuming = patch.status is ActivityStatus.NOT_STARTED
        if resuming and activity.status is not ActivityStatus.ON_HOLD:
            raise IllegalChange("only an activity on hold resumes")
        activity = _set(activity, ActivityStatus(patch.status), now)
    return replace_activities(plan, {activity_id: activity})


def edit_problem(plan: CarePlanOut, problem_id: str, patch: PlanProblemPatch) -> CarePlanOut:
    """The plan with the problem's clinical status or note changed (a status may not be emptied)."""
    problem = next((p for p in plan.problems if p.id == problem_id), None)
    if problem is None:
        raise LookupError(problem_id)
    if "clinical_status" in patch.model_fields_set and patch.clinical_status is None:
        raise ValueError("clinical_status: may not be null")
    edited = problem.model_copy(update={n: getattr(patch, n) for n in patch.model_fields_set})
    return plan.model_copy(update={"problems": [edited if p.id == problem_id else p for p in plan.problems]})


def edit_goal(plan: CarePlanOut, goal_id: str, patch: GoalPatch, now: datetime) -> tuple[CarePlanOut, bool]:
    """The plan with the goal edited; and whether this edit achieved it (``GoalAchieved``).
    Achievement ``achieved`` makes the lifecycle ``achieved`` too, and the other way round. An
    achieved or cancelled goal is closed: an edit must reopen it (a lifecycle status), which starts
    its achievement over unless the edit says otherwise."""
    goal = next((g for g in plan.goals if g.id == goal_id), None)
    if goal is None:
        raise LookupError(goal_id)
    closed = goal.lifecycle_status in (GoalLifecycle.ACHIEVED, GoalLifecycle.CANCELLED)
    if closed and patch.lifecycle_status in (None, goal.lifecycle_status):
        raise IllegalChange(f"the goal is {goal.lifecycle_status.value}")
    update: dict[str, object] = {name: getattr(patch, name) for name in patch.model_fields_set}
    for name in ("description", "lifecycle_status", "achievement_status"):
        if name in update and update[name] is None:
            raise ValueError(f"{name}: may not be null")
    if closed and "achievement_status" not in update:
        update |= {"achievement_status": Achievement.IN_PROGRESS, "achieved_at": None}
    edited = goal.model_copy(update=update)
    achieved = (
        edited.achievement_status is Achievement.ACHIEVED or edited.lifecycle_status is GoalLifecycle.ACHIEVED
    )
    if achieved:
        edited = edited.model_copy(
            update={
                "achievement_status": Achievement.ACHIEVED,
                "lifecycle_status": GoalLifecycle.ACHIEVED,
                "achieved_at": edited.achieved_at or now,
            }
        )
    goals = [edited if g.id == goal_id else g for g in plan.goals]
    return plan.model_copy(
        update={"goals": goals}
    ), achieved and goal.lifecycle_status is not GoalLifecycle.ACHIEVED


def _within_limits(problems: list[PlanProblem], goals: list[Goal], activities: list[Activity]) -> None:
    for name, parts, limit in (
        ("problems", problems, MAX_PROBLEMS),
        ("goals", goals, MAX_GOALS),
        ("activities", activities, MAX_ACTIVITIES),
    ):
        if len(parts) > limit:
            raise ValueError(f"{name}: a plan holds at most {limit}")


def add_parts(
    plan: CarePlanOut,
    new_id: NewId,
    problems: list[PlanProblemIn] = (),  # type: ignore[assignment]
    goals: list[GoalIn] = (),  # type: ignore[assignment]
    activities: list[ActivityIn] = (),  # type: ignore[assignment]
) -> CarePlanOut:
    """The plan with parts added (ValueError naming the field: a reference it lacks, a limit)."""
    if plan.status not in (PlanStatus.DRAFT, *LIVE):
        raise IllegalChange(f"the plan is {plan.status.value}")
    added = [PlanProblem(id=new_id(), **p.model_dump()) for p in problems]
    all_problems = [*plan.problems, *added]
    known = {p.id for p in all_problems}
    if any(not set(g.addresses) <= known for g in goals):
        raise ValueError("addresses: names a problem the plan does not have")
    all_goals = [*plan.goals, *(Goal(id=new_id(), **g.model_dump()) for g in goals)]
    aims = {g.id for g in all_goals}
    if any(not set(a.goal_ids) <= aims for a in activities):
        raise ValueError("goal_ids: names a goal the plan does not have")
    all_activities = [*plan.activities, *(Activity(id=new_id(), **a.model_dump()) for a in activities)]
    _within_limits(all_problems, all_goals, all_activities)
    return plan.model_copy(
        update={"problems": all_problems, "goals": all_goals, "activities": all_activities}
    )


def with_history(plan: CarePlanOut, by: str, action: str, now: datetime) -> CarePlanOut:
    """``plan`` as its next version, its change in the history (the last ``MAX_HISTORY``)."""
    version = plan.version + 1 if plan.history else plan.version
    entry = PlanChange(version=version, at=now, by=by, action=action, status=plan.status)
    history = [*plan.history, entry][-MAX_HISTORY:]
    return plan.model_copy(update={"version": version, "updated_at": now, "history": history})


# ---------------------------------------------------------------- social needs (AHC screening)

# the Z code for each AHC domain a positive answer opens (ICD-10-CM, Z55-Z65: social determinants)
SOCIAL_NEEDS: dict[Domain, tuple[str, str, str]] = {
    Domain.LIVING_SITUATION: ("Z59.819", "Housing instability, housed, unspecified", "Find stable housing"),
    Domain.FOOD: ("Z59.41", "Food insecurity", "Connect with a food resource"),
    Domain.TRANSPORTATION: ("Z59.82", "Transportation insecurity", "Arrange transportation to care"),
    Domain.UTILITIES: ("Z59.12", "Inadequate housing utilities", "Get help with utility bills"),
}
SOCIAL_TITLE = "Social needs"


def social_source(assessment_id: str, domain: Domain) -> str:
    return f"assessment:{assessment_id}:{domain.value}"


def social_plan(patient_id: str, plan_id: str, today: date, now: datetime, author_id: str) -> CarePlanOut:
    """The social-needs plan a positive screen opens when the patient has none active."""
    return CarePlanOut(
        id=plan_id,
        version=1,
        patient_id=patient_id,
        title=SOCIAL_TITLE,
        category=Category.SOCIAL_NEEDS,
        status=PlanStatus.ACTIVE,
        start=today,
        review_date=today + timedelta(days=DEFAULT_REVIEW_DAYS),
        author_id=author_id,
        screens_add_here=True,
        created_at=now,
        updated_at=now,
    )


def add_social_need(
    plan: CarePlanOut, assessment_id: str, domain: Domain, due: date, new_id: NewId
) -> tuple[CarePlanOut, Activity] | None:
    """The plan with the need's problem and a community-resource referral activity (a
    ``connect-resource`` task); ``None`` when this screening's need is on the plan already, or the
    plan is full."""
    source = social_source(assessment_id, domain)
    if domain not in SOCIAL_NEEDS or any(p.source == source for p in plan.problems):
        return None
    if len(plan.activities) >= MAX_ACTIVITIES or len(plan.problems) >= MAX_PROBLEMS:
        return None
    code, display, title = SOCIAL_NEEDS[domain]
    problem = PlanProblem(
        id=new_id(), code=ClinicalCode(system=CodeSystem.ICD10CM, code=code, display=display), source=source
    )
    activity = Activity(
        id=new_id(), kind=ActivityKind.TASK, title=title, task_code=TaskCode.CONNECT_RESOURCE, due_date=due
    )
    added = plan.model_copy(
        update={"problems": [*plan.problems, problem], "activities": [*plan.activities, activity]}
    )
    return added, activity


def review_due(plan: CarePlanOut, today: date) -> bool:
    return plan.status in LIVE and plan.review_date <= today


def reviewed(plan: CarePlanOut, next_date: date | None, today: date, now: datetime) -> CarePlanOut:
    if plan.status not in LIVE:
        raise IllegalChange(f"a {plan.status.value} plan is not reviewed")
    upcoming = next_date or today + timedelta(days=DEFAULT_REVIEW_DAYS)
    if upcoming <= today:
        raise ValueError("next_review_date: must be after today")
    return plan.model_copy(update={"review_date": upcoming, "reviewed_at": now})
