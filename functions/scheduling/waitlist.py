"""``/waitlist`` and ``/offers``: wait for an earlier slot; take or leave one when it is offered."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.scheduling import backfill, booking
from functions.scheduling.common import (
    appointment_for_patients,
    commit,
    conflict,
    entry_for,
    offer_for,
)
from shared import clock, ids
from shared.data import keys
from shared.data import scheduling as repo
from shared.data.tx import Cancelled
from shared.domain.referrals import OfferOut, OfferStatus, WaitlistIn, WaitlistOut, WaitlistStatus
from shared.domain.scheduling import AppointmentOut, AppointmentPatientView, Code, Ulid
from shared.errors import Conflict
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audited_read, caller, invalid, require_parent
from shared.http.contract import UlidPath, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()


WaitlistPage = Page[WaitlistOut]


@router.post(
    "/waitlist",
    summary="Wait for an earlier slot with a provider or a specialty",
    tags=["waitlist"],
    operation_id="joinWaitlist",
    responses=responses(201, "Waitlisted", headers=["Location"]),
)
@allow(STAFF, Role.PATIENT)
@idempotent(router)
def join(body: WaitlistIn) -> Response[WaitlistOut]:
    from shared.events.scheduling import PatientWaitlisted

    principal, actor = caller(router)
    org = principal.organization_id
    if principal.is_patient:
        principal.require_patient(body.patient_id)
    now = clock.now()
    wanted = [repo.patient_key(org, body.patient_id), repo.type_key(org, body.appointment_type)]
    if body.provider_id:
        wanted.append(repo.provider_key(org, body.provider_id))
    found = repo.get_many(wanted)
    patient = found.get(wanted[0])
    if patient is None or patient.status != "active":
        raise invalid("patient_id", "no active patient with this id in your organization")
    if wanted[1] not in found:
        raise invalid("appointment_type", "no appointment type with this code")
    if body.provider_id and wanted[2] not in found:
        raise invalid("provider_id", "no provider with this id in your organization")
    if body.latest < now.date():
        raise invalid("latest", "the window has already passed")
    record = WaitlistOut(
        id=ids.new_id(now), version=1, status=WaitlistStatus.WAITING, created_at=now, **body.model_dump()
    )
    change = repo.Change(actor, now)
    change.put("entry", repo.waitlist_item(org, record, None))
    repo.active_patient(change, org, record.patient_id)
    change.audit.append((record.patient_id, "waitlist.create"))
    change.events.append(
        PatientWaitlisted(
            organization_id=org, entry_id=record.id, patient_id=record.patient_id, occurred_at=now
        )
    )
    commit(change)
    return Response(201, "application/json", record, headers={"Location": f"/waitlist/{record.id}"})


@router.get(
    "/waitlist",
    summary="Who waits for a provider or a specialty, first come first served",
    tags=["waitlist"],
    operation_id="getWaitlistQueue",
)
@allow(STAFF)
def queue(
    provider_id: Annotated[Ulid | None, Query()] = None,
    specialty: Annotated[Code | None, Query()] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> WaitlistPage:
    org = caller(router)[0].organization_id
    if (provider_id is None) == (specialty is None):
        raise invalid("provider_id", "give either provider_id or specialty", "query")
    partition = keys.waitlist_queue_pk(org, provider_id, specialty)
    list_id = f"waitlist:{provider_id or ''}:{specialty or ''}"
    start = decode_cursor(
        cursor, list_id, {"GSI1PK": partition}, ("GSI1PK", "GSI1SK", "PK", "SK"), tenant=org
    )
    items, last = repo.by_time(repo.CareModel.gsi1, partition, limit=limit, start=start)
    found = [i for i in items if isinstance(i, repo.WaitlistEntry)]
    audited_read(router, [i.patient_id for i in found], "waitlist.read")
    return WaitlistPage(
        items=[i.record() for i in found], next_cursor=encode_cursor(list_id, last, tenant=org)
    )


@router.get(
    "/patients/<patient_id>/waitlist",
    summary="A patient's waitlist entries, newest first, with any offer they hold",
    tags=["waitlist"],
    operation_id="listPatientWaitlist",
)
@allow(STAFF, Role.PATIENT)
def patient_entries(patient_id: UlidPath, limit: Limit = 25, cursor: Cursor = None) -> WaitlistPage:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    partition = keys.patient_waitlist_pk(org, patient_id)
    list_id = "patient-waitlist"
    start = decode_cursor(
        cursor, list_id, {"GSI3PK": partition}, ("GSI3PK", "GSI3SK", "PK", "SK"), tenant=org
    )
    items, last = repo.by_time(repo.CareModel.gsi3, partition, forward=False, limit=limit, start=start)
    require_parent(bool(items), cursor, repo.Patient, repo.patient_key(org, patient_id), "patient")
    found = [i for i in items if isinstance(i, repo.WaitlistEntry)]
    audited_read(router, [patient_id] if found else [], "waitlist.read")
    return WaitlistPage(
        items=[i.record() for i in found], next_cursor=encode_cursor(list_id, last, tenant=org)
    )


@router.delete(
    "/waitlist/<entry_id>",
    summary="Leave the waitlist",
    tags=["waitlist"],
    operation_id="leaveWaitlist",
    responses=responses(errors={409: "The entry is no longer waiting"}),
)
@allow(STAFF, Role.PATIENT)
def leave(entry_id: UlidPath) -> WaitlistOut:
    from shared.events.scheduling import WaitlistEntryRemoved

    principal, actor = caller(router)
    org = principal.organization_id

    item = entry_for(principal, entry_id)
    current = item.record()
    if current.status != WaitlistStatus.WAITING:
        raise Conflict(
            f"This entry is {current.status.value}: only a waiting entry can be removed"
            + (" (decline the open offer first)." if current.offer_id else "."),
            current_status=current.status.value,
        )
    now = clock.now()
    entry = repo.moved_entry(org, item, WaitlistStatus.REMOVED, None)
    change = repo.Change(actor, now)
    change.put("entry", entry)
    change.audit.append((current.patient_id, "waitlist.remove"))
    change.events.append(
        WaitlistEntryRemoved(
            organization_id=org, entry_id=current.id, patient_id=current.patient_id, occurred_at=now
        )
    )
    commit(change)
    return entry.record()


# ---------------------------------------------------------------- offers


@router.get(
    "/offers/<offer_id>",
    summary="A slot offered from the waitlist",
    tags=["waitlist"],
    operation_id="getOffer",
)
@allow(STAFF, Role.PATIENT)
def read_offer(offer_id: UlidPath) -> OfferOut:
    principal, _ = caller(router)
    offer = offer_for(principal, offer_id).record()
    audited_read(router, [offer.patient_id], "offer.read")
    return offer


@router.post(
    "/offers/<offer_id>/accept",
    summary="Take the offered slot: books it",
    tags=["waitlist"],
    operation_id="acceptOffer",
    responses=responses(
        201, "Booked", headers=["Location"], errors={409: "The offer is no longer open (`conflict: offer`)"}
    ),
)
@allow(STAFF, Role.PATIENT)
@appointment_for_patients(router)
@idempotent(router)
def accept(offer_id: UlidPath) -> Response[AppointmentOut | AppointmentPatientView]:
    from shared.events.scheduling import SlotOfferAccepted

    principal, actor = caller(router)
    org = principal.organization_id
    item = offer_for(principal, offer_id)
    offer = item.record()

    now = clock.now()
    if offer.status != OfferStatus.HELD or now >= offer.expires_at:
        raise Conflict(
            "This offer is no longer open: it was accepted, declined or has expired.",
            current_status=offer.status.value,
        )
    ctx = booking.load(principal, offer.patient_id, offer.provider_id, offer.appointment_type)
    held = booking.units(ctx, offer.start, offer.end, now)
    record = booking.new_appointment(
        ctx, principal, offer.appointment_type, offer.start, now, offer_id=offer.id
    )
    decided = booking.gate(ctx, record, now)
    record = decided.record
    accepted = SlotOfferAccepted(
        organization_id=org,
        entry_id=offer.entry_id,
        patient_id=offer.patient_id,
        offer_id=offer.id,
        provider_id=offer.provider_id,
        appointment_id=record.id,
        occurred_at=now,
    )
    change = booking.booking_change(
        ctx, record, held, actor, now, unit_condition=repo.BusyUnit.offer_id == offer.id, events=[accepted]
    )
    booking.gated(change, ctx, decided)
    still_held = (repo.SlotOffer.status == "held") & (repo.SlotOffer.expires_at > clock.isoformat(now))
    change.put(
        "offer",
        repo.offer_item(
            org,
            offer.model_copy(update={"status": OfferStatus.ACCEPTED, "appointment_id": record.id}),
            item.held_units,
            version=item.version,
        ),
        still_held,
    )
    entry = repo.get_item(repo.WaitlistEntry, (keys.waitlist_pk(org, offer.entry_id), keys.WAITLIST_SK))
    if entry is not None:
        change.put("entry", repo.moved_entry(org, entry, WaitlistStatus.BOOKED, offer.id))
    commit(change)
    return Response(201, "application/json", record, headers={"Location": f"/appointments/{record.id}"})


@router.post(
    "/offers/<offer_id>/decline",
    summary="Leave the offered slot for the next patient",
    tags=["waitlist"],
    operation_id="declineOffer",
    responses=responses(errors={409: "The offer is no longer open (`conflict: offer`)"}),
)
@allow(STAFF, Role.PATIENT)
def decline(offer_id: UlidPath) -> OfferOut:
    """The patient stays on the waitlist for other slots."""
    principal, actor = caller(router)
    item = offer_for(principal, offer_id)
    try:
        return backfill.close_offer(principal.organization_id, item, "declined", actor, clock.now())
    except Cancelled as cancelled:
        raise conflict(cancelled) from None
