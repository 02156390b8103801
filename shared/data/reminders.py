"""Reminders in the single table: the policy, plans and their touches, routes, suppressed addresses and
replies kept for staff. Keys and access patterns: :mod:`shared.data.keys`.

A touch moves through its statuses with conditional writes on its version (PynamoDB's
``VersionAttribute``) and its expected status, so of two dispatchers or two senders racing on one
touch exactly one wins; the loser reads :class:`Lost` and does nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import PutError

from shared import ids
from shared.clock import isoformat
from shared.data import keys
from shared.data.table import CareModel
from shared.data.tx import Cancelled, Tx
from shared.domain.reminders import (
    OPEN_TOUCH,
    ReminderPolicy,
    ReminderPolicyOut,
    SkipReason,
    SubjectKind,
    TouchOut,
    TouchStatus,
)
from shared.events.models import DomainEvent
from shared.notify.plans import PlannedTouch

ROUTE_RETENTION = timedelta(days=60)  # receipts and replies come within days
REPLY_RETENTION = timedelta(days=365)
TOUCH_RETENTION = timedelta(days=400)  # a year of reports


class Lost(Exception):
    """Someone else moved the touch first (a duplicate delivery, a racing dispatcher)."""


def _json(record: Any) -> str:
    return json.dumps(record.model_dump(mode="json"), separators=(",", ":"))


class PolicyItem(CareModel, discriminator="ReminderPolicy"):
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> ReminderPolicyOut:
        return ReminderPolicyOut.model_validate({**json.loads(self.body), "version": self.version})


class PlanHead(CareModel, discriminator="ReminderPlan"):
    generation = NumberAttribute()
    patient_id = UnicodeAttribute()
    touch_ids = UnicodeAttribute()  # JSON list: the current generation's touches
    planned_for = UnicodeAttribute(null=True)  # the visit's start it was made for
    version = VersionAttribute()

    @property
    def current(self) -> list[str]:
        return list(json.loads(self.touch_ids))


class Touch(CareModel, discriminator="ReminderTouch"):
    touch_id = UnicodeAttribute()
    status = UnicodeAttribute()
    lease_until = UnicodeAttribute(null=True)
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> TouchOut:
        return TouchOut.model_validate_json(self.body)


class Route(CareModel, discriminator="Route"):
    organization_id = UnicodeAttribute()
    touch_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    address_hash = UnicodeAttribute(null=True)  # the address the message went to (a bounce retires it)


class Suppression(CareModel, discriminator="Suppression"):
    channel = UnicodeAttribute()
    address_hash = UnicodeAttribute()
    reason = UnicodeAttribute()
    at = UnicodeAttribute()


class Reply(CareModel, discriminator="Reply"):
    """An SMS reply kept for staff: the text is PHI and stays here, never in a log or event."""

    reply_id = UnicodeAttribute()
    body = UnicodeAttribute()  # JSON of ReplyOut


# ---------------------------------------------------------------- policy


def policy(org: str) -> tuple[ReminderPolicyOut, PolicyItem | None]:
    try:
        item = PolicyItem.get(keys.org_pk(org), keys.REMINDER_POLICY_SK)
    except PolicyItem.DoesNotExist:
        return ReminderPolicyOut(), None
    return item.record(), item


def save_policy(org: str, new: ReminderPolicy, old: PolicyItem | None) -> ReminderPolicyOut:
    """Replace the policy if it is still ``old`` (a stale write raises ``PutError``)."""
    item = PolicyItem(keys.org_pk(org), keys.REMINDER_POLICY_SK, body=_json(new))
    if old is not None:
        item.version = old.version
    item.save()
    return ReminderPolicyOut.model_validate({**new.model_dump(), "version": item.version})


# ---------------------------------------------------------------- plans and touches


def head(org: str, kind: SubjectKind, subject_id: str) -> PlanHead | None:
    try:
        return PlanHead.get(keys.plan_pk(org, kind, subject_id), keys.PLAN_SK, consistent_read=True)
    except PlanHead.DoesNotExist:
        return None


def touch(org: str, touch_id: str) -> Touch | None:
    try:
        return Touch.get(keys.touch_pk(org, touch_id), keys.TOUCH_SK, consistent_read=True)
    except Touch.DoesNotExist:
        return None


def touch_item(org: str, record: TouchOut) -> Touch:
    when = isoformat(record.send_at or record.planned_at)
    item = Touch(
        keys.touch_pk(org, record.id),
        keys.TOUCH_SK,
        touch_id=record.id,
        status=record.status.value,
        body=_json(record),
        GSI2PK=keys.touches_by_time_pk(org),
        GSI2SK=keys.by_time_sk(when, record.id),
        GSI3PK=keys.plan_pk(org, record.subject_kind, record.subject_id),
        GSI3SK=keys.plan_touch_sk(record.generation, record.index),
        ttl=(record.send_at or record.planned_at) + TOUCH_RETENTION,
    )
    if record.status is TouchStatus.FAILED:
        item.GSI1PK, item.GSI1SK = keys.failed_touches_pk(org), keys.by_time_sk(when, record.id)
    return item


def new_plan(
    org: str,
    kind: SubjectKind,
    subject_id: str,
    patient_id: str,
    planned: list[PlannedTouch],
    now: datetime,
    old: PlanHead | None,
    planned_for: datetime | None = None,
) -> tuple[list[TouchOut], list[str]]:
    """Write a new generation of a plan (its touches and its head, conditional on the head not having
    moved since ``old`` was read) and skip the previous generation's open touches as ``moved``.
    Returns the new touches and the ids of the touches it skipped. Raises :class:`Lost` if another
    consumer replaced the plan first; :class:`shared.data.tx.Cancelled` if an old touch moved since
    it was read (the dispatcher queued it): the caller's retry reads again."""
    generation = (old.generation if old else 0) + 1
    records = [
        TouchOut(
            id=ids.new_id(now),
            subject_kind=kind,
            subject_id=subject_id,
            patient_id=patient_id,
            generation=generation,
            index=p.index,
            offset=p.offset,
            asks_confirmation=p.asks_confirmation,
            channels=list(p.channels),
            planned_at=p.planned_at,
            send_at=p.send_at,
            status=TouchStatus.SKIPPED if p.skip_reason else TouchStatus.PLANNED,
            skip_reason=p.skip_reason,
            channel=None,
            updated_at=now,
        )
        for p in planned
    ]
    asking = [r for r in records if r.status is TouchStatus.PLANNED and r.asks_confirmation]
    if kind is SubjectKind.APPOINTMENT and asking:  # still pending when the last one is due: raised
        records[records.index(asking[-1])] = asking[-1].model_copy(update={"raises_unconfirmed": True})
    new_head = PlanHead(
        keys.plan_pk(org, kind, subject_id),
        keys.PLAN_SK,
        generation=generation,
        patient_id=patient_id,
        touch_ids=json.dumps([r.id for r in records]),
        planned_for=isoformat(planned_for) if planned_for else None,
    )
    if old is not None:
        new_head.version = old.version
    superseded = [t for t in touches(org, old.current) if t.status in OPEN_TOUCH] if old else []
    try:
        with Tx() as tx:
            tx.put("plan", new_head)
            for record in records:
                tx.put("touch", touch_item(org, record), Touch.PK.does_not_exist())
            for item in superseded:
                skipped = item.record().model_copy(
                    update={"status": TouchStatus.SKIPPED, "skip_reason": SkipReason.MOVED, "updated_at": now}
                )
                tx.put("old-touch", _versioned(touch_item(org, skipped), item))
    except Cancelled as cancelled:
        if "plan" in cancelled.failed:
            raise Lost from None
        raise
    return records, [t.touch_id for t in superseded]


def touches(org: str, touch_ids: Iterable[str]) -> list[Touch]:
    wanted = [(keys.touch_pk(org, t), keys.TOUCH_SK) for t in touch_ids]
    out: list[Touch] = []
    for i in range(0, len(wanted), 100):
        out.extend(Touch.batch_get(wanted[i : i + 100], consistent_read=True))
    return out


def plan_touches(org: str, kind: SubjectKind, subject_id: str) -> list[Touch]:
    """Every generation's touches of a plan, in plan order."""
    return list(Touch.gsi3.query(keys.plan_pk(org, kind, subject_id), scan_index_forward=True))


def _versioned(item: Touch, read: Touch) -> Touch:
    item.version = read.version
    return item


def move(
    org: str, read: Touch, expect: Iterable[TouchStatus], events: Iterable[DomainEvent] = (), **update: Any
) -> TouchOut:
    """Move the touch ``read`` if it is still in one of ``expect`` and still the version read (with
    ``events``, in the same transaction); otherwise :class:`Lost`."""
    current = read.record()
    expected = [s.value for s in expect]
    if current.status.value not in expected:
        raise Lost
    lease = update.pop("lease_until", None)
    new = current.model_copy(update=update)
    item = _versioned(touch_item(org, new), read)
    item.lease_until = isoformat(lease) if isinstance(lease, datetime) else None
    events = list(events)
    try:
        if events:
            with Tx() as tx:
                tx.put("touch", item, Touch.status.is_in(*expected))
                for event in events:
                    tx.put("event", event.to_outbox())
        else:
            item.save(condition=Touch.status.is_in(*expected))
    except Cancelled:
        raise Lost from None
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Lost from None
        raise
    read.version, read.status, read.body = item.version, item.status, item.body
    return new


def claim(org: str, read: Touch, now: datetime, lease: timedelta) -> TouchOut:
    """Hold the touch for sending: from ``queued``, or from ``sending`` whose holder's lease ran out
    (it crashed between claiming and recording the send). Exactly one caller wins."""
    current = read.record()
    expired = read.lease_until is not None and read.lease_until < isoformat(now)
    if current.status is TouchStatus.SENDING and not expired:
        raise Lost
    if current.status not in (TouchStatus.QUEUED, TouchStatus.SENDING):
        raise Lost
    return move(
        org,
        read,
        (current.status,),
        status=TouchStatus.SENDING,
        attempts=current.attempts + 1,
        updated_at=now,
        lease_until=now + lease,
    )


# ---------------------------------------------------------------- routes, suppressions, replies


def route(kind: str, value: str) -> Route | None:
    try:
        return Route.get(keys.route_pk(kind, value), keys.ROUTE_SK)
    except Route.DoesNotExist:
        return None


def route_item(
    kind: str, value: str, org: str, touch_id: str, patient_id: str, now: datetime, address: str | None = None
) -> Route:
    return Route(
        keys.route_pk(kind, value),
        keys.ROUTE_SK,
        organization_id=org,
        touch_id=touch_id,
        patient_id=patient_id,
        address_hash=address_hash(address) if address else None,
        ttl=now + ROUTE_RETENTION,
    )


def address_hash(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32]


def suppression_item(
    org: str, patient_id: str, channel: str, hashed: str, reason: str, now: datetime
) -> Suppression:
    """The address whose hash is ``hashed`` (the one a message went to) is not to be used again."""
    return Suppression(
        keys.patient_pk(org, patient_id),
        keys.suppression_sk(channel),
        channel=channel,
        address_hash=hashed,
        reason=reason,
        at=isoformat(now),
    )
