"""Events the webhooks area publishes through the outbox: what partners told us about our patients,
as ids and codes (never a value, a name or a partner's identifier for the patient)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.domain.results import Flag
from shared.events.models import DomainEvent

SOURCE = "careloop.webhooks"
Interpretation = Literal["H", "L", "A", "HU", "LU", "HH", "LL", "AA", "N"]
# v3 ActCode encounter classes, the ones a hospital stay is made of (others are stored, not raised)
# FHIR discharge-disposition (http://terminology.hl7.org/CodeSystem/discharge-disposition)
Disposition = Literal[
    "home", "alt-home", "other-hcf", "hosp", "long", "aadvice", "exp", "psy", "rehab", "snf", "oth"
]
DISPOSITIONS = frozenset(Disposition.__args__)  # type: ignore[attr-defined]
EncounterClass = Literal["IMP", "ACUTE", "NONAC", "OBSENC", "EMER", "SS", "PRENC"]
STAY_CLASSES = frozenset(EncounterClass.__args__)  # type: ignore[attr-defined]


class EncounterEvent(DomainEvent):
    source = SOURCE
    patient_id: str
    encounter_id: str
    partner_id: str
    encounter_class: EncounterClass


class PatientAdmitted(EncounterEvent):
    detail_type = "PatientAdmitted"
    admitted_at: datetime | None = None


class PatientDischarged(EncounterEvent):
    """The transitions-of-care work starts here (``discharged_at`` is the period's end)."""

    detail_type = "PatientDischarged"
    discharged_at: datetime
    admitted_at: datetime | None = None
    disposition: Disposition | None = None
    complexity: Literal["moderate", "high"] | None = None  # the hospital's TCM judgement, if it sent one


class ResultEvent(DomainEvent):
    source = SOURCE
    patient_id: str
    result_id: str
    partner_id: str | None = None
    flag: Flag
    corrected: bool = False


class ResultAbnormal(ResultEvent):
    """A lab flagged a result H, L or A: a nurse reviews it (the default rule)."""

    detail_type = "ResultAbnormal"


class ResultCritical(ResultEvent):
    """HH, LL, AA, or past a critical value the organization's rule names: a physician, now."""

    detail_type = "ResultCritical"


class ResultAcknowledged(ResultEvent):
    """A clinician reviewed the result (closes its review tasks; partners may subscribe)."""

    detail_type = "ResultAcknowledged"
