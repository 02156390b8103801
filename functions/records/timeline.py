"""The patient timeline over HTTP: everything that happened to and for the patient, newest first, one
Query per page (see :mod:`shared.data.keys`, Records, and :mod:`shared.domain.timeline`)."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.data import core, keys
from shared.data import records as repo
from shared.data.patients import Patient
from shared.domain.timeline import PATIENT_KINDS, Kind, TimelineEntry, TimelinePatientEntry
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audited_read, caller, invalid, require_parent
from shared.http.contract import UlidPath
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
TimelinePage = Page[TimelineEntry]
TimelinePatientPage = Page[TimelinePatientEntry]
KindFilter = Annotated[Kind | None, Query(description="only entries of this kind")]
Include = Annotated[
    Literal["entered-in-error"] | None,
    Query(description="staff: also the entries of notes entered in error (hidden by default)"),
]
INDEX = {  # (patient view, one kind) → the key attributes of what the page reads
    (False, False): ("PK", "SK"),
    (False, True): ("GSI1PK", "GSI1SK", "PK", "SK"),
    (True, False): ("GSI2PK", "GSI2SK", "PK", "SK"),
    (True, True): ("GSI3PK", "GSI3SK", "PK", "SK"),
}


@router.get(
    "/patients/<patient_id>/timeline",
    summary="Everything that happened to and for the patient, newest first; each entry links to its record",
    tags=["records"],
    operation_id="getTimeline",
)
@allow(STAFF, Role.PATIENT)
def timeline(
    patient_id: UlidPath,
    kind: KindFilter = None,
    include: Include = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> TimelinePage | TimelinePatientPage:
    """The patient reads their own, without what is for staff only (tasks, notes, results, alerts...).
    A page may hold fewer entries than ``limit`` and still have a ``next_cursor``: follow it."""
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    patient_view = principal.is_patient
    if patient_view and include is not None:
        raise invalid("include", "for staff only", where="query")
    if patient_view and kind is not None and kind not in PATIENT_KINDS:
        return TimelinePatientPage(items=[], next_cursor=None)
    attributes = INDEX[(patient_view, kind is not None)]
    view = "PATIENT" if patient_view else None
    partition = keys.timeline_pk(org, patient_id, view, kind.value if kind else None)
    list_id = f"timeline:{int(patient_view)}:{kind.value if kind else ''}:{include or ''}"
    start = decode_cursor(cursor, list_id, {attributes[0]: partition}, attributes, tenant=org)
    entries, last = repo.timeline_page(
        org,
        patient_id,
        patient_view=patient_view,
        kind=kind.value if kind else None,
        include_hidden=include is not None,
        limit=limit,
        start=start,
    )
    next_cursor = encode_cursor(list_id, last, tenant=org)
    if principal.is_staff:
        require_parent(bool(entries), cursor, Patient, core.patient_key(org, patient_id), "patient")
    if entries:
        audited_read(router, [patient_id], "timeline.read")
    if patient_view:
        return TimelinePatientPage(
            items=[TimelinePatientEntry.of(e) for e in entries], next_cursor=next_cursor
        )
    return TimelinePage(items=entries, next_cursor=next_cursor)
