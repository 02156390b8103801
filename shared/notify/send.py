"""Sending one message to one patient: once per dedupe key, or again if an earlier attempt with that
key did not finish.

Callers (queue and stream consumers) are retried at least once, so each send carries a dedupe key and
leaves a ``Communication`` item (FHIR Communication.status) in the single table:

1. a conditional put in ``preparation`` claims the key (an expired claim counts as absent, since
   DynamoDB's TTL deletes lazily);
2. the provider is called (SNS for SMS, SES for e-mail);
3. the item moves to ``completed`` with the provider's message id.

A key already ``completed`` sends nothing and returns what was sent. The claim is a lease
(``lease_until``, a minute): while it runs, a second caller with the same key gets :class:`InFlight`
and sends nothing (two consumers racing on one key send one message). A claim whose lease ran out (an
attempt crashed between 1 and 3) is taken over, by one caller only (a condition on the lease it read),
and sent again: a rare double message beats a lost one. A provider error gives the lease back at once,
so the caller's retry sends.

A provider's *permanent* refusal (the number opted out at the carrier, an address SES will not send
to) is :class:`Undeliverable` too, so callers fall back to the next channel instead of retrying.

The item holds ids, the channel, the status and times: never the text or the address (PHI), which
the provider already has. Logs carry ids only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError

from shared import clock
from shared.aws import client
from shared.data import keys
from shared.data.table import CareModel
from shared.domain.patients import Channel, PatientOut
from shared.logs import correlation_id, get_logger
from shared.notify.channels import address_of, reachable

DEFAULT_EMAIL_FROM = "no-reply@careloop.example"
RETENTION = timedelta(days=90)
PREPARATION, COMPLETED = "preparation", "completed"
SUPPORTED = frozenset({Channel.SMS, Channel.EMAIL})


LEASE = timedelta(minutes=1)
# provider error codes that say this recipient will never take the message (fall back to the next
# channel). Everything else (throttling, an account paused, a configuration error) is retried and,
# failing, a `provider-error` staff see: it is the deployment's problem, not the patient's address.
PERMANENT_ERRORS = frozenset({"OptedOut", "OptedOutException"})


class Undeliverable(ValueError):
    """The channel cannot be used for this patient (no consent, no address, not supported, or the
    provider refused it for good)."""


class InFlight(RuntimeError):
    """Another caller holds this dedupe key and is sending it now: retry later, do not send."""


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail (an ``.ics`` invitation). ``content_type`` may carry parameters
    (``text/calendar; method=PUBLISH``). The data is kept out of ``repr`` (it is PHI)."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Message:
    """What to send. ``subject`` and ``attachments`` are used by e-mail only. Text and subject are
    kept out of ``repr`` (they are PHI)."""

    subject: str = field(repr=False)
    text: str = field(repr=False)
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("message text is empty")


@dataclass(frozen=True)
class Delivery:
    """The outcome: ``sent`` when this call reached the provider, ``duplicate`` when an earlier call
    with the same dedupe key already had (``message_id`` is then that call's)."""

    channel: Channel
    message_id: str | None
    sent: bool
    duplicate: bool


class Communication(CareModel, discriminator="Communication"):
    """One dedupe key's send. ``PK = ORG#<org>#COMM#<dedupe key>``, ``SK = COMM``; ``ttl`` 90 days."""

    patient_id = UnicodeAttribute()
    dedupe_key = UnicodeAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()
    message_id = UnicodeAttribute(null=True)  # the provider's
    # what caused the send (a request, a delivery): from the provider's message id to its log lines
    correlation_id = UnicodeAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


def email_from() -> str:
    """The sender address (an SES-verified identity), read when sending so tests can change it."""
    return os.environ.get("NOTIFY_EMAIL_FROM") or DEFAULT_EMAIL_FROM


def _mime(address: str, message: Message) -> bytes:
    """The e-mail as SES ``send_raw_email`` takes it: the text as a ``text/plain`` part, then each
    attachment with its own content type (stdlib :mod:`email`, imported here: only e-mail with
    attachments needs it)."""
    from email.message import EmailMessage
    from email.policy import SMTP

    mail = EmailMessage()
    mail["From"] = email_from()
    mail["To"] = address
    mail["Subject"] = message.subject
    mail.set_content(message.text, cte="quoted-printable")  # 7-bit safe, whatever the language
    for attachment in message.attachments:
        parsed = EmailMessage()
        parsed["Content-Type"] = attachment.content_type
        mail.add_attachment(
            attachment.data,
            maintype=parsed.get_content_maintype(),
            subtype=parsed.get_content_subtype(),
            filename=attachment.filename,
            params=dict(parsed["Content-Type"].params),
        )
    return mail.as_bytes(policy=SMTP)


def _sms_attributes() -> dict[str, dict[str, str]]:
    """Transactional (delivered over marketing traffic), from the deployment's number when it has one
    (the number patients reply to: ``SMS_ORIGINATION_NUMBER``)."""
    out = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
    number = os.environ.get("SMS_ORIGINATION_NUMBER")
    if number:
        out["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": number}
    return out


def _receipts() -> dict[str, str]:
    """SES's configuration set, whose event destination publishes delivery receipts (template:
    ``NOTIFY_CONFIGURATION_SET``); none where the function has no receipts to collect."""
    name = os.environ.get("NOTIFY_CONFIGURATION_SET")
    return {"ConfigurationSetName": name} if name else {}


def _deliver(channel: Channel, address: str, message: Message) -> str:
    """Hand the message to the provider; its message id."""
    response: dict[str, Any]
    if channel is Channel.SMS:
        response = client("sns").publish(
            PhoneNumber=address,
            Message=message.text,
            MessageAttributes=_sms_attributes(),
        )
    elif message.attachments:
        response = client("ses").send_raw_email(
            Source=email_from(),
            Destinations=[address],
            RawMessage={"Data": _mime(address, message)},
            **_receipts(),
        )
    else:
        response = client("ses").send_email(
            Source=email_from(),
            Destination={"ToAddresses": [address]},
            Message={
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}},
            },
            **_receipts(),
        )
    return str(response["MessageId"])


def send(
    organization_id: str,
    patient: PatientOut,
    channel: Channel,
    message: Message,
    dedupe_key: str,
    *,
    require_consent: bool = True,
) -> Delivery:
    """Send ``message`` to ``patient`` on ``channel`` unless ``dedupe_key`` was already sent.

    Raises :class:`Undeliverable` before anything is written when the channel is not SMS or e-mail,
    or the patient has no consent or no address for it (choose it with
    :func:`shared.notify.channels.choose_channel`). A provider error is re-raised with the claim left
    in ``preparation``, so the caller's retry sends. Quiet hours are the caller's to respect
    (:func:`shared.notify.channels.next_send_time`). ``require_consent=False`` is for the one
    message a withdrawal itself calls for (the carriers' STOP confirmation).
    """
    if channel not in SUPPORTED:
        raise Undeliverable(f"channel {channel.value} is not supported")
    if require_consent and not reachable(patient, channel):
        raise Undeliverable(f"no consent or no address for channel {channel.value}")
    address = address_of(patient, channel)
    logger = get_logger()
    log_ids = {"organization_id": organization_id, "patient_id": patient.id, "channel": channel.value}

    now = clock.now()
    when = clock.isoformat(now)
    lease = clock.isoformat(now + LEASE)
    item = Communication(
        keys.communication_pk(organization_id, dedupe_key),
        keys.COMMUNICATION_SK,
        patient_id=patient.id,
        dedupe_key=dedupe_key,
        channel=channel.value,
        status=PREPARATION,
        correlation_id=correlation_id(),
        lease_until=lease,
        created_at=when,
        updated_at=when,
        ttl=now + RETENTION,
    )
    try:
        item.save(condition=Communication.PK.does_not_exist() | (Communication.ttl < now))
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        # someone claimed the key; if it vanished since (TTL), this raises and the retry claims it
        item = Communication.get(item.PK, keys.COMMUNICATION_SK, consistent_read=True)
        if item.status == COMPLETED:
            logger.info("notification already sent", extra={**log_ids, "message_id": item.message_id})
            return Delivery(Channel(item.channel), item.message_id, sent=False, duplicate=True)
        _take_over(item, when, lease, log_ids)

    try:
        message_id = _deliver(channel, address, message)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        logger.warning(
            "notification provider failed", extra={**log_ids, "error_type": type(exc).__name__, "code": code}
        )
        item.update(actions=[Communication.lease_until.set(when)])  # give the key back: retry at once
        if code in PERMANENT_ERRORS:
            raise Undeliverable(f"the provider refused channel {channel.value} for good ({code})") from exc
        raise
    item.update(
        actions=[
            Communication.status.set(COMPLETED),
            Communication.message_id.set(message_id),
            Communication.channel.set(channel.value),
            Communication.updated_at.set(clock.isoformat(clock.now())),
        ]
    )
    logger.info("notification sent", extra={**log_ids, "message_id": message_id})
    return Delivery(channel, message_id, sent=True, duplicate=False)


def _take_over(item: Communication, now: str, lease: str, log_ids: dict[str, str]) -> None:
    """Claim a key left in ``preparation`` whose lease ran out, if no one else does first; else
    :class:`InFlight`."""
    held = item.lease_until
    if held is not None and held > now:
        raise InFlight("another caller is sending this message")
    try:
        item.update(
            actions=[Communication.lease_until.set(lease), Communication.updated_at.set(now)],
            condition=(Communication.status == PREPARATION)
            & (
                Communication.lease_until == held
                if held is not None
                else Communication.lease_until.does_not_exist()
            ),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise InFlight("another caller is sending this message") from None
        raise
    get_logger().info("notification unfinished earlier, sending again", extra=log_ids)


def tell(
    organization_id: str, patient: PatientOut, message: Message, dedupe_key: str, now: datetime
) -> tuple[str, datetime | None]:
    """A short notice to the patient on their channel (by consent and preference), now or when their
    quiet hours end: ``("sent" | "app-only" | "undeliverable", None)``, or ``("quiet-hours", at)`` for
    the caller to come back at ``at`` (on its own timer, never dropping the notice)."""
    from shared.notify.channels import choose_channel, next_send_time

    channel = choose_channel(patient)
    if channel is None:
        return "app-only", None
    at = next_send_time(patient, now)
    if at > now:
        return "quiet-hours", at
    try:
        send(organization_id, patient, channel, message, dedupe_key)
    except Undeliverable:
        return "undeliverable", None
    return "sent", None
