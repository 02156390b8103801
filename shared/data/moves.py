"""Appointment writes shared across areas: booking (``POST /appointments``, accepting a waitlist
offer, mirroring a partner's booking: :mod:`shared.data.mirror`), rescheduling, and status moves
(scheduling's routes and timers, reminders: an SMS reply or a one-tap link confirms or cancels, the
same transition as the app's).

Each is one transaction: the appointment on its version, the time it takes (each unit on condition
that nobody holds it) or gives up, the linked referral moved along, the audit entry and the event. A
failed condition raises :class:`shared.data.tx.Cancelled`; callers turn it into their 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.data import keys
from shared.data import scheduling as repo
from shared.data.patients import Actor
from shared.domain.referrals import FHIR_STATUS, ReferralOut, ReferralStatus, next_referral_status
from shared.domain.scheduling import (
    MAX_RESCHEDULES,
    AppointmentOut,
    AppointmentStatus,
    Reschedule,
    next_status,
    timing_problem,
)
from shared.errors import Conflict
from shared.events.models import DomainEvent
from shared.http.auth import Principal
from shared.http.contract import matches


def booking_change(
    org: str,
    org_zone: ZoneInfo,
    record: AppointmentOut,
    held: Sequence[datetime],
    actor: Actor,
    now: datetime,
    *,
    referral: repo.Referral | None = None,
    unit_condition: Any = None,
    audit_action: str = "appointment.book",
    events: Sequence[DomainEvent] = (),
) -> repo.Change:
    """The transaction that books ``record`` holding ``held`` (empty for an overbooking): the
    appointment (in the organization's day of ``org_zone``), one item per unit, each on
    ``unit_condition`` (by default: nobody holds it, or its hold has run out), a check that the patient
    is still active, the ``referral`` it schedules, its audit entry, ``AppointmentBooked`` (naming the
    partner it came from, if it did: ``record.source_partner_id``) and ``events``."""
    from shared.events.scheduling import AppointmentBooked

    change = repo.Change(actor, now)
    change.put(
        "appointment", repo.appointment_item(org, record, repo.org_day_pk(org, record.start, org_zone), held)
    )
    for unit in held:
        item = repo.unit_item(org, record.provider_id, unit, appointment_id=record.id)
        change.put("slot", item, unit_condition if unit_condition is not None else repo.free_unit(now))
    repo.active_patient(change, org, record.patient_id)
    if referral is not None:
        referral_change(change, org, referral, "schedule", record.id)
    change.audit.append((record.patient_id, audit_action))
    change.events.append(
        AppointmentBooked(
            organization_id=org,
            appointment_id=record.id,
            patient_id=record.patient_id,
            provider_id=record.provider_id,
            status=record.status,
            overbooked=record.overbooked,
            referral_id=record.referral_id,
            offer_id=record.offer_id,
            source_partner_id=record.source_partner_id,
            occurred_at=now,
        )
    )
    change.events.extend(events)
    return change


def rescheduled(
    current: AppointmentOut,
    start: datetime,
    end: datetime,
    status: AppointmentStatus,
    by: str,
    now: datetime,
    *,
    confirmed_at: datetime | None,
) -> AppointmentOut:
    """``current`` moved to ``[start, end)`` by ``by``, in ``status``: the time it leaves is kept in
    ``reschedules`` (the last :data:`MAX_RESCHEDULES`), under the version this move creates."""
    version = current.version + 1
    return current.model_copy(
        update={
            "start": start,
            "end": end,
            "version": version,
            "updated_at": now,
            "overbooked": False,
            "status": status,
            "confirmed_at": confirmed_at,
            "rescheduled_count": current.rescheduled_count + 1,
            "reschedules": [
                *current.reschedules,
                Reschedule(start=current.start, end=current.end, at=now, by=by, version=version),
            ][-MAX_RESCHEDULES:],
        }
    )


def reschedule_change(
    org: str,
    org_zone: ZoneInfo,
    item: repo.Appointment,
    record: AppointmentOut,
    new_units: Sequence[datetime],
    actor: Actor,
    now: datetime,
    *,
    source_partner_id: str | None = None,
) -> repo.Change:
    """The transaction that moves ``item`` to ``record`` (:func:`rescheduled`) holding ``new_units``:
    the units both times share are kept, the old time's others given up (:func:`release`), the new
    ones taken on condition that nobody holds them (the old time stays held if one is taken), the
    appointment on its version, its audit entry and ``AppointmentRescheduled`` (``source_partner_id``:
    the partner whose message moved it, if one did)."""
    from shared.events.scheduling import AppointmentRescheduled

    current = item.record()
    old_units = item.held_units
    keep = set(old_units) & set(new_units)
    change = repo.Change(actor, now)
    release(change, org, current, [u for u in old_units if u not in keep])
    repo.hold_units(
        change,
        org,
        current.provider_id,
        [u for u in new_units if u not in keep],
        now,
        appointment_id=current.id,
    )
    change.put(
        "appointment",
        repo.appointment_item(org, record, repo.org_day_pk(org, record.start, org_zone), new_units),
    )
    change.audit.append((current.patient_id, "appointment.reschedule"))
    change.events.append(
        AppointmentRescheduled(
            organization_id=org,
            appointment_id=current.id,
            patient_id=current.patient_id,
            provider_id=current.provider_id,
            status=record.status,
            version=record.version,
            source_partner_id=source_partner_id,
            occurred_at=now,
        )
    )
    return change


def move(
    principal: Principal,
    actor: Actor,
    item: repo.Appointment,
    action: str,
    now: datetime,
    if_match: str | None = None,
    *,
    automatic: bool = False,
    also: Sequence[tuple[str, Any, Any]] = (),
    source_partner_id: str | None = None,
    **update: Any,
) -> AppointmentOut:
    """Apply a status move (the transition table decides), releasing the slot on a cancel and moving
    a linked referral along: one transaction, with ``also`` (label, item, condition) puts of the
    caller's (a one-tap link marked used with the move it made; a partner's mirror link).
    ``source_partner_id``: the partner whose message made the move, for its event."""
    from shared.events.scheduling import APPOINTMENT_EVENTS

    current = item.record()
    if if_match is not None and not matches(if_match, item.version):
        raise Conflict(
            "The appointment changed since you read it; read it again.", current_version=item.version
        )
    target = next_status(current.status, action)
    if not isinstance(target, AppointmentStatus):
        raise Conflict(target, current_status=current.status.value)
    problem = timing_problem(action, current.start, now)
    if problem:
        raise Conflict(problem, current_status=current.status.value)
    record = current.model_copy(
        update={"status": target, "version": current.version + 1, "updated_at": now, **update}
    )
    org = principal.organization_id
    change = repo.Change(actor, now)
    held = item.held_units
    if action == "cancel":
        release(change, org, current, held)
        held = []
    appointment = repo.appointment_item(org, record, item.GSI3PK or "", held)
    change.put("appointment", appointment)
    for label, extra, condition in also:
        change.put(label, extra, condition)
    change.audit.append((current.patient_id, f"appointment.{action}"))
    fields: dict[str, Any] = {}
    if record.cancellation is not None:
        fields = {"reason": record.cancellation.reason, "by_patient": principal.is_patient}
    elif action == "no-show":
        fields = {"automatic": automatic}
    change.events.append(
        APPOINTMENT_EVENTS[action](
            organization_id=org,
            appointment_id=current.id,
            patient_id=current.patient_id,
            provider_id=current.provider_id,
            status=target,
            source_partner_id=source_partner_id,
            occurred_at=now,
            **fields,
        )
    )
    if current.referral_id and action in ("cancel", "no-show", "complete"):
        referral = repo.get_item(
            repo.Referral, (keys.referral_pk(org, current.referral_id), keys.REFERRAL_SK)
        )
        if referral is not None and referral.status == "scheduled":
            referral_change(
                change,
                org,
                referral,
                "complete" if action == "complete" else "unschedule",
                current.id if action == "complete" else None,
            )
    change.commit()
    return record


LIVE = frozenset(
    {
        AppointmentStatus.PENDING,
        AppointmentStatus.BOOKED,
        AppointmentStatus.ARRIVED,
        AppointmentStatus.CHECKED_IN,
    }
)


def release(change: repo.Change, org: str, current: AppointmentOut, units: list[datetime]) -> None:
    """Give up ``current``'s ``units``: to a live overbooked appointment that sits on them (it was
    booked over this one and now takes its place), else back to free time. One Query of the
    provider's day finds the overbookings."""
    if not units:
        return
    day = current.start.astimezone(ZoneInfo(current.time_zone)).date().isoformat()
    found, _ = repo.by_time(
        repo.CareModel.gsi2, keys.provider_day_pk(org, current.provider_id, day), limit=200, start=None
    )
    left = list(units)
    for item in found:
        record = item.record() if isinstance(item, repo.Appointment) else None
        if record is None or record.id == current.id or not record.overbooked or record.status not in LIVE:
            continue
        taken = [u for u in left if record.start <= u < record.end]
        if not taken:
            continue
        left = [u for u in left if u not in taken]
        for unit in taken:
            change.put(
                "release",
                repo.unit_item(org, current.provider_id, unit, appointment_id=record.id),
                repo.BusyUnit.appointment_id == current.id,
            )
        moved = record.model_copy(update={"version": record.version + 1, "updated_at": change.at})
        change.put(
            "appointment", repo.appointment_item(org, moved, item.GSI3PK or "", [*item.held_units, *taken])
        )
    repo.release_units(change, org, current.provider_id, left, appointment_id=current.id)


def referral_change(
    change: repo.Change,
    org: str,
    referral: repo.Referral,
    action: str,
    appointment_id: str | None,
    status_reason: str | None = None,
) -> ReferralOut:
    """Move the referral an appointment fulfils along with it, in the same transaction."""
    from shared.events.scheduling import REFERRAL_EVENTS

    current = referral.record()
    target = next_referral_status(current.status, action)
    if not isinstance(target, ReferralStatus):
        raise Conflict(target, referral_current_status=current.status.value)
    updated = current.model_copy(
        update={
            "status": target,
            "fhir_status": FHIR_STATUS[target],
            "version": current.version + 1,
            "appointment_id": appointment_id,
            "updated_at": change.at,
            **({"status_reason": status_reason} if status_reason else {}),
        }
    )
    change.put("referral", repo.referral_item(org, updated))
    change.events.append(
        REFERRAL_EVENTS[action](
            organization_id=org,
            referral_id=current.id,
            patient_id=current.patient_id,
            status=target,
            appointment_id=appointment_id,
            occurred_at=change.at,
        )
    )
    return updated
