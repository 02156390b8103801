"""FHIR R4 in and out (shared/fhir), checked by the FHIR library itself (fhir.resources, R4B models).

The rules:
- outbound: every resource we send validates as its R4B model and carries what a partner relies on
  (ids, statuses, times in UTC, codes with their systems, the patient by our reference and an
  identifier), and none of our free text (task descriptions, referral reasons, cancellation notes);
- inbound: a resource or a transaction / collection / message Bundle becomes records; the patient is
  known by identifiers only (on the reference, or on the Patient it resolves to in the bundle or
  contained); resources we do not process are listed as skipped;
- a malformed delivery raises Malformed with the FHIR path of the first problem and a code, and
  neither the path nor the message nor anything chained to it holds the offending value;
- a result read in and written back out reads in the same.
"""

from __future__ import annotations

import json
import traceback
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from shared.domain.clinical import (
    Coding,
    EncounterRecord,
    ExternalAppointment,
    Incoming,
    ReportRecord,
    ResultRecord,
)
from shared.domain.referrals import ReferralOut, ReferralStatus, Urgency
from shared.domain.scheduling import AppointmentOut, AppointmentStatus, Cancellation, CancelReason
from shared.domain.tasks import Focus, FocusType, Priority, QueueRole, TaskCode, TaskOut, TaskStatus
from shared.fhir.inbound import Malformed, parse
from shared.fhir.outbound import (
    LOINC,
    NPI_SYSTEM,
    OUR_PATIENT_SYSTEM,
    OUR_PROVIDER_SYSTEM,
    Invalid,
    appointment,
    observation,
    result_review,
    service_request,
    task,
    validate,
)

PATIENT = "01JD0000000000000000000PAT"
PROVIDER = "01JD0000000000000000000PRV"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.42"
MRN = ("urn:oid:2.16.840.1.113883.3.42", "MRN-0042")
NPI = "1234567893"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
UCUM = "http://unitsofmeasure.org"
T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)


def body(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource).encode()


def changed(resource: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with ``changes``; a change to ``None`` removes the element."""
    return {k: v for k, v in (resource | changes).items() if v is not None}


def dumped(resource: dict[str, Any]) -> str:
    return json.dumps(resource)


# ---------------------------------------------------------------- outbound


def an_appointment(**changes: Any) -> AppointmentOut:
    fields: dict[str, Any] = {
        "id": "01JD0000000000000000000APT",
        "version": 3,
        "status": AppointmentStatus.BOOKED,
        "patient_id": PATIENT,
        "provider_id": PROVIDER,
        "appointment_type": "new-patient",
        "start": T0,
        "end": T1,
        "time_zone": "America/New_York",
        "referral_id": "01JD0000000000000000000REF",
        "created_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        "updated_at": datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        "booked_by": "staff-user-7",
    }
    return AppointmentOut(**(fields | changes))


def test_an_appointment_goes_out_as_a_valid_fhir_appointment_with_what_a_partner_matches_on() -> None:
    # Given a booked appointment, When it is mapped for a partner that knows the patient by an MRN
    sent = appointment(an_appointment(), [MRN], "Dr. Ana Ruiz")
    # Then the library reads it as an R4B Appointment
    parsed = Appointment.model_validate(sent)
    assert parsed.status == "booked"
    assert (sent["id"], sent["meta"]) == (
        "01JD0000000000000000000APT",
        {"versionId": "3", "lastUpdated": "2026-12-02T09:00:00Z"},
    )
    assert (sent["start"], sent["end"]) == ("2026-12-07T15:00:00Z", "2026-12-07T15:30:00Z")
    assert sent["appointmentType"]["coding"] == [
        {"system": "https://careloop.example/fhir/CodeSystem/appointment-type", "code": "new-patient"}
    ]
    patient, provider = (p["actor"] for p in sent["participant"])
    assert patient["reference"] == f"Patient/{PATIENT}"
    assert patient["identifier"] == {"system": MRN[0], "value": MRN[1]}
    assert provider == {
        "reference": f"Practitioner/{PROVIDER}",
        "type": "Practitioner",
        "identifier": {"system": OUR_PROVIDER_SYSTEM, "value": PROVIDER},
        "display": "Dr. Ana Ruiz",
    }
    assert {p["status"] for p in sent["participant"]} == {"accepted"}
    assert sent["basedOn"] == [
        {"reference": "ServiceRequest/01JD0000000000000000000REF", "type": "ServiceRequest"}
    ]
    assert "cancelationReason" not in sent
    assert "staff-user-7" not in dumped(sent)


def test_a_cancelled_appointment_says_why_in_codes_and_not_in_the_note() -> None:
    cancelled = an_appointment(
        status=AppointmentStatus.CANCELLED,
        cancellation=Cancellation(
            by="staff-user-7",
            by_role="coordinator",
            reason=CancelReason.PATIENT,
            note="Patient says her chemo moved to Tuesday",
            at=T0,
        ),
    )
    sent = appointment(cancelled, [MRN], None)
    assert Appointment.model_validate(sent).cancelationReason is not None
    assert sent["cancelationReason"]["coding"] == [
        {"system": "https://careloop.example/fhir/CodeSystem/cancel-reason", "code": "patient"},
        {"system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "code": "pat"},
    ]
    assert "chemo" not in dumped(sent)
    assert "display" not in sent["participant"][1]["actor"]


@pytest.mark.parametrize(
    ("status", "participation"),
    [(AppointmentStatus.PENDING, "needs-action"), (AppointmentStatus.NOSHOW, "accepted")],
)
def test_participants_have_not_accepted_an_appointment_still_pending(
    status: AppointmentStatus, participation: str
) -> None:
    sent = appointment(an_appointment(status=status), [], None)
    assert [p["status"] for p in sent["participant"]] == [participation, participation]
    # no partner identifier given: the patient is named by ours
    assert sent["participant"][0]["actor"]["identifier"] == {"system": OUR_PATIENT_SYSTEM, "value": PATIENT}


def a_referral(status: ReferralStatus, **changes: Any) -> ReferralOut:
    fields: dict[str, Any] = {
        "id": "01JD0000000000000000000REF",
        "version": 4,
        "status": status,
        "fhir_status": "active",
        "patient_id": PATIENT,
        "specialty": "cardiology",
        "provider_id": PROVIDER,
        "reason": "Palpitations since the divorce, worse at night",
        "urgency": Urgency.URGENT,
        "due_date": date(2026, 12, 20),
        "created_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        "updated_at": datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
        "status_reason": "Declined: patient unreachable at 555-0100",
        "created_by": "staff-user-7",
    }
    return ReferralOut(**(fields | changes))


@pytest.mark.parametrize(
    ("stage", "fhir_status"),
    [
        (ReferralStatus.DRAFT, "draft"),
        (ReferralStatus.SENT, "active"),
        (ReferralStatus.ACCEPTED, "active"),
        (ReferralStatus.SCHEDULED, "active"),
        (ReferralStatus.COMPLETED, "completed"),
        (ReferralStatus.CLOSED, "completed"),
        (ReferralStatus.REJECTED, "revoked"),
        (ReferralStatus.CANCELLED, "revoked"),
    ],
)
def test_a_referral_goes_out_as_a_service_request_with_fhir_status_and_our_stage(
    stage: ReferralStatus, fhir_status: str
) -> None:
    sent = service_request(a_referral(stage), [MRN])
    parsed = ServiceRequest.model_validate(sent)
    assert (parsed.status, parsed.intent, parsed.priority) == (fhir_status, "order", "urgent")
    assert sent["extension"] == [
        {"url": "https://careloop.example/fhir/StructureDefinition/referral-stage", "valueCode": stage.value}
    ]
    assert sent["subject"] == {
        "type": "Patient",
        "reference": f"Patient/{PATIENT}",
        "identifier": {"system": MRN[0], "value": MRN[1]},
    }
    assert sent["performerType"]["coding"][0]["code"] == "cardiology"
    assert sent["performer"][0]["reference"] == f"Practitioner/{PROVIDER}"
    assert sent["occurrencePeriod"] == {"end": "2026-12-20"}
    assert sent["category"][0]["coding"][0]["code"] == "3457005"  # SNOMED: patient referral
    text = dumped(sent)
    assert "divorce" not in text and "555-0100" not in text and "staff-user-7" not in text


def a_task(**changes: Any) -> TaskOut:
    fields: dict[str, Any] = {
        "id": "01JD0000000000000000000TSK",
        "version": 2,
        "code": TaskCode.CONFIRM_APPOINTMENT,
        "description": "Call her daughter, not her: she is hard of hearing",
        "status": TaskStatus.COMPLETED,
        "business_status": "left-voicemail",
        "priority": Priority.URGENT,
        "patient_id": PATIENT,
        "patient_name": "Maria Lopez",
        "focus": Focus(type=FocusType.APPOINTMENT, id="01JD0000000000000000000APT"),
        "owner_id": "staff-user-7",
        "role": QueueRole.NURSE,
        "due_at": datetime(2026, 12, 6, 17, 0, tzinfo=UTC),
        "created_at": datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        "created_by": "staff-user-7",
        "updated_at": datetime(2026, 12, 6, 10, 0, tzinfo=UTC),
    }
    return TaskOut(**(fields | changes))


def test_a_task_goes_out_as_a_fhir_task_with_codes_and_no_free_text() -> None:
    sent = task(a_task(), [MRN])
    parsed = Task.model_validate(sent)
    assert (parsed.status, parsed.intent, parsed.priority) == ("completed", "order", "urgent")
    assert sent["code"]["coding"] == [
        {"system": "https://careloop.example/fhir/CodeSystem/task-code", "code": "confirm-appointment"}
    ]
    assert sent["for"]["reference"] == f"Patient/{PATIENT}"
    assert sent["focus"] == {"reference": "Appointment/01JD0000000000000000000APT", "type": "Appointment"}
    assert sent["businessStatus"]["coding"][0]["code"] == "left-voicemail"
    assert sent["performerType"][0]["coding"][0]["code"] == "nurse"
    assert (sent["authoredOn"], sent["lastModified"]) == ("2026-12-05T09:00:00Z", "2026-12-06T10:00:00Z")
    assert sent["restriction"] == {"period": {"end": "2026-12-06T17:00:00Z"}}
    text = dumped(sent)
    assert "daughter" not in text and "Maria" not in text and "staff-user-7" not in text


@pytest.mark.parametrize(
    ("focus", "reference"),
    [
        (
            Focus(type=FocusType.REFERRAL, id="01JD0000000000000000000REF"),
            "ServiceRequest/01JD0000000000000000000REF",
        ),
        (
            Focus(type=FocusType.RESULT, id="01JD0000000000000000000RES"),
            "Observation/01JD0000000000000000000RES",
        ),
        (Focus(type=FocusType.ASSESSMENT, id="01JD0000000000000000000ASM"), None),
        (None, None),
    ],
)
def test_a_task_focus_names_the_fhir_resource_it_is_about(focus: Focus | None, reference: str | None) -> None:
    sent = task(a_task(focus=focus, status=TaskStatus.CANCELLED, status_reason="resolved-by-event"), [MRN])
    Task.model_validate(sent)
    assert sent.get("focus", {}).get("reference") == reference
    assert sent["statusReason"]["coding"][0]["code"] == "resolved-by-event"


def test_a_task_without_a_patient_or_a_coded_reason_leaves_them_out() -> None:
    sent = task(a_task(patient_id=None, status_reason="Patient in hospital, call next week", due_at=None), [])
    Task.model_validate(sent)
    assert "for" not in sent and "statusReason" not in sent and "restriction" not in sent


def test_a_result_review_is_a_completed_task_focused_on_the_observation() -> None:
    reviewed = datetime(2026, 12, 7, 15, 2, tzinfo=UTC)
    sent = result_review("01JD0000000000000000000RES", [MRN], reviewed, "physician")
    parsed = Task.model_validate(sent)
    assert (parsed.status, parsed.code.text if parsed.code else None) == ("completed", "result-review")
    assert sent["focus"] == {"reference": "Observation/01JD0000000000000000000RES", "type": "Observation"}
    assert sent["for"] == {"type": "Patient", "identifier": {"system": MRN[0], "value": MRN[1]}}
    assert sent["performerType"][0]["coding"][0]["code"] == "physician"
    assert sent["executionPeriod"] == {"end": "2026-12-07T15:02:00Z"}


def test_validate_refuses_an_invalid_resource_by_path_without_its_value() -> None:
    resource = {"resourceType": "Task", "status": "completed", "intent": "order", "for": "Maria Lopez"}
    with pytest.raises(Invalid) as refused:
        validate(resource)
    assert refused.value.path == "Task.for"
    assert "Maria" not in "".join(traceback.format_exception(refused.value))
    assert refused.value.__context__ is None
    with pytest.raises(Invalid):
        validate({"resourceType": "NoSuchThing"})


# ---------------------------------------------------------------- inbound


def potassium(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "k-1",
        "meta": {"versionId": "2", "lastUpdated": "2026-12-07T10:05:00+01:00"},
        "status": "final",
        "code": {
            "coding": [
                {"system": "http://lab.example/codes", "code": "K"},
                {"system": LOINC, "code": "2823-3", "display": "Potassium [Moles/volume] in Serum or Plasma"},
            ]
        },
        "subject": {"identifier": {"system": MRN[0], "value": MRN[1]}},
        "effectiveDateTime": "2026-12-07T07:30:00Z",
        "issued": "2026-12-07T09:00:00Z",
        "valueQuantity": {"value": 6.8, "unit": "mmol/l", "system": UCUM, "code": "mmol/L"},
        "interpretation": [
            {"coding": [{"system": "http://lab.example/flags", "code": "crit"}]},
            {"coding": [{"system": V3_INTERPRETATION, "code": "HH"}]},
        ],
        "referenceRange": [{"low": {"value": 3.5}, "high": {"value": 5.1}}],
    }
    return changed(resource, changes)


def test_a_critical_potassium_reads_in_with_its_loinc_code_value_range_and_interpretation() -> None:
    parsed = parse(body(potassium()))
    assert parsed.skipped == []
    [item] = parsed.items
    assert (item.resource_type, item.patient, item.entry) == ("Observation", [MRN], None)
    assert item.record == ResultRecord(
        source_id="k-1",
        version="2",
        last_updated=datetime(2026, 12, 7, 9, 5, tzinfo=UTC),
        status="final",
        code=Coding(system=LOINC, code="2823-3", display="Potassium [Moles/volume] in Serum or Plasma"),
        value=6.8,
        unit="mmol/L",
        low=3.5,
        high=5.1,
        interpretation="HH",
        issued=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        effective=datetime(2026, 12, 7, 7, 30, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"valueQuantity": {"value": 4, "unit": "mmol per litre"}}, {"value": 4.0, "unit": "mmol per litre"}),
        ({"valueQuantity": None, "valueString": "hemolysed"}, {"value": None, "value_text": "hemolysed"}),
        (
            {"valueQuantity": None, "valueCodeableConcept": {"coding": [{"code": "260385009"}]}},
            {"value": None, "value_text": "260385009"},
        ),
        ({"effectiveDateTime": "2026-12-07"}, {"effective": datetime(2026, 12, 7, tzinfo=UTC)}),
        (
            {"effectiveDateTime": None, "effectivePeriod": {"start": "2026-12-07T08:00:00-05:00"}},
            {"effective": datetime(2026, 12, 7, 13, 0, tzinfo=UTC)},
        ),
        ({"interpretation": [{"coding": [{"code": "L"}]}]}, {"interpretation": "L"}),
        (
            {"interpretation": [{"coding": [{"system": "http://lab.example/flags", "code": "H"}]}]},
            {"interpretation": None},
        ),
        (
            {"code": {"coding": [{"system": "http://lab.example/codes", "code": "K"}]}},
            {"code": Coding(system="http://lab.example/codes", code="K")},
        ),
    ],
)
def test_observation_values_units_times_and_codes(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    [item] = parse(body(potassium(**changes))).items
    assert isinstance(item.record, ResultRecord)
    assert {k: getattr(item.record, k) for k in expected} == expected


def lab_report_bundle() -> dict[str, Any]:
    patient_url = "urn:uuid:8f0f1c1e-0000-4000-8000-000000000001"
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": patient_url,
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"family": "Lopez", "given": ["Maria"]}],
                    "identifier": [
                        {"system": MRN[0], "value": MRN[1]},
                        {"value": "no-system-so-not-used"},
                        {"system": "http://hospital.example/sid/ssn"},
                    ],
                },
            },
            {
                "fullUrl": "urn:uuid:8f0f1c1e-0000-4000-8000-000000000002",
                "resource": {
                    "resourceType": "DiagnosticReport",
                    "id": "bmp-9",
                    "status": "final",
                    "code": {
                        "coding": [{"system": LOINC, "code": "51990-0", "display": "Basic metabolic panel"}]
                    },
                    "subject": {"reference": patient_url},
                    "issued": "2026-12-07T09:00:00Z",
                    "result": [
                        {"reference": "urn:uuid:8f0f1c1e-0000-4000-8000-000000000003"},
                        {"reference": "Observation/na-1"},
                    ],
                },
            },
            {
                "fullUrl": "urn:uuid:8f0f1c1e-0000-4000-8000-000000000003",
                "resource": potassium(subject={"reference": patient_url}),
            },
            {
                "fullUrl": "https://lab.example/fhir/Observation/na-1",
                "resource": potassium(
                    id="na-1",
                    code={"coding": [{"system": LOINC, "code": "2951-2"}]},
                    valueQuantity={"value": 139, "unit": "mmol/L"},
                    interpretation=[{"coding": [{"system": V3_INTERPRETATION, "code": "N"}]}],
                    subject=None,
                ),
            },
        ],
    }


def test_a_lab_report_bundle_gives_the_report_and_its_results_for_the_patient_it_references() -> None:
    parsed = parse(body(lab_report_bundle()))
    # Then the Patient is only there to be referenced, and its name plays no part
    assert parsed.skipped == [(0, "Patient")]
    report, first, second = parsed.items
    assert [i.entry for i in parsed.items] == [1, 2, 3]
    assert all(i.patient == [MRN] for i in parsed.items)  # the second result names none: the report's
    assert isinstance(report.record, ReportRecord)
    assert report.record.result_ids == ["k-1", "na-1"]
    assert report.record.code == Coding(system=LOINC, code="51990-0", display="Basic metabolic panel")
    assert isinstance(first.record, ResultRecord) and isinstance(second.record, ResultRecord)
    assert (first.record.report_id, first.record.value) == ("bmp-9", 6.8)
    assert (second.record.report_id, second.record.code.code, second.record.value) == (
        "bmp-9",
        "2951-2",
        139.0,
    )


def test_observations_contained_in_a_report_are_results_of_it_with_ids_local_to_it() -> None:
    report = {
        "resourceType": "DiagnosticReport",
        "id": "cbc-3",
        "status": "corrected",
        "code": {"coding": [{"system": LOINC, "code": "58410-2"}]},
        "subject": {"reference": "#p"},
        "effectivePeriod": {"start": "2026-12-07T07:00:00Z"},
        "contained": [
            {"resourceType": "Patient", "id": "p", "identifier": [{"system": MRN[0], "value": MRN[1]}]},
            {
                "resourceType": "Observation",
                "id": "hb",
                "status": "corrected",
                "code": {"coding": [{"system": LOINC, "code": "718-7"}]},
                "valueQuantity": {"value": 6.1, "system": UCUM, "code": "g/dL"},
                "interpretation": [{"coding": [{"system": V3_INTERPRETATION, "code": "LL"}]}],
            },
        ],
        "result": [{"reference": "#hb"}],
    }
    parsed = parse(body(report))
    header, result = parsed.items
    assert isinstance(header.record, ReportRecord) and isinstance(result.record, ResultRecord)
    assert header.record.result_ids == ["cbc-3#hb"]
    assert header.record.effective == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    assert (result.record.source_id, result.record.report_id, result.record.status) == (
        "cbc-3#hb",
        "cbc-3",
        "corrected",
    )
    assert (result.record.value, result.record.unit, result.record.interpretation) == (6.1, "g/dL", "LL")
    assert header.patient == result.patient == [MRN]


def discharge(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": "enc-77",
        "meta": {"versionId": "5", "lastUpdated": "2026-12-07T12:00:00Z"},
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/pt-9"},
        "period": {"start": "2026-12-01T22:10:00Z", "end": "2026-12-07T11:45:00Z"},
        "hospitalization": {
            "dischargeDisposition": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/discharge-disposition", "code": "home"}
                ]
            }
        },
        "location": [{"location": {"reference": "Location/w4"}}],
    }
    return changed(resource, changes)


def test_a_discharge_in_a_transaction_bundle_reads_in_as_an_encounter() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "https://hospital.example/fhir/Patient/pt-9",
                "resource": {
                    "resourceType": "Patient",
                    "id": "pt-9",
                    "identifier": [{"system": MRN[0], "value": MRN[1]}],
                },
                "request": {"method": "PUT", "url": "Patient/pt-9"},
            },
            {
                "fullUrl": "https://hospital.example/fhir/Location/w4",
                "resource": {"resourceType": "Location", "id": "w4", "name": "Ward 4 West"},
                "request": {"method": "PUT", "url": "Location/w4"},
            },
            {"resource": discharge(), "request": {"method": "PUT", "url": "Encounter/enc-77"}},
            {"request": {"method": "DELETE", "url": "Encounter/enc-76"}},
        ],
    }
    parsed = parse(body(bundle))
    assert parsed.skipped == [(0, "Patient"), (1, "Location"), (3, "(none)")]
    [item] = parsed.items
    assert (item.resource_type, item.patient, item.entry) == ("Encounter", [MRN], 2)
    assert item.record == EncounterRecord(
        source_id="enc-77",
        version="5",
        last_updated=datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
        status="finished",
        class_code="IMP",
        period_start=datetime(2026, 12, 1, 22, 10, tzinfo=UTC),
        period_end=datetime(2026, 12, 7, 11, 45, tzinfo=UTC),
        location="Ward 4 West",
        discharge_disposition="home",
    )


def test_a_message_bundle_skips_its_header_and_unknown_types_without_echoing_them() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {
                "fullUrl": "urn:uuid:8f0f1c1e-0000-4000-8000-00000000000a",
                "resource": {
                    "resourceType": "MessageHeader",
                    "eventCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0003", "code": "A03"},
                    "source": {"endpoint": "https://hospital.example/adt"},
                },
            },
            {
                "resource": discharge(
                    id=None,
                    identifier=[{"system": "https://hospital.example/visit", "value": "V-881"}],
                    subject={"identifier": {"system": MRN[0], "value": MRN[1]}},
                    location=[{"location": {"display": "ED bay 3"}}],
                    **{"class": {"code": "EMER"}},
                )
            },
            {"resource": {"resourceType": "MariaLopezRecord", "id": "x"}},
        ],
    }
    parsed = parse(body(bundle))
    assert parsed.skipped == [(0, "MessageHeader"), (2, "(unknown)")]
    [item] = parsed.items
    assert isinstance(item.record, EncounterRecord)
    # no id: its business identifier stands in, so a later update of it is recognised
    assert (item.record.source_id, item.record.class_code, item.record.location) == (
        "https://hospital.example/visit|V-881",
        "EMER",
        "ED bay 3",
    )
    assert item.entry == 1


def ehr_appointment(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": "ap-5",
        "meta": {"lastUpdated": "2026-12-02T08:00:00Z"},
        "status": "cancelled",
        "cancelationReason": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                    "code": "prov",
                }
            ]
        },
        "appointmentType": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "FOLLOWUP"}]
        },
        "start": "2026-12-09T14:00:00-05:00",
        "end": "2026-12-09T14:20:00-05:00",
        "contained": [
            {
                "resourceType": "Practitioner",
                "id": "dr",
                "identifier": [{"system": NPI_SYSTEM, "value": NPI}],
            },
        ],
        "participant": [
            {
                "actor": {"reference": "Patient/e-1", "identifier": {"system": MRN[0], "value": MRN[1]}},
                "status": "accepted",
            },
            {"actor": {"reference": "#dr", "display": "Dr. Ruiz"}, "status": "accepted"},
            {
                "actor": {
                    "type": "PractitionerRole",
                    "identifier": {"system": OUR_PROVIDER_SYSTEM, "value": PROVIDER},
                },
                "status": "accepted",
            },
            {
                "actor": {
                    "reference": "Location/room-2",
                    "identifier": {"system": "urn:rooms", "value": "2"},
                },
                "status": "accepted",
            },
            {"actor": {"identifier": {"system": "urn:who-knows", "value": "7"}}, "status": "accepted"},
        ],
    }
    return changed(resource, changes)


def test_an_ehr_appointment_reads_in_with_its_practitioners_by_identifier() -> None:
    [item] = parse(body(ehr_appointment())).items
    assert (item.resource_type, item.patient) == ("Appointment", [MRN])
    assert item.record == ExternalAppointment(
        source_id="ap-5",
        last_updated=datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
        status="cancelled",
        start=datetime(2026, 12, 9, 19, 0, tzinfo=UTC),
        end=datetime(2026, 12, 9, 19, 20, tzinfo=UTC),
        practitioners=[(NPI_SYSTEM, NPI), (OUR_PROVIDER_SYSTEM, PROVIDER)],
        appointment_type="FOLLOWUP",
        cancelation_reason="prov",
    )


def bundle_of(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def deep(levels: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "https://x.example/e", "valueString": "x"}
    for _ in range(levels):
        extension = {"url": "https://x.example/e", "extension": [extension]}
    return potassium(extension=[extension])


MALFORMED: list[tuple[str, bytes, str, str]] = [
    (
        "a value that is no number, in entry 2",
        body(bundle_of(potassium(), potassium(), potassium(valueQuantity={"value": "abc"}))),
        "Bundle.entry[2].resource.valueQuantity.value",
        "structure",
    ),
    ("a status outside its value set", body(potassium(status="bogus")), "Observation.status", "code"),
    (
        "an encounter status outside its value set, in a transaction",
        body(bundle_of(discharge(status="discharged"), kind="transaction")),
        "Bundle.entry[0].resource.status",
        "code",
    ),
    (
        "a v3 class that is no encounter class",
        body(discharge(**{"class": {"code": "INPT"}})),
        "Encounter.class.code",
        "code",
    ),
    (
        "a report status outside its value set",
        body(bundle_of(potassium(), {**lab_report_bundle()["entry"][1]["resource"], "status": "done"})),
        "Bundle.entry[1].resource.status",
        "code",
    ),
    (
        "an appointment status of R5",
        body(ehr_appointment(status="checked-out")),
        "Appointment.status",
        "code",
    ),
    ("a search result", body(bundle_of(potassium(), kind="searchset")), "Bundle.type", "unsupported-bundle"),
    ("a document", body(bundle_of(potassium(), kind="document")), "Bundle.type", "unsupported-bundle"),
    ("a bundle type FHIR does not have", body(bundle_of(potassium(), kind="bunch")), "Bundle.type", "code"),
    ("no bundle type", body({"resourceType": "Bundle", "entry": []}), "Bundle.type", "structure"),
    ("not JSON", b'{"resourceType": "Observation",', "", "invalid-json"),
    ("not UTF-8", b'{"resourceType": "Observ\xff"}', "", "invalid-json"),
    (
        "NaN, which JSON does not have",
        b'{"resourceType": "Observation", "valueQuantity": {"value": NaN}}',
        "",
        "invalid-json",
    ),
    ("a JSON array", b"[]", "", "not-fhir"),
    ("no resourceType", body({"status": "final"}), "resourceType", "not-fhir"),
    ("a result without a code", body(potassium(code={"text": "K+"})), "Observation.code.coding", "code"),
    (
        "a subject that is a group",
        body(potassium(subject={"reference": "Group/ward-4"})),
        "Observation.subject",
        "missing-subject",
    ),
    (
        "a subject reference that resolves to nothing and carries no identifier",
        body(potassium(subject={"reference": "urn:uuid:8f0f1c1e-0000-4000-8000-0000000000ff"})),
        "Observation.subject",
        "missing-subject",
    ),
    (
        "no subject",
        body(potassium(subject=None)),
        "Observation.subject",
        "missing-subject",
    ),
    (
        "an appointment with no patient participant",
        body(ehr_appointment(participant=ehr_appointment()["participant"][1:])),
        "Appointment.participant",
        "missing-subject",
    ),
    (
        "a contained resource of a type R4 does not have",
        body(potassium(contained=[{"resourceType": "Transport", "id": "t"}])),
        "Observation.contained[0].resourceType",
        "structure",
    ),
    (
        "an unknown element named like one",
        body(potassium(valueQuantity={"value": 1, "precision": 2})),
        "Observation.valueQuantity.precision",
        "structure",
    ),
    (
        "an unknown element named like anything",
        body(potassium(**{"Maria Lopez": 1})),
        "Observation.[unknown]",
        "structure",
    ),
    (
        "a resource nested absurdly deep",
        body(deep(40)),
        "Observation" + ".extension[0]" * 32 + ".extension",
        "structure",
    ),
    (
        "an entry resource without a type",
        body(bundle_of({"id": "x"})),
        "Bundle.entry[0].resource.resourceType",
        "structure",
    ),
]


@pytest.mark.parametrize(("what", "raw", "path", "code"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_delivery_names_the_fhir_path_and_the_kind_of_problem(
    what: str, raw: bytes, path: str, code: str
) -> None:
    with pytest.raises(Malformed) as refused:
        parse(raw)
    assert (refused.value.path, refused.value.code) == (path, code)


CANARY = "CANARY Lopez 1962"


@pytest.mark.parametrize(
    "resource",
    [
        potassium(valueQuantity={"value": CANARY}),
        potassium(status=CANARY),
        potassium(effectiveDateTime=CANARY),
        potassium(subject=CANARY),
        potassium(id=CANARY),
        potassium(code={"coding": [{"code": f" {CANARY} "}]}),
        potassium(contained=[{"resourceType": CANARY}]),
        bundle_of(potassium(), kind=CANARY),
        discharge(**{"class": {"code": CANARY}}),
    ],
    ids=["decimal", "status", "dateTime", "reference", "id", "code", "resourceType", "bundle type", "class"],
)
def test_a_malformed_delivery_never_repeats_the_offending_value(resource: dict[str, Any]) -> None:
    with pytest.raises(Malformed) as refused:
        parse(body(resource))
    everything = "".join(traceback.format_exception(refused.value)) + repr(refused.value) + refused.value.path
    assert CANARY.lower() not in everything.lower()
    assert refused.value.__cause__ is None and refused.value.__context__ is None


def test_a_single_resource_we_do_not_process_is_skipped_not_refused() -> None:
    assert parse(body({"resourceType": "Patient", "id": "p"})).skipped == [(None, "Patient")]
    assert parse(body({"resourceType": "Transport", "id": "t"})).skipped == [(None, "(unknown)")]


# ---------------------------------------------------------------- both ways


def test_a_result_written_out_as_fhir_reads_back_the_same() -> None:
    [item] = parse(body(potassium())).items
    assert isinstance(item.record, ResultRecord)
    sent = observation(item.record, [MRN])
    Observation.model_validate(sent)
    [again] = parse(body(sent)).items
    assert (again.record, again.patient) == (item.record, [MRN])


def test_a_result_goes_out_under_our_id_when_given_one() -> None:
    record = ResultRecord(
        source_id="https://lab.example/acc|A-1",
        status="final",
        code=Coding(system=LOINC, code="2345-7"),
        value_text="see note",
    )
    sent = observation(record, [MRN], resource_id="01JD0000000000000000000RES")
    assert (sent["id"], sent["valueString"]) == ("01JD0000000000000000000RES", "see note")
    assert "id" not in observation(record, [MRN])  # "system|value" is no FHIR id


@pytest.mark.parametrize(
    "item",
    [
        Incoming(
            resource_type="Encounter",
            patient=[MRN],
            record=EncounterRecord(source_id="e", status="finished", class_code="IMP"),
        ),
        Incoming(
            resource_type="Observation",
            patient=[MRN],
            record=ResultRecord(source_id="o", status="final", code=Coding(code="x")),
        ),
        Incoming(
            resource_type="DiagnosticReport",
            patient=[MRN],
            record=ReportRecord(source_id="r", status="final", code=Coding(code="x"), result_ids=[]),
        ),
        Incoming(
            resource_type="Appointment",
            patient=[MRN],
            record=ExternalAppointment(source_id="a", status="booked"),
        ),
    ],
    ids=["encounter", "result", "report", "appointment"],
)
def test_an_incoming_item_stored_as_json_comes_back_as_the_same_kind_of_record(item: Incoming) -> None:
    # a parked item (unmatched patient) is stored and processed later from its JSON
    again = Incoming.model_validate_json(item.model_dump_json())
    assert again == item and type(again.record) is type(item.record)
