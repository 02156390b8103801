"""What the transitions functions share: opening an episode, and writing any change of one with what it
means for the step tasks and the events, in one transaction.

An episode's steps are tasks (the escalations area's model): opened with the episode, each due at its
step's deadline; completed when the step is done, moved when its deadline moves, held while the
patient is back in hospital, cancelled when the episode closes. Events say what happened to the steps
(completed, missed: the escalation rules act on the misses), and ``TransitionUpdated`` when the next
deadline moved, so the episode's one timer follows (``tcm-<id>``, set by the events function only).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from shared import ids
from shared.data import keys
from shared.data import scheduling as sched
from shared.data import tasks as task_repo
from shared.data import transitions as repo
from shared.data.patients import Actor
from shared.data.tx import Cancelled
from shared.domain.calendar import Calendar
from shared.domain.tasks import (
    OPEN,
    Action,
    Focus,
    FocusType,
    IllegalMove,
    Outcome,
    Priority,
    QueueRole,
    TaskActionIn,
    TaskCode,
    TaskOut,
    TaskStatus,
    risk_from,
)
from shared.domain.transitions import (
    CloseReason,
    Complexity,
    EpisodeStatus,
    Milestone,
    StepName,
    StepStatus,
    TransitionOut,
    close,
    completed,
    next_check,
)
from shared.errors import Conflict
from shared.events import transitions as events

SYSTEM = "system:transitions"
TIMER = "tcm"
# each step's task: what the work is, whose queue, and what staff read on it (no PHI: the patient is
# the task's own field)
STEP_TASKS: dict[StepName, tuple[TaskCode, QueueRole, str]] = {
    StepName.CONTACT: (
        TaskCode.CALL_PATIENT,
        QueueRole.COORDINATOR,
        "Transition of care: interactive contact by the end of the 2nd business day after discharge",
    ),
    StepName.VISIT: (
        TaskCode.BOOK_FOLLOW_UP,
        QueueRole.COORDINATOR,
        "Transition of care: face-to-face visit held within the window (7 days high, 14 moderate)",
    ),
    StepName.MEDICATION: (
        TaskCode.RECONCILE_MEDICATIONS,
        QueueRole.NURSE,
        "Transition of care: medication reconciliation no later than the visit",
    ),
    StepName.CLOSE: (
        TaskCode.CLOSE_TRANSITION,
        QueueRole.COORDINATOR,
        "Transition of care: review and close the 30-day episode",
    ),
}
OUTCOMES: dict[StepName, str] = {
    StepName.VISIT: "visit-held",
    StepName.MEDICATION: "reconciled",
}


def system_actor(org: str) -> Actor:
    return Actor(org, SYSTEM, None, None)


def calendar(org: str) -> Calendar:
    return sched.organization_calendar(org)


def open_context(org: str, patient_id: str) -> tuple[Calendar, Any, repo.TransitionItem | None]:
    """What opening an episode reads, in one BatchGetItem (then the patient's current episode, if
    any): the calendar, the patient (``None``: no such patient) and the episode it may close."""
    found = sched.get_many(
        [sched.calendar_key(org), sched.patient_key(org, patient_id), repo.current_key(org, patient_id)]
    )
    pointer = found.get(repo.current_key(org, patient_id))
    previous = repo.get(org, pointer.transition_id) if pointer is not None else None
    return (
        sched.calendar_of(found.get(sched.calendar_key(org))),
        found.get(sched.patient_key(org, patient_id)),
        previous,
    )


def step_tasks(record: TransitionOut, now: datetime) -> dict[StepName, TaskOut]:
    out = {}
    for name, step in record.steps().items():
        code, role, description = STEP_TASKS[name]
        owner = record.owner_id if role is QueueRole.COORDINATOR else None
        out[name] = TaskOut(
            id=ids.new_id(),
            version=1,
            code=code,
            description=description,
            status=TaskStatus.REQUESTED,
            business_status=f"transition-{name.value}",
            priority=Priority.URGENT if record.complexity is Complexity.HIGH else Priority.ROUTINE,
            patient_id=record.patient_id,
            patient_name=record.patient_name,
            focus=Focus(type=FocusType.TRANSITION, id=record.id),
            owner_id=owner,
            role=role,
            due_at=step.due_at,
            at_risk_at=risk_from(now, step.due_at),
            created_at=now,
            created_by=record.opened_by,
            updated_at=now,
        )
    return out


def opening(
    org: str,
    record: TransitionOut,
    actor: Actor,
    now: datetime,
    calendar: Calendar,
    previous: repo.TransitionItem | None = None,
) -> tuple[sched.Change, TransitionOut]:
    """The change that opens ``record`` with its step tasks; a ``previous`` episode still open or
    paused (the patient was readmitted) closes in it, linked both ways. Returns the change and the
    record as it reads once committed."""
    change = sched.Change(actor, now)
    tasks = step_tasks(record, now)
    steps = {
        name: step.model_copy(update={"task_id": tasks[name].id}) for name, step in record.steps().items()
    }
    record = record.model_copy(
        update={
            "contact": steps[StepName.CONTACT],
            "visit": steps[StepName.VISIT],
            "medication": steps[StepName.MEDICATION],
            "close": steps[StepName.CLOSE],
        }
    )
    repo.put_new(change, org, record)
    for name, task in tasks.items():
        task_repo.open_task(change, org, task, cause=f"transition|{record.id}|{name.value}")
    change.events.append(
        events.TransitionOpened(
            organization_id=org,
            occurred_at=now,
            transition_id=record.id,
            patient_id=record.patient_id,
            complexity=record.complexity,
            encounter_id=record.encounter_id,
            previous_transition_id=previous.transition_id if previous else None,
        )
    )
    if previous is not None:
        before = previous.record()
        after = close(before, CloseReason.READMITTED, now, actor.subject, calendar)
        after = after.model_copy(update={"next_id": record.id})
        write(change, org, previous, before, after, actor.subject, "close", calendar)
    return change, record


def write(
    change: sched.Change,
    org: str,
    item: repo.TransitionItem,
    before: TransitionOut,
    after: TransitionOut,
    actor_id: str,
    action: str,
    calendar: Calendar,
    missed: list[Milestone] | None = None,
) -> TransitionOut:
    """Add ``after``, the next version of ``item``, to ``change``: its step tasks and its events."""
    written = repo.put(change, org, item, after, action)
    _tasks(change, org, before, written, actor_id, calendar)
    common = {
        "organization_id": org,
        "occurred_at": change.at,
        "transition_id": written.id,
        "patient_id": written.patient_id,
    }
    for step, on_time in completed(before, written):
        change.events.append(events.TransitionStepCompleted(**common, step=step, on_time=on_time))
    for step in missed or []:
        change.events.append(events.TransitionStepMissed(**common, step=step))
    if before.status is not EpisodeStatus.PAUSED and written.status is EpisodeStatus.PAUSED:
        encounter = written.readmission.encounter_id if written.readmission else None
        change.events.append(events.TransitionPaused(**common, encounter_id=encounter))
    if before.status is not EpisodeStatus.CLOSED and written.status is EpisodeStatus.CLOSED:
        outcome = written.eligibility
        assert outcome is not None and written.close_reason is not None  # noqa: S101 - close() sets both
        change.events.append(
            events.TransitionClosed(
                **common,
                reason=written.close_reason,
                qualifies=outcome.qualifies,
                tcm_code=outcome.code,
                failures=outcome.failures,
            )
        )
    elif next_check(before) != next_check(written):
        change.events.append(events.TransitionUpdated(**common))
    return written


def _tasks(
    change: sched.Change,
    org: str,
    before: TransitionOut,
    after: TransitionOut,
    actor_id: str,
    calendar: Calendar,
) -> None:
    """What the episode's change does to its step tasks (a task staff closed by hand is left alone)."""
    moves: dict[str, tuple[Action, TaskActionIn | None] | datetime] = {}
    closing = after.status is EpisodeStatus.CLOSED and before.status is not EpisodeStatus.CLOSED
    pausing = after.status is EpisodeStatus.PAUSED and before.status is not EpisodeStatus.PAUSED
    olds = before.steps()
    for name, step in after.steps().items():
        if step.task_id is None:
            continue
        old = olds[name]
        if step.status is StepStatus.COMPLETED and old.status is not StepStatus.COMPLETED:
            moves[step.task_id] = (
                Action.COMPLETE,
                TaskActionIn(outcome=Outcome(code=_outcome(name, after))),
            )
        elif closing:
            moves[step.task_id] = (Action.CANCEL, TaskActionIn(reason="transition-closed"))
        elif pausing:
            moves[step.task_id] = (Action.HOLD, TaskActionIn(reason="readmitted"))
        elif step.due_at != old.due_at and step.status is not StepStatus.COMPLETED:
            moves[step.task_id] = step.due_at
    if not moves:
        return
    found = sched.get_many([(keys.task_pk(org, t), keys.TASK_SK) for t in moves])
    for item in found.values():
        if not isinstance(item, task_repo.TaskItem) or item.record().status not in OPEN:
            continue
        move = moves[item.task_id]
        if isinstance(move, datetime):
            record = item.record()
            retimed = record.model_copy(update={"due_at": move, "at_risk_at": risk_from(change.at, move)})
            task_repo.save_task(change, org, item, retimed, actor_id, "edited")
            continue
        action, body = move
        if action is not Action.HOLD:  # on hold, a step done cannot complete its task: cancelled
            task_repo.close_task(change, org, item, action, body, actor_id, calendar, "step-done")
            continue
        with contextlib.suppress(IllegalMove):  # staff put it on hold already
            task_repo.move_task(change, org, item, action, body, actor_id, calendar)


def _outcome(name: StepName, record: TransitionOut) -> str:
    """What a step's task completes with (its outcome code)."""
    if name is StepName.CONTACT:
        return "reached" if record.contact.met_by == "reached" else "two-attempts"
    if name is StepName.CLOSE:
        return record.close_reason.value if record.close_reason else "closed"
    return OUTCOMES[name]


def commit(change: sched.Change) -> None:
    """Write ``change``; a lost race on the episode or a task is the 409 that says to read it again."""
    try:
        change.commit()
    except Cancelled:
        raise Conflict(
            "The episode changed since you read it; read it again.", conflict="transition"
        ) from None
