"""The reminder sender: the send queue's consumer. Holds a touch, keeps to the sending identity's
pace, sends on the patient's first usable channel (falling back to the next when one fails for good),
and records what happened.

Exactly once: a queue message may arrive twice and two senders may race; the touch moves
``queued → sending`` on a condition (:func:`shared.data.reminders.claim`), and only the holder calls
the provider, through :func:`shared.notify.send.send` keyed by touch and channel. A holder that dies
mid-send leaves a lease that runs out, and the queue's retry takes over.

A provider error is retried by the queue with backoff (the message's visibility is stretched: 1, 4,
16 minutes); after :data:`MAX_ATTEMPTS` the touch is ``failed`` for staff and ``ReminderFailed`` is
raised. No channel left (no consent, no address, an address that bounced, every provider refusal
permanent): the touch is ``failed`` with ``undeliverable`` and ``ReminderUndeliverable`` is raised.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.reminders.common import TIMER, World, expires, load, message, system_actor
from functions.reminders.dispatch import still_applies
from shared import clock
from shared.aws import client
from shared.data import reminders as repo
from shared.data.patients import audit_entry
from shared.data.table import bind
from shared.data.tx import Cancelled, Tx
from shared.domain.patients import Channel, PatientOut
from shared.domain.reminders import MessageKind, SkipReason, SubjectKind, TouchOut, TouchStatus
from shared.domain.scheduling import AppointmentOut
from shared.events.reminders import (
    ReminderFailed,
    ReminderSent,
    ReminderUndeliverable,
)
from shared.http import tokens
from shared.http.tokens import link_url
from shared.logs import correlate, correlation_id, entry_point, get_logger
from shared.notify import pace
from shared.notify.channels import address_of, allowed_time, reachable
from shared.notify.send import Undeliverable, send
from shared.timers import set_timer

logger = get_logger()
processor = BatchProcessor(event_type=EventType.SQS)
MAX_ATTEMPTS = 3
# a touch this far past its time is checked against its plan: one whose next touch is due too was held
# back (an outage, a redrive of the dead-letter queue) and would reach the patient beside it
OVERTAKEN_AFTER = timedelta(hours=1)
LEASE = timedelta(minutes=2)
MAX_WAIT = timedelta(seconds=20)  # longer than this for a slot: queue the touch again for later
DEFAULT_RATES = {"sms": 1.0, "email": 14.0}


def max_wait() -> timedelta:
    return timedelta(seconds=float(os.environ.get("SEND_MAX_WAIT_SECONDS") or MAX_WAIT.total_seconds()))


def rate(channel: Channel) -> float:
    env = {"sms": "SMS_PARTS_PER_SECOND", "email": "EMAILS_PER_SECOND"}[channel.value]
    return float(os.environ.get(env) or DEFAULT_RATES[channel.value])


def usable(patient: PatientOut, touch: TouchOut, suppressed: dict[str, repo.Suppression]) -> list[Channel]:
    """The patient's channel order, limited to the touch's channels with consent, an address, and an
    address that has not bounced or complained."""
    out = []
    for channel in patient.preferred_channels:
        if channel not in touch.channels or not reachable(patient, channel):
            continue
        bad = suppressed.get(channel.value)
        if bad is not None and bad.address_hash == repo.address_hash(address_of(patient, channel)):
            continue
        out.append(channel)
    return out


def _wait_for_slot(channel: Channel, text: str) -> None:
    from shared.notify.content import sms_parts

    parts = sms_parts(text) if channel is Channel.SMS else 1
    now = clock.now()
    slot = pace.reserve(channel.value, parts, rate(channel), now, max_wait())  # or pace.Busy
    if slot > now:
        time.sleep((slot - now).total_seconds())


def _finish(
    org: str, item: repo.Touch, touch: TouchOut, now: datetime, events: list[Any], **update: Any
) -> None:
    """Record the outcome of a held touch, with its events and routes, in one transaction."""
    routes = update.pop("routes", [])
    new = touch.model_copy(update={**update, "updated_at": now})
    stored = repo.touch_item(org, new)
    stored.version = item.version
    try:
        with Tx() as tx:
            tx.put("touch", stored, repo.Touch.status == TouchStatus.SENDING.value)
            for route in routes:
                tx.put("route", route)
            for event in events:
                tx.put("event", event.to_outbox())
    except Cancelled:  # our lease ran out and another sender took over: it records instead
        logger.warning("reminder outcome lost to a later holder", touch_id=touch.id)


def _ids(touch: TouchOut, org: str, now: datetime) -> dict[str, Any]:
    return {
        "organization_id": org,
        "touch_id": touch.id,
        "patient_id": touch.patient_id,
        "subject_kind": touch.subject_kind,
        "subject_id": touch.subject_id,
        "occurred_at": now,
    }


class HeldElsewhere(Exception):
    """Another sender holds the touch (its lease still runs): the queue's retry comes back later,
    after the lease, and takes over if that sender died."""


def deliver(org: str, touch_id: str) -> str:
    item = repo.touch(org, touch_id)
    if item is None:
        return "gone"
    now = clock.now()
    held = item.record().status is TouchStatus.SENDING
    try:
        touch = repo.claim(org, item, now, LEASE)
    except repo.Lost:
        if held and item.lease_until is not None and item.lease_until >= clock.isoformat(now):
            raise HeldElsewhere from None
        return "not-ours"  # sent, skipped or failed already: a duplicate message
    try:
        return _send_held(org, item, touch, now)
    except (Done, HeldElsewhere):
        raise
    except Exception as exc:  # whatever failed after the claim: give the touch back, count the attempt
        _give_back(org, item, touch, now, type(exc).__name__)
        raise


def _send_held(org: str, item: repo.Touch, touch: TouchOut, now: datetime) -> str:
    """Send the touch this sender holds; record the outcome."""
    world = load(org, touch)
    reason = still_applies(touch, world, now)  # a confirmation, a cancel, a reschedule since it was queued
    if reason is None and _overtaken(org, touch, now):
        reason = SkipReason.LATE
    if reason is not None or world.patient is None:
        _finish(
            org, item, touch, now, [], status=TouchStatus.SKIPPED, skip_reason=reason or SkipReason.INACTIVE
        )
        return "skipped"
    patient = world.patient.record()
    appointment = world.appointment.record() if world.appointment else None
    retimed = _retime_if_quiet(org, item, touch, world, patient, appointment, now)
    if retimed:
        return retimed
    audit_entry(system_actor(org), patient.id, "patient.notify", now).save()  # their contact is read
    channels = usable(patient, touch, world.suppressed)
    kind = MessageKind.APPOINTMENT if touch.subject_kind is SubjectKind.APPOINTMENT else MessageKind.REFERRAL
    link = link_url(tokens.make(touch.id, expires(appointment, now + timedelta(days=30))))
    for channel in channels:
        text = message(
            kind,
            channel,
            patient,
            world.policy,
            appointment=appointment,
            asks_confirmation=touch.asks_confirmation,
            link=link,
        )
        try:
            _wait_for_slot(channel, text.text)
            delivery = send(org, patient, channel, text, dedupe_key=f"touch-{touch.id}-{channel.value}")
        except Undeliverable:
            continue  # fall back to the next channel
        except pace.Busy as busy:  # a backlog: not the touch's failure, and not the queue's retry
            _defer(org, item, touch, now, busy.wait)
            return "deferred"
        sent_at = clock.now()
        address = address_of(patient, channel)
        routes = [repo.route_item("TOUCH", touch.id, org, touch.id, patient.id, sent_at)]
        if delivery.message_id:
            routes.append(
                repo.route_item("MSG", delivery.message_id, org, touch.id, patient.id, sent_at, address)
            )
        _finish(
            org,
            item,
            touch,
            sent_at,
            [ReminderSent(**_ids(touch, org, sent_at), channel=channel)],
            status=TouchStatus.SENT,
            channel=channel,
            sent_at=sent_at,
            failure=None,
            routes=routes,
        )
        return "sent"
    _finish(
        org,
        item,
        touch,
        now,
        [ReminderUndeliverable(**_ids(touch, org, now))],
        status=TouchStatus.FAILED,
        failure="undeliverable",
    )
    return "undeliverable"


def _overtaken(org: str, touch: TouchOut, now: datetime) -> bool:
    """Is a later touch of the same plan due already? Read only for a touch long past its time."""
    if touch.send_at is None or now - touch.send_at < OVERTAKEN_AFTER:
        return False
    plan = [t.record() for t in repo.plan_touches(org, touch.subject_kind, touch.subject_id)]
    return any(
        t.generation == touch.generation and t.index > touch.index and t.send_at and t.send_at <= now
        for t in plan
    )


def _retime_if_quiet(
    org: str,
    item: repo.Touch,
    touch: TouchOut,
    world: World,
    patient: PatientOut,
    appointment: AppointmentOut | None,
    now: datetime,
) -> str | None:
    """A touch held back (a backlog, retries) into the patient's quiet hours or a holiday goes back to
    ``planned`` with a new timer at the next allowed minute (before the visit), never out now."""
    calendar = world.calendar
    allowed = allowed_time(
        now,
        quiet=(patient.quiet_hours.start, patient.quiet_hours.end),
        zone=ZoneInfo(patient.time_zone),
        closed=lambda t: calendar.is_holiday(calendar.local_date(t)),
        closed_zone=calendar.zone,
        before=appointment.start if appointment else None,
        not_before=now,
    )
    if allowed == now:
        return None
    if allowed is None:
        _finish(org, item, touch, now, [], status=TouchStatus.SKIPPED, skip_reason=SkipReason.NO_ALLOWED_TIME)
        return "skipped"
    repo.move(
        org,
        item,
        (TouchStatus.SENDING,),
        status=TouchStatus.PLANNED,
        send_at=allowed,
        attempts=touch.attempts - 1,
        updated_at=now,
    )
    set_timer(TIMER, org, touch.id, allowed)
    logger.info("reminder held past its time: moved out of the quiet hours", touch_id=touch.id)
    return "retimed"


def _defer(org: str, item: repo.Touch, touch: TouchOut, now: datetime, wait: timedelta) -> None:
    """The sending identity is booked beyond what this sender may wait: release the touch (its
    attempt does not count) and queue it again for when the identity is free (a new message, so the
    queue's receive count, which leads to the dead-letter queue, does not grow with a backlog)."""
    repo.move(
        org,
        item,
        (TouchStatus.SENDING,),
        status=TouchStatus.QUEUED,
        attempts=touch.attempts - 1,
        updated_at=now,
    )
    delay = max(1, min(900, int(wait.total_seconds() - max_wait().total_seconds() / 2)))
    client("sqs").send_message(
        QueueUrl=os.environ["SEND_QUEUE_URL"],
        MessageBody=json.dumps(
            {"organization_id": org, "touch_id": touch.id, "correlation_id": correlation_id()}
        ),
        DelaySeconds=delay,
    )
    logger.info("reminder deferred: sending identity busy", touch_id=touch.id, delay_seconds=delay)


def _give_back(org: str, item: repo.Touch, touch: TouchOut, now: datetime, error: str) -> None:
    """A provider error: back to ``queued`` for the queue's retry, or ``failed`` after the last."""
    logger.warning("reminder send failed", touch_id=touch.id, attempt=touch.attempts, error_type=error)
    if touch.attempts >= MAX_ATTEMPTS:
        _finish(
            org,
            item,
            touch,
            now,
            [ReminderFailed(**_ids(touch, org, now))],
            status=TouchStatus.FAILED,
            failure="provider-error",
        )
        raise Done from None
    with contextlib.suppress(repo.Lost):
        repo.move(org, item, (TouchStatus.SENDING,), status=TouchStatus.QUEUED, updated_at=now)


class Done(Exception):
    """The touch reached its end (failed for good): nothing for the queue to retry."""


def _record(record: SQSRecord) -> None:
    body = json.loads(record.body)
    correlate(body.get("correlation_id"))
    try:
        outcome = deliver(body["organization_id"], body["touch_id"])
    except Done:
        outcome = "failed"
    except Exception as exc:
        receives = int(record.attributes.approximate_receive_count or 1)
        backoff = 60 * 4 ** min(receives - 1, 3)  # 1, 4, 16, 64 minutes
        if isinstance(exc, HeldElsewhere):
            backoff = int(LEASE.total_seconds()) + 30  # after the holder's lease
        try:
            client("sqs").change_message_visibility(
                QueueUrl=os.environ["SEND_QUEUE_URL"],
                ReceiptHandle=record.receipt_handle,
                VisibilityTimeout=backoff,
            )
        except Exception:  # the queue's own visibility timeout applies instead
            logger.warning("could not stretch the retry", touch_id=body["touch_id"])
        raise
    logger.info("reminder send", touch_id=body["touch_id"], outcome=outcome)


@entry_point
def handler(event: dict[str, Any], context: Any) -> Any:
    bind()
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
