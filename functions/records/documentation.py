"""Interactions and clinical notes over HTTP (staff only; every read of a note is audited).

A note is signed when saved. ``POST …/amendments`` (its author, If-Match) adds a signed version;
``POST …/entered-in-error`` (its author, a physician or an admin, If-Match) marks it wrong. Neither
rewrites a version: ``GET`` shows every one, the current first.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.records.common import check_related, commit, exists, patient_of
from shared import clock, ids
from shared.data import core, keys
from shared.data import records as repo
from shared.data.patients import Patient
from shared.domain.documentation import (
    AmendmentIn,
    EnteredInErrorIn,
    IllegalChange,
    InteractionIn,
    InteractionOut,
    NoteHead,
    NoteIn,
    NoteOut,
    NoteSummary,
    NoteVersion,
    amend,
    interaction,
    note_out,
    retract,
    sign,
)
from shared.errors import Conflict, Forbidden, NotFound
from shared.events.records import InteractionLogged, NoteAmended, NoteEnteredInError, NoteEvent, NoteSigned
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audit_replay, audited_read, caller, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, require_current, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
InteractionPage = Page[InteractionOut]
NotePage = Page[NoteSummary]
Include = Annotated[Literal["entered-in-error"] | None, Query(description="also the notes entered in error")]
NotePath = Annotated[str, Path(min_length=26, max_length=26, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]
RETRACTORS = frozenset({Role.PHYSICIAN, Role.ADMIN})


@router.post(
    "/patients/<patient_id>/interactions",
    summary="Log a contact with the patient or about them: channel, direction, party, reached or not",
    tags=["records"],
    operation_id="logInteraction",
    responses=responses(201, "Logged", headers=["Location"]),
)
@allow(STAFF)
@idempotent(router, on_replay=audit_replay(router, "interaction.read"))
def log_interaction(patient_id: UlidPath, body: InteractionIn) -> Response[InteractionOut]:
    """An attempt that did not reach anyone is logged too (``reached: false``). Reminders, replies and
    partners' notices are logged by Careloop itself."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    patient_of(org, patient_id)
    check_related(org, patient_id, body.relates_to)
    try:
        record = interaction(body, ids.new_id(), patient_id, principal.subject, now)
    except ValueError as exc:
        raise invalid("occurred_at", str(exc)) from None
    change = core.Change(actor, now)
    exists(change, org, patient_id)
    repo.put_interaction(change, org, record)
    repo.record_event(
        change,
        InteractionLogged(
            organization_id=org,
            patient_id=patient_id,
            interaction_id=record.id,
            channel=record.channel,
            direction=record.direction,
            party=record.party,
            reached=record.reached,
            by_source=record.source,
            occurred_at=record.occurred_at,
        ),
    )
    commit(change, "patient")
    return Response(
        201,
        "application/json",
        record,
        headers={"Location": f"/patients/{patient_id}/interactions/{record.id}"},
    )


@router.get(
    "/patients/<patient_id>/interactions",
    summary="The patient's interaction log, newest first: staff's, reminders, replies and partners' notices",
    tags=["records"],
    operation_id="listInteractions",
)
@allow(STAFF)
def list_interactions(patient_id: UlidPath, limit: Limit = 25, cursor: Cursor = None) -> InteractionPage:
    principal, _ = caller(router)
    org = principal.organization_id
    list_id = "interactions"
    partition = keys.patient_interactions_pk(org, patient_id)
    start = decode_cursor(
        cursor, list_id, {"GSI1PK": partition}, ("GSI1PK", "GSI1SK", "PK", "SK"), tenant=org
    )
    records, last = repo.interactions_page(org, patient_id, limit, start)
    require_parent(bool(records), cursor, Patient, core.patient_key(org, patient_id), "patient")
    if records:
        audited_read(router, [patient_id], "interaction.read")
    return InteractionPage(items=records, next_cursor=encode_cursor(list_id, last, tenant=org))


@router.get(
    "/patients/<patient_id>/interactions/<interaction_id>",
    summary="An interaction",
    tags=["records"],
    operation_id="getInteraction",
)
@allow(STAFF)
def read_interaction(patient_id: UlidPath, interaction_id: UlidPath) -> InteractionOut:
    principal, _ = caller(router)
    record = repo.get_interaction(principal.organization_id, interaction_id)
    if record is None or record.patient_id != patient_id:
        raise NotFound("No interaction with this id for this patient.")
    audited_read(router, [patient_id], "interaction.read")
    return record


# ---------------------------------------------------------------- notes


def _note(org: str, patient_id: str, note_id: str) -> repo.StoredNote:
    stored = repo.get_note(org, note_id)
    if stored is None or stored.head.patient_id != patient_id:
        raise NotFound("No note with this id for this patient.")
    return stored


def _event(kind: type[NoteEvent], org: str, head: NoteHead, number: int) -> NoteEvent:
    return kind(
        organization_id=org,
        patient_id=head.patient_id,
        note_id=head.id,
        type=head.type,
        doc_status=head.doc_status,
        revision=number,
        occurred_at=clock.now(),
    )


def _out(
    head: NoteHead, versions: list[NoteVersion], version: int, status: int = 200, location: str | None = None
) -> Response[NoteOut]:
    record = note_out(head, versions, version)
    headers = {**etag(record.version), **({"Location": location} if location else {})}
    return Response(status, "application/json", record, headers=headers)


@router.post(
    "/patients/<patient_id>/notes",
    summary="Write a note, signed by you as it is saved; it is never edited afterwards",
    tags=["records"],
    operation_id="writeNote",
    responses=responses(201, "Signed", headers=["Location", "ETag"]),
)
@allow(STAFF)
@idempotent(router, on_replay=audit_replay(router, "note.read"))
def write_note(patient_id: UlidPath, body: NoteIn) -> Response[NoteOut]:
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    patient_of(org, patient_id)
    check_related(org, patient_id, body.relates_to)
    head, first = sign(body, ids.new_id(), patient_id, principal.subject, now)
    change = core.Change(actor, now)
    exists(change, org, patient_id)
    entry = repo.record_event(change, _event(NoteSigned, org, head, 1))
    repo.put_note(change, org, head, None, [entry] if entry else [], first)
    change.audit.append((patient_id, "note.create"))
    commit(change, "patient")
    return _out(head, [first], 1, 201, f"/patients/{patient_id}/notes/{head.id}")


@router.get(
    "/patients/<patient_id>/notes",
    summary="The patient's notes, newest first, each with its current version",
    tags=["records"],
    operation_id="listNotes",
)
@allow(STAFF)
def list_notes(
    patient_id: UlidPath, include: Include = None, limit: Limit = 25, cursor: Cursor = None
) -> NotePage:
    """Notes entered in error are left out unless ``include=entered-in-error``; every version of one
    is read with ``GET …/notes/{id}``."""
    principal, _ = caller(router)
    org = principal.organization_id
    list_id = f"notes:{include or ''}"
    partition = keys.patient_notes_pk(org, patient_id)
    start = decode_cursor(
        cursor, list_id, {"GSI1PK": partition}, ("GSI1PK", "GSI1SK", "PK", "SK"), tenant=org
    )
    records, last = repo.notes_page(org, patient_id, include is not None, limit, start)
    require_parent(bool(records), cursor, Patient, core.patient_key(org, patient_id), "patient")
    if records:
        audited_read(router, [patient_id], "note.read")
    return NotePage(items=records, next_cursor=encode_cursor(list_id, last, tenant=org))


@router.get(
    "/patients/<patient_id>/notes/<note_id>",
    summary="A note and every signed version of it, the current one first (also when entered in error)",
    tags=["records"],
    operation_id="getNote",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read_note(patient_id: UlidPath, note_id: NotePath) -> Response[NoteOut]:
    principal, _ = caller(router)
    org = principal.organization_id
    stored = _note(org, patient_id, note_id)
    audited_read(router, [patient_id], "note.read")
    record = note_out(stored.head, stored.versions, stored.item.version or 0)
    return Response(200, "application/json", record, headers=etag(record.version))


@router.post(
    "/patients/<patient_id>/notes/<note_id>/amendments",
    summary="Amend your note: the corrected text and why; the earlier versions stay readable",
    tags=["records"],
    operation_id="amendNote",
    responses=responses(
        201,
        "Amended",
        headers=["ETag"],
        errors={
            403: "Only the note's author amends it (others write their own note)",
            409: "Entered in error, or If-Match is stale (`current_version`)",
            428: "Send If-Match",
        },
    ),
)
@allow(STAFF)
@idempotent(router, on_replay=audit_replay(router, "note.read"))
def amend_note(
    patient_id: UlidPath, note_id: NotePath, body: AmendmentIn, if_match: IfMatch = None
) -> Response[NoteOut]:
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    stored = _note(org, patient_id, note_id)
    if stored.head.created_by != principal.subject:
        raise Forbidden("Only the note's author amends it; write your own note instead.")
    require_current(if_match, stored.item.version, "note")
    current = max(stored.versions, key=lambda v: v.number)
    try:
        head, version = amend(stored.head, current.text, body, principal.subject, now)
    except IllegalChange as exc:
        raise Conflict(str(exc), current_status=stored.head.doc_status.value) from None
    except ValueError as exc:
        raise invalid("text", str(exc)) from None
    change = core.Change(actor, now)
    entry = repo.record_event(change, _event(NoteAmended, org, head, version.number))
    entries = [*stored.item.timeline(), *([entry] if entry else [])]
    repo.put_note(change, org, head, stored.item, entries, version)
    change.audit.append((patient_id, "note.amend"))
    commit(change, "note")
    return _out(head, [*stored.versions, version], (stored.item.version or 0) + 1, 201)


@router.post(
    "/patients/<patient_id>/notes/<note_id>/entered-in-error",
    summary="Mark a note entered in error, with why: it leaves the timeline, nothing is deleted",
    tags=["records"],
    operation_id="retractNote",
    responses=responses(
        headers=["ETag"],
        errors={
            403: "Only the note's author, a physician or an admin",
            409: "Already entered in error, or If-Match is stale (`current_version`)",
            428: "Send If-Match",
        },
    ),
)
@allow(STAFF)
def retract_note(
    patient_id: UlidPath, note_id: NotePath, body: EnteredInErrorIn, if_match: IfMatch = None
) -> Response[NoteOut]:
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    stored = _note(org, patient_id, note_id)
    if stored.head.created_by != principal.subject and not principal.roles & RETRACTORS:
        raise Forbidden("Only the note's author, a physician or an admin marks it entered in error.")
    require_current(if_match, stored.item.version, "note")
    try:
        head = retract(stored.head, body, principal.subject, now)
    except IllegalChange as exc:
        raise Conflict(str(exc), current_status=stored.head.doc_status.value) from None
    change = core.Change(actor, now)
    entry = repo.record_event(change, _event(NoteEnteredInError, org, head, head.current), hidden=True)
    earlier = repo.hide_entries(change, org, patient_id, stored.item.timeline())
    repo.put_note(change, org, head, stored.item, [*earlier, *([entry] if entry else [])])
    change.audit.append((patient_id, "note.entered-in-error"))
    commit(change, "note")
    return _out(head, stored.versions, (stored.item.version or 0) + 1)
