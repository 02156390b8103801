"""Delivery receipts: what SES (through its configuration set's event destination) and SMS (AWS End
User Messaging's event destination) say about a message we sent, from one SNS topic.

A receipt names the provider's message id only; its route gives the organization and the touch. The
receipt is recorded on the touch (``delivered`` moves a sent touch to ``delivered``); a hard bounce, a
complaint or a permanent SMS failure also marks that address unusable for the patient's future
touches (until the address changes). At-least-once safe: a receipt already on the touch is not added
twice.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from functions.reminders.common import system_actor
from shared import clock, metrics
from shared.data import keys
from shared.data import reminders as repo
from shared.data.patients import audit_entry
from shared.data.table import bind
from shared.domain.patients import Channel
from shared.domain.reminders import DONE_TOUCH, Receipt, TouchStatus
from shared.logs import entry_point, get_logger

logger = get_logger()

# SMS events (End User Messaging SMS v2) that say the number will never take a message
SMS_PERMANENT = frozenset({"TEXT_BLOCKED", "TEXT_INVALID", "TEXT_UNREACHABLE", "TEXT_OPTED_OUT", "TEXT_SPAM"})
SMS_DELIVERED = frozenset({"TEXT_DELIVERED", "TEXT_SUCCESSFUL"})


def parse(message: dict[str, Any]) -> tuple[str, Channel, Receipt] | None:
    """(provider message id, channel, receipt) from an SES or SMS event; ``None`` if it is neither."""
    now = clock.now()
    kind = message.get("eventType") or message.get("notificationType")
    mail = message.get("mail")
    if isinstance(mail, dict) and isinstance(mail.get("messageId"), str):
        if kind == "Delivery":
            return mail["messageId"], Channel.EMAIL, Receipt(event="delivered", at=now)
        if kind == "Bounce":
            bounce = message.get("bounce") or {}
            hard = bounce.get("bounceType") == "Permanent"
            return mail["messageId"], Channel.EMAIL, Receipt(event="bounced", permanent=hard, at=now)
        if kind == "Complaint":
            return mail["messageId"], Channel.EMAIL, Receipt(event="complained", permanent=True, at=now)
        return None
    if isinstance(kind, str) and kind.startswith("TEXT_") and isinstance(message.get("messageId"), str):
        if kind in SMS_DELIVERED:
            return message["messageId"], Channel.SMS, Receipt(event="delivered", at=now)
        if kind in SMS_PERMANENT or kind in ("TEXT_CARRIER_UNREACHABLE", "TEXT_TTL_EXPIRED", "TEXT_UNKNOWN"):
            return (
                message["messageId"],
                Channel.SMS,
                Receipt(event="failed", permanent=kind in SMS_PERMANENT, at=now),
            )
    return None


def record(message_id: str, channel: Channel, receipt: Receipt, now: datetime) -> str:
    if not keys.is_part(message_id):
        return "unknown"
    route = repo.route("MSG", message_id)
    if route is None:
        return "unknown"  # not ours, or older than routes are kept
    org = route.organization_id
    item = repo.touch(org, route.touch_id)
    if item is None:
        return "unknown"
    touch = item.record()
    if touch.channel is not channel or any(r.event == receipt.event for r in touch.receipts):
        return "duplicate"  # a receipt for an answer to a reply shares the route, not the channel
    update: dict[str, Any] = {"receipts": [*touch.receipts, receipt], "updated_at": now}
    if receipt.event == "delivered" and touch.status is TouchStatus.SENT:
        update["status"] = TouchStatus.DELIVERED
    try:
        repo.move(org, item, DONE_TOUCH, **update)
    except repo.Lost:
        raise RuntimeError("touch moved while recording a receipt: retry") from None
    metrics.count("Reminders", "bounced" if receipt.event == "failed" else receipt.event)
    if receipt.permanent and route.address_hash:  # the address it went to, not whatever is on file now
        repo.suppression_item(
            org, touch.patient_id, channel.value, route.address_hash, receipt.event, now
        ).save()
        audit_entry(system_actor(org), touch.patient_id, f"patient.address.{receipt.event}", now).save()
        return "suppressed"
    return "recorded"


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    outcomes = []
    for rec in event["Records"]:
        try:
            message = json.loads(rec["Sns"]["Message"])
        except (KeyError, ValueError, TypeError):
            message = None
        parsed = parse(message) if isinstance(message, dict) else None
        if parsed is None:
            logger.warning("receipt not understood")
            outcomes.append("ignored")
            continue
        outcome = record(*parsed, clock.now())
        outcomes.append(outcome)
        logger.info("delivery receipt", channel=parsed[1].value, receipt=parsed[2].event, outcome=outcome)
    return {"outcome": ",".join(outcomes)}
