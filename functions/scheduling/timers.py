"""Scheduling's timers (EventBridge Scheduler one-time schedules, see ``shared.timers``).

Each re-reads its item and acts only if the deadline still applies, so a timer left behind by a
reschedule, a cancellation or a check-in does nothing.
"""

from __future__ import annotations

from typing import Any

from functions.scheduling import backfill
from functions.scheduling.appointments import move
from shared import clock
from shared.data import keys
from shared.data import scheduling as repo
from shared.data.patients import Actor
from shared.data.table import bind
from shared.data.tx import Cancelled
from shared.domain.referrals import OPEN
from shared.domain.scheduling import NO_SHOW_AFTER, AppointmentStatus
from shared.errors import Conflict
from shared.http.auth import Principal
from shared.logs import entry_point, get_logger

logger = get_logger()


def no_show(org: str, appointment_id: str) -> str:
    item = repo.get_item(repo.Appointment, (keys.appointment_pk(org, appointment_id), keys.APPOINTMENT_SK))
    now = clock.now()
    if item is None:
        return "gone"
    record = item.record()
    if record.status not in (AppointmentStatus.PENDING, AppointmentStatus.BOOKED):
        return "not-due"
    if now < record.start + NO_SHOW_AFTER:
        return "early"  # rescheduled since the timer was set; its new timer will come
    system = Principal(subject="system:no-show", organization_id=org, roles=frozenset())
    try:
        move(system, Actor(org, system.subject, None, None), item, "no-show", now, automatic=True)
    except Conflict:  # checked in or cancelled a moment ago
        return "not-due"
    return "marked"


def offer_expiry(org: str, offer_id: str) -> str:
    item = repo.get_item(repo.SlotOffer, (keys.offer_pk(org, offer_id), keys.OFFER_SK))
    now = clock.now()
    if item is None or item.status != "held":
        return "not-due"
    if now < item.record().expires_at:
        return "early"
    try:
        backfill.close_offer(org, item, "expired", Actor(org, "system:waitlist", None, None), now)
    except Cancelled:  # accepted or declined a moment ago
        return "not-due"
    return "expired"


def referral_overdue(org: str, referral_id: str) -> str:
    from shared.events.scheduling import ReferralOverdue

    key = (keys.referral_pk(org, referral_id), keys.REFERRAL_SK)
    found = repo.get_many([key, repo.calendar_key(org)])
    item, now = found.get(key), clock.now()
    if item is None:
        return "gone"
    record = item.record()
    today = repo.calendar_of(found.get(repo.calendar_key(org))).local_date(now)
    if record.status not in OPEN or record.overdue_since is not None:
        return "not-due"
    if record.due_date >= today:
        return "early"
    change = repo.Change(Actor(org, "system:referrals", None, None), now)
    change.put(
        "referral",
        repo.referral_item(
            org, record.model_copy(update={"overdue_since": today, "version": record.version + 1})
        ),
    )
    change.audit.append((record.patient_id, "referral.overdue"))
    change.events.append(
        ReferralOverdue(
            organization_id=org,
            referral_id=record.id,
            patient_id=record.patient_id,
            status=record.status,
            occurred_at=now,
        )
    )
    try:
        change.commit()
    except Cancelled:
        return "not-due"
    return "raised"


TIMERS = {"no-show": no_show, "offer-expiry": offer_expiry, "referral-overdue": referral_overdue}


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    kind, org, item_id = event["kind"], event["organization_id"], event["id"]
    outcome = TIMERS[kind](org, item_id)
    logger.info("timer fired", timer=kind, outcome=outcome, item_id=item_id)
    return {"outcome": outcome}
