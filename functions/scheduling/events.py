"""Scheduling's event consumer: what happens after a change, off the request path.

- booked or rescheduled → set the no-show timer (start + 30 minutes);
- cancelled, rescheduled (the old time), an offer declined or expired → offer the freed time to the
  waitlist;
- slot offered → tell the patient on their consented channel, and set the hold's expiry timer;
- referral created → set its overdue timer (the morning after its due date, organization time).

At-least-once safe: timers are set by name (setting again moves them), messages are de-duplicated by
offer id, and offers are guarded by their transactions' conditions (see ``backfill``).
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from typing import Any

from functions.scheduling import backfill
from shared import clock
from shared.data import keys
from shared.data import scheduling as repo
from shared.data.patients import Actor, Patient, audit_entry
from shared.data.table import bind
from shared.domain.referrals import OPEN, OfferStatus
from shared.domain.scheduling import NO_SHOW_AFTER, AppointmentStatus, local_instant
from shared.logs import entry_point, get_logger
from shared.notify.channels import choose_channel
from shared.notify.send import Message, send
from shared.timers import set_timer

logger = get_logger()
WAITING_FOR_VISIT = {AppointmentStatus.PENDING, AppointmentStatus.BOOKED}


def _appointment(org: str, appointment_id: str) -> repo.Appointment | None:
    return repo.get_item(repo.Appointment, (keys.appointment_pk(org, appointment_id), keys.APPOINTMENT_SK))


def on_appointment(kind: str, org: str, detail: dict[str, Any], now: datetime) -> None:
    item = _appointment(org, detail["appointment_id"])
    if item is None:
        return
    record = item.record()
    if kind in ("AppointmentBooked", "AppointmentRescheduled") and record.status in WAITING_FOR_VISIT:
        set_timer("no-show", org, record.id, record.start + NO_SHOW_AFTER)
    freed = None
    if kind == "AppointmentCancelled":  # if an overbooking took the time over, the offer's hold fails
        freed = (record.start, record.end)
    elif kind == "AppointmentRescheduled":
        moved = [r for r in record.reschedules if r.version == detail.get("version")]
        freed = (moved[0].start, moved[0].end) if moved else None
    if freed and freed[0] > now:
        backfill.offer_next(org, record.provider_id, freed[0], freed[1], now)


def on_offer(kind: str, org: str, detail: dict[str, Any], now: datetime) -> None:
    item = repo.get_item(repo.SlotOffer, (keys.offer_pk(org, detail["offer_id"]), keys.OFFER_SK))
    if item is None:
        return
    offer = item.record()
    if kind != "SlotOffered":  # declined or expired: the next patient's turn
        backfill.offer_next(org, offer.provider_id, offer.start, offer.end, now)
        return
    if offer.status != OfferStatus.HELD:
        return
    set_timer("offer-expiry", org, offer.id, offer.expires_at)
    found = repo.get_many(
        [repo.patient_key(org, offer.patient_id), repo.provider_key(org, offer.provider_id)]
    )
    patient: Patient | None = found.get(repo.patient_key(org, offer.patient_id))
    provider = found.get(repo.provider_key(org, offer.provider_id))
    if patient is None or provider is None:
        return
    record = patient.record()
    channel = choose_channel(record)
    if channel is None:  # consent withdrawn since the offer: the hold simply runs out
        return
    # reading a patient's contact details is an access like any other
    audit_entry(Actor(org, "system:notify", None, None), record.id, "patient.notify", now).save()
    send(
        org,
        record,
        channel,
        offer_message(offer.start, offer.expires_at, provider.record(), record.time_zone),
        dedupe_key=f"offer-{offer.id}",
    )


def offer_message(start: datetime, expires: datetime, provider: Any, zone: str) -> Message:
    from zoneinfo import ZoneInfo

    local = start.astimezone(ZoneInfo(zone))
    minutes = max(1, math.ceil((expires - clock.now()).total_seconds() / 60))
    when = f"{local:%a %b} {local.day} at {local:%H:%M}"
    return Message(
        subject="An earlier appointment is available",
        text=(
            f"An earlier appointment opened up: {when} with {provider.name}, {provider.location}. "
            f"Open the app within {minutes} minutes to take it; after that it goes to the next person."
        ),
    )


def on_referral(org: str, detail: dict[str, Any]) -> None:
    key = (keys.referral_pk(org, detail["referral_id"]), keys.REFERRAL_SK)
    found = repo.get_many([key, repo.calendar_key(org)])
    item = found.get(key)
    if item is None or item.record().status not in OPEN:
        return
    calendar = repo.calendar_of(found.get(repo.calendar_key(org)))
    due = item.record().due_date
    set_timer(
        "referral-overdue",
        org,
        item.referral_id,
        local_instant(due + timedelta(days=1), time(0), calendar.zone),
    )


@entry_point
def handler(event: dict[str, Any], context: Any) -> None:
    bind()
    kind, detail = event["detail-type"], event["detail"]
    org, now = detail["organization_id"], clock.now()
    logger.info("scheduling event", detail_type=kind, event_id=detail.get("event_id"))
    if kind.startswith("Appointment"):
        on_appointment(kind, org, detail, now)
    elif kind.startswith("SlotOffer"):
        on_offer(kind, org, detail, now)
    elif kind == "ReferralCreated":
        on_referral(org, detail)
