"""What every area reads and writes with: one transaction (:class:`Change`: items with their
conditions, audit entries and events), items of any entity by key, the organization's calendar and the
patient's key. Light on purpose: an area that needs no scheduling model imports this, not
:mod:`shared.data.scheduling` (whose models load the whole scheduling domain, ~90 ms of a cold start).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.attributes import UnicodeAttribute, VersionAttribute
from pynamodb.models import Model as PynamoModel

from shared.data import keys
from shared.data.patients import Actor, Patient, audit_entry
from shared.data.table import CareModel
from shared.data.tx import Tx
from shared.domain.calendar import Calendar
from shared.events.models import DomainEvent


class OrgCalendar(CareModel, discriminator="Calendar"):
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> Calendar:
        return Calendar.model_validate_json(self.body)


def get_many(wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Items of any entity by key, in one BatchGetItem (unprocessed keys are retried by PynamoDB)."""
    if not wanted:
        return {}
    return {(item.PK, item.SK): item for item in CareModel.batch_get(list(dict.fromkeys(wanted)))}


def calendar_key(org: str) -> tuple[str, str]:
    return keys.org_pk(org), keys.CALENDAR_SK


def patient_key(org: str, patient_id: str) -> tuple[str, str]:
    return keys.patient_pk(org, patient_id), keys.PROFILE_SK


def calendar_of(item: OrgCalendar | None) -> Calendar:
    return item.record() if item is not None else Calendar()


def organization_calendar(org: str) -> Calendar:
    """The organization's calendar (its zone, hours and holidays), the default until an admin writes one."""
    return calendar_of(get_item(OrgCalendar, calendar_key(org)))


def get_item(model: type[PynamoModel], key: tuple[str, str]) -> Any:
    try:
        return model.get(*key)
    except model.DoesNotExist:
        return None


@dataclass
class Change:
    """What one request writes, as one transaction: items with their labels and conditions, its
    audit entries (one per patient touched) and its events."""

    actor: Actor
    at: datetime
    audit: list[tuple[str, str]] = field(default_factory=list)  # (patient id, action)
    events: list[DomainEvent] = field(default_factory=list)
    puts: list[tuple[str, PynamoModel, Any]] = field(default_factory=list)
    deletes: list[tuple[str, PynamoModel, Any]] = field(default_factory=list)
    checks: list[tuple[str, type[PynamoModel], tuple[str, str], Any]] = field(default_factory=list)

    def put(self, label: str, item: PynamoModel, condition: Any = None) -> None:
        self.puts.append((label, item, condition))

    def delete(self, label: str, item: PynamoModel, condition: Any = None) -> None:
        self.deletes.append((label, item, condition))

    def check(self, label: str, model: type[PynamoModel], key: tuple[str, str], condition: Any) -> None:
        self.checks.append((label, model, key, condition))

    def commit(self) -> None:
        """Raises :class:`shared.data.tx.Cancelled` naming the failed conditions."""
        with Tx() as tx:
            for label, model, key, condition in self.checks:
                tx.check(label, model, key[0], key[1], condition)
            for label, item, condition in self.deletes:
                tx.delete(label, item, condition)
            for label, item, condition in self.puts:
                tx.put(label, item, condition)
            for patient_id, action in dict.fromkeys(self.audit):  # once per patient and action
                tx.put("audit", audit_entry(self.actor, patient_id, action, self.at))
            for event in self.events:
                tx.put("event", event.to_outbox())


def active_patient(change: Change, org: str, patient_id: str) -> None:
    change.check("patient", Patient, patient_key(org, patient_id), Patient.status == "active")
