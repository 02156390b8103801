"""Tasks in the single table: the task, its history, its cause, the events already turned into tasks,
and the organization's escalation policy. Keys and access patterns: :mod:`shared.data.keys`.

Every change of a task is one transaction (:class:`shared.data.scheduling.Change`): the task, put on
its version (PynamoDB's ``VersionAttribute``: of two writers on one task one wins), a history entry,
its audit entry when it is about a patient, and its events. Any area that makes work uses
:func:`open_task`; only the escalations area moves tasks along.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import UnicodeAttribute, VersionAttribute

from shared.clock import isoformat
from shared.data import keys
from shared.data.core import Change
from shared.data.table import CareModel
from shared.domain.calendar import Calendar
from shared.domain.tasks import (
    OPEN,
    RANK,
    Action,
    EscalationPolicy,
    EscalationPolicyOut,
    Focus,
    HistoryEntry,
    IllegalMove,
    Priority,
    QueueRole,
    TaskActionIn,
    TaskCode,
    TaskOut,
    TaskStatus,
    act,
    risk_from,
)
from shared.events import tasks as events
from shared.ids import new_id

SEEN_RETENTION = timedelta(days=8)  # EventBridge retries for 24 h; replays by operators within a week


class PolicyItem(CareModel, discriminator="EscalationPolicy"):
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> EscalationPolicyOut:
        return EscalationPolicyOut.model_validate({**json.loads(self.body), "version": self.version})


class TaskItem(CareModel, discriminator="Task"):
    task_id = UnicodeAttribute()
    status = UnicodeAttribute()
    code = UnicodeAttribute()
    patient_id = UnicodeAttribute(null=True)
    cause = UnicodeAttribute(null=True)  # the rule and focus that opened it: freed when it closes
    body = UnicodeAttribute()  # JSON of TaskOut (its version is the item's)
    version = VersionAttribute()

    def record(self) -> TaskOut:
        return TaskOut.model_validate({**json.loads(self.body), "version": self.version or 0})


class HistoryItem(CareModel, discriminator="TaskHistory"):
    body = UnicodeAttribute()

    def record(self) -> HistoryEntry:
        return HistoryEntry.model_validate_json(self.body)


class CauseItem(CareModel, discriminator="TaskCause"):
    task_id = UnicodeAttribute()


class SeenItem(CareModel, discriminator="TaskSeen"):
    task_id = UnicodeAttribute(null=True)


def _json(record: Any, **exclude: Any) -> str:
    return json.dumps(record.model_dump(mode="json", **exclude), separators=(",", ":"))


# ---------------------------------------------------------------- policy


def policy(org: str) -> tuple[EscalationPolicyOut, PolicyItem | None]:
    try:
        item = PolicyItem.get(keys.org_pk(org), keys.ESCALATION_POLICY_SK)
    except PolicyItem.DoesNotExist:
        return EscalationPolicyOut(), None
    return item.record(), item


def save_policy(org: str, new: EscalationPolicy, old: PolicyItem | None) -> EscalationPolicyOut:
    """Replace the policy if it is still ``old`` (a stale write raises ``PutError``)."""
    item = PolicyItem(keys.org_pk(org), keys.ESCALATION_POLICY_SK, body=_json(new))
    if old is not None:
        item.version = old.version
    item.save()
    return EscalationPolicyOut.model_validate({**new.model_dump(), "version": item.version})


# ---------------------------------------------------------------- tasks


def display_name(patient: Any) -> str | None:
    """What a worklist shows of a patient (a ``Patient`` item): first given name and family name,
    kept on the task when it is made so the worklist reads nothing else."""
    if patient is None:
        return None
    name = patient.record().name
    return f"{name.given[0]} {name.family}"


def queue_of(record: TaskOut) -> str:
    """The queue a task waits in: its owner's own, or its role's."""
    return keys.queue_staff(record.owner_id) if record.owner_id else keys.queue_role(record.role)


def item_of(org: str, record: TaskOut, version: int | None, cause: str | None) -> TaskItem:
    """The task's item, on the worklist index while open and on the patient's list if it has one."""
    item = TaskItem(
        keys.task_pk(org, record.id),
        keys.TASK_SK,
        task_id=record.id,
        status=record.status.value,
        code=record.code.value,
        patient_id=record.patient_id,
        cause=cause,
        body=_json(record, exclude={"version", "at_risk", "overdue", "breached"}),
    )
    if version is not None:
        item.version = version
    if record.status in OPEN:
        at = record.sort_at()
        item.GSI1PK = keys.work_queue_pk(org, queue_of(record))
        item.GSI1SK = keys.work_sk(RANK[record.priority], isoformat(at) if at else None, record.id)
    if record.patient_id:
        item.GSI2PK = keys.patient_tasks_pk(org, record.patient_id)
        item.GSI2SK = keys.timed_sk(isoformat(record.created_at), record.id)
    return item


def get(org: str, task_id: str) -> TaskItem | None:
    try:
        return TaskItem.get(keys.task_pk(org, task_id), keys.TASK_SK, consistent_read=True)
    except TaskItem.DoesNotExist:
        return None


def with_history(org: str, task_id: str) -> tuple[TaskItem | None, list[HistoryEntry]]:
    """The task and its history, oldest first, in one Query of its partition."""
    task, history = None, []
    for item in CareModel.query(keys.task_pk(org, task_id), consistent_read=True):
        if isinstance(item, TaskItem):
            task = item
        elif isinstance(item, HistoryItem):
            history.append(item.record())
    return task, history


def _history(org: str, record: TaskOut, entry: HistoryEntry) -> HistoryItem:
    n = record.version  # one entry per version: unique and in order within an instant
    return HistoryItem(
        keys.task_pk(org, record.id), keys.history_sk(isoformat(entry.at), n), body=_json(entry)
    )


def entry(
    record: TaskOut, actor_id: str, action: str, at: datetime, from_status: TaskStatus | None
) -> HistoryEntry:
    return HistoryEntry(
        at=at,
        actor_id=actor_id,
        action=action,
        from_status=from_status,
        to_status=record.status,
        role=record.role,
        owner_id=record.owner_id,
        level=record.escalation.level if record.escalation else None,
    )


def event(
    cls: type[events.TaskEvent], org: str, record: TaskOut, at: datetime, **extra: Any
) -> events.TaskEvent:
    focus = record.focus
    return cls(
        organization_id=org,
        occurred_at=at,
        task_id=record.id,
        code=record.code,
        status=record.status,
        priority=record.priority,
        role=record.role,
        owner_id=record.owner_id,
        patient_id=record.patient_id,
        focus_type=focus.type if focus else None,
        focus_id=focus.id if focus else None,
        rule_id=record.rule_id,
        **extra,
    )


def escalation_event(
    cls: type[events.EscalationEvent], org: str, record: TaskOut, at: datetime
) -> events.TaskEvent:
    esc = record.escalation
    assert esc is not None  # noqa: S101 - callers pass escalations only
    return event(cls, org, record, at, severity=esc.severity, level=esc.level)


def new_task(
    *,
    code: TaskCode,
    description: str,
    patient_id: str,
    patient: Any,
    focus: Focus,
    due: datetime,
    by: str,
    now: datetime,
    business_status: str,
    role: QueueRole = QueueRole.COORDINATOR,
    priority: Priority = Priority.ROUTINE,
    owner_id: str | None = None,
) -> TaskOut:
    """A new task about the patient ``patient_id`` (``patient``: their item, whose display name is kept
    on the task; ``None`` when not read) for an area to open with :func:`open_task`. ``description``
    is for staff and never leaves the table."""
    return TaskOut(
        id=new_id(now),
        version=1,
        code=code,
        description=description,
        status=TaskStatus.REQUESTED,
        business_status=business_status,
        priority=priority,
        patient_id=patient_id,
        patient_name=display_name(patient),
        focus=focus,
        owner_id=owner_id,
        role=role,
        due_at=due,
        at_risk_at=risk_from(now, due),
        created_at=now,
        created_by=by,
        updated_at=now,
    )


def open_task(
    change: Change,
    org: str,
    record: TaskOut,
    *,
    cause: str | None = None,
    seen: str | None = None,
) -> None:
    """Add a new task to ``change``: with ``cause``, only if no active task has that cause; with
    ``seen`` (an event and a rule), only if that event never opened one (labels ``cause``, ``seen``
    in :class:`shared.data.tx.Cancelled`)."""
    change.put(
        "task",
        item_of(org, record.model_copy(update={"version": 1}), None, cause),
        TaskItem.PK.does_not_exist(),
    )
    change.put(
        "history",
        _history(
            org,
            record.model_copy(update={"version": 1}),
            entry(record, record.created_by, "created", change.at, None),
        ),
    )
    if cause is not None:
        change.put(
            "cause",
            CauseItem(keys.cause_pk(org, cause), keys.CAUSE_SK, task_id=record.id),
            CauseItem.PK.does_not_exist(),
        )
    if seen is not None:
        item = SeenItem(
            keys.seen_pk(org, seen), keys.SEEN_SK, task_id=record.id, ttl=change.at + SEEN_RETENTION
        )
        change.put("seen", item, SeenItem.PK.does_not_exist())
    if record.patient_id:
        change.audit.append((record.patient_id, "task.create"))
    change.events.append(event(events.TaskCreated, org, record, change.at))
    if record.escalation is not None:
        change.events.append(escalation_event(events.EscalationRaised, org, record, change.at))


def save_task(
    change: Change,
    org: str,
    item: TaskItem,
    new: TaskOut,
    actor_id: str,
    action: str,
) -> TaskOut:
    """Add ``new``, the next version of ``item``, to ``change`` with its history entry and audit entry;
    a task that closes frees its cause. Returns the record as it will read once committed."""
    old = item.record()
    cause = item.cause
    written = new.model_copy(update={"version": old.version + 1, "updated_at": change.at})
    change.put("task", item_of(org, written, item.version, cause))
    change.put("history", _history(org, written, entry(written, actor_id, action, change.at, old.status)))
    if written.patient_id:
        change.audit.append((written.patient_id, f"task.{action}"))
    if cause is not None and old.status in OPEN and written.status not in OPEN:
        change.delete("cause", CauseItem(keys.cause_pk(org, cause), keys.CAUSE_SK))
    return written


CLOSING_EVENTS: dict[Action, type[events.TaskEvent]] = {
    Action.COMPLETE: events.TaskCompleted,
    Action.CANCEL: events.TaskCancelled,
    Action.FAIL: events.TaskFailed,
}


def move_task(
    change: Change,
    org: str,
    item: TaskItem,
    action: Action,
    body: TaskActionIn | None,
    actor_id: str,
    calendar: Calendar,
) -> TaskOut:
    """Add ``action`` on ``item`` by ``actor_id`` to ``change``, with its events (closed, assigned,
    an escalation's clock resumed). Raises :class:`~shared.domain.tasks.IllegalMove` and
    :class:`~shared.domain.tasks.MissingDetail`. Staff move tasks with it (``POST /tasks/{id}/<action>``),
    and so does an area whose own work closes the task it opened (a transition step done)."""
    before = item.record()
    after = act(before, action, actor_id, body, change.at, calendar)
    written = save_task(change, org, item, after, actor_id, action.value)
    if action in CLOSING_EVENTS:
        change.events.append(event(CLOSING_EVENTS[action], org, written, change.at))
    if written.owner_id != before.owner_id:
        change.events.append(event(events.TaskAssigned, org, written, change.at))
    if action is Action.RESUME and written.escalation is not None and written.escalation.running:
        change.events.append(escalation_event(events.EscalationResumed, org, written, change.at))
    return written


def close_task(
    change: Change,
    org: str,
    item: TaskItem,
    action: Action,
    body: TaskActionIn | None,
    actor_id: str,
    calendar: Calendar,
    done_reason: str = "done",
) -> None:
    """Complete or cancel ``item`` for an area whose own work closes it (a step done, a plan ended), if
    it is still open. One on hold cannot complete, but its work is done: it is cancelled
    (``done_reason``); another move its status forbids is left undone."""
    if item.record().status not in OPEN:
        return
    try:
        move_task(change, org, item, action, body, actor_id, calendar)
    except IllegalMove:
        if action is not Action.COMPLETE:
            return  # it cannot move that way from where it is: nothing for the area to do
        cancel = TaskActionIn(reason=done_reason)
        move_task(change, org, item, Action.CANCEL, cancel, actor_id, calendar)


def seen_task_id(org: str, seen: str) -> str | None:
    """The task an event (``<event id>|<rule id>``) opened, if it opened one."""
    try:
        item = SeenItem.get(keys.seen_pk(org, seen), keys.SEEN_SK, consistent_read=True)
    except SeenItem.DoesNotExist:
        return None
    return str(item.task_id) if item.task_id else None


def cause_task_id(org: str, cause: str) -> str | None:
    try:
        return str(CauseItem.get(keys.cause_pk(org, cause), keys.CAUSE_SK, consistent_read=True).task_id)
    except CauseItem.DoesNotExist:
        return None


def close_caused(
    change: Change,
    org: str,
    cause: str,
    action: Action,
    body: TaskActionIn | None,
    actor_id: str,
    calendar: Calendar,
    done_reason: str = "done",
) -> bool:
    """:func:`close_task` on the open task ``cause`` opened, if one is open; whether there was one."""
    task_id = cause_task_id(org, cause)
    item = get(org, task_id) if task_id else None
    if item is None:
        return False
    close_task(change, org, item, action, body, actor_id, calendar, done_reason)
    return True


# ---------------------------------------------------------------- lists


def queue_page(
    org: str, queue: str, after: str | None, limit: int, filters: Any
) -> tuple[list[TaskItem], str | None]:
    """One Query (one request: PynamoDB's iterator would fetch page after page until ``limit`` items
    matched a filter) of a worklist queue, after ``after`` (a sort key), with ``filters`` (a PynamoDB
    condition or ``None``). Returns the matching tasks and the last sort key DynamoDB evaluated when
    there may be more (a filtered page can match fewer than ``limit``)."""
    condition = TaskItem.GSI1SK > after if after else None  # noqa: SIM300 - a PynamoDB condition
    result = TaskItem.gsi1.query(
        keys.work_queue_pk(org, queue), condition, filter_condition=filters, page_size=limit
    )
    page = next(result.page_iter)
    items = [TaskItem.from_raw_data(raw) for raw in page.get("Items", [])]
    last = result.page_iter.last_evaluated_key
    return items, (last["GSI1SK"]["S"] if last else None)


def merge(
    pages: dict[str, tuple[list[TaskItem], str | None]], limit: int
) -> tuple[list[TaskItem], str | None, set[str]]:
    """A page of the worklist from one page per queue, each sorted by its sort key.

    Returns the items, the sort key the next page starts after (``None``: no more) and the queues
    done. Items are taken in order up to the lowest key any queue with more stopped at: past it, that
    queue may hold items that sort earlier. Every queue then resumes after the same key: each item up
    to it was either returned or filtered out."""
    bound = min((last for _, last in pages.values() if last is not None), default=None)
    pool = sorted(
        ((i.GSI1SK, i) for items, _ in pages.values() for i in items if bound is None or bound >= i.GSI1SK),
        key=lambda pair: pair[0],
    )
    taken = [i for _, i in pool[:limit]]
    if len(pool) > limit:
        after: str | None = taken[-1].GSI1SK
    else:
        after = bound
    done = {
        queue
        for queue, (items, last) in pages.items()
        if last is None and all(after is None or after >= i.GSI1SK for i in items)
    }
    if after is not None and len(done) == len(pages):
        after = None
    return taken, after, done


def patient_tasks(
    org: str, patient_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[TaskItem], Any]:
    result = TaskItem.gsi2.query(
        keys.patient_tasks_pk(org, patient_id),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
    )
    return [i for i in result if isinstance(i, TaskItem)], result.last_evaluated_key
