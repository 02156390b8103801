"""Appointment status moves, shared by scheduling (its routes and timers) and reminders (an SMS
reply or a one-tap link confirms or cancels: the same transition as the app's).

A move is one transaction: the appointment on its version, the released time on a cancel, the linked
referral moved along, the audit entry and the event. A failed condition raises
:class:`shared.data.tx.Cancelled`; callers turn it into their 409.
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
from shared.domain.scheduling import AppointmentOut, AppointmentStatus, next_status, timing_problem
from shared.errors import Conflict
from shared.http.auth import Principal
from shared.http.contract import matches


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
    **update: Any,
) -> AppointmentOut:
    """Apply a status move (the transition table decides), releasing the slot on a cancel and moving
    a linked referral along: one transaction, with ``also`` (label, item, condition) puts of the
    caller's (a one-tap link marked used with the move it made)."""
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
