"""A patient's assessments (versioned history, scored) and coverage (insurance on file).

Their lists follow the rule every sub-collection follows: a patient who is not the caller's (missing,
another organization's) is a 404, never an empty list. Entries found prove the patient (they share its
partition and are written only with a check that it exists); only an empty first page costs one
GetItem of the patient."""

from __future__ import annotations

import json
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from functions.intake.common import audited_read, caller, patient_for
from functions.intake.patients import PatientId
from shared import clock, ids
from shared.data import keys
from shared.data import patients as repo
from shared.domain.calendar import Day
from shared.domain.records import (
    ActiveCoverage,
    AssessmentIn,
    AssessmentOut,
    CoverageIn,
    CoverageOut,
    active_on,
)
from shared.domain.screening import Domain, score
from shared.events.intake import AssessmentRecorded, SafetyConcernIdentified, SocialNeedIdentified
from shared.events.models import DomainEvent
from shared.http.auth import STAFF, allow
from shared.http.contract import responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()


AssessmentPage = Page[AssessmentOut]


class CoverageList(BaseModel):
    items: list[CoverageOut]
    active: ActiveCoverage


def _events(org: str, assessment: AssessmentOut) -> list[DomainEvent]:
    common = {
        "organization_id": org,
        "patient_id": assessment.patient_id,
        "assessment_id": assessment.id,
        "occurred_at": assessment.recorded_at,
    }
    events: list[DomainEvent] = [AssessmentRecorded(risk=assessment.score.risk, **common)]
    for domain in assessment.score.positive:
        if domain is Domain.INTERPERSONAL_SAFETY:
            events.append(SafetyConcernIdentified(**common))
        else:
            events.append(SocialNeedIdentified(domain=domain, **common))
    return events


@router.post(
    "/patients/<patient_id>/assessments",
    summary="Record an intake assessment",
    tags=["assessments"],
    operation_id="recordAssessment",
    responses=responses(201, "Recorded and scored"),
)
@allow(STAFF)
@idempotent(router, on_replay=lambda body: audited_read(router, [body["patient_id"]], "assessment.read"))
def record_assessment(patient_id: PatientId, body: AssessmentIn) -> Response[AssessmentOut]:
    principal, actor = caller(router)
    principal.require_patient(patient_id)  # existence is checked inside the write
    now = clock.now()
    assessment = AssessmentOut(
        id=ids.new_id(now),
        patient_id=patient_id,
        recorded_at=now,
        recorded_by=principal.subject,
        score=score(body.screening),
        **body.model_dump(),
    )
    item = repo.Assessment(
        keys.patient_pk(actor.organization_id, patient_id),
        keys.assessment_sk(assessment.id),
        assessment_id=assessment.id,
        body=assessment.model_dump_json(),
    )
    repo.add_history(
        actor.organization_id,
        item,
        actor,
        now,
        "assessment.create",
        patient_id,
        _events(actor.organization_id, assessment),
    )
    return Response(
        201,
        "application/json",
        assessment,
        headers={"Location": f"/patients/{patient_id}/assessments/{assessment.id}"},
    )


@router.get(
    "/patients/<patient_id>/assessments",
    summary="A patient's assessments, newest first",
    tags=["assessments"],
    operation_id="listAssessments",
)
@allow(STAFF)
def list_assessments(patient_id: PatientId, limit: Limit = 25, cursor: Cursor = None) -> AssessmentPage:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    pk = keys.patient_pk(principal.organization_id, patient_id)
    items, last = repo.history(
        repo.Assessment,
        principal.organization_id,
        patient_id,
        keys.ASSESSMENT_PREFIX,
        limit,
        decode_cursor(cursor, "assessments", {"PK": pk}, ("PK", "SK"), tenant=principal.organization_id),
    )
    if not items and not cursor:
        patient_for(principal, patient_id)
    audited_read(router, [patient_id], "assessment.read")
    return AssessmentPage(
        items=[AssessmentOut.model_validate(json.loads(i.body)) for i in items],
        next_cursor=encode_cursor("assessments", last, tenant=principal.organization_id),
    )


@router.post(
    "/patients/<patient_id>/coverage",
    summary="Add insurance coverage",
    tags=["coverage"],
    operation_id="addCoverage",
    responses=responses(201, "Recorded"),
)
@allow(STAFF)
@idempotent(router, on_replay=lambda body: audited_read(router, [body["patient_id"]], "coverage.read"))
def add_coverage(patient_id: PatientId, body: CoverageIn) -> Response[CoverageOut]:
    principal, actor = caller(router)
    principal.require_patient(patient_id)  # existence is checked inside the write
    now = clock.now()
    coverage = CoverageOut(id=ids.new_id(now), patient_id=patient_id, recorded_at=now, **body.model_dump())
    item = repo.Coverage(
        keys.patient_pk(actor.organization_id, patient_id),
        keys.coverage_sk(coverage.id),
        coverage_id=coverage.id,
        body=coverage.model_dump_json(),
    )
    repo.add_history(actor.organization_id, item, actor, now, "coverage.create", patient_id)
    return Response(201, "application/json", coverage)


@router.get(
    "/patients/<patient_id>/coverage",
    summary="Coverage on file, and what is active on a date",
    tags=["coverage"],
    operation_id="listCoverage",
)
@allow(STAFF)
def list_coverage(
    patient_id: PatientId,
    on: Annotated[
        Day | None, Query(description="the date to resolve active coverage for (default today)")
    ] = None,
) -> CoverageList:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    items = repo.all_history(repo.Coverage, principal.organization_id, patient_id, keys.COVERAGE_PREFIX)
    if not items:
        patient_for(principal, patient_id)
    coverages = [CoverageOut.model_validate(json.loads(i.body)) for i in items]
    audited_read(router, [patient_id], "coverage.read")
    return CoverageList(items=coverages, active=active_on(coverages, on or clock.now().date()))
