"""Transition episodes in the single table: the episode, its claims (one episode per encounter, and per
patient and discharge date) and the patient's current episode. Keys and access patterns:
:mod:`shared.data.keys`. Each step's task is a task (:mod:`shared.data.tasks`), written in the same
transaction as the episode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from pynamodb.attributes import UnicodeAttribute, VersionAttribute

from shared.clock import isoformat
from shared.data import keys
from shared.data.core import Change
from shared.data.table import CareModel
from shared.domain.transitions import EpisodeStatus, TransitionOut

DERIVED = {"version", "next_due_at", "days_left", "at_risk"}  # computed on read, never stored


class TransitionItem(CareModel, discriminator="Transition"):
    transition_id = UnicodeAttribute()
    status = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    body = UnicodeAttribute()  # JSON of TransitionOut (its version is the item's)
    version = VersionAttribute()

    def record(self) -> TransitionOut:
        return TransitionOut.model_validate({**json.loads(self.body), "version": self.version or 0})


class ClaimItem(CareModel, discriminator="TransitionClaim"):
    transition_id = UnicodeAttribute()


class CurrentItem(CareModel, discriminator="TransitionCurrent"):
    transition_id = UnicodeAttribute()


def claims(record: TransitionOut) -> list[str]:
    out = [f"discharge:{record.patient_id}:{record.discharge_date.isoformat()}"]
    if record.encounter_id:
        out.append(f"encounter:{record.encounter_id}")
    return out


def item_of(org: str, record: TransitionOut, version: int | None) -> TransitionItem:
    item = TransitionItem(
        keys.transition_pk(org, record.id),
        keys.TRANSITION_SK,
        transition_id=record.id,
        status=record.status.value,
        patient_id=record.patient_id,
        body=json.dumps(record.model_dump(mode="json", exclude=DERIVED), separators=(",", ":")),
    )
    if version is not None:
        item.version = version
    at = record.closed_at if record.status is EpisodeStatus.CLOSED and record.closed_at else record.sort_at()
    item.GSI1PK = keys.transitions_pk(org, record.status.value)
    item.GSI1SK = keys.timed_sk(isoformat(at), record.id)
    item.GSI2PK = keys.patient_transitions_pk(org, record.patient_id)
    item.GSI2SK = keys.timed_sk(isoformat(record.discharged_at), record.id)
    item.GSI3PK = keys.transitions_by_discharge_pk(org)
    item.GSI3SK = keys.timed_sk(record.discharge_date.isoformat(), record.id)
    return item


def key(org: str, transition_id: str) -> tuple[str, str]:
    return keys.transition_pk(org, transition_id), keys.TRANSITION_SK


def current_key(org: str, patient_id: str) -> tuple[str, str]:
    return keys.current_transition_pk(org, patient_id), keys.CURRENT_TRANSITION_SK


def get(org: str, transition_id: str) -> TransitionItem | None:
    try:
        return TransitionItem.get(*key(org, transition_id), consistent_read=True)
    except TransitionItem.DoesNotExist:
        return None


def current_id(org: str, patient_id: str) -> str | None:
    try:
        return str(CurrentItem.get(*current_key(org, patient_id), consistent_read=True).transition_id)
    except CurrentItem.DoesNotExist:
        return None


def claimed_by(org: str, claim: str) -> str | None:
    try:
        item = ClaimItem.get(
            keys.transition_claim_pk(org, claim), keys.TRANSITION_CLAIM_SK, consistent_read=True
        )
    except ClaimItem.DoesNotExist:
        return None
    return str(item.transition_id)


def put_new(change: Change, org: str, record: TransitionOut) -> None:
    """A new episode, its claims (labels ``claim``: a duplicate notice) and the patient's current
    pointer (label ``current``: only if it is still what the caller read, none or the episode before
    it, which is closed in the same transaction; two discharges opening at once cannot both win)."""
    change.put("transition", item_of(org, record, None), TransitionItem.PK.does_not_exist())
    for claim in claims(record):
        item = ClaimItem(
            keys.transition_claim_pk(org, claim), keys.TRANSITION_CLAIM_SK, transition_id=record.id
        )
        change.put("claim", item, ClaimItem.PK.does_not_exist())
    pointer = CurrentItem(*current_key(org, record.patient_id), transition_id=record.id)
    expected = (
        CurrentItem.PK.does_not_exist()
        if record.previous_id is None
        else CurrentItem.transition_id == record.previous_id
    )
    change.put("current", pointer, expected)
    change.audit.append((record.patient_id, "transition.create"))


def put(change: Change, org: str, item: TransitionItem, record: TransitionOut, action: str) -> TransitionOut:
    """The next version of ``item`` (a stale write fails the transaction); a closed episode is no
    longer the patient's current one (unless the newer episode that closed it took its place)."""
    written = record.model_copy(update={"version": (item.version or 0) + 1, "updated_at": change.at})
    change.put("transition", item_of(org, written, item.version))
    closing = written.status is EpisodeStatus.CLOSED and item.status != EpisodeStatus.CLOSED.value
    if closing and written.next_id is None:
        change.delete(
            "current",
            CurrentItem(*current_key(org, written.patient_id)),
            CurrentItem.transition_id == written.id,
        )
    change.audit.append((written.patient_id, f"transition.{action}"))
    return written


def status_page(
    org: str, status: EpisodeStatus, limit: int, start: dict[str, Any] | None
) -> tuple[list[TransitionItem], Any]:
    """One Query: open and paused episodes by nearest deadline, closed ones newest first."""
    result = TransitionItem.gsi1.query(
        keys.transitions_pk(org, status.value),
        scan_index_forward=status is not EpisodeStatus.CLOSED,
        limit=limit,
        last_evaluated_key=start,
    )
    return [i for i in result if isinstance(i, TransitionItem)], result.last_evaluated_key


def patient_page(
    org: str, patient_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[TransitionItem], Any]:
    result = TransitionItem.gsi2.query(
        keys.patient_transitions_pk(org, patient_id),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
    )
    return [i for i in result if isinstance(i, TransitionItem)], result.last_evaluated_key


def discharged_between(org: str, first: date, last: date) -> Iterator[TransitionOut]:
    """Every episode whose discharge date is in ``[first, last]`` (the report), page by page."""
    condition = TransitionItem.GSI3SK.between(f"{first.isoformat()}#", f"{last.isoformat()}#~")
    for item in TransitionItem.gsi3.query(keys.transitions_by_discharge_pk(org), condition):
        if isinstance(item, TransitionItem):
            yield item.record()
