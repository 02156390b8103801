"""``/appointments``: book, move along FHIR's statuses, reschedule, cancel; the day views."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.scheduling import booking
from functions.scheduling.common import (
    appointment_for,
    appointment_for_patients,
    appointment_view,
    commit,
    conflict,
)
from shared import clock
from shared.data import keys, moves
from shared.data import scheduling as repo
from shared.data.patients import Actor
from shared.data.tx import Cancelled
from shared.domain.calendar import Day
from shared.domain.scheduling import (
    MAX_DURATION,
    AppointmentOut,
    AppointmentPatientView,
    AppointmentStatus,
    BookingIn,
    CancelIn,
    Cancellation,
    RescheduleIn,
    next_status,
)
from shared.errors import Conflict, Forbidden
from shared.http.auth import STAFF, Principal, Role, allow
from shared.http.caller import audited_read, caller, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, matches, responses, status_move
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, cursor_list, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
INDEX_ATTRS = {n: (f"GSI{n}PK", f"GSI{n}SK", "PK", "SK") for n in (1, 2, 3)}


AppointmentPage = Page[AppointmentOut]
AppointmentPatientPage = Page[AppointmentPatientView]


def _created(record: AppointmentOut) -> Response[AppointmentOut | AppointmentPatientView]:
    """The staff record: :func:`appointment_for_patients` gives a patient their view of it."""
    headers = {"Location": f"/appointments/{record.id}", **etag(record.version)}
    return Response(201, "application/json", record, headers=headers)


@router.post(
    "/appointments",
    summary="Book a slot for a patient",
    tags=["appointments"],
    operation_id="bookAppointment",
    responses=responses(
        201,
        "Booked",
        headers=["Location", "ETag"],
        errors={409: "The slot is taken (`conflict: slot`), or the patient or referral changed"},
    ),
)
@allow(STAFF, Role.PATIENT)
@appointment_for_patients(router)
@idempotent(router)
def book(body: BookingIn) -> Response[AppointmentOut | AppointmentPatientView]:
    """Staff bookings start ``pending`` until the patient confirms; a patient's own are ``booked``.
    ``allow_double_booking`` (staff only) books over a taken slot, and is audited as an overbooking."""
    principal, actor = caller(router)
    if body.allow_double_booking and not principal.is_staff:
        raise Forbidden("Only staff may book over a taken slot.")
    now = clock.now()
    start = body.start.astimezone(UTC)
    ctx = booking.load(principal, body.patient_id, body.provider_id, body.appointment_type, body.referral_id)
    held = booking.units(ctx, start, body.end, now)
    record = booking.new_appointment(ctx, principal, body.appointment_type, start, now)
    decided = booking.gate(ctx, record, now)
    record = decided.record
    try:
        booking.gated(booking.booking_change(ctx, record, held, actor, now), ctx, decided).commit()
    except Cancelled as cancelled:
        if cancelled.failed[0] != "slot" or not body.allow_double_booking:
            raise conflict(cancelled) from None
        record = decided.record = record.model_copy(update={"overbooked": True})
        change = booking.booking_change(ctx, record, [], actor, now, audit_action="appointment.overbook")
        commit(booking.gated(change, ctx, decided))
    return _created(record)


@router.get(
    "/appointments/<appointment_id>",
    summary="An appointment",
    tags=["appointments"],
    operation_id="getAppointment",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF, Role.PATIENT)
def read(appointment_id: UlidPath) -> Response[AppointmentOut | AppointmentPatientView]:
    principal, _ = caller(router)
    item = appointment_for(principal, appointment_id)
    audited_read(router, [item.patient_id], "appointment.read")
    view = appointment_view(principal, item.record())
    return Response(200, "application/json", view, headers=etag(item.version))


# ---------------------------------------------------------------- moves


def move(
    principal: Principal,
    actor: Actor,
    item: repo.Appointment,
    action: str,
    now: datetime,
    if_match: str | None = None,
    *,
    automatic: bool = False,
    **update: Any,
) -> AppointmentOut:
    try:
        return moves.move(principal, actor, item, action, now, if_match, automatic=automatic, **update)
    except Cancelled as cancelled:
        raise conflict(cancelled) from None


def _moved(
    appointment_id: str, action: str, if_match: str | None, **update: Any
) -> tuple[Principal, AppointmentOut]:
    principal, actor = caller(router)
    item = appointment_for(principal, appointment_id)
    now = clock.now()
    stamp = {
        "confirm": "confirmed_at",
        "arrive": "arrived_at",
        "check-in": "checked_in_at",
        "complete": "completed_at",
    }.get(action)
    if stamp:
        update[stamp] = now
    return principal, move(principal, actor, item, action, now, if_match, **update)


def _move(appointment_id: str, action: str, if_match: str | None, **update: Any) -> Response[AppointmentOut]:
    _, record = _moved(appointment_id, action, if_match, **update)
    return Response(200, "application/json", record, headers=etag(record.version))


def _move_seen(
    appointment_id: str, action: str, if_match: str | None, **update: Any
) -> Response[AppointmentOut | AppointmentPatientView]:
    """A move a patient may make too: they get their view of the result."""
    principal, record = _moved(appointment_id, action, if_match, **update)
    return Response(
        200, "application/json", appointment_view(principal, record), headers=etag(record.version)
    )


@router.post(
    "/appointments/<appointment_id>/confirm",
    summary="Confirm (patient or staff)",
    tags=["appointments"],
    operation_id="confirmAppointment",
    responses=status_move(),
)
@allow(STAFF, Role.PATIENT)
def confirm(
    appointment_id: UlidPath, if_match: IfMatch = None
) -> Response[AppointmentOut | AppointmentPatientView]:
    return _move_seen(appointment_id, "confirm", if_match)


@router.post(
    "/appointments/<appointment_id>/arrive",
    summary="The patient has arrived",
    tags=["appointments"],
    operation_id="markArrived",
    responses=status_move(),
)
@allow(STAFF)
def arrive(appointment_id: UlidPath, if_match: IfMatch = None) -> Response[AppointmentOut]:
    return _move(appointment_id, "arrive", if_match)


@router.post(
    "/appointments/<appointment_id>/check-in",
    summary="Check the patient in",
    tags=["appointments"],
    operation_id="checkIn",
    responses=status_move(),
)
@allow(STAFF)
def check_in(appointment_id: UlidPath, if_match: IfMatch = None) -> Response[AppointmentOut]:
    return _move(appointment_id, "check-in", if_match)


@router.post(
    "/appointments/<appointment_id>/complete",
    summary="The visit took place",
    tags=["appointments"],
    operation_id="completeAppointment",
    responses=status_move(),
)
@allow(STAFF)
def complete(appointment_id: UlidPath, if_match: IfMatch = None) -> Response[AppointmentOut]:
    return _move(appointment_id, "complete", if_match)


@router.post(
    "/appointments/<appointment_id>/no-show",
    summary="The patient did not come",
    tags=["appointments"],
    operation_id="markNoShow",
    responses=status_move(),
)
@allow(STAFF)
def no_show(appointment_id: UlidPath, if_match: IfMatch = None) -> Response[AppointmentOut]:
    return _move(appointment_id, "no-show", if_match)


@router.post(
    "/appointments/<appointment_id>/cancel",
    summary="Cancel, saying who and why",
    tags=["appointments"],
    operation_id="cancelAppointment",
    responses=status_move(),
)
@allow(STAFF, Role.PATIENT)
def cancel(
    appointment_id: UlidPath, body: CancelIn, if_match: IfMatch = None
) -> Response[AppointmentOut | AppointmentPatientView]:
    principal, _ = caller(router)
    role = "patient" if principal.is_patient else sorted(r.value for r in principal.roles)[0]
    cancellation = Cancellation(
        by=principal.subject, by_role=role, reason=body.reason, note=body.note, at=clock.now()
    )
    return _move_seen(appointment_id, "cancel", if_match, cancellation=cancellation)


@router.post(
    "/appointments/<appointment_id>/reschedule",
    summary="Move to another time with the same provider (the old slot is freed only if the new one is "
    "taken); moved by staff, it waits for the patient's confirmation again",
    tags=["appointments"],
    operation_id="rescheduleAppointment",
    responses=responses(
        headers=["ETag"],
        errors={409: "The new slot is taken (`conflict: slot`), the status forbids it, or If-Match is stale"},
    ),
)
@allow(STAFF, Role.PATIENT)
def reschedule(
    appointment_id: UlidPath, body: RescheduleIn, if_match: IfMatch = None
) -> Response[AppointmentOut | AppointmentPatientView]:
    principal, actor = caller(router)
    item = appointment_for(principal, appointment_id)

    current = item.record()
    if if_match is not None and not matches(if_match, item.version):
        raise Conflict(
            "The appointment changed since you read it; read it again.", current_version=item.version
        )
    target = next_status(current.status, "reschedule")
    if not isinstance(target, AppointmentStatus):
        raise Conflict(target, current_status=current.status.value)
    now = clock.now()
    start = body.start.astimezone(UTC)
    ctx = booking.load(principal, current.patient_id, current.provider_id, current.appointment_type)
    new_units = booking.units(ctx, start, body.end, now)
    # a new time the patient chose is confirmed; one staff chose waits for the patient again
    record = moves.rescheduled(
        current,
        start,
        start + ctx.duration,
        AppointmentStatus.BOOKED if principal.is_patient else AppointmentStatus.PENDING,
        principal.subject,
        now,
        confirmed_at=now if principal.is_patient else None,
    )
    decided = booking.regate(ctx, current, record, now)
    record = decided.record
    change = moves.reschedule_change(
        principal.organization_id, ctx.calendar.zone, item, record, new_units, actor, now
    )
    commit(booking.gated(change, ctx, decided))
    return Response(
        200, "application/json", appointment_view(principal, record), headers=etag(record.version)
    )


# ---------------------------------------------------------------- views


def _page(
    org: str,
    index: Any,
    n: int,
    partition: str,
    list_id: str,
    limit: int,
    cursor: str | None,
    **bounds: Any,
) -> tuple[list[repo.Appointment], str | None]:
    start = decode_cursor(cursor, list_id, {f"GSI{n}PK": partition}, INDEX_ATTRS[n], tenant=org)
    items, last = repo.by_time(index, partition, limit=limit, start=start, **bounds)
    return [i for i in items if isinstance(i, repo.Appointment)], encode_cursor(list_id, last, tenant=org)


@router.get(
    "/patients/<patient_id>/appointments",
    summary="A patient's appointments, upcoming or past",
    tags=["appointments"],
    operation_id="listPatientAppointments",
)
@allow(STAFF, Role.PATIENT)
def patient_appointments(
    patient_id: UlidPath,
    when: Annotated[Literal["upcoming", "past"], Query()] = "upcoming",
    limit: Limit = 25,
    cursor: Cursor = None,
) -> AppointmentPage | AppointmentPatientPage:
    """Upcoming: soonest first, including visits under way. Past: those that have ended, latest first.
    A patient who is not the caller's (missing, another organization's or another patient's) is a 404."""
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    now = clock.now()
    upcoming = when == "upcoming"
    # the first page fixes the bound (a visit can't have started more than MAX_DURATION ago and not
    # ended); later pages carry it in their cursor, so a page boundary never falls outside it
    prefix = f"patient-appointments:{when}:"
    issued = cursor_list(cursor, tenant=org) or ""
    bound = issued.removeprefix(prefix) if issued.startswith(prefix) else None
    bound = bound or clock.isoformat(now - MAX_DURATION if upcoming else now)
    partition = keys.patient_appointments_pk(org, patient_id)
    start = decode_cursor(
        cursor,
        prefix + bound,
        {"GSI1PK": partition},
        INDEX_ATTRS[1],
        within=lambda key: (key["GSI1SK"]["S"] >= bound) == upcoming,
        tenant=org,
    )
    found, last = repo.by_time(
        repo.CareModel.gsi1,
        partition,
        limit=limit,
        start=start,
        **({"after": bound} if upcoming else {"before": bound, "forward": False}),
    )
    require_parent(bool(found), cursor, repo.Patient, repo.patient_key(org, patient_id), "patient")
    records = [i.record() for i in found if isinstance(i, repo.Appointment)]
    items = [r for r in records if (r.end > now) == upcoming]
    next_cursor = encode_cursor(prefix + bound, last, tenant=org)
    audited_read(router, [patient_id] if items else [], "appointment.read")
    if principal.is_patient:
        return AppointmentPatientPage(
            items=[AppointmentPatientView.of(r) for r in items], next_cursor=next_cursor
        )
    return AppointmentPage(items=items, next_cursor=next_cursor)


@router.get(
    "/providers/<provider_id>/appointments",
    summary="A provider's day",
    tags=["appointments"],
    operation_id="getProviderDay",
)
@allow(STAFF)
def provider_day(
    provider_id: UlidPath,
    day: Annotated[Day, Query(alias="date", description="the provider's local date")],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AppointmentPage:
    org = caller(router)[0].organization_id
    partition = keys.provider_day_pk(org, provider_id, day.isoformat())
    items, next_cursor = _page(
        org, repo.CareModel.gsi2, 2, partition, f"provider-day:{provider_id}:{day}", limit, cursor
    )
    require_parent(bool(items), cursor, repo.Provider, repo.provider_key(org, provider_id), "provider")
    audited_read(router, [i.patient_id for i in items], "schedule.read")
    return AppointmentPage(items=[i.record() for i in items], next_cursor=next_cursor)


@router.get(
    "/appointments",
    summary="The organization's day, every provider",
    tags=["appointments"],
    operation_id="getOrganizationDay",
)
@allow(STAFF)
def organization_day(
    day: Annotated[Day, Query(alias="date", description="a date in the organization's time zone")],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AppointmentPage:
    org = caller(router)[0].organization_id
    partition = keys.organization_day_pk(org, day.isoformat())
    items, next_cursor = _page(org, repo.CareModel.gsi3, 3, partition, f"org-day:{day}", limit, cursor)
    audited_read(router, [i.patient_id for i in items], "schedule.read")
    return AppointmentPage(items=[i.record() for i in items], next_cursor=next_cursor)
