"""Our records as FHIR R4 resources (JSON dicts), for partners' subscriptions and, later, a FHIR read
API. Each is validated by the FHIR library (R4B models) before it is returned (:func:`validate`):
what leaves is what the library accepts, in its canonical JSON.

A partner gets codes, not our free text: no task description, referral reason, cancellation note or
status reason written by staff (they may hold PHI beyond what the partner needs), and no staff user
ids. A patient is ``Patient/<our id>`` plus one identifier on the reference (FHIR's Reference holds
one: the first of ``patient_identifiers``, so pass the partner's own system first; ours when none is
given).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from shared.domain.clinical import ResultRecord
from shared.domain.referrals import FHIR_STATUS, ReferralOut
from shared.domain.scheduling import AppointmentOut, AppointmentStatus, CancelReason
from shared.domain.tasks import TaskOut
from shared.fhir import _library
from shared.fhir._library import Invalid
from shared.fhir.systems import (
    APPOINTMENT_TYPE_SYSTEM,
    CANCEL_REASON_SYSTEM,
    HL7_CANCEL_REASON,
    LOINC,
    NPI_SYSTEM,
    OUR_PATIENT_SYSTEM,
    OUR_PROVIDER_SYSTEM,
    REFERRAL_STAGE_URL,
    ROLE_SYSTEM,
    SNOMED,
    SPECIALTY_SYSTEM,
    TASK_BUSINESS_STATUS_SYSTEM,
    TASK_CODE_SYSTEM,
    TASK_STATUS_REASON_SYSTEM,
    V3_INTERPRETATION,
)

__all__ = [
    "LOINC",
    "NPI_SYSTEM",
    "OUR_PATIENT_SYSTEM",
    "OUR_PROVIDER_SYSTEM",
    "Invalid",
    "appointment",
    "observation",
    "result_review",
    "service_request",
    "task",
    "validate",
]

Identifiers = list[tuple[str, str]]
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
# ours -> HL7's appointment-cancellation-reason, where it has the same meaning (the others go as ours)
_HL7_CANCEL = {
    CancelReason.PATIENT: "pat",
    CancelReason.PROVIDER: "prov",
    CancelReason.WEATHER: "oth-weath",
    CancelReason.OTHER: "other",
}
# Task.focus: what each of our focus types is in FHIR (the others have no FHIR resource of ours)
_FOCUS = {"appointment": "Appointment", "referral": "ServiceRequest", "result": "Observation"}
_WAITING = frozenset({AppointmentStatus.PROPOSED, AppointmentStatus.PENDING, AppointmentStatus.WAITLIST})
PATIENT_REFERRAL = {"system": SNOMED, "code": "3457005", "display": "Patient referral"}


def validate(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` as the FHIR library reads and writes it back, or :class:`Invalid` naming the path
    of the first problem (never its value)."""
    name = resource.get("resourceType")
    klass = _library.resource_class(name)
    if klass is None:
        raise Invalid("resourceType")
    model = _library.validate(klass, resource, str(name))
    loaded: dict[str, Any] = json.loads(model.model_dump_json())
    return loaded


def appointment(
    record: AppointmentOut, patient_identifiers: Identifiers, provider_name: str | None
) -> dict[str, Any]:
    """FHIR Appointment: status, times, type, the patient and the practitioner, the referral it
    fulfils, and why it was cancelled (a code)."""
    participation = "needs-action" if record.status in _WAITING else "accepted"
    practitioner: dict[str, Any] = {
        "reference": f"Practitioner/{record.provider_id}",
        "type": "Practitioner",
        "identifier": {"system": OUR_PROVIDER_SYSTEM, "value": record.provider_id},
    }
    if provider_name:
        practitioner["display"] = provider_name
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": record.id,
        "meta": _meta(str(record.version), record.updated_at),
        "status": record.status.value,
        "appointmentType": _concept(APPOINTMENT_TYPE_SYSTEM, record.appointment_type),
        "start": _instant(record.start),
        "end": _instant(record.end),
        "created": _instant(record.created_at),
        "participant": [
            {
                "actor": _patient(record.patient_id, patient_identifiers),
                "required": "required",
                "status": participation,
            },
            {"actor": practitioner, "required": "required", "status": participation},
        ],
    }
    if record.referral_id:
        resource["basedOn"] = [
            {"reference": f"ServiceRequest/{record.referral_id}", "type": "ServiceRequest"}
        ]
    if record.status is AppointmentStatus.CANCELLED and record.cancellation is not None:
        reason = record.cancellation.reason
        codings = [{"system": CANCEL_REASON_SYSTEM, "code": reason.value}]
        if reason in _HL7_CANCEL:
            codings.append({"system": HL7_CANCEL_REASON, "code": _HL7_CANCEL[reason]})
        resource["cancelationReason"] = {"coding": codings}
    return validate(resource)


def service_request(record: ReferralOut, patient_identifiers: Identifiers) -> dict[str, Any]:
    """FHIR ServiceRequest for a referral: its FHIR status (our stages mapped onto FHIR's, see
    :data:`shared.domain.referrals.FHIR_STATUS`: sent, accepted and scheduled are all ``active``) with
    our own stage in an extension, urgency, the specialty or provider it is to, and the date by which
    the patient should be seen. Not the clinical reason nor staff's status reason (free text)."""
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": record.id,
        "meta": _meta(str(record.version), record.updated_at),
        "extension": [{"url": REFERRAL_STAGE_URL, "valueCode": record.status.value}],
        "status": FHIR_STATUS[record.status],
        "intent": "order",
        "category": [{"coding": [PATIENT_REFERRAL]}],
        "priority": record.urgency.value,
        "subject": _patient(record.patient_id, patient_identifiers),
        "occurrencePeriod": {"end": record.due_date.isoformat()},
        "authoredOn": _instant(record.created_at),
    }
    if record.specialty:
        resource["performerType"] = _concept(SPECIALTY_SYSTEM, record.specialty)
    if record.provider_id:
        resource["performer"] = [
            {
                "reference": f"Practitioner/{record.provider_id}",
                "type": "Practitioner",
                "identifier": {"system": OUR_PROVIDER_SYSTEM, "value": record.provider_id},
            }
        ]
    return validate(resource)


def task(record: TaskOut, patient_identifiers: Identifiers) -> dict[str, Any]:
    """FHIR Task: status, priority, what (``code``), for whom, about what (``focus``: an appointment,
    referral or result), our stage (``businessStatus``), the role whose queue it is in
    (``performerType``), when it is due, and why it was cancelled or failed (a code). Not its
    description (free text) nor who on staff owns it."""
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": record.id,
        "meta": _meta(str(record.version), record.updated_at),
        "status": record.status.value,
        "intent": "order",
        "priority": record.priority.value,
        "code": _concept(TASK_CODE_SYSTEM, record.code.value),
        "performerType": [_concept(ROLE_SYSTEM, record.role.value)],
        "authoredOn": _instant(record.created_at),
        "lastModified": _instant(record.updated_at),
    }
    if record.patient_id:
        resource["for"] = _patient(record.patient_id, patient_identifiers)
    focus = _FOCUS.get(record.focus.type.value) if record.focus else None
    if record.focus and focus:
        resource["focus"] = {"reference": f"{focus}/{record.focus.id}", "type": focus}
    if record.business_status:
        resource["businessStatus"] = _concept(TASK_BUSINESS_STATUS_SYSTEM, record.business_status)
    if record.status_reason and _CODE.fullmatch(record.status_reason):
        resource["statusReason"] = _concept(TASK_STATUS_REASON_SYSTEM, record.status_reason)
    if record.due_at:
        resource["restriction"] = {"period": {"end": _instant(record.due_at)}}
    return validate(resource)


def result_review(
    result_id: str, patient_identifiers: Identifiers, reviewed_at: datetime, reviewer_role: str
) -> dict[str, Any]:
    """A completed Task saying a clinician (by role) reviewed our result ``result_id``: the "result
    acknowledged" event."""
    code = _concept(TASK_CODE_SYSTEM, "result-review")
    code["text"] = "result-review"
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": f"review-{result_id}",
        "status": "completed",
        "intent": "order",
        "code": code,
        "focus": {"reference": f"Observation/{result_id}", "type": "Observation"},
        "executionPeriod": {"end": _instant(reviewed_at)},
        "lastModified": _instant(reviewed_at),
        "performerType": [_concept(ROLE_SYSTEM, reviewer_role)],
    }
    if patient_identifiers:
        resource["for"] = _patient(None, patient_identifiers)
    return validate(resource)


def observation(
    record: ResultRecord, patient_identifiers: Identifiers, resource_id: str | None = None
) -> dict[str, Any]:
    """FHIR Observation from a result: the inverse of :func:`shared.fhir.inbound.parse` for one.
    ``resource_id``: the id to give it (ours, for a read API); by default the partner's source id
    when that is a FHIR id. The unit goes as text only: a record does not say whether its unit is a
    UCUM code, and we do not claim one it may not be."""
    resource: dict[str, Any] = {"resourceType": "Observation"}
    resource_id = resource_id or (record.source_id if _FHIR_ID.fullmatch(record.source_id) else None)
    if resource_id:
        resource["id"] = resource_id
    if record.version or record.last_updated:
        resource["meta"] = _meta(record.version, record.last_updated)
    resource["status"] = record.status
    coding = {"system": record.code.system, "code": record.code.code, "display": record.code.display}
    resource["code"] = {"coding": [{k: v for k, v in coding.items() if v is not None}]}
    if patient_identifiers:
        resource["subject"] = _patient(None, patient_identifiers)
    if record.effective:
        resource["effectiveDateTime"] = _instant(record.effective)
    if record.issued:
        resource["issued"] = _instant(record.issued)
    if record.value is not None:
        resource["valueQuantity"] = _quantity(record.value, record.unit)
    elif record.value_text is not None:
        resource["valueString"] = record.value_text
    if record.interpretation:
        resource["interpretation"] = [_concept(V3_INTERPRETATION, record.interpretation)]
    if record.low is not None or record.high is not None:
        limits = {"low": record.low, "high": record.high}
        resource["referenceRange"] = [
            {k: _quantity(v, record.unit) for k, v in limits.items() if v is not None}
        ]
    return validate(resource)


# ---------------------------------------------------------------- pieces


def _instant(at: datetime) -> str:
    """UTC with ``Z``. A naive time is passed on as it is, for the library to refuse."""
    if at.tzinfo is None:
        return at.isoformat()
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _meta(version: str | None, updated: datetime | None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if version:
        meta["versionId"] = version
    if updated:
        meta["lastUpdated"] = _instant(updated)
    return meta


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _quantity(value: float, unit: str | None) -> dict[str, Any]:
    return {"value": value, "unit": unit} if unit else {"value": value}


def _patient(patient_id: str | None, identifiers: Identifiers) -> dict[str, Any]:
    """A reference to our patient: ``Patient/<id>`` when we name it, and one identifier."""
    reference: dict[str, Any] = {"type": "Patient"}
    if patient_id:
        reference["reference"] = f"Patient/{patient_id}"
    system, value = identifiers[0] if identifiers else (OUR_PATIENT_SYSTEM, patient_id or "")
    if value:
        reference["identifier"] = {"system": system, "value": value}
    return reference
