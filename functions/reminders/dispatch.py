"""The reminder dispatcher: a touch's timer fired. Does it still apply? Then queue it for sending.

Scheduler delivers at least once and retries: the touch moves ``planned → queued`` on a condition,
so a second delivery (or a second dispatcher racing the first) finds it queued and only re-queues the
same message, which the sender's own claim makes harmless. What is re-read at fire time decides:
- the plan: a touch of a replaced plan (a reschedule) is skipped as ``moved``;
- the visit: one that has started is past reminding (``late``: retries or a backlog held it);
- the appointment: still pending or booked (else the plan ended: ``ended``), not confirmed when the
  touch asks for confirmation (``confirmed``);
- a referral: still open and without an appointment (``scheduled``);
- the patient: active (``inactive``).
The work is one GetItem for the touch, one BatchGetItem for the rest (plan head, patient, subject,
policy, calendar, suppressed addresses) and one conditional write: it follows the touches due,
whatever else is stored. The last touch that asks for confirmation, due while the appointment is
still pending, raises ``AppointmentUnconfirmed`` in the same write.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

from functions.reminders.common import World, load
from shared import clock, metrics
from shared.aws import client
from shared.data import reminders as repo
from shared.data.table import bind
from shared.domain.patients import PatientStatus
from shared.domain.referrals import OPEN
from shared.domain.reminders import SkipReason, SubjectKind, TouchOut, TouchStatus
from shared.domain.scheduling import AppointmentStatus
from shared.events.reminders import AppointmentUnconfirmed
from shared.logs import correlation_id, entry_point, get_logger

logger = get_logger()
EARLY = timedelta(minutes=1)  # Scheduler fires within its minute


def still_applies(touch: TouchOut, world: World, now: datetime) -> SkipReason | None:
    """``None`` if the touch should go now, else why not."""
    if world.head is None or touch.id not in world.head.current:
        return SkipReason.MOVED  # a reschedule made a new plan
    if world.patient is None or world.patient.record().status is not PatientStatus.ACTIVE:
        return SkipReason.INACTIVE
    if touch.subject_kind is SubjectKind.APPOINTMENT:
        if world.appointment is None:
            return SkipReason.ENDED
        record = world.appointment.record()
        if record.status not in (AppointmentStatus.PENDING, AppointmentStatus.BOOKED):
            return SkipReason.ENDED
        if touch.asks_confirmation and record.status is AppointmentStatus.BOOKED:
            return SkipReason.CONFIRMED
        if record.start <= now:
            return SkipReason.LATE
        return None
    if world.referral is None or world.referral.record().status not in OPEN:
        return SkipReason.ENDED
    if world.referral.record().appointment_id is not None:
        return SkipReason.SCHEDULED
    return None


def enqueue(org: str, touch_id: str) -> None:
    body = {"organization_id": org, "touch_id": touch_id, "correlation_id": correlation_id()}
    client("sqs").send_message(QueueUrl=os.environ["SEND_QUEUE_URL"], MessageBody=json.dumps(body))


def dispatch(org: str, touch_id: str, now: datetime) -> str:
    item = repo.touch(org, touch_id)
    if item is None:
        return "gone"
    touch = item.record()
    if touch.status not in (TouchStatus.PLANNED, TouchStatus.QUEUED):
        return "not-due"  # sent, skipped or failed already: a duplicate delivery
    if touch.send_at is None or now < touch.send_at - EARLY:
        return "early"
    world = load(org, touch)
    reason = still_applies(touch, world, now)
    if reason is not None:
        try:
            repo.move(
                org, item, (touch.status,), status=TouchStatus.SKIPPED, skip_reason=reason, updated_at=now
            )
        except repo.Lost:
            return "raced"
        return f"skipped:{reason.value}"
    if touch.status is TouchStatus.PLANNED:
        events = []
        appointment = world.appointment.record() if world.appointment else None
        if touch.raises_unconfirmed and appointment and appointment.status is AppointmentStatus.PENDING:
            # every touch before this one went unanswered: a call before the visit (escalations)
            events.append(
                AppointmentUnconfirmed(
                    organization_id=org,
                    touch_id=touch.id,
                    patient_id=touch.patient_id,
                    subject_kind=touch.subject_kind,
                    subject_id=touch.subject_id,
                    appointment_id=appointment.id,
                    occurred_at=now,
                )
            )
        try:
            repo.move(org, item, (TouchStatus.PLANNED,), events, status=TouchStatus.QUEUED, updated_at=now)
        except repo.Lost:
            return "raced"  # the other dispatcher queued it
        metrics.count("Reminders", "due")  # once a touch: a timer firing again finds it queued
    enqueue(org, touch.id)
    return "queued"


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    org, touch_id = event["organization_id"], event["id"]
    outcome = dispatch(org, touch_id, clock.now())
    if outcome.startswith("skipped:"):
        metrics.count("Reminders", "skipped")
    logger.info("reminder timer fired", touch_id=touch_id, outcome=outcome)
    return {"outcome": outcome}
