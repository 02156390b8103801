"""Escalations area, HTTP: tasks (made by hand, moved along, edited), the worklist, a patient's tasks,
and the organization's escalation rules. Staff only: a patient never sees tasks."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pynamodb.exceptions import PutError

from functions.escalations.common import calendar, commit
from shared import clock, ids
from shared.data import keys
from shared.data import scheduling as sched
from shared.data import tasks as repo
from shared.domain.tasks import (
    OPEN,
    Action,
    EscalationPolicy,
    EscalationPolicyOut,
    IllegalMove,
    MissingDetail,
    QueueRole,
    TaskActionIn,
    TaskCode,
    TaskIn,
    TaskOut,
    TaskPatch,
    TaskStatus,
    TaskWithHistory,
    raise_escalation,
    risk_from,
)
from shared.errors import Conflict, NotFound
from shared.events.tasks import (
    TaskAssigned,
)
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audited_read, caller, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, matches, require_current, responses, status_move
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from shared.http.resolver import make_handler, make_resolver

router = APIGatewayHttpRouter()
TaskPage = Page[TaskOut]


def _display_name(org: str, patient_id: str) -> str:
    name = repo.display_name(sched.get_item(sched.Patient, sched.patient_key(org, patient_id)))
    if name is None:
        raise invalid("patient_id", "no patient with this id")
    return name


def _task(org: str, task_id: str) -> repo.TaskItem:
    item = repo.get(org, task_id)
    if item is None:
        raise NotFound("No task with this id.")
    return item


def _future(field: str, value: object, now: object) -> None:
    if value is not None and value <= now:  # type: ignore[operator]
        raise invalid(field, "must be in the future")


# ---------------------------------------------------------------- tasks


@router.post(
    "/tasks",
    summary="Make a task by hand (with a severity: an escalation whose clock climbs the ladder)",
    tags=["tasks"],
    operation_id="createTask",
    responses=responses(201, "Created", headers=["Location", "ETag"]),
)
@allow(STAFF)
@idempotent(router)
def create(body: TaskIn) -> Response[TaskOut]:
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    _future("due_at", body.due_at, now)
    escalation = None
    if body.severity is not None:
        policy, _ = repo.policy(org)
        if body.role not in policy.ladder:
            raise invalid("role", "an escalation starts on a rung of the organization's ladder")
        escalation = raise_escalation(body.severity, body.clock, policy, body.role, now, calendar(org))
    record = TaskOut(
        id=ids.new_id(),
        version=1,
        code=body.code,
        description=body.description,
        status=TaskStatus.REQUESTED,
        business_status=body.business_status,
        priority=body.priority,
        patient_id=body.patient_id,
        patient_name=_display_name(org, body.patient_id) if body.patient_id else None,
        focus=body.focus,
        owner_id=body.owner_id,
        role=body.role,
        due_at=body.due_at,
        at_risk_at=risk_from(now, body.due_at) if body.due_at else None,
        escalation=escalation,
        created_at=now,
        created_by=principal.subject,
        updated_at=now,
    )
    change = sched.Change(actor, now)
    repo.open_task(change, org, record)
    commit(change)
    headers = {"Location": f"/tasks/{record.id}", **etag(1)}
    return Response(201, "application/json", record, headers=headers)


@router.get(
    "/tasks/<task_id>",
    summary="A task and its history",
    tags=["tasks"],
    operation_id="getTask",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read(task_id: UlidPath) -> Response[TaskWithHistory]:
    principal, _ = caller(router)
    item, history = repo.with_history(principal.organization_id, task_id)
    if item is None:
        raise NotFound("No task with this id.")
    record = item.record().as_seen(clock.now())
    if record.patient_id:
        audited_read(router, [record.patient_id], "task.read")
    body = TaskWithHistory.model_validate({**record.model_dump(), "history": history})
    return Response(200, "application/json", body, headers=etag(record.version))


@router.patch(
    "/tasks/<task_id>",
    summary="Edit an open task: description, priority, due time, owner, queue, local stage (If-Match)",
    tags=["tasks"],
    operation_id="updateTask",
    responses=responses(
        headers=["ETag"],
        errors={409: "Closed (`current_status`), or If-Match is stale", 428: "Send If-Match"},
    ),
)
@allow(STAFF)
def edit(task_id: UlidPath, body: TaskPatch, if_match: IfMatch = None) -> Response[TaskOut]:
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    item = _task(org, task_id)
    before = item.record()
    require_current(if_match, before.version, "task")
    if before.status not in OPEN:
        raise Conflict(
            f"A task that is {before.status.value} cannot be edited.", current_status=before.status.value
        )
    changes = body.model_dump(include=body.model_fields_set)
    if "due_at" in changes:
        _future("due_at", body.due_at, now)
        changes["at_risk_at"] = risk_from(now, body.due_at) if body.due_at else None
    if "role" in changes:
        if body.role is None:
            raise invalid("role", "a task always has a queue")
        if before.escalation is not None and body.role is not before.role:
            raise invalid("role", "an escalation's queue follows its ladder")
    for required in ("priority", "code"):
        if required in changes and changes[required] is None:
            raise invalid(required, "may not be null")
    after = before.model_copy(update=changes)
    change = sched.Change(actor, now)
    written = repo.save_task(change, org, item, after, principal.subject, "edited")
    if (written.owner_id, written.role) != (before.owner_id, before.role):
        change.events.append(repo.event(TaskAssigned, org, written, now))
    commit(change)
    return Response(200, "application/json", written.as_seen(now), headers=etag(written.version))


@router.post(
    "/tasks/<task_id>/<action>",
    summary="Move a task along: accept, start, hold, resume, complete (with an outcome), cancel or fail "
    "(with a reason)",
    tags=["tasks"],
    operation_id="moveTask",
    responses=status_move(),
)
@allow(STAFF)
def move(
    task_id: UlidPath,
    action: Annotated[Action, Path(description="accept, start, hold, resume, complete, cancel or fail")],
    body: TaskActionIn | None = None,
    if_match: IfMatch = None,
) -> Response[TaskOut]:
    """Accepting or starting a task from a queue makes it the caller's own. Anything but a hold stops
    an escalation's clock; a hold of an unacknowledged one pauses it, and resume restarts it with
    the time it had left."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    item = _task(org, task_id)
    before = item.record()
    if if_match is not None and not matches(if_match, before.version):
        raise Conflict("The task changed since you read it; read it again.", current_version=before.version)
    change = sched.Change(actor, now)
    try:
        written = repo.move_task(change, org, item, action, body, principal.subject, calendar(org))
    except IllegalMove as illegal:
        raise Conflict(str(illegal), current_status=illegal.status.value) from None
    except MissingDetail as missing:
        raise invalid(str(missing), f"{action.value} needs {missing}") from None
    commit(change)
    return Response(200, "application/json", written.as_seen(now), headers=etag(written.version))


# ---------------------------------------------------------------- lists

QueueName = Annotated[
    str,
    Query(
        pattern=r"^(all|mine|coordinator|nurse|physician)$",
        description="all: your own tasks and your roles' queues; mine; or one role's queue",
    ),
]


@router.get(
    "/worklist",
    summary="Open tasks to work: your own and your roles' queues, most pressing first",
    tags=["tasks"],
    operation_id="getWorklist",
)
@allow(STAFF)
def worklist(
    queue: QueueName = "all",
    status: Annotated[TaskStatus | None, Query(description="one open status")] = None,
    code: Annotated[TaskCode | None, Query(description="what the work is")] = None,
    patient_id: Annotated[str | None, Query(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TaskPage:
    """Ordered by priority (stat first), then the earliest clock on each (due time or escalation
    deadline); ``at_risk`` in the last quarter of its time, ``breached`` past the top of the ladder.
    One Query per queue read (your own, and one per role you hold), merged: a filtered page may hold
    fewer than ``limit`` items and a ``next_cursor``."""
    principal, _ = caller(router)
    org, now = principal.organization_id, clock.now()
    if status is not None and status not in OPEN:
        raise invalid("status", "the worklist holds open tasks only", "query")
    roles = [QueueRole(r.value) for r in sorted(principal.roles) if r.value in set(QueueRole)]
    if queue == "all":
        queues = [keys.queue_staff(principal.subject), *(keys.queue_role(r) for r in roles)]
    elif queue == "mine":
        queues = [keys.queue_staff(principal.subject)]
    else:
        queues = [keys.queue_role(queue)]
    list_id = f"worklist:{queue}:{status}:{code}:{patient_id}"
    position = decode_cursor(cursor, list_id, {}, ("after", "done"), tenant=org)
    after = position["after"]["S"] if position else None
    done = set(position["done"]["S"].split(",")) if position and position["done"]["S"] else set()
    filters = None
    for condition in (
        repo.TaskItem.status == status.value if status else None,
        repo.TaskItem.code == code.value if code else None,
        repo.TaskItem.patient_id == patient_id if patient_id else None,
    ):
        if condition is not None:
            filters = condition if filters is None else filters & condition
    pages = {q: repo.queue_page(org, q, after, limit, filters) for q in queues if q not in done}
    items, next_after, finished = repo.merge(pages, limit)
    records = [i.record().as_seen(now) for i in items]
    audited_read(router, [r.patient_id for r in records if r.patient_id], "task.read")
    next_cursor = None
    if next_after is not None:
        last = {"after": {"S": next_after}, "done": {"S": ",".join(sorted(done | finished))}}
        next_cursor = encode_cursor(list_id, last, tenant=org)
    return TaskPage(items=records, next_cursor=next_cursor)


@router.get(
    "/patients/<patient_id>/tasks",
    summary="A patient's tasks, open and closed, newest first",
    tags=["tasks"],
    operation_id="listPatientTasks",
)
@allow(STAFF)
def patient_tasks(patient_id: UlidPath, limit: Limit = 50, cursor: Cursor = None) -> TaskPage:
    principal, _ = caller(router)
    org = principal.organization_id
    partition = keys.patient_tasks_pk(org, patient_id)
    list_id = "patient-tasks"
    start = decode_cursor(
        cursor, list_id, {"GSI2PK": partition}, ("GSI2PK", "GSI2SK", "PK", "SK"), tenant=org
    )
    items, last = repo.patient_tasks(org, patient_id, limit, start)
    require_parent(bool(items), cursor, sched.Patient, sched.patient_key(org, patient_id), "patient")
    if items:
        audited_read(router, [patient_id], "task.read")
    now = clock.now()
    return TaskPage(
        items=[i.record().as_seen(now) for i in items], next_cursor=encode_cursor(list_id, last, tenant=org)
    )


# ---------------------------------------------------------------- rules


@router.get(
    "/escalation-rules",
    summary="The organization's ladder, limits and rules (defaults until an admin writes them)",
    tags=["tasks"],
    operation_id="getEscalationRules",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read_rules() -> Response[EscalationPolicyOut]:
    record, _ = repo.policy(caller(router)[0].organization_id)
    return Response(200, "application/json", record, headers=etag(record.version))


@router.put(
    "/escalation-rules",
    summary="Replace the ladder, limits and rules (If-Match once written); applies to tasks made from now on",
    tags=["tasks"],
    operation_id="putEscalationRules",
    responses=responses(headers=["ETag"], errors={428: "The rules exist: send If-Match"}),
)
@allow(Role.ADMIN)
def write_rules(body: EscalationPolicy, if_match: IfMatch = None) -> Response[EscalationPolicyOut]:
    org = caller(router)[0].organization_id
    _, item = repo.policy(org)
    if item is not None:
        require_current(if_match, item.version, "rules")
    try:
        record = repo.save_policy(org, body, item)
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise Conflict("The rules changed since you read them; read them again.") from None
    return Response(200, "application/json", record, headers=etag(record.version))


app = make_resolver(router)
handler = make_handler(app)
