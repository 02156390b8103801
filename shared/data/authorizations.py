"""Prior authorizations in the single table: the authorization (its history inside), the organization's
policy, and the visits held without an approval. Keys and access patterns: :mod:`shared.data.keys`.

An authorization is put on its version (PynamoDB's ``VersionAttribute``: of two writers one wins) in
the transaction of the change that moves it, with its audit entry, its events and the tasks it opens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from pynamodb.attributes import UnicodeAttribute, VersionAttribute

from shared.clock import isoformat
from shared.data import keys
from shared.data.core import Change, get_item
from shared.data.settings import Settings
from shared.data.table import CareModel
from shared.domain.authorizations import (
    LISTS,
    AuthList,
    AuthorizationOut,
    AuthorizationPolicyOut,
    WithoutApproval,
    sort_at,
)
from shared.domain.calendar import Calendar

POLICY = Settings(AuthorizationPolicyOut, keys.AUTHORIZATION_POLICY_SK)


class AuthorizationItem(CareModel, discriminator="Authorization"):
    authorization_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    status = UnicodeAttribute()
    body = UnicodeAttribute()  # JSON of AuthorizationOut (its version is the item's)
    version = VersionAttribute()

    def record(self) -> AuthorizationOut:
        return AuthorizationOut.model_validate({**json.loads(self.body), "version": self.version or 0})


class UnapprovedItem(CareModel, discriminator="UnapprovedVisit"):
    body = UnicodeAttribute()  # JSON of WithoutApproval: ids and codes


def follow_up_cause(auth_id: str) -> str:
    """The follow-up task on the payer's clock (one open at a time)."""
    return f"authorization|{auth_id}|follow-up"


def renewal_cause(auth_id: str) -> str:
    return f"authorization|{auth_id}|renewal"


def obtain_cause(appointment_id: str) -> str:
    """The task to obtain the approval a visit was booked without."""
    return f"authorization|appointment|{appointment_id}"


def key(org: str, authorization_id: str) -> tuple[str, str]:
    return keys.authorization_pk(org, authorization_id), keys.AUTHORIZATION_SK


def get(org: str, authorization_id: str) -> AuthorizationItem | None:
    return get_item(AuthorizationItem, key(org, authorization_id))


def _item(org: str, record: AuthorizationOut, calendar: Calendar, version: int | None) -> AuthorizationItem:
    item = AuthorizationItem(
        *key(org, record.id),
        authorization_id=record.id,
        patient_id=record.patient_id,
        status=record.status.value,
        body=json.dumps(record.model_dump(mode="json", exclude={"version"}), separators=(",", ":")),
    )
    if version is not None:
        item.version = version
    item.GSI1PK = keys.authorizations_pk(org, LISTS[record.status].value)
    item.GSI1SK = keys.timed_sk(isoformat(sort_at(record, calendar)), record.id)
    item.GSI2PK = keys.patient_authorizations_pk(org, record.patient_id)
    item.GSI2SK = keys.timed_sk(isoformat(record.created_at), record.id)
    if record.submitted_at is not None:
        item.GSI3PK = keys.authorizations_submitted_pk(org)
        item.GSI3SK = keys.timed_sk(calendar.local_date(record.submitted_at).isoformat(), record.id)
    return item


def put(
    change: Change,
    org: str,
    record: AuthorizationOut,
    calendar: Calendar,
    item: AuthorizationItem | None,
    action: str,
) -> AuthorizationOut:
    """``record`` in ``change``: new (``item`` None, on condition that the id is free) or the next
    version of ``item`` (a stale write fails the transaction). Returns it as it reads once written."""
    version = item.version if item is not None else None
    written = record.model_copy(update={"version": (version or 0) + 1})
    condition = AuthorizationItem.PK.does_not_exist() if item is None else None
    change.put("authorization", _item(org, written, calendar, version), condition)
    change.audit.append((record.patient_id, f"authorization.{action}"))
    return written


def list_page(
    org: str, listed: AuthList, before: datetime | None, limit: int, start: dict[str, Any] | None
) -> tuple[list[AuthorizationItem], Any]:
    """One Query: a list in the order it is worked, soonest first; ``before``: sorting before it (the
    chase list's ``due_before``)."""
    condition = AuthorizationItem.GSI1SK < isoformat(before) if before is not None else None  # noqa: SIM300
    result = AuthorizationItem.gsi1.query(
        keys.authorizations_pk(org, listed.value),
        condition,
        scan_index_forward=True,
        limit=limit,
        last_evaluated_key=start,
    )
    return [i for i in result if isinstance(i, AuthorizationItem)], result.last_evaluated_key


def patient_page(
    org: str, patient_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[AuthorizationItem], Any]:
    """A patient's, newest first."""
    result = AuthorizationItem.gsi2.query(
        keys.patient_authorizations_pk(org, patient_id),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
    )
    return [i for i in result if isinstance(i, AuthorizationItem)], result.last_evaluated_key


def of_patient(org: str, patient_id: str) -> list[AuthorizationItem]:
    """Every authorization of the patient (a handful), following the pages."""
    query = AuthorizationItem.gsi2.query(keys.patient_authorizations_pk(org, patient_id))
    return [i for i in query if isinstance(i, AuthorizationItem)]


def submitted_between(org: str, first: date, last: date) -> Iterator[AuthorizationOut]:
    condition = AuthorizationItem.GSI3SK.between(f"{first.isoformat()}#", f"{last.isoformat()}#~")
    for item in AuthorizationItem.gsi3.query(keys.authorizations_submitted_pk(org), condition):
        if isinstance(item, AuthorizationItem):
            yield item.record()


def unapproved(change: Change, org: str, visit: WithoutApproval) -> None:
    """A visit held without its approval (put on its key: a redelivery writes the same item)."""
    sk = keys.timed_sk(visit.on.isoformat(), visit.appointment_id)
    change.put("unapproved", UnapprovedItem(keys.unapproved_visits_pk(org), sk, body=visit.model_dump_json()))


def unapproved_between(org: str, first: date, last: date) -> Iterator[WithoutApproval]:
    condition = UnapprovedItem.SK.between(f"{first.isoformat()}#", f"{last.isoformat()}#~")
    for item in UnapprovedItem.query(keys.unapproved_visits_pk(org), condition):
        if isinstance(item, UnapprovedItem):
            yield WithoutApproval.model_validate_json(item.body)
