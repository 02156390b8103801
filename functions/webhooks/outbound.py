"""Our events, delivered to partners that subscribed to them (Standard Webhooks, FHIR R4 bodies).

On an event (EventBridge) each active subscription of the organization that takes its type gets one
delivery: the FHIR resource (Appointment, ServiceRequest or Task, from :mod:`shared.fhir.outbound`,
validated by the FHIR library before it leaves), stored with the delivery so every attempt sends the
same bytes under the same ``webhook-id``. Only patients the partner knows get through: the patient must
carry an identifier in the partner's system (the minimum necessary), and a change the partner itself
told us about is not echoed back to it. The first attempt is made at once; a failure is retried on the
Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) by a Scheduler timer, which
fires on the whole minute (Scheduler's precision: the 5-second retry waits for the next minute). A
2xx ends it; a 410 ends it and disables the subscription; every attempt is logged on the delivery.

The subscriber's URL is checked against SSRF at every attempt (:mod:`shared.webhooks.egress`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError
from ulid import ULID

from shared import clock, metrics, timers
from shared.data import keys
from shared.data import partners as repo
from shared.data import scheduling as sched
from shared.data import tasks as task_repo
from shared.data.table import bind, lost_condition
from shared.domain.partners import (
    EVENT_TYPES,
    Attempt,
    DeliveryOut,
    DeliveryStatus,
    Direction,
    PartnerOut,
    SecretUse,
    answered_ok,
    retry_at,
)
from shared.fhir import outbound as fhir
from shared.logs import entry_point, get_logger
from shared.webhooks import egress, signing

logger = get_logger()
TIMER = "hook"
_self: dict[str, str] = {}  # this function's own ARN, from the invocation's context: retries invoke it


def _delivery_id(event_id: str, subscription_id: str, at: datetime) -> str:
    """Time-ordered like every id, and the same for the same event and subscription: EventBridge
    delivers at least once, and a repeat finds its delivery made."""
    millis = int(at.timestamp() * 1000).to_bytes(6, "big")
    return str(
        ULID.from_bytes(millis + hashlib.sha256(f"{event_id}|{subscription_id}".encode()).digest()[:10])
    )


def _identifiers(org: str, patient_id: str | None, partner: PartnerOut) -> list[tuple[str, str]] | None:
    """The patient's identifiers to send this partner: ``None`` when the partner does not know them."""
    if patient_id is None:
        return None
    held = repo.identifiers(org, patient_id)
    theirs = [
        (i.system, i.value)
        for i in (held.identifiers() if held else [])
        if i.system == partner.identifier_system
    ]
    return [*theirs, (fhir.OUR_PATIENT_SYSTEM, patient_id)] if theirs else None


def resource(
    kind: str, detail: dict[str, Any], org: str, patients: list[tuple[str, str]]
) -> dict[str, Any] | None:
    """The FHIR body of an event, from the record as it stands (``None``: the record is gone)."""
    if "appointment_id" in detail and kind.startswith("Appointment"):
        appt = sched.get_item(
            sched.Appointment, (keys.appointment_pk(org, detail["appointment_id"]), keys.APPOINTMENT_SK)
        )
        if appt is None:
            return None
        record = appt.record()
        provider = sched.get_item(sched.Provider, sched.provider_key(org, record.provider_id))
        return fhir.appointment(record, patients, provider.record().name if provider else None)
    if kind.startswith("Referral"):
        ref = sched.get_item(sched.Referral, (keys.referral_pk(org, detail["referral_id"]), keys.REFERRAL_SK))
        return fhir.service_request(ref.record(), patients) if ref else None
    if kind == "TaskCompleted":
        task = task_repo.get(org, detail["task_id"])
        return fhir.task(task.record(), patients) if task else None
    if kind == "ResultAcknowledged":
        return fhir.result_review(
            detail["result_id"], patients, datetime.fromisoformat(detail["occurred_at"]), "clinician"
        )
    return None


def fan_out(kind: str, detail: dict[str, Any]) -> list[str]:
    """One delivery per subscription that takes this event; the ids of those made (and tried)."""
    event_type = EVENT_TYPES.get(kind)
    org = detail["organization_id"]
    if event_type is None:
        return []
    subs = [
        (s.partner_id, s.record())
        for s in repo.SubscriptionItem.query(
            keys.partners_pk(org), repo.SubscriptionItem.SK.startswith("SUB#")
        )
    ]
    made = []
    for partner_id, sub in subs:
        if (
            not sub.active
            or event_type not in sub.event_types
            or detail.get("source_partner_id") == partner_id
        ):
            continue
        partner_item = repo.partner(org, partner_id)
        if partner_item is None or not partner_item.record().active:
            continue
        patients = _identifiers(org, detail.get("patient_id"), partner_item.record())
        if patients is None:
            continue
        body = resource(kind, detail, org, patients)
        if body is None:
            continue
        occurred = datetime.fromisoformat(detail["occurred_at"])
        delivery_id = _delivery_id(detail["event_id"], sub.id, occurred)
        record = DeliveryOut(
            id=delivery_id,
            direction=Direction.OUTBOUND,
            webhook_id=f"msg_{delivery_id}",
            status=DeliveryStatus.QUEUED,
            received_at=clock.now(),
            subscription_id=sub.id,
            event_type=event_type,
            next_attempt_at=clock.now(),
        )
        payload = json.dumps(body, separators=(",", ":")).encode()
        try:
            repo.delivery_item(org, partner_id, record, payload).save(repo.DeliveryItem.PK.does_not_exist())
        except PutError as exc:
            if not lost_condition(exc):
                raise
            continue  # a repeated event: its delivery exists and has its own timer
        made.append(delivery_id)
        attempt(org, partner_id, delivery_id)
    return made


def _subscription(org: str, partner_id: str, subscription_id: str | None) -> repo.SubscriptionItem | None:
    if subscription_id is None:
        return None
    try:
        return repo.SubscriptionItem.get(
            keys.partners_pk(org), keys.subscription_sk(partner_id, subscription_id)
        )
    except repo.SubscriptionItem.DoesNotExist:
        return None


def attempt(org: str, partner_id: str, delivery_id: str) -> str:
    """One attempt of a queued delivery whose time has come; what happened, as a code."""
    now = clock.now()
    item = repo.delivery(org, partner_id, delivery_id)
    if item is None:
        return "gone"
    record = item.record()
    if record.status is not DeliveryStatus.QUEUED:
        return "done"
    if record.next_attempt_at is not None and record.next_attempt_at > now:
        return "not-yet"
    sub_item = _subscription(org, partner_id, record.subscription_id)
    partner_item = repo.partner(org, partner_id)
    sub = sub_item.record() if sub_item else None
    if sub is None or not sub.active or partner_item is None or not partner_item.record().active:
        return _save(
            org, item, record, status=DeliveryStatus.GAVE_UP, error_code="unsubscribed", next_attempt_at=None
        )
    secrets = [
        s["value"]
        for s in repo.read_secrets(partner_id, partner_item.secret_version).values()
        if s["use"] == SecretUse.OUTBOUND.value
    ]
    if not secrets:
        return _save(
            org, item, record, status=DeliveryStatus.GAVE_UP, error_code="no-secret", next_attempt_at=None
        )
    body = item.content()
    headers = {
        **signing.headers(secrets, record.webhook_id, int(now.timestamp()), body),
        "content-type": "application/fhir+json",
        "user-agent": "Careloop-Webhooks/1",
    }
    status, error = None, None
    try:
        status = egress.post(sub.url, body, headers, allow_loopback=egress.loopback_allowed()).status
    except egress.UnsafeUrl:
        error = "unsafe-url"
    except egress.DeliveryFailed as failed:
        error = failed.code
    attempts = [*record.attempts, Attempt(at=now, status_code=status, error=error)]
    ok = status is not None and answered_ok(status)
    metrics.count("PartnerOutbound", "attempted")
    metrics.count("PartnerOutbound", "delivered" if ok else "failed")
    logger.info(
        "webhook attempt",
        extra={
            "delivery_id": delivery_id,
            "attempt_count": len(attempts),
            "status": status,
            "outcome": error,
        },
    )
    if ok:
        return _save(
            org, item, record, status=DeliveryStatus.DELIVERED, attempts=attempts, next_attempt_at=None
        )
    if status == 410 or error == "unsafe-url":
        if status == 410 and sub_item is not None:
            gone = sub.model_copy(update={"active": False, "disabled_reason": "gone"})
            sub_item.body = gone.model_dump_json()
            sub_item.save()
        code = "gone" if status == 410 else "unsafe-url"
        return _save(
            org,
            item,
            record,
            status=DeliveryStatus.GAVE_UP,
            error_code=code,
            attempts=attempts,
            next_attempt_at=None,
        )
    later = retry_at(len(attempts), now)
    if later is None:
        return _save(
            org,
            item,
            record,
            status=DeliveryStatus.GAVE_UP,
            error_code="exhausted",
            attempts=attempts,
            next_attempt_at=None,
        )
    outcome = _save(org, item, record, attempts=attempts, next_attempt_at=later, error_code=None)
    if outcome == "saved":
        # one timer per attempt: a timer that fired deletes itself after this invocation, so reusing
        # its name would delete the next attempt's
        name = f"{partner_id}.{delivery_id}.{len(attempts) + 1}"
        timers.set_timer(TIMER, org, name, later, target_arn=_self.get("arn"))
    return "retrying"


def _save(org: str, item: repo.DeliveryItem, record: DeliveryOut, **update: Any) -> str:
    try:
        repo.save_delivery(org, item, record.model_copy(update=update))
    except PutError as exc:
        if not lost_condition(exc):
            raise
        return "raced"  # another attempt of the same delivery wrote first
    return (
        "saved"
        if update.get("status", DeliveryStatus.QUEUED) is DeliveryStatus.QUEUED
        else str(update["status"])
    )


@entry_point
def handler(event: dict[str, Any], context: Any) -> Any:
    bind()
    # unqualified: a timer must reach whatever version is live when it fires
    _self["arn"] = ":".join(str(context.invoked_function_arn).split(":")[:7])
    if event.get("kind") == TIMER:  # a retry's timer
        partner_id, delivery_id, _attempt = event["id"].split(".")
        return {"outcome": attempt(event["organization_id"], partner_id, delivery_id)}
    detail = event.get("detail") or {}
    return {"deliveries": fan_out(event.get("detail-type", ""), detail)}
