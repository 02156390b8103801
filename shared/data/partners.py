"""Partners in the single table (keys and access patterns: :mod:`shared.data.keys`), and their
signing secrets in Secrets Manager.

One secret per partner, ``<prefix><partner id>``, holds every live secret of that partner as JSON
(``{"<secret id>": {"use": "inbound", "value": "whsec_…"}}``); each change writes a new version, and
the partner's items pin the version they were written with. So the acknowledgement, which reads the
partner's route item, asks Secrets Manager for exactly that version (once per process: versions never
change), and a revoked secret stops working the moment the route item says so.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import zlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    UnicodeAttribute,
    VersionAttribute,
)

from shared import aws
from shared.clock import isoformat
from shared.data import keys
from shared.data.table import CareModel
from shared.domain.partners import (
    DEDUPE_DAYS,
    DeliveryOut,
    DeliveryStatus,
    EncounterOut,
    Identifier,
    IdentifiersOut,
    InboxItemOut,
    InboxStatus,
    PartnerOut,
    SecretUse,
    SubscriptionOut,
)

if TYPE_CHECKING:
    from shared.domain.results import ResultOut

SECRET_PREFIX_ENV = "PARTNER_SECRET_PREFIX"  # noqa: S105 - a variable name, not a secret
DEFAULT_SECRET_PREFIX = "careloop/partners/"  # noqa: S105 - a name prefix
DELIVERY_RETENTION = timedelta(days=35)  # the log admins read, and what a replay needs


def _json(record: Any, **kwargs: Any) -> str:
    return json.dumps(record.model_dump(mode="json", **kwargs), separators=(",", ":"))


class PartnerItem(CareModel, discriminator="Partner"):
    partner_id = UnicodeAttribute()
    body = UnicodeAttribute()  # JSON of PartnerOut (its version is the item's)
    secret_version = UnicodeAttribute(null=True)  # the Secrets Manager version holding its secrets
    version = VersionAttribute()

    def record(self) -> PartnerOut:
        return PartnerOut.model_validate({**json.loads(self.body), "version": self.version or 0})


class PartnerRoute(CareModel, discriminator="PartnerRoute"):
    """What the acknowledgement needs about a partner, keyed by its id alone."""

    organization_id = UnicodeAttribute()
    partner_id = UnicodeAttribute()
    active = BooleanAttribute()
    inbound = ListAttribute(of=UnicodeAttribute, default=list)  # live inbound secret ids
    secret_version = UnicodeAttribute(null=True)


class SubscriptionItem(CareModel, discriminator="Subscription"):
    partner_id = UnicodeAttribute()
    body = UnicodeAttribute()  # JSON of SubscriptionOut

    def record(self) -> SubscriptionOut:
        return SubscriptionOut.model_validate_json(self.body)


class HookItem(CareModel, discriminator="WebhookSeen"):
    delivery_id = UnicodeAttribute()


class DeliveryItem(CareModel, discriminator="Delivery"):
    partner_id = UnicodeAttribute()
    direction = UnicodeAttribute()  # inbound | outbound: the list's filter
    body = UnicodeAttribute()  # JSON of DeliveryOut
    # base64 of zlib of what was received, or of what we send: a string, because the stream relay and
    # the local runtime's stream filters read items as JSON (256 KB of random bytes still fits: ~342 KB)
    payload = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> DeliveryOut:
        return DeliveryOut.model_validate_json(self.body)

    def content(self) -> bytes:
        return zlib.decompress(base64.b64decode(self.payload))


class SourceItem(CareModel, discriminator="PartnerSource"):
    """A partner's resource we applied: our record, and the version we hold."""

    record_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    source_version = UnicodeAttribute(null=True)
    last_updated = UnicodeAttribute(null=True)
    version = VersionAttribute()


class IdentifiersItem(CareModel, discriminator="PatientIdentifiers"):
    body = UnicodeAttribute()  # JSON list of Identifier
    version = VersionAttribute()

    def identifiers(self) -> list[Identifier]:
        return [Identifier.model_validate(i) for i in json.loads(self.body)]


class IdentClaim(CareModel, discriminator="IdentifierClaim"):
    patient_id = UnicodeAttribute()


class ResultItem(CareModel, discriminator="Result"):
    patient_id = UnicodeAttribute()
    body = UnicodeAttribute()  # JSON of ResultOut (its version is the item's)
    version = VersionAttribute()

    def record(self) -> ResultOut:
        from shared.domain.results import ResultOut  # not at import: the acknowledgement never reads one

        return ResultOut.model_validate({**json.loads(self.body), "version": self.version or 0})


class EncounterItem(CareModel, discriminator="Encounter"):
    patient_id = UnicodeAttribute()
    body = UnicodeAttribute()  # JSON of EncounterOut (its version is the item's)
    version = VersionAttribute()

    def record(self) -> EncounterOut:
        return EncounterOut.model_validate({**json.loads(self.body), "version": self.version or 0})


class InboxItem(CareModel, discriminator="PartnerInbox"):
    body = UnicodeAttribute()  # JSON of InboxItemOut
    version = VersionAttribute()

    def record(self) -> InboxItemOut:
        return InboxItemOut.model_validate_json(self.body)


# ---------------------------------------------------------------- partners


def partner(org: str, partner_id: str) -> PartnerItem | None:
    try:
        return PartnerItem.get(keys.partners_pk(org), keys.partner_sk(partner_id), consistent_read=True)
    except PartnerItem.DoesNotExist:
        return None


def partner_items(
    org: str, record: PartnerOut, version: int | None, secret_version: str | None, inbound: list[str]
) -> tuple[PartnerItem, PartnerRoute]:
    item = PartnerItem(
        keys.partners_pk(org),
        keys.partner_sk(record.id),
        partner_id=record.id,
        body=_json(record, exclude={"version"}),
        secret_version=secret_version,
    )
    if version is not None:
        item.version = version
    route = PartnerRoute(
        keys.route_pk("PARTNER", record.id),
        keys.ROUTE_SK,
        organization_id=org,
        partner_id=record.id,
        active=record.active,
        inbound=inbound,
        secret_version=secret_version,
    )
    return item, route


def route(partner_id: str) -> PartnerRoute | None:
    try:
        return PartnerRoute.get(keys.route_pk("PARTNER", partner_id), keys.ROUTE_SK)
    except PartnerRoute.DoesNotExist:
        return None


def inbound_ids(record: PartnerOut) -> list[str]:
    return [s.id for s in record.secrets if s.use is SecretUse.INBOUND]


# ---------------------------------------------------------------- secrets (Secrets Manager)

_secrets: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
_secrets_lock = threading.Lock()


def secret_name(partner_id: str) -> str:
    return os.environ.get(SECRET_PREFIX_ENV, DEFAULT_SECRET_PREFIX) + keys.part(partner_id)


def read_secrets(partner_id: str, version: str | None) -> dict[str, dict[str, str]]:
    """``{secret id: {"use", "value"}}`` at ``version`` (cached: a version never changes)."""
    if version is None:
        return {}
    with _secrets_lock:
        cached = _secrets.get((partner_id, version))
    if cached is None:
        raw = aws.client("secretsmanager").get_secret_value(
            SecretId=secret_name(partner_id), VersionId=version
        )
        cached = json.loads(raw["SecretString"])
        with _secrets_lock:
            _secrets[(partner_id, version)] = cached
    return cached


def write_secrets(partner_id: str, version: str | None, secrets: dict[str, dict[str, str]]) -> str:
    """Store ``secrets`` as the partner's next version (the first makes the secret); its version id."""
    sm = aws.client("secretsmanager")
    value = json.dumps(secrets, separators=(",", ":"))
    if version is None:
        try:
            made = sm.create_secret(
                Name=secret_name(partner_id),
                SecretString=value,
                Description="A Careloop partner's Standard Webhooks secrets (whsec_), by secret id",
            )
            return str(made["VersionId"])
        except sm.exceptions.ResourceExistsException:
            pass  # an earlier attempt made it and then lost its race on the partner item
    return str(sm.put_secret_value(SecretId=secret_name(partner_id), SecretString=value)["VersionId"])


def reset_secret_cache() -> None:
    with _secrets_lock:
        _secrets.clear()


# ---------------------------------------------------------------- deliveries


def hook_item(org: str, partner_id: str, webhook_id: str, delivery_id: str, now: datetime) -> HookItem:
    return HookItem(
        keys.hook_pk(org, partner_id, webhook_id),
        keys.HOOK_SK,
        delivery_id=delivery_id,
        ttl=now + timedelta(days=DEDUPE_DAYS),
    )


def seen_hook(org: str, partner_id: str, webhook_id: str) -> HookItem | None:
    try:
        return HookItem.get(keys.hook_pk(org, partner_id, webhook_id), keys.HOOK_SK, consistent_read=True)
    except HookItem.DoesNotExist:
        return None


def delivery_item(
    org: str, partner_id: str, record: DeliveryOut, payload: bytes | None, version: int | None = None
) -> DeliveryItem:
    item = DeliveryItem(
        keys.deliveries_pk(org, partner_id),
        keys.delivery_sk(record.id),
        partner_id=partner_id,
        direction=record.direction.value,
        body=_json(record),
        payload=base64.b64encode(zlib.compress(payload or b"", 6)).decode(),
        ttl=record.received_at + DELIVERY_RETENTION,
    )
    if version is not None:
        item.version = version
    return item


def delivery(org: str, partner_id: str, delivery_id: str) -> DeliveryItem | None:
    try:
        return DeliveryItem.get(
            keys.deliveries_pk(org, partner_id), keys.delivery_sk(delivery_id), consistent_read=True
        )
    except DeliveryItem.DoesNotExist:
        return None


def requeued(record: DeliveryOut) -> DeliveryOut:
    """A failed or dead-lettered delivery queued again (an admin's replay, or a redrive of the
    dead-letter queue after a fix): counted as a replay, its last error cleared."""
    return record.model_copy(
        update={
            "status": DeliveryStatus.QUEUED,
            "replays": record.replays + 1,
            "error_code": None,
            "error_path": None,
        }
    )


def save_delivery(org: str, item: DeliveryItem, record: DeliveryOut) -> DeliveryOut:
    """Write ``record`` over ``item`` if it is still the version read (``PutError`` otherwise)."""
    item.body = _json(record)
    item.save()
    return record


# ---------------------------------------------------------------- identifiers


def identifiers(org: str, patient_id: str) -> IdentifiersItem | None:
    try:
        return IdentifiersItem.get(
            keys.patient_pk(org, patient_id), keys.IDENTIFIERS_SK, consistent_read=True
        )
    except IdentifiersItem.DoesNotExist:
        return None


def identifiers_out(patient_id: str, item: IdentifiersItem | None) -> IdentifiersOut:
    if item is None:
        return IdentifiersOut(patient_id=patient_id, version=0, identifiers=[])
    return IdentifiersOut(patient_id=patient_id, version=item.version or 0, identifiers=item.identifiers())


def claim(org: str, token: str, patient_id: str) -> IdentClaim:
    return IdentClaim(keys.identifier_pk(org, token), keys.IDENT_SK, patient_id=patient_id)


def patient_for(org: str, tokens: list[str]) -> str | None:
    """The patient holding any of these ``system|value`` identifiers (each is unique in the
    organization, so at most one patient, unless two tokens name two patients: then none)."""
    if not tokens:
        return None
    found = {
        item.patient_id
        for item in IdentClaim.batch_get([(keys.identifier_pk(org, t), keys.IDENT_SK) for t in tokens])
    }
    return found.pop() if len(found) == 1 else None


# ---------------------------------------------------------------- inbox


def inbox_item(org: str, record: InboxItemOut, version: int | None = None) -> InboxItem:
    item = InboxItem(keys.inbox_pk(org, record.id), keys.INBOX_SK, body=_json(record))
    if record.status is InboxStatus.OPEN:
        item.GSI1PK = keys.open_inbox_pk(org)
        item.GSI1SK = record.id
    if version is not None:
        item.version = version
    return item


def stamp(at: datetime | None) -> str:
    return isoformat(at) if at else "~"
