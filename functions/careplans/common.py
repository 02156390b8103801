"""What the care-plans functions share: writing a plan's change with what it means for the work that
carries its activities out (tasks, referrals, education assignments) and its events, in one
transaction.

- A plan that is active makes, once, what each activity not yet linked needs (``needs_work``): a
  booking task for an appointment, a draft referral, an assignment and its teaching task for an
  education item, the task for a task. Each task is opened under the cause ``careplan|<plan>|<activity>``
  (one open task per activity whatever the races), a social need's under the escalation rule's own
  cause (one task for the need whether the rule or the plan comes first).
- An appointment activity whose booking is linked completes its booking task; an activity that ends
  (by hand, or with its plan) cancels its open task.
- Events: ``CarePlanCreated``, ``CarePlanActivated``, ``CarePlanStatusChanged``, ``CarePlanUpdated``
  (its review timer follows), ``GoalAchieved``, ``EducationAssigned``; ids and codes only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from shared import ids
from shared.data import careplans as repo
from shared.data import core, keys
from shared.data import tasks as task_repo
from shared.data.patients import Actor
from shared.data.tx import Cancelled
from shared.domain.calendar import Calendar
from shared.domain.careplans import (
    DONE,
    ENDED,
    LIVE,
    Activity,
    ActivityKind,
    ActivityStatus,
    CarePlanOut,
    Category,
    PlanStatus,
    booking_day,
    needs_work,
    replace_activities,
    started,
    task_due,
)
from shared.domain.education import AssignmentOut, MaterialOut, assign
from shared.domain.tasks import (
    Action,
    Focus,
    FocusType,
    Outcome,
    QueueRole,
    TaskActionIn,
    TaskCode,
    TaskOut,
)
from shared.errors import Conflict
from shared.events import careplans as events

SYSTEM = "system:careplans"
REFERRAL_DAYS = 30  # a referral activity with no due date: the referral's


def system_actor(org: str) -> Actor:
    return Actor(org, SYSTEM, None, None)


def activity_cause(plan_id: str, activity_id: str) -> str:
    return f"careplan|{plan_id}|{activity_id}"


class World:
    """What making an activity's work needs: the calendar, the patient, the materials by code (read
    once per change), today."""

    def __init__(self, org: str, calendar: Calendar, patient: Any, now: datetime) -> None:
        self.org = org
        self.calendar = calendar
        self.patient = patient
        self.now = now
        self.today = calendar.local_date(now)
        self.materials: dict[str, MaterialOut | None] = {}

    @property
    def language(self) -> str:
        return str(self.patient.record().preferred_language) if self.patient is not None else "en"

    def material(self, code: str) -> MaterialOut | None:
        if code not in self.materials:
            self.materials[code] = repo.get_material(self.org, code)
        return self.materials[code]


def new_task(
    patient_id: str,
    code: TaskCode,
    role: QueueRole,
    due: datetime,
    focus: Focus,
    description: str,
    world: World,
    by: str,
) -> TaskOut:
    return task_repo.new_task(
        code=code,
        description=description,
        patient_id=patient_id,
        patient=world.patient,
        focus=focus,
        due=due,
        by=by,
        now=world.now,
        business_status="care-plan",
        role=role,
    )


def make_work(change: core.Change, plan: CarePlanOut, world: World, by: str) -> CarePlanOut:
    """The plan with what its activities need made, added to ``change``. An education item whose
    material is in no catalog is a ValueError naming it (the caller's 422; an event's caller skips)."""
    plan = started(plan, world.now)
    changed: dict[str, Activity] = {}
    for activity in needs_work(plan):
        changed[activity.id] = _work(change, plan, activity, world, by)
    return replace_activities(plan, changed)


def _work(change: core.Change, plan: CarePlanOut, activity: Activity, world: World, by: str) -> Activity:
    org, cal, today, now = world.org, world.calendar, world.today, world.now
    here = Focus(type=FocusType.CARE_PLAN, id=plan.id)
    cause = activity_cause(plan.id, activity.id)
    if activity.kind is ActivityKind.REFERRAL:
        # the scheduling models, only when a plan makes a referral (they cost ~90 ms of a cold start)
        from shared.data.scheduling import referral_item
        from shared.domain.referrals import FHIR_STATUS, ReferralOut, ReferralStatus, Urgency
        from shared.events.scheduling import ReferralCreated

        referral = ReferralOut(
            id=ids.new_id(now),
            version=1,
            status=ReferralStatus.DRAFT,
            fhir_status=FHIR_STATUS[ReferralStatus.DRAFT],
            patient_id=plan.patient_id,
            specialty=activity.specialty,
            reason=activity.title,
            urgency=Urgency.ROUTINE,
            due_date=activity.due_date or date.fromordinal(today.toordinal() + REFERRAL_DAYS),
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        change.put("referral", referral_item(org, referral))
        change.audit.append((plan.patient_id, "referral.create"))
        change.events.append(
            ReferralCreated(
                organization_id=org,
                occurred_at=now,
                referral_id=referral.id,
                patient_id=plan.patient_id,
                status=referral.status,
            )
        )
        return activity.model_copy(update={"referral_id": referral.id})
    if activity.kind is ActivityKind.EDUCATION:
        assert activity.material is not None  # noqa: S101 - the activity's validator requires it
        material = world.material(activity.material)
        if material is None:
            raise ValueError("activities: an education item names a material in no catalog")
        assignment, task = give(change, material, plan.patient_id, world, by, plan, activity)
        return activity.model_copy(
            update={"assignment_id": assignment.id, "task_id": task.id, "status": ActivityStatus.SCHEDULED}
        )
    if activity.kind is ActivityKind.APPOINTMENT:
        due = task_due(booking_day(activity, today, cal), today, cal, now)
        code, role, text = TaskCode.BOOK_FOLLOW_UP, QueueRole.COORDINATOR, f"Book: {activity.title}"
    else:
        assert activity.task_code is not None  # noqa: S101 - the activity's validator requires it
        due = task_due(activity.due_date, today, cal, now)
        code, role, text = activity.task_code, activity.role, f"Care plan: {activity.title}"
    task = new_task(plan.patient_id, code, role, due, here, text, world, by)
    task_repo.open_task(change, org, task, cause=cause)
    return activity.model_copy(update={"task_id": task.id})


def give(
    change: core.Change,
    material: MaterialOut,
    patient_id: str,
    world: World,
    by: str,
    plan: CarePlanOut | None = None,
    activity: Activity | None = None,
) -> tuple[AssignmentOut, TaskOut]:
    """Give ``material`` to the patient, in their language, with the task to teach it and check
    understanding: due by the plan activity's date (by hand: in 2 business days), in its role's queue
    (the coordinators'). Added to ``change`` with ``EducationAssigned``."""
    assignment = assign(
        material,
        assignment_id=ids.new_id(world.now),
        patient_id=patient_id,
        language=world.language,
        by=by,
        now=world.now,
        care_plan_id=plan.id if plan is not None else None,
        activity_id=activity.id if activity is not None else None,
    )
    task = new_task(
        patient_id,
        TaskCode.TEACH_BACK,
        activity.role if activity is not None else QueueRole.COORDINATOR,
        task_due(activity.due_date if activity else None, world.today, world.calendar, world.now),
        Focus(type=FocusType.EDUCATION, id=assignment.id),
        f"Teach and check understanding (teach-back): {assignment.title}",
        world,
        by,
    )
    assignment = assignment.model_copy(update={"teach_task_id": task.id})
    repo.put_assignment(change, world.org, assignment, None, "assign")
    change.events.append(
        events.EducationAssigned(
            organization_id=world.org,
            occurred_at=change.at,
            assignment_id=assignment.id,
            patient_id=assignment.patient_id,
            material_id=assignment.material,
            care_plan_id=assignment.care_plan_id,
        )
    )
    cause = activity_cause(plan.id, activity.id) if plan is not None and activity is not None else None
    task_repo.open_task(change, world.org, task, cause=cause)
    return assignment, task


def write(
    change: core.Change,
    org: str,
    item: repo.CarePlanItem | None,
    before: CarePlanOut | None,
    after: CarePlanOut,
    world: World,
    by: str,
    action: str,
    achieved: list[str] | None = None,
) -> CarePlanOut:
    """Add ``after`` (the next version of ``item``; none: a new plan) to ``change``: the work its
    activities need, what their changes do to tasks, its events. Returns the plan as written."""
    after = make_work(change, after, world, by) if after.status is PlanStatus.ACTIVE else after
    if after.category is Category.SOCIAL_NEEDS:
        after = _social(change, org, before, after)
    repo.put_plan(change, org, after, item, action)
    _tasks(change, org, before, after, world)
    common = {
        "organization_id": org,
        "occurred_at": change.at,
        "care_plan_id": after.id,
        "patient_id": after.patient_id,
    }
    old = before.status if before is not None else None
    if before is None:
        change.events.append(
            events.CarePlanCreated(
                **common, category=after.category, status=after.status, template_id=after.template
            )
        )
    if after.status is PlanStatus.ACTIVE and old in (None, PlanStatus.DRAFT):
        change.events.append(events.CarePlanActivated(**common))
    elif before is not None and old is not after.status:
        change.events.append(events.CarePlanStatusChanged(**common, status=after.status))
    if before is not None and (
        old is not after.status
        or before.review_date != after.review_date
        or _measures(before) != _measures(after)
    ):
        change.events.append(events.CarePlanUpdated(**common))
    for goal_id in achieved or []:
        change.events.append(events.GoalAchieved(**common, goal_id=goal_id))
    return after


def _measures(plan: CarePlanOut) -> set[tuple[str, str]]:
    """What a plan's measurement reminders follow: each measurement's id and status."""
    return {(a.id, a.status.value) for a in plan.activities if a.kind is ActivityKind.MEASUREMENT}


def _social(change: core.Change, org: str, before: CarePlanOut | None, after: CarePlanOut) -> CarePlanOut:
    """A social-needs plan that becomes live takes the place of the one screens add to when the
    patient has none (one GetItem; the pointer is put on condition); one that ends frees it."""
    held = before is not None and before.screens_add_here
    becomes_live = after.status in LIVE and (before is None or before.status not in LIVE)
    if becomes_live and not after.screens_add_here and repo.social_plan_id(org, after.patient_id) is None:
        after = after.model_copy(update={"screens_add_here": True})
    if after.screens_add_here and after.status in LIVE and not held:
        repo.claim_social(change, org, after)
    elif held and after.status in ENDED and before is not None and before.status not in ENDED:
        repo.release_social(change, org, after)
    return after


def _tasks(
    change: core.Change, org: str, before: CarePlanOut | None, after: CarePlanOut, world: World
) -> None:
    """What the plan's change does to its tasks: an appointment activity whose booking is linked
    completes its booking task; an activity that ends completes (done) or cancels its open task, and an
    education item's re-teaching task with it; a review recorded completes the review task, and a
    plan that ends cancels it. A task this change already moves (a teach-back's) is left to it."""
    if before is None:
        return
    moves: dict[str, tuple[Action, TaskActionIn]] = {}
    cancel = (Action.CANCEL, TaskActionIn(reason="care-plan-activity-ended"))
    reteach: list[str] = []
    for activity in after.activities:
        old = before.activity(activity.id)
        if old is None:
            continue
        ended = activity.status in DONE and old.status not in DONE
        if ended and activity.status is ActivityStatus.CANCELLED and activity.assignment_id:
            reteach.append(activity.assignment_id)
        if old.task_id is None:
            continue
        booked = activity.appointment_id is not None and old.appointment_id is None
        if activity.kind is ActivityKind.APPOINTMENT and booked and activity.task_id == old.task_id:
            moves[old.task_id] = (Action.COMPLETE, TaskActionIn(outcome=Outcome(code="booked")))
        elif ended and activity.status is ActivityStatus.CANCELLED:
            moves[old.task_id] = cancel
        elif ended:
            moves[old.task_id] = (Action.COMPLETE, TaskActionIn(outcome=Outcome(code="done")))
    if before.review_task_id is not None and after.review_task_id is None:
        moves[before.review_task_id] = (Action.COMPLETE, TaskActionIn(outcome=Outcome(code="reviewed")))
    elif before.review_task_id is not None and after.status not in LIVE:
        moves[before.review_task_id] = (Action.CANCEL, TaskActionIn(reason="care-plan-ended"))
    if reteach:
        assignments = core.get_many([repo.assignment_key(org, a) for a in reteach])
        for found in assignments.values():
            task_id = found.record().reteach_task_id
            if task_id is not None:
                moves[task_id] = cancel
    moving = {getattr(i, "task_id", None) for label, i, _ in change.puts if label == "task"}
    moves = {t: m for t, m in moves.items() if t not in moving}
    if not moves:
        return
    found = core.get_many([(keys.task_pk(org, t), keys.TASK_SK) for t in moves])
    for task in found.values():
        if isinstance(task, task_repo.TaskItem):
            action, body = moves[task.task_id]
            task_repo.close_task(change, org, task, action, body, SYSTEM, world.calendar)


def commit(change: core.Change) -> None:
    """Write ``change``; a lost race on the plan or a task is the 409 that says to read it again."""
    try:
        change.commit()
    except Cancelled:
        raise Conflict(
            "The care plan changed since you read it; read it again.", conflict="care-plan"
        ) from None


def calendar_and_patient(org: str, patient_id: str) -> tuple[Calendar, Any]:
    """One BatchGetItem: the organization's calendar and the patient (``None``: no such patient)."""
    found = core.get_many([core.calendar_key(org), core.patient_key(org, patient_id)])
    return core.calendar_of(found.get(core.calendar_key(org))), found.get(core.patient_key(org, patient_id))
