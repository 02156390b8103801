"""Filling freed time from the waitlist: offer a freed slot to the next matching patient with a hold,
and give it back (to the next one) when the offer is declined or runs out.

Called by the scheduling event consumer (a cancellation or a reschedule freed time; an offer was
declined or expired) and by the offer routes. Every step is one transaction whose conditions make a
repeated delivery harmless: the hold's units are put only if free, an entry is offered a given slot
at most once (``offered_slots``), and an offer is closed only while it is still held.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from shared import ids
from shared.clock import isoformat
from shared.data import keys
from shared.data import scheduling as repo
from shared.data.patients import Actor, Patient
from shared.data.tx import Cancelled
from shared.domain.referrals import OfferOut, OfferStatus, WaitlistStatus
from shared.domain.scheduling import units_for
from shared.logs import get_logger
from shared.notify.channels import choose_channel, in_quiet_hours

SYSTEM = "system:waitlist"
# entries read per queue (the provider's, the specialty's), oldest first; only waiting ones count
CANDIDATES_PER_QUEUE = 200


def slot_key(provider_id: str, start: datetime) -> str:
    return f"{provider_id}@{isoformat(start)}"


def offer_next(org: str, provider_id: str, start: datetime, end: datetime, now: datetime) -> OfferOut | None:
    """Offer freed time ``[start, end)`` with ``provider_id`` to the first matching waitlist entry,
    first come first served across the provider's queue and their specialty's. ``None`` if nobody
    matches, the slot is closer than the organization's minimum notice, or it is no longer free."""
    from shared.events.scheduling import SlotOffered

    log = get_logger()
    found = repo.get_many([repo.calendar_key(org), repo.provider_key(org, provider_id)])
    calendar = repo.calendar_of(found.get(repo.calendar_key(org)))
    provider_item = found.get(repo.provider_key(org, provider_id))
    if provider_item is None or start - now < timedelta(hours=calendar.minimum_notice_hours):
        return None
    provider = provider_item.record()
    if not provider.active:
        return None
    durations = {t.code: t.duration for t in repo.appointment_types(org)}
    day = start.astimezone(ZoneInfo(provider.time_zone)).date()
    key = slot_key(provider_id, start)
    queue: list[repo.WaitlistEntry] = []
    for pk in (
        keys.waitlist_queue_pk(org, provider_id, None),
        keys.waitlist_queue_pk(org, None, provider.specialty),
    ):
        queue.extend(
            e
            for e in repo.CareModel.gsi1.query(
                pk, filter_condition=repo.WaitlistEntry.status == "waiting", limit=CANDIDATES_PER_QUEUE
            )
            if isinstance(e, repo.WaitlistEntry)
        )
    queue.sort(key=lambda e: e.GSI1SK or "")
    for entry in queue:
        wanted = entry.record()
        duration = durations.get(wanted.appointment_type)
        if (
            wanted.status != WaitlistStatus.WAITING
            or key in (entry.offered_slots or set())
            or duration is None
            or wanted.appointment_type not in provider.appointment_types
            or not wanted.earliest <= day <= wanted.latest
            or start + duration > end
        ):
            continue
        patient = repo.get_item(Patient, repo.patient_key(org, wanted.patient_id))
        record = patient.record() if patient is not None else None
        if record is None or record.status != "active" or choose_channel(record) is None:
            continue
        if in_quiet_hours(record, now):  # a hold would run out while they sleep
            continue
        units = units_for(provider, calendar, start, duration)
        if isinstance(units, str):
            continue
        expires = now + timedelta(minutes=calendar.waitlist_hold_minutes)
        offer = OfferOut(
            id=ids.new_id(now),
            status=OfferStatus.HELD,
            entry_id=wanted.id,
            patient_id=wanted.patient_id,
            provider_id=provider_id,
            appointment_type=wanted.appointment_type,
            start=start,
            end=start + duration,
            expires_at=expires,
        )
        change = repo.Change(Actor(org, SYSTEM, None, None), now)
        repo.hold_units(change, org, provider_id, units, now, offer_id=offer.id, hold_until=expires)
        change.put("offer", repo.offer_item(org, offer, units))
        change.put("entry", repo.moved_entry(org, entry, WaitlistStatus.OFFERED, offer.id, key))
        change.audit.append((wanted.patient_id, "waitlist.offer"))
        change.events.append(
            SlotOffered(
                organization_id=org,
                entry_id=wanted.id,
                patient_id=wanted.patient_id,
                offer_id=offer.id,
                provider_id=provider_id,
                occurred_at=now,
            )
        )
        try:
            change.commit()
        except Cancelled as cancelled:
            if "slot" in cancelled.failed:
                log.info("freed slot already taken", provider_id=provider_id)
                return None
            continue  # the entry changed under us: try the next one
        log.info("slot offered", offer_id=offer.id, entry_id=wanted.id)
        return offer
    return None


def close_offer(
    org: str, item: repo.SlotOffer, outcome: Literal["declined", "expired"], actor: Actor, now: datetime
) -> OfferOut:
    """End a held offer: release its hold, put the entry back in the queue, and say so (the event
    brings the next offer). Raises :class:`Cancelled` if the offer is no longer held."""
    from shared.events.scheduling import SlotOfferDeclined, SlotOfferExpired

    offer = item.record()
    closed = offer.model_copy(update={"status": OfferStatus(outcome)})

    change = repo.Change(actor, now)
    change.put(
        "offer",
        repo.offer_item(org, closed, item.held_units, version=item.version),
        repo.SlotOffer.status == "held",
    )
    # only the units it still holds: once a hold has run out, a booking may have taken them over
    busy = keys.busy_pk(org, offer.provider_id)
    found = repo.get_many([(busy, isoformat(u)) for u in item.held_units])
    mine = [
        u for u in item.held_units if getattr(found.get((busy, isoformat(u))), "offer_id", None) == offer.id
    ]
    repo.release_units(change, org, offer.provider_id, mine, offer_id=offer.id)
    entry = repo.get_item(repo.WaitlistEntry, (keys.waitlist_pk(org, offer.entry_id), keys.WAITLIST_SK))
    if entry is not None and entry.status == WaitlistStatus.OFFERED and entry.record().offer_id == offer.id:
        change.put("entry", repo.moved_entry(org, entry, WaitlistStatus.WAITING, None))
    change.audit.append((offer.patient_id, f"offer.{outcome}"))
    event = SlotOfferDeclined if outcome == "declined" else SlotOfferExpired
    change.events.append(
        event(
            organization_id=org,
            entry_id=offer.entry_id,
            patient_id=offer.patient_id,
            offer_id=offer.id,
            provider_id=offer.provider_id,
            occurred_at=now,
        )
    )
    change.commit()
    return closed
