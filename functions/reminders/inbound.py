"""Two-way SMS: a patient's reply, from the topic AWS End User Messaging publishes inbound SMS to.

The reply names no organization and no patient: it is matched through the last message we sent to
that number (``previousPublishedMessageId`` → its route → organization and touch), then to the patient
by number within that organization. A number no message of ours went to, or one two patients share
(a parent and a child), is never matched by guess: the reply is kept for staff (or, with no
organization at all, for operators).

- ``C``/``YES``/``CONFIRM``/``SI``/``SÍ``: confirms the appointment the touch reminded of (the app's
  own transition, audited as done by the patient through SMS);
- ``R``/``RESCHEDULE``: a reschedule request for the coordinator (kept, and ``RescheduleRequested``);
- ``STOP`` and the carriers' other stop words: SMS consent withdrawn; ``START`` restores it;
- ``HELP``: the clinic's name and number;
- anything else: kept for staff (``PatientReplied``).
Each answer goes back in the patient's language. At-least-once safe: the answer is de-duplicated by
the inbound message id, the reply kept under it, and the moves are conditional.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from functions.reminders.common import message, system_actor
from shared import clock, metrics
from shared.data import keys, moves
from shared.data import patients as patient_repo
from shared.data import reminders as repo
from shared.data import scheduling as sched
from shared.data.patients import Actor, Patient, PatientPhone, audit_entry
from shared.data.table import bind
from shared.data.tx import Cancelled
from shared.domain.patients import Channel, Consent, PatientOut
from shared.domain.reminders import Intent, MessageKind, ReplyOut, SubjectKind, intent_of
from shared.domain.scheduling import AppointmentOut, AppointmentStatus
from shared.errors import Conflict
from shared.events.reminders import PatientReplied, RescheduleRequested
from shared.http.auth import Principal, Role
from shared.logs import correlate, entry_point, get_logger
from shared.notify.send import Undeliverable, send

logger = get_logger()
OPAQUE_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ANSWERS = {
    Intent.CONFIRM: MessageKind.ANSWER_CONFIRMED,
    Intent.RESCHEDULE: MessageKind.ANSWER_RESCHEDULE,
    Intent.STOP: MessageKind.ANSWER_STOP,
    Intent.START: MessageKind.ANSWER_START,
    Intent.HELP: MessageKind.ANSWER_HELP,
    Intent.OTHER: MessageKind.ANSWER_UNKNOWN,
}


def _keep(
    org: str | None, reply_id: str, body: str, intent: Intent, reason: str, now: datetime, **ids_: Any
) -> ReplyOut:
    """Keep a reply for staff (or, without an organization, for operators), with its event."""
    appointment_id = ids_.pop("appointment_id", None)
    record = ReplyOut(
        id=reply_id,
        intent=intent,
        reason=reason,
        text=body[:1600],
        received_at=now,
        **ids_,
    )
    pk = keys.replies_pk(org) if org else keys.UNMATCHED_PK
    item = repo.Reply(
        pk,
        keys.by_time_sk(clock.isoformat(now), reply_id),
        reply_id=reply_id,
        body=record.model_dump_json(),
        ttl=now + repo.REPLY_RETENTION,
    )
    if org is None:
        item.save()
        return record
    change = sched.Change(system_actor(org), now)
    change.put("reply", item, repo.Reply.PK.does_not_exist())
    if record.patient_id and reason == "reschedule" and appointment_id:
        change.events.append(
            RescheduleRequested(
                organization_id=org,
                reply_id=reply_id,
                patient_id=record.patient_id,
                appointment_id=appointment_id,
                occurred_at=now,
            )
        )
    else:
        change.events.append(
            PatientReplied(
                organization_id=org,
                reply_id=reply_id,
                patient_id=record.patient_id,
                intent=intent,
                occurred_at=now,
            )
        )
    with contextlib.suppress(Cancelled):  # a second delivery of the same reply
        change.commit()
    return record


def _consent(org: str, item: Patient, granted: bool, now: datetime) -> None:
    """Withdraw or restore SMS consent, as the patient asked by SMS (audited as theirs)."""
    record = item.record()
    current = record.consent.get(Channel.SMS)
    if current is not None and current.granted is granted:
        return
    consent = {**record.consent, Channel.SMS: Consent(granted=granted, at=now, method="electronic")}
    new = record.model_copy(update={"consent": consent, "version": record.version + 1, "updated_at": now})
    actor = Actor(org, f"patient-sms:{record.id}", None, None)
    patient_repo.update(
        item, new, actor, now, "patient.consent.sms." + ("granted" if granted else "withdrawn")
    )


def _confirm(
    org: str, patient: PatientOut, appointment_id: str | None, now: datetime
) -> tuple[MessageKind, AppointmentOut | None]:
    nothing = (MessageKind.ANSWER_NOTHING_OPEN, None)
    if appointment_id is None:
        return nothing
    key = (keys.appointment_pk(org, appointment_id), keys.APPOINTMENT_SK)
    item = sched.get_item(sched.Appointment, key)
    if item is None or item.patient_id != patient.id or item.record().start <= now:
        return nothing
    status = item.record().status
    if status is AppointmentStatus.BOOKED:
        return MessageKind.ANSWER_CONFIRMED, item.record()  # confirmed already (a second C, the app)
    if status is not AppointmentStatus.PENDING:
        return nothing
    principal = Principal(
        subject=f"patient-sms:{patient.id}",
        organization_id=org,
        roles=frozenset({Role.PATIENT}),
        patient_id=patient.id,
    )
    try:
        record = moves.move(
            principal, Actor(org, principal.subject, None, None), item, "confirm", now, confirmed_at=now
        )
    except (Cancelled, Conflict):  # confirmed or cancelled a moment ago by another route
        again = sched.get_item(sched.Appointment, key)
        if again is not None and again.record().status is AppointmentStatus.BOOKED:
            return MessageKind.ANSWER_CONFIRMED, again.record()
        return nothing
    metrics.count("Reminders", "confirmed")
    return MessageKind.ANSWER_CONFIRMED, record


def _answer(
    org: str,
    patient: PatientOut,
    kind: MessageKind,
    reply_id: str,
    touch_id: str,
    now: datetime,
    appointment: AppointmentOut | None = None,
    *,
    required: bool = False,
) -> None:
    from shared.data.reminders import policy as read_policy

    policy, _ = read_policy(org)
    try:
        text = message(kind, Channel.SMS, patient, policy, appointment=appointment)
    except ValueError:  # e.g. HELP with no clinic phone in the policy: nothing lawful to say
        logger.warning("no answer for this reply", answer=kind.value, organization_id=org)
        return
    try:
        delivery = send(
            org, patient, Channel.SMS, text, dedupe_key=f"reply-{reply_id}", require_consent=not required
        )
    except Undeliverable:
        return
    if delivery.message_id:  # a reply to the answer still finds its way
        repo.route_item("MSG", delivery.message_id, org, touch_id, patient.id, now).save()


def handle(inbound: dict[str, Any], now: datetime) -> str:
    """One inbound SMS. ``now`` is when SNS published it (stable across redeliveries, so a redelivered
    reply finds the one it kept before)."""
    body = str(inbound.get("messageBody") or "")
    # the provider's id, untrusted: hashed into ours, which keys the kept reply and the answer's send
    source = str(inbound.get("inboundMessageId") or body + clock.isoformat(now))
    reply_id = hashlib.sha256(source.encode()).hexdigest()[:26].upper()
    intent = intent_of(body)
    metrics.count("Replies", intent.value)
    previous = inbound.get("previousPublishedMessageId")
    route = repo.route("MSG", previous) if isinstance(previous, str) and previous else None
    if route is None:
        _keep(None, reply_id, body, intent, "unknown-number", now)
        return "unmatched"
    org = route.organization_id
    number = str(inbound.get("originationNumber") or "")
    on_file = (
        {p.patient_id for p in PatientPhone.query(keys.patients_by_phone_pk(org, number))}
        if keys.is_part(number.lstrip("+"))
        else set()
    )
    if on_file != {route.patient_id}:
        reason = "shared-number" if len(on_file) > 1 else "unknown-number"
        if intent in (Intent.STOP, Intent.START) and len(on_file) > 1:
            # consent to texts is the number's: a STOP from a shared number stops it for everyone on it
            for patient_id in sorted(on_file):
                shared = patient_repo.get(org, patient_id)
                if shared is not None:
                    _consent(org, shared, intent is Intent.START, now)
        _keep(org, reply_id, body, intent, reason, now, touch_id=route.touch_id, patient_id=None)
        return reason
    item = patient_repo.get(org, route.patient_id)
    if item is None:
        return "gone"
    patient = item.record()
    audit_entry(system_actor(org), patient.id, "patient.reply", now).save()
    appointment_id = _current_appointment(org, route.touch_id)
    kind, appointment = ANSWERS[intent], None
    if intent is Intent.CONFIRM:
        kind, appointment = _confirm(org, patient, appointment_id, now)
    elif intent is Intent.RESCHEDULE:
        _keep(
            org,
            reply_id,
            body,
            intent,
            "reschedule",
            now,
            touch_id=route.touch_id,
            patient_id=patient.id,
            appointment_id=appointment_id,
        )
    elif intent is Intent.OTHER:
        _keep(org, reply_id, body, intent, "message", now, touch_id=route.touch_id, patient_id=patient.id)
    if intent in (Intent.STOP, Intent.START):
        _consent(org, item, intent is Intent.START, now)
        patient = (patient_repo.get(org, route.patient_id) or item).record()
    # the STOP answer is the last text they get: carriers require it, consent or not
    _answer(org, patient, kind, reply_id, route.touch_id, now, appointment, required=intent is Intent.STOP)
    return intent.value


def _current_appointment(org: str, touch_id: str) -> str | None:
    """The appointment the replied-to touch reminds of, if that touch is still of its current plan
    (a reply to a reminder of a time since moved confirms nothing: the patient was told another time)."""
    touch_item = repo.touch(org, touch_id)
    touch = touch_item.record() if touch_item else None
    if touch is None or touch.subject_kind is not SubjectKind.APPOINTMENT:
        return None
    head = repo.head(org, touch.subject_kind, touch.subject_id)
    return touch.subject_id if head is not None and touch.id in head.current else None


def _published(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record["Sns"]["Timestamp"]).replace("Z", "+00:00")).astimezone(UTC)
    except (KeyError, ValueError, TypeError):
        return None


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    outcomes = []
    for record in event["Records"]:
        try:
            inbound = json.loads(record["Sns"]["Message"])
        except (KeyError, ValueError, TypeError):
            logger.warning("inbound SMS not understood")
            continue
        if not isinstance(inbound, dict):
            continue
        # AWS End User Messaging's id for the message: what follows the reply through every log line
        message_id = inbound.get("inboundMessageId")
        correlate(message_id if isinstance(message_id, str) and OPAQUE_ID.fullmatch(message_id) else None)
        outcome = handle(inbound, _published(record) or clock.now())
        outcomes.append(outcome)
        logger.info("inbound SMS", outcome=outcome)
    return {"outcome": ",".join(outcomes)}
