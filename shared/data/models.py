"""Entities the foundation itself needs. Areas keep their own models beside their repositories."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from shared.data import keys
from shared.data.table import CareModel


class OrganizationProfile(CareModel, discriminator="OrganizationProfile"):
    """An organization's display settings. PK=ORG#<org> SK=PROFILE."""

    name = UnicodeAttribute()
    time_zone = UnicodeAttribute()

    @classmethod
    def find(cls, org: str) -> OrganizationProfile | None:
        try:
            return cls.get(keys.org_pk(org), keys.ORG_PROFILE_SK)
        except cls.DoesNotExist:
            return None


class OutboxEvent(CareModel, discriminator="OutboxEvent"):
    """A domain event waiting for the stream relay. Written only inside the transaction that makes
    the change it describes; the relay publishes it (see ``functions/outbox``)."""

    source = UnicodeAttribute()
    detail_type = UnicodeAttribute()
    detail = UnicodeAttribute()  # JSON, ids only (see shared.events)
    occurred_at = UnicodeAttribute()
