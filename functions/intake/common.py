"""What intake routes share beyond ``shared.http.caller``: the patient a caller may touch."""

from __future__ import annotations

from shared.data import patients as repo
from shared.errors import NotFound
from shared.http.auth import Principal
from shared.http.caller import audited_read, caller, invalid, request_id

__all__ = ["audited_read", "caller", "invalid", "patient_for", "request_id"]


def patient_for(principal: Principal, patient_id: str) -> repo.Patient:
    """The patient, if this caller may touch it: a patient only their own, staff their organization's
    (the organization is part of the key). Otherwise 404, never 403: existence does not leak."""
    principal.require_patient(patient_id)
    try:
        item = repo.get(principal.organization_id, patient_id)
    except ValueError:  # an id that cannot be a key
        item = None
    if item is None:
        raise NotFound("No patient with this id.")
    return item
