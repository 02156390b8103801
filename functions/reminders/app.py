"""Reminders area, HTTP: the organization's policy, an appointment's touches, the failures to work,
the replies kept for staff, and the report that says which touches earn their cost."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field
from pynamodb.exceptions import PutError

from shared import clock
from shared.data import keys
from shared.data import reminders as repo
from shared.data import scheduling as sched
from shared.domain.calendar import Day
from shared.domain.reminders import (
    DONE_TOUCH,
    ReminderPolicy,
    ReminderPolicyOut,
    ReplyOut,
    SubjectKind,
    TouchOut,
    TouchPatientView,
    TouchStatus,
)
from shared.errors import Conflict, NotFound
from shared.http.auth import STAFF, Role, allow, principal_of
from shared.http.caller import audited_read, check_period
from shared.http.contract import IfMatch, UlidPath, etag, require_current, responses
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from shared.http.resolver import make_handler, make_resolver

router = APIGatewayHttpRouter()
TABLE_KEY = ("PK", "SK")
GSI = {n: (f"GSI{n}PK", f"GSI{n}SK", "PK", "SK") for n in (1, 2, 3)}
MAX_REPORT_DAYS = 92

TouchPage = Page[TouchOut]
TouchPatientPage = Page[TouchPatientView]
ReplyPage = Page[ReplyOut]


# ---------------------------------------------------------------- policy


@router.get(
    "/reminder-policy",
    summary="The organization's reminder policy (defaults until an admin writes one)",
    tags=["reminders"],
    operation_id="getReminderPolicy",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read_policy() -> Response[ReminderPolicyOut]:
    record, _ = repo.policy(principal_of(router).organization_id)
    return Response(200, "application/json", record, headers=etag(record.version))


@router.put(
    "/reminder-policy",
    summary="Replace the reminder policy (If-Match once it exists); applies to plans made from now on",
    tags=["reminders"],
    operation_id="putReminderPolicy",
    responses=responses(headers=["ETag"], errors={428: "The policy exists: send If-Match"}),
)
@allow(Role.ADMIN)
def write_policy(body: ReminderPolicy, if_match: IfMatch = None) -> Response[ReminderPolicyOut]:
    org = principal_of(router).organization_id
    _, item = repo.policy(org)
    if item is not None:
        require_current(if_match, item.version, "policy")
    try:
        record = repo.save_policy(org, body, item)
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise Conflict("The policy changed since you read it; read it again.") from None
    return Response(200, "application/json", record, headers=etag(record.version))


# ---------------------------------------------------------------- touches


def _page(
    org: str,
    index: Any,
    n: int | None,
    partition: str,
    list_id: str,
    limit: int,
    cursor: str | None,
    **bounds: Any,
) -> tuple[list[Any], str | None]:
    attrs = GSI[n] if n else TABLE_KEY
    start = decode_cursor(cursor, list_id, {attrs[0]: partition}, attrs, tenant=org)
    if n:
        items, last = sched.by_time(index, partition, limit=limit, start=start, **bounds)
    else:  # the table itself: one Query of the partition
        result = index.query(
            partition, scan_index_forward=bounds.get("forward", True), limit=limit, last_evaluated_key=start
        )
        items, last = list(result), result.last_evaluated_key
    return items, encode_cursor(list_id, last, tenant=org)


@router.get(
    "/appointments/<appointment_id>/reminders",
    summary="An appointment's reminders: each touch, planned and actual time, channel, status, receipts",
    tags=["reminders"],
    operation_id="listAppointmentReminders",
)
@allow(STAFF, Role.PATIENT)
def appointment_reminders(
    appointment_id: UlidPath, limit: Limit = 50, cursor: Cursor = None
) -> TouchPage | TouchPatientPage:
    principal = principal_of(router)
    org = principal.organization_id
    item = sched.get_item(sched.Appointment, (keys.appointment_pk(org, appointment_id), keys.APPOINTMENT_SK))
    if item is None or (principal.is_patient and item.patient_id != principal.patient_id):
        raise NotFound("No appointment with this id.")
    partition = keys.plan_pk(org, SubjectKind.APPOINTMENT, appointment_id)
    items, next_cursor = _page(
        org, repo.Touch.gsi3, 3, partition, f"reminders:{appointment_id}", limit, cursor
    )
    records = [i.record() for i in items if isinstance(i, repo.Touch)]
    audited_read(router, [item.patient_id], "reminders.read")
    if principal.is_patient:
        return TouchPatientPage(items=[TouchPatientView.of(r) for r in records], next_cursor=next_cursor)
    return TouchPage(items=records, next_cursor=next_cursor)


@router.get(
    "/reminders",
    summary="Reminders to work: the failed ones, most recent first",
    tags=["reminders"],
    operation_id="listReminders",
)
@allow(STAFF)
def failed_reminders(
    status: Annotated[Literal["failed"], Query(description="only `failed` for now")],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TouchPage:
    org = principal_of(router).organization_id
    items, next_cursor = _page(
        org, repo.Touch.gsi1, 1, keys.failed_touches_pk(org), "reminders:failed", limit, cursor, forward=False
    )
    records = [i.record() for i in items if isinstance(i, repo.Touch)]
    audited_read(router, [r.patient_id for r in records], "reminders.read")
    return TouchPage(items=records, next_cursor=next_cursor)


@router.get(
    "/replies",
    summary="SMS replies kept for staff (messages, reschedule requests, shared numbers), newest first",
    tags=["reminders"],
    operation_id="listReplies",
)
@allow(STAFF)
def replies(limit: Limit = 50, cursor: Cursor = None) -> ReplyPage:
    org = principal_of(router).organization_id
    items, next_cursor = _page(
        org, repo.Reply, None, keys.replies_pk(org), "replies", limit, cursor, forward=False
    )
    records = [ReplyOut.model_validate_json(i.body) for i in items if isinstance(i, repo.Reply)]
    audited_read(router, [r.patient_id for r in records if r.patient_id], "replies.read")
    return ReplyPage(items=records, next_cursor=next_cursor)


# ---------------------------------------------------------------- report


class OffsetFigures(BaseModel):
    offset: str = Field(description="the touch's offset before the visit (`7d`, `2bd`, `24h`...)")
    planned: int = Field(description="touches planned to go in the period")
    sent: int
    delivered: int
    failed: int
    skipped: int
    confirmed_after: int = Field(description="appointments confirmed after this touch, before the next")
    no_shows: int = Field(description="touches sent for visits the patient then missed")


class ReminderReport(BaseModel):
    period_start: datetime
    period_end: datetime
    offsets: list[OffsetFigures]


@router.get(
    "/reports/reminders",
    summary="Per touch offset: sent, delivered, confirmed after it, no-shows (touches due in the period)",
    tags=["reminders"],
    operation_id="reminderReport",
)
@allow(Role.ADMIN)
def report(
    from_: Annotated[Day, Query(alias="from", description="first day (UTC)")],
    to: Annotated[Day, Query(description="last day (UTC), at most 92 days after `from`")],
) -> ReminderReport:
    check_period(from_, to, MAX_REPORT_DAYS)
    org = principal_of(router).organization_id
    first = datetime.combine(from_, time(0), UTC)
    last = datetime.combine(to + timedelta(days=1), time(0), UTC)
    figures: dict[str, Counter[str]] = {}
    query = repo.Touch.gsi2.query(
        keys.touches_by_time_pk(org),
        repo.Touch.GSI2SK.between(clock.isoformat(first), clock.isoformat(last)),
    )
    for item in query:
        if not isinstance(item, repo.Touch):
            continue
        touch = item.record()
        if touch.subject_kind is not SubjectKind.APPOINTMENT or touch.skip_reason == "moved":
            continue
        count = figures.setdefault(touch.offset, Counter())
        count["planned"] += 1
        count["sent"] += touch.status in DONE_TOUCH
        count["delivered"] += touch.status is TouchStatus.DELIVERED
        count["failed"] += touch.status is TouchStatus.FAILED
        count["skipped"] += touch.status is TouchStatus.SKIPPED
        count["confirmed_after"] += touch.confirmed_after
        count["no_shows"] += touch.no_show
    fields = [f for f in OffsetFigures.model_fields if f != "offset"]
    return ReminderReport(
        period_start=first,
        period_end=last,
        offsets=[
            OffsetFigures(offset=offset, **{f: figures[offset][f] for f in fields})
            for offset in sorted(figures)
        ],
    )


app = make_resolver(router)
handler = make_handler(app)
