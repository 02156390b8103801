"""Care teams, "my panel", and a patient's audit trail."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from functions.intake.common import audited_read, caller, patient_for
from functions.intake.patients import PatientId, PatientPage, _summary
from shared import clock
from shared.data import keys
from shared.data import patients as repo
from shared.domain.patients import CareTeam, PatientOut
from shared.errors import Conflict
from shared.http.auth import STAFF, Role, allow
from shared.http.contract import IfMatch, etag, matches, responses
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()


class AuditRow(BaseModel):
    at: datetime
    actor_id: str
    action: str
    request_id: str | None = None


AuditPage = Page[AuditRow]


@router.put(
    "/patients/<patient_id>/care-team",
    summary="Assign the patient's coordinator, nurse, physician",
    tags=["care team"],
    operation_id="assignCareTeam",
    responses=responses(headers=["ETag"], errors={409: "If-Match is stale"}),
)
@allow(Role.COORDINATOR, Role.ADMIN)
def assign(patient_id: PatientId, body: CareTeam, if_match: IfMatch = None) -> Response[PatientOut]:
    """``If-Match`` (the patient's ETag) is checked when sent: a stale one is a 409."""
    principal, actor = caller(router)
    item = patient_for(principal, patient_id)
    if if_match is not None and not matches(if_match, item.version):
        raise Conflict(
            "The patient changed since you read it; read it again and re-apply your change.",
            current_version=item.version,
        )
    current = item.record()
    before = current.care_team.members() if current.care_team else {}
    after = body.members()
    old_staff = {staff: role for role, staff in before.items()}
    new_staff = {staff: role for role, staff in after.items()}
    left = set(old_staff) - set(new_staff)  # off the team: their panel entry goes
    joined = {
        s: r for s, r in new_staff.items() if old_staff.get(s) != r
    }  # new, or in a new role: (re)written
    now = clock.now()
    updated_record = current.model_copy(update={"care_team": body, "updated_at": now})
    updated = repo.update(item, updated_record, actor, now, "care_team.update", panel=(left, joined))
    return Response(200, "application/json", updated.record(), headers=etag(updated.version))


@router.get(
    "/panel",
    summary="My panel: patients whose care team I am on",
    tags=["care team"],
    operation_id="getPanel",
)
@allow(STAFF)
def my_panel(limit: Limit = 25, cursor: Cursor = None) -> PatientPage:
    principal, _ = caller(router)
    partition = {"PK": keys.panel_pk(principal.organization_id, principal.subject)}
    found, last = repo.panel_entries(
        principal.organization_id,
        principal.subject,
        limit,
        decode_cursor(cursor, "panel", partition, ("PK", "SK"), tenant=principal.organization_id),
    )
    audited_read(router, [p.patient_id for p in found], "panel.read")
    return PatientPage(
        items=[_summary(p) for p in found],
        next_cursor=encode_cursor("panel", last, tenant=principal.organization_id),
    )


@router.get(
    "/patients/<patient_id>/audit",
    summary="Who read or changed this patient's record",
    tags=["audit"],
    operation_id="getAuditTrail",
)
@allow(Role.ADMIN)
def audit_trail(patient_id: PatientId, limit: Limit = 50, cursor: Cursor = None) -> AuditPage:
    principal, _ = caller(router)
    patient_for(principal, patient_id)
    org = principal.organization_id
    partition = {"PK": keys.audit_pk(org, patient_id)}
    entries, last = repo.audit_trail(
        org, patient_id, limit, decode_cursor(cursor, "audit", partition, ("PK", "SK"), tenant=org)
    )
    audited_read(router, [patient_id], "audit.read")
    return AuditPage(
        items=[
            AuditRow(at=e.at, actor_id=e.actor_id, action=e.action, request_id=e.request_id) for e in entries
        ],
        next_cursor=encode_cursor("audit", last, tenant=org),
    )
