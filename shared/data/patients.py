"""Patients in the single table: the record, its lookup entries, history and audit trail.

Every write is one ``TransactWriteItems`` that also carries its audit entry and its domain events (the
outbox), so a change, its audit and its events are never separated. Keys: :mod:`shared.data.keys`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import TransactWriteError

from shared import ids
from shared.clock import isoformat
from shared.data import keys
from shared.data.table import CareModel
from shared.data.tx import Cancelled, Tx
from shared.domain.patients import PatientOut, duplicate_signatures, search_name
from shared.errors import Conflict, NotFound
from shared.events.models import DomainEvent


class Patient(CareModel, discriminator="Patient"):
    patient_id = UnicodeAttribute()
    status = UnicodeAttribute()
    body = UnicodeAttribute()  # PatientOut as JSON, without version
    # False when registered over a duplicate warning: the signatures belong to the other record
    holds_signatures = BooleanAttribute(default=True)
    version = VersionAttribute()

    def record(self) -> PatientOut:
        return PatientOut.model_validate({**json.loads(self.body), "version": self.version})


class PatientPhone(CareModel, discriminator="PatientPhone"):
    patient_id = UnicodeAttribute()


class DuplicateSignature(CareModel, discriminator="DuplicateSignature"):
    patient_id = UnicodeAttribute()


class PanelEntry(CareModel, discriminator="PanelEntry"):
    patient_id = UnicodeAttribute()
    role = UnicodeAttribute()


class Assessment(CareModel, discriminator="Assessment"):
    assessment_id = UnicodeAttribute()
    body = UnicodeAttribute()


class Coverage(CareModel, discriminator="Coverage"):
    coverage_id = UnicodeAttribute()
    body = UnicodeAttribute()


class AuditEntry(CareModel, discriminator="AuditEntry"):
    """Who did what to which patient, when, from where. Ids and codes only."""

    entry_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    actor_id = UnicodeAttribute()
    action = UnicodeAttribute()
    at = UnicodeAttribute()
    request_id = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)


@dataclass(frozen=True)
class Actor:
    """The caller of a write, for its audit entry."""

    organization_id: str
    subject: str
    request_id: str | None
    source_ip: str | None


class ProbableDuplicate(Conflict):
    pass


def _digest(signature: str) -> str:
    return hashlib.sha256(signature.encode()).hexdigest()[:40]


def audit_entry(
    actor: Actor, patient_id: str, action: str, at: datetime, entry_id: str | None = None
) -> AuditEntry:
    entry_id = entry_id or ids.new_id(at)
    when = isoformat(at)
    return AuditEntry(
        keys.audit_pk(actor.organization_id, patient_id),
        keys.audit_sk(when, entry_id),
        entry_id=entry_id,
        patient_id=patient_id,
        actor_id=actor.subject,
        action=action,
        at=when,
        request_id=actor.request_id,
        source_ip=actor.source_ip,
    )


def _patient_item(
    org: str, record: PatientOut, holds_signatures: bool, version: int | None = None
) -> Patient:
    body = record.model_dump(mode="json", exclude={"version"})
    item = Patient(
        keys.patient_pk(org, record.id),
        keys.PROFILE_SK,
        patient_id=record.id,
        status=record.status.value,
        body=json.dumps(body, separators=(",", ":")),
        holds_signatures=holds_signatures,
        GSI1PK=keys.patients_by_name_pk(org),
        GSI1SK=keys.patient_name_sk(search_name(record.name), record.id),
        GSI2PK=keys.patients_by_birth_date_pk(org, record.birth_date.isoformat()),
        GSI2SK=keys.patient_sk(record.id),
    )
    if version is not None:
        item.version = version
    return item


def _signatures(org: str, record: PatientOut) -> dict[str, DuplicateSignature]:
    sigs = duplicate_signatures(record.name, record.birth_date, record.contact.phone)
    return {
        kind: DuplicateSignature(
            keys.duplicate_pk(org, kind, _digest(sig)), keys.DUPLICATE_SK, patient_id=record.id
        )
        for kind, sig in sigs.items()
    }


def _existing_duplicate(error: TransactWriteError) -> str | None:
    """The patient a failed duplicate-signature condition points at (DynamoDB returns the old item)."""
    for reason in error.cancellation_reasons or []:
        item = reason.raw_item if reason is not None and reason.code == "ConditionalCheckFailed" else None
        if item and item.get("entity", {}).get("S") == "DuplicateSignature":
            return str(item["patient_id"]["S"])
    return None


def register(
    record: PatientOut, actor: Actor, at: datetime, events: Iterable[DomainEvent], *, allow_duplicate: bool
) -> None:
    """Write a new patient with its lookups, duplicate signatures, audit entry and events, in one
    transaction. A probable duplicate raises :class:`ProbableDuplicate` naming the existing patient,
    unless ``allow_duplicate`` (then the new record simply holds no signature)."""
    org = actor.organization_id
    with_sigs = not allow_duplicate
    try:
        with Tx() as tx:
            tx.put("patient", _patient_item(org, record, with_sigs), Patient.PK.does_not_exist())
            if record.contact.phone:
                tx.put(
                    "phone",
                    PatientPhone(
                        keys.patients_by_phone_pk(org, record.contact.phone),
                        keys.patient_sk(record.id),
                        patient_id=record.id,
                    ),
                )
            if with_sigs:
                for sig in _signatures(org, record).values():
                    tx.put("signature", sig, DuplicateSignature.PK.does_not_exist(), return_values="ALL_OLD")
            tx.put("audit", audit_entry(actor, record.id, "patient.create", at))
            for event in events:
                tx.put("event", event.to_outbox())
    except Cancelled as cancelled:
        existing = _existing_duplicate(cancelled.error)
        if existing:
            raise ProbableDuplicate(
                "A patient with the same birth date and name, or the same phone and birth date, is already "
                "registered. Open the existing record, or send allow_duplicate=true to register anyway.",
                existing_patient_id=existing,
                existing_patient=f"/patients/{existing}",
            ) from None
        raise Conflict(
            "Someone registered this patient at the same moment; search before retrying."
        ) from None


def get(org: str, patient_id: str) -> Patient | None:
    try:
        return Patient.get(keys.patient_pk(org, patient_id), keys.PROFILE_SK)
    except Patient.DoesNotExist:
        return None


def update(
    old: Patient,
    new: PatientOut,
    actor: Actor,
    at: datetime,
    action: str,
    panel: tuple[set[str], dict[str, str]] | None = None,
) -> Patient:
    """Replace a patient's record if nobody changed it since ``old`` was read (else 409), moving its
    phone lookup and, if it holds them, its duplicate signatures; for care-team changes, removing the
    ``panel`` entries of staff who left and writing those of staff who joined or changed role. One
    transaction, with its audit entry."""
    org = actor.organization_id
    before = old.record()
    holds = old.holds_signatures is not False
    item = _patient_item(org, new, holds, version=old.version)
    old_sigs, new_sigs = (_signatures(org, before), _signatures(org, new)) if holds else ({}, {})
    try:
        with Tx() as tx:
            tx.put("patient", item)  # on its version: a stale read fails this condition
            if before.contact.phone != new.contact.phone:
                if before.contact.phone:
                    tx.delete(
                        "phone",
                        PatientPhone(
                            keys.patients_by_phone_pk(org, before.contact.phone), keys.patient_sk(new.id)
                        ),
                    )
                if new.contact.phone:
                    tx.put(
                        "phone",
                        PatientPhone(
                            keys.patients_by_phone_pk(org, new.contact.phone),
                            keys.patient_sk(new.id),
                            patient_id=new.id,
                        ),
                    )
            for kind in set(old_sigs) | set(new_sigs):
                was, now = old_sigs.get(kind), new_sigs.get(kind)
                if was is not None and now is not None and was.PK == now.PK:
                    continue
                if was is not None:
                    tx.delete("signature", was, DuplicateSignature.patient_id == new.id)
                if now is not None:
                    tx.put("signature", now, DuplicateSignature.PK.does_not_exist(), return_values="ALL_OLD")
            if panel is not None:
                left, joined = panel
                for staff in left:
                    tx.delete("panel", PanelEntry(keys.panel_pk(org, staff), keys.patient_sk(new.id)))
                for staff, role in joined.items():
                    tx.put(
                        "panel",
                        PanelEntry(
                            keys.panel_pk(org, staff), keys.patient_sk(new.id), patient_id=new.id, role=role
                        ),
                    )
            tx.put("audit", audit_entry(actor, new.id, action, at))
    except Cancelled as cancelled:
        stale = Conflict("The patient changed since you read it; read it again and re-apply your change.")
        if "patient" in cancelled.failed:
            raise stale from None
        existing = _existing_duplicate(cancelled.error)
        if existing:
            raise ProbableDuplicate(
                "This change would make the record a probable duplicate of another patient.",
                existing_patient_id=existing,
                existing_patient=f"/patients/{existing}",
            ) from None
        raise stale from None
    item.version = (old.version or 0) + 1
    return item


def add_history(
    org: str,
    item: Assessment | Coverage,
    actor: Actor,
    at: datetime,
    action: str,
    patient_id: str,
    events: Iterable[DomainEvent] = (),
) -> None:
    """Append an assessment or coverage (never overwritten), with its audit entry and events, in one
    transaction that also checks the patient exists (404 otherwise)."""
    model = type(item)
    try:
        with Tx() as tx:
            tx.check(
                "patient", Patient, keys.patient_pk(org, patient_id), keys.PROFILE_SK, Patient.PK.exists()
            )
            tx.put("entry", item, model.PK.does_not_exist())
            tx.put("audit", audit_entry(actor, patient_id, action, at))
            for event in events:
                tx.put("event", event.to_outbox())
    except Cancelled as cancelled:
        if "patient" in cancelled.failed:
            raise NotFound("No patient with this id.") from None
        raise Conflict("This entry was written at the same moment by another request; retry.") from None


def all_history(model: type[Coverage], org: str, patient_id: str, prefix: str) -> list[Coverage]:
    """Every entry, following the pages to the end (a patient's coverage is a handful of items)."""
    return list(model.query(keys.patient_pk(org, patient_id), model.SK.startswith(prefix)))


def history(
    model: type[Assessment] | type[Coverage],
    org: str,
    patient_id: str,
    prefix: str,
    limit: int,
    start: dict[str, Any] | None,
) -> tuple[list[Any], dict[str, Any] | None]:
    result = model.query(
        keys.patient_pk(org, patient_id),
        model.SK.startswith(prefix),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
    )
    items = list(result)
    return items, result.last_evaluated_key


def panel_entries(
    org: str, staff_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[Patient], dict[str, Any] | None]:
    result = PanelEntry.query(keys.panel_pk(org, staff_id), limit=limit, last_evaluated_key=start)
    entries = list(result)
    patients = (
        {
            p.patient_id: p
            for p in Patient.batch_get(
                [(keys.patient_pk(org, e.patient_id), keys.PROFILE_SK) for e in entries]
            )
        }
        if entries
        else {}
    )
    return [patients[e.patient_id] for e in entries if e.patient_id in patients], result.last_evaluated_key


def audit_trail(
    org: str, patient_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[AuditEntry], dict[str, Any] | None]:
    result = AuditEntry.query(
        keys.audit_pk(org, patient_id), scan_index_forward=False, limit=limit, last_evaluated_key=start
    )
    return list(result), result.last_evaluated_key


def search(
    org: str,
    *,
    name: str | None,
    birth_date: str | None,
    phone: str | None,
    limit: int,
    start: dict[str, Any] | None,
) -> tuple[list[Patient], dict[str, Any] | None]:
    """Patients matching every criterion given (a name prefix of "family given", a birth date, a phone),
    by one query on the most selective index: phone, then birth date, then name (with no criterion,
    the organization's patients by name). Other criteria filter what that query reads. Never a Scan."""
    from shared.data.table import GSI1

    name_key = f"NAME#{name or ''}"
    if phone:
        result = PatientPhone.query(
            keys.patients_by_phone_pk(org, phone), limit=limit, last_evaluated_key=start
        )
        entries = list(result)
        found = (
            {
                p.patient_id: p
                for p in Patient.batch_get(
                    [(keys.patient_pk(org, e.patient_id), keys.PROFILE_SK) for e in entries]
                )
            }
            if entries
            else {}
        )
        matches = [
            found[e.patient_id]
            for e in entries
            if e.patient_id in found
            and (
                not birth_date
                or keys.patients_by_birth_date_pk(org, birth_date) == found[e.patient_id].GSI2PK
            )
            and (found[e.patient_id].GSI1SK or "").startswith(name_key)
        ]
        return matches, result.last_evaluated_key
    if birth_date:
        query = CareModel.gsi2.query(
            keys.patients_by_birth_date_pk(org, birth_date),
            filter_condition=GSI1.GSI1SK.startswith(name_key) if name else None,
            limit=limit,
            last_evaluated_key=start,
        )
    else:
        query = CareModel.gsi1.query(
            keys.patients_by_name_pk(org),
            GSI1.GSI1SK.startswith(name_key),
            limit=limit,
            last_evaluated_key=start,
        )
    return [p for p in query if isinstance(p, Patient)], query.last_evaluated_key
