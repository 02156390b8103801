"""``/patients``: register, read, update, search."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.intake.common import audited_read, caller, invalid, patient_for
from shared import clock, ids
from shared.data import keys
from shared.data import patients as repo
from shared.domain.patients import (
    PatientIn,
    PatientOut,
    PatientSelfUpdate,
    PatientSelfView,
    PatientStatus,
    PatientSummary,
    PatientUpdate,
    Phone,
    normalize_name,
)
from shared.errors import Conflict, Forbidden, PreconditionRequired, Unprocessable
from shared.events.intake import PatientRegistered
from shared.http.auth import STAFF, Principal, Role, allow
from shared.http.contract import IfMatch, etag, matches, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
PatientId = Annotated[str, Path(min_length=26, max_length=26, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]
SELF_SERVICE_FIELDS = frozenset(PatientSelfUpdate.model_fields)


PatientPage = Page[PatientSummary]


def _summary(item: repo.Patient) -> PatientSummary:
    record = item.record()
    return PatientSummary(id=record.id, name=record.name, birth_date=record.birth_date, status=record.status)


@router.post(
    "/patients",
    summary="Register a patient",
    tags=["patients"],
    operation_id="registerPatient",
    responses=responses(
        201,
        "Registered",
        headers=["Location", "ETag"],
        errors={409: "A probable duplicate exists (staff see its id in `existing_patient_id`)"},
    ),
)
@allow(STAFF)
@idempotent(router, on_replay=lambda body: audited_read(router, [body["id"]], "patient.read"))
def register(
    body: PatientIn,
    allow_duplicate: Annotated[
        bool, Query(description="register even if a probable duplicate exists")
    ] = False,
) -> Response[PatientOut]:
    _, actor = caller(router)
    now = clock.now()
    try:
        body.check_dates(now.date())
    except ValueError as exc:
        raise invalid("birth_date", str(exc)) from None
    patient_id = ids.new_id(now)
    record = PatientOut(
        id=patient_id,
        version=1,
        status=PatientStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        **body.model_dump(),
    )
    event = PatientRegistered(organization_id=actor.organization_id, patient_id=patient_id, occurred_at=now)
    try:
        repo.register(record, actor, now, [event], allow_duplicate=allow_duplicate)
    except repo.ProbableDuplicate as duplicate:  # it names another patient: that is a read, audited
        audited_read(router, [duplicate.extra["existing_patient_id"]], "patient.match")
        raise
    return Response(
        201, "application/json", record, headers={"Location": f"/patients/{patient_id}", **etag(1)}
    )


@router.get(
    "/patients/<patient_id>",
    summary="Read a patient",
    tags=["patients"],
    operation_id="getPatient",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF, Role.PATIENT)
def read(patient_id: PatientId) -> Response[PatientOut | PatientSelfView]:
    """Staff read the whole record; a patient reads what they may change (contact, language, channels,
    consent)."""
    principal, _ = caller(router)
    item = patient_for(principal, patient_id)
    audited_read(router, [patient_id], "patient.read")
    return Response(200, "application/json", _view(principal, item.record()), headers=etag(item.version or 1))


def _view(principal: Principal, record: PatientOut) -> PatientOut | PatientSelfView:
    return PatientSelfView.of(record) if principal.is_patient else record


def _merge(current: PatientOut, change: PatientUpdate, now: Any) -> PatientOut:
    """A JSON merge of ``change`` into ``current``: fields sent replace fields held, except ``contact``
    (merged field by field) and ``consent`` (merged channel by channel)."""
    data = current.model_dump()
    sent = change.model_dump(exclude_unset=True)
    if "contact" in sent and sent["contact"] is not None:
        data["contact"] = {**data["contact"], **change.contact.model_dump(exclude_unset=True)}  # type: ignore[union-attr]
        sent.pop("contact")
    if "consent" in sent and sent["consent"] is not None:
        data["consent"] = {**data["consent"], **sent.pop("consent")}
    for field, value in sent.items():
        if value is None and field not in ("gender_identity",):
            raise invalid(field, "cannot be removed")
        data[field] = value
    data["updated_at"] = now
    return PatientOut.model_validate(data)


@router.patch(
    "/patients/<patient_id>",
    summary="Change a patient (If-Match: the ETag you read)",
    tags=["patients"],
    operation_id="updatePatient",
    responses=responses(
        headers=["ETag"],
        errors={409: "If-Match is stale, or the change makes a probable duplicate", 428: "Send If-Match"},
    ),
)
@allow(STAFF, Role.PATIENT)
def update(
    patient_id: PatientId,
    body: PatientUpdate,
    if_match: IfMatch = None,
) -> Response[PatientOut | PatientSelfView]:
    principal, actor = caller(router)
    if principal.is_patient and not body.model_fields_set <= SELF_SERVICE_FIELDS:
        denied = sorted(body.model_fields_set - SELF_SERVICE_FIELDS)
        raise Forbidden(
            f"Patients may change their contact details, language, channels, consent and surveys only, "
            f"not: {', '.join(denied)}."
        )
    if if_match is None:
        raise PreconditionRequired("Send If-Match with the ETag of the version you read.")
    item = patient_for(principal, patient_id)
    if not matches(if_match, item.version):
        raise Conflict(
            "The patient changed since you read it; read it again and re-apply your change.",
            current_version=item.version,
        )
    now = clock.now()
    try:
        body.check_dates(now.date())
    except ValueError as exc:
        raise invalid("birth_date", str(exc)) from None
    try:
        updated = repo.update(item, _merge(item.record(), body, now), actor, now, "patient.update")
    except repo.ProbableDuplicate:
        if principal.is_patient:  # never name another patient to a patient
            raise Conflict("This change could not be saved; please contact your care team.") from None
        raise
    return Response(
        200, "application/json", _view(principal, updated.record()), headers=etag(updated.version or 1)
    )


@router.get(
    "/patients",
    summary="Find patients by name prefix, birth date and/or phone",
    tags=["patients"],
    operation_id="searchPatients",
)
@allow(STAFF)
def search(
    name: Annotated[
        str | None, Query(min_length=1, max_length=80, description="prefix of 'family given'")
    ] = None,
    birth_date: Annotated[date | None, Query()] = None,
    phone: Annotated[Phone | None, Query()] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> PatientPage:
    """Every criterion given must match; with none, the organization's patients by name."""
    principal, _ = caller(router)
    org = principal.organization_id
    prefix = normalize_name(name) if name else None
    if name and not prefix:
        raise Unprocessable(
            "Search by name needs letters.",
            errors=[{"loc": ["query", "name"], "msg": "contains no letters", "type": "value_error"}],
        )
    list_id = f"search:{prefix or ''}:{birth_date or ''}:{phone or ''}"
    key_attrs: tuple[str, ...]
    if phone:
        partition, key_attrs = {"PK": keys.patients_by_phone_pk(org, phone)}, ("PK", "SK")
    elif birth_date:
        partition = {"GSI2PK": keys.patients_by_birth_date_pk(org, birth_date.isoformat())}
        key_attrs = ("GSI2PK", "GSI2SK", "PK", "SK")
    else:
        partition, key_attrs = {"GSI1PK": keys.patients_by_name_pk(org)}, ("GSI1PK", "GSI1SK", "PK", "SK")
    found, last = repo.search(
        org,
        name=prefix,
        birth_date=birth_date.isoformat() if birth_date else None,
        phone=phone,
        limit=limit,
        start=decode_cursor(cursor, list_id, partition, key_attrs, tenant=org),
    )
    audited_read(router, [p.patient_id for p in found], "patient.search")
    return PatientPage(
        items=[_summary(p) for p in found], next_cursor=encode_cursor(list_id, last, tenant=org)
    )
