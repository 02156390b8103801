"""``/referrals``: the closed loop from draft to closed, and the coordinator's chase list."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.scheduling.common import commit
from shared import clock, ids
from shared.data import keys, moves
from shared.data import scheduling as repo
from shared.domain.referrals import (
    FHIR_STATUS,
    MANUAL_ACTIONS,
    OPEN,
    ReferralActionIn,
    ReferralIn,
    ReferralOut,
    ReferralPatientView,
    ReferralStatus,
)
from shared.errors import Conflict, NotFound
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audited_read, caller, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, matches, responses, status_move
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
Action = Literal["send", "accept", "reject", "complete", "close", "cancel"]
assert set(MANUAL_ACTIONS) == set(get_args(Action))  # noqa: S101 - a definition-time guard


ReferralPage = Page[ReferralOut]
ReferralPatientPage = Page[ReferralPatientView]


def _overdue(record: ReferralOut, today: date) -> ReferralOut:
    return record.model_copy(update={"overdue": record.status in OPEN and record.due_date < today})


def _view(item: repo.Referral, today: date) -> ReferralOut:
    return _overdue(item.record(), today)


@router.post(
    "/referrals",
    summary="Refer a patient to a specialty or a provider",
    tags=["referrals"],
    operation_id="createReferral",
    responses=responses(201, "Created", headers=["Location", "ETag"]),
)
@allow(STAFF)
@idempotent(router)
def create(body: ReferralIn) -> Response[ReferralOut]:
    from shared.events.scheduling import ReferralCreated, ReferralSent

    principal, actor = caller(router)
    org = principal.organization_id
    now = clock.now()
    wanted = [repo.patient_key(org, body.patient_id), repo.calendar_key(org)]
    if body.provider_id:
        wanted.append(repo.provider_key(org, body.provider_id))
    found = repo.get_many(wanted)
    patient = found.get(wanted[0])
    if patient is None:
        raise invalid("patient_id", "no patient with this id in your organization")
    if patient.status != "active":
        raise invalid("patient_id", "the patient is inactive")
    if body.provider_id and wanted[2] not in found:
        raise invalid("provider_id", "no provider with this id in your organization")
    today = repo.calendar_of(found.get(wanted[1])).local_date(now)
    if body.due_date < today:
        raise invalid("due_date", "must not be in the past")
    status = ReferralStatus.SENT if body.send else ReferralStatus.DRAFT
    record = ReferralOut(
        id=ids.new_id(now),
        version=1,
        status=status,
        fhir_status=FHIR_STATUS[status],
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
        **body.model_dump(exclude={"send"}),
    )
    change = repo.Change(actor, now)
    change.put("referral", repo.referral_item(org, record))
    repo.active_patient(change, org, record.patient_id)
    change.audit.append((record.patient_id, "referral.create"))
    common = {
        "organization_id": org,
        "referral_id": record.id,
        "patient_id": record.patient_id,
        "status": status,
        "occurred_at": now,
    }
    change.events.append(ReferralCreated(**common))
    if body.send:
        change.events.append(ReferralSent(**common))
    commit(change)
    headers = {"Location": f"/referrals/{record.id}", **etag(1)}
    return Response(201, "application/json", record, headers=headers)


def _referral_and_today(org: str, referral_id: str) -> tuple[repo.Referral, date]:
    key = (keys.referral_pk(org, referral_id), keys.REFERRAL_SK)
    found = repo.get_many([key, repo.calendar_key(org)])
    if key not in found:
        raise NotFound("No referral with this id.")
    return found[key], repo.calendar_of(found.get(repo.calendar_key(org))).local_date(clock.now())


@router.get(
    "/referrals/<referral_id>",
    summary="A referral",
    tags=["referrals"],
    operation_id="getReferral",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read(referral_id: UlidPath) -> Response[ReferralOut]:
    org = caller(router)[0].organization_id
    item, today = _referral_and_today(org, referral_id)
    audited_read(router, [item.patient_id], "referral.read")
    return Response(200, "application/json", _view(item, today), headers=etag(item.version))


@router.post(
    "/referrals/<referral_id>/<action>",
    summary="Move a referral along its loop",
    tags=["referrals"],
    operation_id="moveReferral",
    responses=status_move(),
)
@allow(STAFF)
def act(
    referral_id: UlidPath,
    action: Annotated[Action, Path(description="send, accept, reject, complete, close or cancel")],
    body: ReferralActionIn | None = None,
    if_match: IfMatch = None,
) -> Response[ReferralOut]:
    """``scheduled`` is reached by booking with ``referral_id``; cancelling or missing that
    appointment takes the referral back to ``accepted``; completing it completes the referral."""
    principal, actor = caller(router)
    org = principal.organization_id
    item, today = _referral_and_today(org, referral_id)
    if if_match is not None and not matches(if_match, item.version):
        raise Conflict("The referral changed since you read it; read it again.", current_version=item.version)
    now = clock.now()
    change = repo.Change(actor, now)
    reason = body.reason if body is not None else None
    record = moves.referral_change(change, org, item, action, item.record().appointment_id, reason)
    change.audit.append((item.patient_id, f"referral.{action}"))
    commit(change)
    return Response(200, "application/json", _overdue(record, today), headers=etag(record.version))


@router.get(
    "/referrals",
    summary="Referrals by status; status=open&overdue=true is the chase list",
    tags=["referrals"],
    operation_id="searchReferrals",
)
@allow(STAFF)
def search(
    status: Annotated[Literal["open"] | ReferralStatus, Query(description="open: not seen yet")] = "open",
    overdue: Annotated[bool, Query(description="only open referrals past their due date")] = False,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> ReferralPage:
    """Oldest due first."""
    org = caller(router)[0].organization_id
    if overdue and status != "open":
        raise invalid("overdue", "overdue applies to status=open", "query")
    today = repo.organization_calendar(org).local_date(clock.now())
    index: Any
    if status == "open":
        n, index, partition = 1, repo.CareModel.gsi1, keys.open_referrals_pk(org)
    else:
        n, index, partition = 2, repo.CareModel.gsi2, keys.referrals_by_status_pk(org, status)
    list_id = f"referrals:{status}:{overdue}:{today}"
    attrs = (f"GSI{n}PK", f"GSI{n}SK", "PK", "SK")
    before = today.isoformat()
    start = decode_cursor(
        cursor,
        list_id,
        {f"GSI{n}PK": partition},
        attrs,
        within=lambda key: not overdue or key[f"GSI{n}SK"]["S"] < before,
        tenant=org,
    )
    bounds: dict[str, Any] = {"before": before} if overdue else {}
    items, last = repo.by_time(index, partition, limit=limit, start=start, **bounds)
    found = [i for i in items if isinstance(i, repo.Referral)]
    audited_read(router, [i.patient_id for i in found], "referral.read")
    return ReferralPage(
        items=[_view(i, today) for i in found], next_cursor=encode_cursor(list_id, last, tenant=org)
    )


@router.get(
    "/patients/<patient_id>/referrals",
    summary="A patient's referrals, newest first",
    tags=["referrals"],
    operation_id="listPatientReferrals",
)
@allow(STAFF, Role.PATIENT)
def patient_referrals(
    patient_id: UlidPath, limit: Limit = 25, cursor: Cursor = None
) -> ReferralPage | ReferralPatientPage:
    """A patient reads their own view of each, and no drafts (staff's work in progress). A patient who
    is not the caller's is a 404: an empty first page costs the GetItem of the patient instead of
    the calendar's (no referral to mark overdue), so it is one Query and one GetItem either way."""
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    partition = keys.patient_referrals_pk(org, patient_id)
    list_id = "patient-referrals"
    start = decode_cursor(
        cursor, list_id, {"GSI3PK": partition}, ("GSI3PK", "GSI3SK", "PK", "SK"), tenant=org
    )
    items, last = repo.by_time(repo.CareModel.gsi3, partition, forward=False, limit=limit, start=start)
    require_parent(bool(items), cursor, repo.Patient, repo.patient_key(org, patient_id), "patient")
    found = [i for i in items if isinstance(i, repo.Referral)]
    if principal.is_patient:
        found = [i for i in found if i.status != ReferralStatus.DRAFT]
    audited_read(router, [patient_id] if found else [], "referral.read")
    next_cursor = encode_cursor(list_id, last, tenant=org)
    if not found:
        return ReferralPage(items=[], next_cursor=next_cursor)
    today = repo.organization_calendar(org).local_date(clock.now())
    records = [_view(i, today) for i in found]
    if principal.is_patient:
        return ReferralPatientPage(
            items=[ReferralPatientView.of(r) for r in records], next_cursor=next_cursor
        )
    return ReferralPage(items=records, next_cursor=next_cursor)
