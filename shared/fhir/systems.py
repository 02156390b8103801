"""The URIs of the identifier systems, code systems and extensions our FHIR speaks.

Ours live under ``https://careloop.example/fhir`` (``sid/`` identifier systems, ``CodeSystem/`` our
codes, ``StructureDefinition/`` our extensions); the others are the standard ones.
"""

from __future__ import annotations

BASE = "https://careloop.example/fhir"

# identifier systems
OUR_PATIENT_SYSTEM = f"{BASE}/sid/patient"
OUR_PROVIDER_SYSTEM = f"{BASE}/sid/provider"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"

# our code systems: the codes are our enums' values
APPOINTMENT_TYPE_SYSTEM = f"{BASE}/CodeSystem/appointment-type"
CANCEL_REASON_SYSTEM = f"{BASE}/CodeSystem/cancel-reason"
SPECIALTY_SYSTEM = f"{BASE}/CodeSystem/specialty"
TASK_CODE_SYSTEM = f"{BASE}/CodeSystem/task-code"
TASK_BUSINESS_STATUS_SYSTEM = f"{BASE}/CodeSystem/task-business-status"
TASK_STATUS_REASON_SYSTEM = f"{BASE}/CodeSystem/task-status-reason"
ROLE_SYSTEM = f"{BASE}/CodeSystem/role"
REFERRAL_STAGE_URL = f"{BASE}/StructureDefinition/referral-stage"
# on a discharge's Encounter: the TCM complexity the hospital judged (valueCode moderate | high)
TCM_COMPLEXITY_URL = f"{BASE}/StructureDefinition/tcm-complexity"

# standard code systems
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
HL7_CANCEL_REASON = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
