"""Transitions area, HTTP: transition-of-care episodes (open by hand, work, close), their list by nearest
deadline, a patient's episodes, and the TCM report. Staff only: the patient sees the visit and its
reminders, not the episode."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.transitions.common import calendar, commit, open_context, opening, write
from shared import clock, ids
from shared.data import keys
from shared.data import scheduling as sched
from shared.data import tasks as task_repo
from shared.data import transitions as repo
from shared.data.tx import Cancelled
from shared.domain.calendar import Calendar, Day
from shared.domain.scheduling import AppointmentStatus
from shared.domain.transitions import (
    Closed,
    CloseIn,
    CloseReason,
    ContactAttempt,
    ContactIn,
    EpisodeStatus,
    ReconciliationIn,
    TransitionIn,
    TransitionOut,
    TransitionPatch,
    TransitionReport,
    VisitIn,
    book_visit,
    close,
    hold_visit,
    open_episode,
    reconcile,
    record_contact,
    report,
    with_complexity,
)
from shared.errors import Conflict, NotFound
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audited_read, caller, check_period, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, matches, require_current, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from shared.http.resolver import make_handler, make_resolver

router = APIGatewayHttpRouter()
TransitionPage = Page[TransitionOut]
CLINICIANS = frozenset({Role.NURSE, Role.PHYSICIAN})
MAX_REPORT_DAYS = 366
CLOSED_PROBLEM = {409: "The episode is closed (`current_status`), or If-Match is stale"}
OPEN_APPOINTMENT = frozenset(
    {AppointmentStatus.PENDING, AppointmentStatus.BOOKED, AppointmentStatus.FULFILLED}
)


def _episode(org: str, transition_id: str) -> repo.TransitionItem:
    item = repo.get(org, transition_id)
    if item is None:
        raise NotFound("No transition with this id.")
    return item


def _seen(record: TransitionOut, now: datetime) -> TransitionOut:
    """As of now, its days counted in the zone it was opened in (a list reads nothing but its page)."""
    return record.as_seen(now, Calendar(time_zone=record.time_zone))


def _past(field: str, at: datetime | None, now: datetime, record: TransitionOut | None = None) -> datetime:
    """``at`` or now; never in the future, never before the discharge."""
    at = at or now
    if at > now:
        raise invalid(field, "must not be in the future")
    if record is not None and at < record.discharged_at:
        raise invalid(field, "must not be before the discharge")
    return at


def _change(
    org: str,
    transition_id: str,
    if_match: str | None,
    how: Any,
    action: str,
    *,
    required: bool = False,
) -> Response[TransitionOut]:
    """Read the episode, check If-Match (``required`` for edits), ``how(record, calendar)`` → the new
    record, write it with its tasks and events. A closed episode is a 409."""
    principal, actor = caller(router)
    now = clock.now()
    item = _episode(org, transition_id)
    before = item.record()
    if required:
        require_current(if_match, before.version, "transition")
    elif if_match is not None and not matches(if_match, before.version):
        raise Conflict(
            "The episode changed since you read it; read it again.", current_version=before.version
        )
    cal = calendar(org)
    try:
        after = how(before, cal, now)
    except Closed:
        raise Conflict("The episode is closed.", current_status=before.status.value) from None
    change = sched.Change(actor, now)
    written = write(change, org, item, before, after, principal.subject, action, cal)
    commit(change)
    return Response(200, "application/json", written.as_seen(now, cal), headers=etag(written.version))


# ---------------------------------------------------------------- episodes


@router.post(
    "/transitions",
    summary="Open a transition of care for a discharge learned another way than a partner's notice",
    tags=["transitions"],
    operation_id="createTransition",
    responses=responses(
        201,
        "Created",
        headers=["Location", "ETag"],
        errors={
            409: "An episode exists for this encounter, or this patient and discharge date (`transition_id`)"
        },
    ),
)
@allow(STAFF)
@idempotent(router)
def create(body: TransitionIn) -> Response[TransitionOut]:
    """Each step's deadline is set from the discharge and the organization's calendar, each step a task.
    A discharge while another episode is open or paused closes that one as readmitted, linked."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    _past("discharged_at", body.discharged_at, now)
    cal, patient, previous = open_context(org, body.patient_id)
    if patient is None or patient.status != "active":
        raise invalid("patient_id", "no active patient with this id")
    if previous is not None and previous.record().discharged_at >= body.discharged_at:
        raise Conflict(
            "The patient has an episode for this discharge or a later one.",
            transition_id=previous.transition_id,
        )
    record = open_episode(
        episode_id=ids.new_id(),
        patient_id=body.patient_id,
        discharged_at=body.discharged_at,
        complexity=body.complexity,
        calendar=cal,
        now=now,
        opened_by=principal.subject,
        patient_name=task_repo.display_name(patient),
        encounter_id=body.encounter_id,
        disposition=body.disposition,
        owner_id=body.owner_id,
        previous_id=previous.transition_id if previous else None,
    )
    if now >= record.close.due_at:
        raise invalid("discharged_at", "its 30-day period is over")
    change, record = opening(org, record, actor, now, cal, previous)
    try:
        change.commit()
    except Cancelled as cancelled:
        if "claim" in cancelled.failed:
            holder = next(
                (repo.claimed_by(org, c) for c in repo.claims(record) if repo.claimed_by(org, c)), None
            )
            raise Conflict(
                "An episode exists for this encounter, or this patient and discharge date.",
                transition_id=holder,
            ) from None
        raise Conflict("The patient's episodes changed meanwhile; send it again.") from None
    headers = {"Location": f"/transitions/{record.id}", **etag(record.version)}
    return Response(201, "application/json", record.as_seen(now, cal), headers=headers)


StatusQuery = Annotated[
    EpisodeStatus, Query(description="open and paused: nearest deadline first; closed: newest first")
]


@router.get(
    "/transitions",
    summary="Episodes of a status, open ones by their nearest deadline, with days left and what is at risk",
    tags=["transitions"],
    operation_id="listTransitions",
)
@allow(STAFF)
def list_(
    status: StatusQuery = EpisodeStatus.OPEN, limit: Limit = 50, cursor: Cursor = None
) -> TransitionPage:
    """One Query per page, whatever the number of episodes."""
    principal, _ = caller(router)
    org, now = principal.organization_id, clock.now()
    partition = keys.transitions_pk(org, status.value)
    list_id = f"transitions:{status.value}"
    start = decode_cursor(
        cursor, list_id, {"GSI1PK": partition}, ("GSI1PK", "GSI1SK", "PK", "SK"), tenant=org
    )
    items, last = repo.status_page(org, status, limit, start)
    records = [i.record() for i in items]
    audited_read(router, [r.patient_id for r in records], "transition.read")
    return TransitionPage(
        items=[_seen(r, now) for r in records], next_cursor=encode_cursor(list_id, last, tenant=org)
    )


@router.get(
    "/transitions/<transition_id>",
    summary="An episode: its steps, deadlines, attempts, visit, warnings and, closed, its TCM outcome",
    tags=["transitions"],
    operation_id="getTransition",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read(transition_id: UlidPath) -> Response[TransitionOut]:
    principal, _ = caller(router)
    org = principal.organization_id
    record = _episode(org, transition_id).record()
    audited_read(router, [record.patient_id], "transition.read")
    return Response(200, "application/json", _seen(record, clock.now()), headers=etag(record.version))


@router.patch(
    "/transitions/<transition_id>",
    summary="Set the complexity (the visit's deadline: 7 days high, 14 moderate) or the owner (If-Match)",
    tags=["transitions"],
    operation_id="updateTransition",
    responses=responses(headers=["ETag"], errors={**CLOSED_PROBLEM, 428: "Send If-Match"}),
)
@allow(STAFF)
def edit(transition_id: UlidPath, body: TransitionPatch, if_match: IfMatch = None) -> Response[TransitionOut]:
    org = caller(router)[0].organization_id
    fields = body.model_fields_set

    def how(record: TransitionOut, cal: Calendar, now: datetime) -> TransitionOut:
        if record.status is EpisodeStatus.CLOSED:
            raise Closed("closed")
        if "complexity" in fields:
            if body.complexity is None:
                raise invalid("complexity", "may not be null")
            record = with_complexity(record, body.complexity, cal)
        if "owner_id" in fields:
            record = record.model_copy(update={"owner_id": body.owner_id})
        return record

    return _change(org, transition_id, if_match, how, "edit", required=True)


@router.post(
    "/transitions/<transition_id>/contacts",
    summary="Record a contact attempt: one reached, or two in the window, meets the step",
    tags=["transitions"],
    operation_id="addTransitionContact",
    responses=responses(headers=["ETag"], errors=CLOSED_PROBLEM),
)
@allow(STAFF)
@idempotent(router)
def contact(transition_id: UlidPath, body: ContactIn, if_match: IfMatch = None) -> Response[TransitionOut]:
    """The note stays on the episode (never in an event or a log)."""
    principal, _ = caller(router)

    def how(record: TransitionOut, cal: Calendar, now: datetime) -> TransitionOut:
        at = _past("at", body.at, now, record)
        attempt = ContactAttempt(
            at=at, channel=body.channel, reached=body.reached, by_id=principal.subject, note=body.note
        )
        return record_contact(record, attempt)[0]

    return _change(principal.organization_id, transition_id, if_match, how, "contact")


@router.post(
    "/transitions/<transition_id>/visit",
    summary="Name the patient's appointment that is the visit (a fulfilled one completes the step)",
    tags=["transitions"],
    operation_id="setTransitionVisit",
    responses=responses(headers=["ETag"], errors=CLOSED_PROBLEM),
)
@allow(STAFF)
def visit(transition_id: UlidPath, body: VisitIn, if_match: IfMatch = None) -> Response[TransitionOut]:
    """Bookings are linked by themselves (any route: staff, the patient, a partner's EHR); this names
    one by hand, e.g. a visit booked before the notice arrived."""
    principal, _ = caller(router)
    org = principal.organization_id

    def how(record: TransitionOut, cal: Calendar, now: datetime) -> TransitionOut:
        key = (keys.appointment_pk(org, body.appointment_id), keys.APPOINTMENT_SK)
        item = sched.get_item(sched.Appointment, key)
        appt = item.record() if item is not None else None
        if appt is None or appt.patient_id != record.patient_id:
            raise invalid("appointment_id", "no appointment of this patient with this id")
        if appt.status not in OPEN_APPOINTMENT or appt.start < record.discharged_at:
            raise invalid("appointment_id", "not a visit after the discharge that is booked or held")
        if appt.status is AppointmentStatus.FULFILLED:
            return hold_visit(record, appt.id, min(appt.start, now), principal.subject, cal)
        return book_visit(record, appt.id, appt.start, now, cal, chosen=True)[0]

    return _change(org, transition_id, if_match, how, "visit")


@router.post(
    "/transitions/<transition_id>/medication-reconciliation",
    summary="Record the medication reconciliation (nurse or physician); due no later than the visit's date",
    tags=["transitions"],
    operation_id="reconcileMedications",
    responses=responses(headers=["ETag"], errors=CLOSED_PROBLEM),
)
@allow(CLINICIANS)
def medication(
    transition_id: UlidPath, body: ReconciliationIn, if_match: IfMatch = None
) -> Response[TransitionOut]:
    """A later reconciliation updates what changed and the note; the step keeps when it was first met."""
    principal, _ = caller(router)

    def how(record: TransitionOut, cal: Calendar, now: datetime) -> TransitionOut:
        at = _past("at", body.at, now, record)
        return reconcile(record, at, principal.subject, body.changes, body.note)

    return _change(principal.organization_id, transition_id, if_match, how, "reconcile")


@router.post(
    "/transitions/<transition_id>/close",
    summary="Close the episode (done, declined, deceased, moved, other): it states its TCM outcome",
    tags=["transitions"],
    operation_id="closeTransition",
    responses=responses(headers=["ETag"], errors=CLOSED_PROBLEM),
)
@allow(STAFF)
def close_(transition_id: UlidPath, body: CloseIn, if_match: IfMatch = None) -> Response[TransitionOut]:
    """Its open step tasks are cancelled; day 30 closes an episode nobody closed."""
    principal, _ = caller(router)

    def how(record: TransitionOut, cal: Calendar, now: datetime) -> TransitionOut:
        return close(record, CloseReason(body.reason), now, principal.subject, cal)

    return _change(principal.organization_id, transition_id, if_match, how, "close")


@router.get(
    "/patients/<patient_id>/transitions",
    summary="A patient's transition episodes, newest discharge first",
    tags=["transitions"],
    operation_id="listPatientTransitions",
)
@allow(STAFF)
def patient_transitions(patient_id: UlidPath, limit: Limit = 50, cursor: Cursor = None) -> TransitionPage:
    principal, _ = caller(router)
    org, now = principal.organization_id, clock.now()
    partition = keys.patient_transitions_pk(org, patient_id)
    list_id = "patient-transitions"
    start = decode_cursor(
        cursor, list_id, {"GSI2PK": partition}, ("GSI2PK", "GSI2SK", "PK", "SK"), tenant=org
    )
    items, last = repo.patient_page(org, patient_id, limit, start)
    require_parent(bool(items), cursor, sched.Patient, sched.patient_key(org, patient_id), "patient")
    if items:
        audited_read(router, [patient_id], "transition.read")
    return TransitionPage(
        items=[_seen(i.record(), now) for i in items],
        next_cursor=encode_cursor(list_id, last, tenant=org),
    )


@router.get(
    "/reports/transitions",
    summary="Episodes discharged in the period: contact and visit rates, readmissions, TCM codes, failures",
    tags=["transitions"],
    operation_id="transitionReport",
)
@allow(Role.ADMIN)
def report_(
    from_: Annotated[Day, Query(alias="from", description="first discharge date (the organization's zone)")],
    to: Annotated[
        Day, Query(description=f"last discharge date, at most {MAX_REPORT_DAYS} days after `from`")
    ],
) -> TransitionReport:
    check_period(from_, to, MAX_REPORT_DAYS)
    org = caller(router)[0].organization_id
    return report(list(repo.discharged_between(org, from_, to)), from_, to)


app = make_resolver(router)
handler = make_handler(app)
