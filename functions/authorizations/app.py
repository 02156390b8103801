"""Authorizations area, HTTP: prior authorizations (request, move through the payer's decision, send
documents), the chase list, a patient's, the organization's policy and the report. Staff only: the
patient reads "awaiting insurance approval" on their appointment, never the payer's reasons."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field

from shared import clock, files, ids
from shared.data import authorizations as repo
from shared.data import core, keys
from shared.data.patients import Coverage, Patient
from shared.data.tx import Cancelled
from shared.domain.authorizations import (
    FINAL,
    MAX_DOCUMENTS,
    AuthList,
    AuthorizationIn,
    AuthorizationOut,
    AuthorizationPolicyIn,
    AuthorizationPolicyOut,
    AuthorizationReport,
    BadDetail,
    Document,
    IllegalMove,
    MoveIn,
    NotCovered,
    PurposeType,
    act,
    new_authorization,
    report,
)
from shared.domain.base import Strict, Ulid
from shared.domain.calendar import Day, Instant
from shared.errors import Conflict, NotFound
from shared.events import authorizations as events
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audit_replay, audited_read, caller, check_period, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, require_current, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from shared.http.resolver import make_handler, make_resolver

router = APIGatewayHttpRouter()
AuthorizationPage = Page[AuthorizationOut]
MAX_REPORT_DAYS = 366
STALE = {409: "An illegal move (`current_status`), or If-Match is stale", 428: "Send If-Match"}


class DocumentsIn(Strict):
    """``POST /authorizations/{id}/documents``: attachments uploaded first (``POST
    /patients/{id}/attachments``), sent to the payer with the request."""

    attachment_ids: list[Ulid] = Field(min_length=1, max_length=MAX_DOCUMENTS)


def _item(org: str, authorization_id: str) -> repo.AuthorizationItem:
    item = repo.get(org, authorization_id)
    if item is None:
        raise NotFound("No authorization with this id.")
    return item


def _commit(change: core.Change) -> None:
    try:
        change.commit()
    except Cancelled as cancelled:
        if "patient" in cancelled.failed:
            raise NotFound("No patient with this id.") from None
        raise Conflict("The authorization changed since you read it; read it again.") from None


def _check_purpose(org: str, patient_id: str, body: AuthorizationIn) -> None:
    """What the request is for is this patient's (a 422 otherwise)."""
    purpose = body.purpose
    if purpose is None:
        return
    from shared.data import careplans as plans  # here: the care-plans and records models load on use
    from shared.data import records

    kind = {PurposeType.CARE_PLAN_ACTIVITY: "care-plan"}.get(purpose.type, purpose.type.value)
    if records.related_patient(org, kind, purpose.id) != patient_id:
        raise invalid("purpose", f"no {purpose.type.value} of this patient with this id")
    if purpose.type is PurposeType.CARE_PLAN_ACTIVITY:
        plan = plans.get_plan(org, purpose.id)
        if plan is None or purpose.activity_id is None or plan.record().activity(purpose.activity_id) is None:
            raise invalid("purpose", "no activity of this care plan with this id")


def _written(record: AuthorizationOut, status: int = 200, **headers: str) -> Response[AuthorizationOut]:
    return Response(status, "application/json", record, headers={**headers, **etag(record.version)})


# ---------------------------------------------------------------- requests


@router.post(
    "/patients/<patient_id>/authorizations",
    summary="Request a prior authorization (a draft): the coverage, the service, units, diagnoses, urgency",
    tags=["authorizations"],
    operation_id="createAuthorization",
    responses=responses(201, "Created, a draft", headers=["Location", "ETag"]),
)
@allow(STAFF)
@idempotent(router, on_replay=audit_replay(router, "authorization.read"))
def create(patient_id: UlidPath, body: AuthorizationIn) -> Response[AuthorizationOut]:
    """The coverage must be the patient's and in force on the service date (the payer is its payer).
    Submit it with ``POST /authorizations/{id}/actions`` once its documents are attached."""
    from shared.data.scheduling import Provider  # noqa: F401 - the batch below reads a provider item

    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    wanted = [
        core.patient_key(org, patient_id),
        (keys.patient_pk(org, patient_id), keys.coverage_sk(body.coverage_id)),
        (keys.provider_pk(org, body.ordering_provider_id), keys.PROFILE_SK),
        core.calendar_key(org),
    ]
    found = core.get_many(wanted)
    patient, coverage, provider, calendar = (found.get(k) for k in wanted)
    if not isinstance(patient, Patient):
        raise NotFound("No patient with this id.")
    if patient.status != "active":
        raise invalid("patient_id", "the patient is inactive", where="path")
    if not isinstance(coverage, Coverage):
        raise invalid("coverage_id", "no coverage of this patient with this id")
    if provider is None:
        raise invalid("ordering_provider_id", "no provider with this id in your organization")
    _check_purpose(org, patient_id, body)
    from shared.domain.records import CoverageOut  # here: intake's models load where a request is made

    try:
        record = new_authorization(
            body,
            auth_id=ids.new_id(now),
            patient_id=patient_id,
            coverage=CoverageOut.model_validate_json(coverage.body),
            by=principal.subject,
            now=now,
        )
    except NotCovered as exc:
        raise invalid("coverage_id", str(exc).partition(": ")[2]) from None
    change = core.Change(actor, now)
    core.active_patient(change, org, patient_id)
    written = repo.put(change, org, record, core.calendar_of(calendar), None, "create")
    change.events.append(
        events.AuthorizationRequested(
            organization_id=org,
            occurred_at=now,
            authorization_id=written.id,
            patient_id=patient_id,
            urgency=written.urgency,
        )
    )
    _commit(change)
    return _written(written, 201, Location=f"/authorizations/{written.id}")


@router.get(
    "/authorizations/<authorization_id>",
    summary="An authorization: its status, the payer's clock, decision, units used, documents and history",
    tags=["authorizations"],
    operation_id="getAuthorization",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read(authorization_id: UlidPath) -> Response[AuthorizationOut]:
    """Each document with a download link good for minutes."""
    principal, _ = caller(router)
    org = principal.organization_id
    record = _item(org, authorization_id).record()
    audited_read(router, [record.patient_id], "authorization.read")
    docs = [
        d.model_copy(
            update={
                "download_url": files.download_url(
                    keys.attachment_object(org, record.patient_id, d.attachment_id), d.version_id
                )
            }
        )
        for d in record.documents
    ]
    return _written(record.model_copy(update={"documents": docs}))


@router.post(
    "/authorizations/<authorization_id>/actions",
    summary="Move it: submit, request-info, provide-info, approve, partially-approve, deny, appeal, cancel",
    tags=["authorizations"],
    operation_id="moveAuthorization",
    responses=responses(headers=["ETag"], errors=STALE),
)
@allow(STAFF)
def move(authorization_id: UlidPath, body: MoveIn, if_match: IfMatch = None) -> Response[AuthorizationOut]:
    """Submitting starts the payer's clock (72 hours expedited, 7 calendar days standard, or the payer's
    own in the policy); a decision stops it. Each move is recorded with who, when and the payer's
    reference number. Expiry is the timer's: the window's end."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    if body.action.value == "expire":
        raise invalid("action", "an approval expires by itself at its window's end")
    wanted = [repo.key(org, authorization_id), repo.POLICY.key(org), core.calendar_key(org)]
    found = core.get_many(wanted)  # one BatchGetItem: the authorization, the policy, the calendar
    item = found.get(wanted[0])
    if not isinstance(item, repo.AuthorizationItem):
        raise NotFound("No authorization with this id.")
    before = item.record()
    require_current(if_match, before.version, "authorization")
    policy = repo.POLICY.of(found.get(wanted[1]))
    cal = core.calendar_of(found.get(wanted[2]))
    try:
        after = act(before, body, principal.subject, now, cal, policy.rules_for(before.payer))
    except IllegalMove as exc:
        raise Conflict(str(exc), current_status=exc.status.value) from None
    except BadDetail as exc:
        field, _, message = str(exc).partition(": ")
        raise invalid(field, message) from None
    change = core.Change(actor, now)
    written = repo.put(change, org, after, cal, item, body.action.value)
    last = written.history[-1]
    change.events.append(
        events.AuthorizationMoved(
            organization_id=org,
            occurred_at=now,
            authorization_id=written.id,
            patient_id=written.patient_id,
            action=body.action,
            status=written.status,
            on_time=last.on_time,
        )
    )
    _commit(change)
    return _written(written)


@router.post(
    "/authorizations/<authorization_id>/documents",
    summary="Attach clinical documents for the payer (uploaded first, as for a message)",
    tags=["authorizations"],
    operation_id="attachAuthorizationDocuments",
    responses=responses(headers=["ETag"], errors=STALE),
)
@allow(STAFF)
def attach(
    authorization_id: UlidPath, body: DocumentsIn, if_match: IfMatch = None
) -> Response[AuthorizationOut]:
    """Each is checked: uploaded, no larger than announced, of the announced type by its first bytes.
    The files stay in S3 (ids only in the key); the authorization keeps their ids."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    item = _item(org, authorization_id)
    before = item.record()
    require_current(if_match, before.version, "authorization")
    if before.status in FINAL:
        raise Conflict("The authorization is closed.", current_status=before.status.value)
    if len(before.documents) + len(set(body.attachment_ids)) > MAX_DOCUMENTS:
        raise invalid("attachment_ids", f"at most {MAX_DOCUMENTS} documents per authorization")
    from shared.data import records  # here: the records area's models load where a document is named

    change = core.Change(actor, now)
    attached, checked = records.attach(
        change, org, before.patient_id, body.attachment_ids, authorization_id=authorization_id
    )
    docs = [
        Document(
            attachment_id=a.id,
            content_type=a.content_type,
            size=a.size,
            attached_at=now,
            version_id=checked.get(a.id),
        )
        for a in attached
    ]
    after = before.model_copy(update={"documents": [*before.documents, *docs], "updated_at": now})
    written = repo.put(change, org, after, core.organization_calendar(org), item, "attach")
    _commit(change)
    return _written(written)


# ---------------------------------------------------------------- lists


@router.get(
    "/authorizations",
    summary="A list: pending (the chase list, soonest due first), draft, approved, denied or closed",
    tags=["authorizations"],
    operation_id="listAuthorizations",
)
@allow(STAFF)
def list_(
    status: Annotated[
        AuthList, Query(description="pending: submitted, appealed, pending-info")
    ] = AuthList.PENDING,
    due_before: Annotated[
        Instant | None, Query(description="only those due (or sorting) before this instant")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuthorizationPage:
    """One Query a page, whatever the number of authorizations: pending ones by when the payer's
    decision (or the information it asked for) is due, approved ones by the window's end."""
    principal, _ = caller(router)
    org = principal.organization_id
    list_id = f"authorizations:{status.value}:{due_before.isoformat() if due_before else ''}"
    partition = keys.authorizations_pk(org, status.value)
    start = decode_cursor(
        cursor, list_id, {"GSI1PK": partition}, ("GSI1PK", "GSI1SK", "PK", "SK"), tenant=org
    )
    items, last = repo.list_page(org, status, due_before, limit, start)
    records_ = [i.record() for i in items]
    audited_read(router, [r.patient_id for r in records_], "authorization.read")
    return AuthorizationPage(items=records_, next_cursor=encode_cursor(list_id, last, tenant=org))


@router.get(
    "/patients/<patient_id>/authorizations",
    summary="A patient's authorizations, newest first",
    tags=["authorizations"],
    operation_id="listPatientAuthorizations",
)
@allow(STAFF)
def patient_list(patient_id: UlidPath, limit: Limit = 50, cursor: Cursor = None) -> AuthorizationPage:
    principal, _ = caller(router)
    org = principal.organization_id
    partition = keys.patient_authorizations_pk(org, patient_id)
    list_id = "patient-authorizations"
    start = decode_cursor(
        cursor, list_id, {"GSI2PK": partition}, ("GSI2PK", "GSI2SK", "PK", "SK"), tenant=org
    )
    items, last = repo.patient_page(org, patient_id, limit, start)
    require_parent(bool(items), cursor, Patient, core.patient_key(org, patient_id), "patient")
    if items:
        audited_read(router, [patient_id], "authorization.read")
    return AuthorizationPage(
        items=[i.record() for i in items], next_cursor=encode_cursor(list_id, last, tenant=org)
    )


# ---------------------------------------------------------------- policy and report


@router.get(
    "/authorization-policy",
    summary="What a booking without the approval it needs does, and payers' own clocks",
    tags=["authorizations"],
    operation_id="getAuthorizationPolicy",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read_policy() -> Response[AuthorizationPolicyOut]:
    record, _ = repo.POLICY.get(caller(router)[0].organization_id)
    return Response(200, "application/json", record, headers=etag(record.version))


@router.put(
    "/authorization-policy",
    summary="Replace the authorization policy (If-Match once it exists)",
    tags=["authorizations"],
    operation_id="putAuthorizationPolicy",
    responses=responses(
        headers=["ETag"], errors={409: "If-Match is stale (`current_version`)", 428: "Send If-Match"}
    ),
)
@allow(Role.ADMIN)
def write_policy(body: AuthorizationPolicyIn, if_match: IfMatch = None) -> Response[AuthorizationPolicyOut]:
    record = repo.POLICY.replace(caller(router)[0].organization_id, body, if_match)
    return Response(200, "application/json", record, headers=etag(record.version))


@router.get(
    "/reports/authorizations",
    summary="Requests submitted in the period: turnaround by payer and urgency, denials, appeals, "
    "visits held without approval",
    tags=["authorizations"],
    operation_id="authorizationReport",
)
@allow(Role.ADMIN)
def report_(
    from_: Annotated[Day, Query(alias="from", description="first submission date (the organization's zone)")],
    to: Annotated[Day, Query(description=f"last date, at most {MAX_REPORT_DAYS} days after `from`")],
) -> AuthorizationReport:
    check_period(from_, to, MAX_REPORT_DAYS)
    org = caller(router)[0].organization_id
    out = report(
        repo.submitted_between(org, from_, to),
        repo.unapproved_between(org, from_, to),
        from_,
        to,
        clock.now(),
    )
    if out.without_approval:
        audited_read(router, [v.patient_id for v in out.without_approval], "authorization.read")
    return out


app = make_resolver(router)
handler = make_handler(app)
