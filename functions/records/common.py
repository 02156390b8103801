"""What the records routes share: the patient they write about, and the one way a change is written."""

from __future__ import annotations

from typing import Any

from shared.data import core
from shared.data import records as repo
from shared.data.patients import Patient
from shared.data.tx import Cancelled
from shared.domain.documentation import RelatesTo
from shared.errors import Conflict, NotFound
from shared.http.caller import invalid


def patient_of(org: str, patient_id: str, *, active: bool = False) -> Any:
    """The patient (404 when not the organization's); ``active``: an inactive one is a 422."""
    item = core.get_item(Patient, core.patient_key(org, patient_id))
    if item is None:
        raise NotFound("No patient with this id.")
    if active and item.status != "active":
        raise invalid("patient_id", "the patient is inactive", where="path")
    return item


def exists(change: core.Change, org: str, patient_id: str) -> None:
    """The patient still exists when the change is written (a check in its transaction)."""
    change.check("patient", Patient, core.patient_key(org, patient_id), Patient.PK.exists())


def commit(change: core.Change, what: str) -> None:
    """Write ``change``; a lost race is the 409 that says to read ``what`` again."""
    try:
        change.commit()
    except Cancelled as exc:
        if "patient" in exc.failed:
            raise NotFound("No patient with this id.") from None
        raise Conflict(f"The {what} changed since you read it; read it again.") from None


def check_related(org: str, patient_id: str, relates_to: RelatesTo | None) -> None:
    """What a note or an interaction relates to is this patient's (a 422 otherwise: another patient's
    record is not named, nor one that does not exist)."""
    if (
        relates_to is not None
        and repo.related_patient(org, relates_to.type.value, relates_to.id) != patient_id
    ):
        raise invalid("relates_to", f"no {relates_to.type.value} of this patient with this id")
