"""What partners tell us about our patients, as plain records: the FHIR R4 resources we act on
(Encounter, Observation, DiagnosticReport, Appointment), reduced to the fields we use.

:mod:`shared.fhir.inbound` makes these from a partner's FHIR JSON (after the FHIR library checked its
structure and we checked the codes we act on); the webhook processor applies them. Nothing here
imports the FHIR library. Every record keeps the partner's resource id and version, so an older or
repeated update can be told apart from a newer one. Times are timezone-aware (FHIR requires a zone on
every instant and on every dateTime that has a time; a date alone is read as the start of that day in
UTC).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared.domain.base import Model


class Coding(Model):
    """A code from a code system (FHIR Coding): ``system`` is the code system's URI."""

    system: str | None = None
    code: str
    display: str | None = None


class Sourced(Model):
    """Where a record came from: the partner's resource id and ``meta``, to order its updates."""

    source_id: str
    version: str | None = None
    last_updated: AwareDatetime | None = None


class EncounterRecord(Sourced):
    """A hospital stay or visit (FHIR Encounter): admission and discharge notices."""

    status: str
    class_code: str
    period_start: AwareDatetime | None = None
    period_end: AwareDatetime | None = None
    location: str | None = None
    discharge_disposition: str | None = None
    complexity: Literal["moderate", "high"] | None = Field(
        None, description="the TCM complexity the hospital judged (our Encounter extension tcm-complexity)"
    )


class Component(Model):
    """One part of an Observation that has several (a blood pressure's systolic and diastolic)."""

    code: str
    value: float | None = None
    unit: str | None = None


class ResultRecord(Sourced):
    """A lab result (FHIR Observation). ``unit`` is the UCUM code when the lab sent one, else its unit
    text; ``low``/``high`` its reference range; ``report_id`` the partner's id of the report it came
    in, if any."""

    status: str
    code: Coding
    value: float | None = None
    unit: str | None = None
    value_text: str | None = None
    low: float | None = None
    high: float | None = None
    interpretation: str | None = None
    issued: AwareDatetime | None = None
    effective: AwareDatetime | None = None
    report_id: str | None = None
    components: list[Component] = Field(default_factory=list)


class ReportRecord(Sourced):
    """A lab report (FHIR DiagnosticReport): its status and the partner's ids of its results."""

    status: str
    code: Coding
    issued: AwareDatetime | None = None
    effective: AwareDatetime | None = None
    result_ids: list[str]


class ExternalAppointment(Sourced):
    """An appointment booked in a partner's EHR (FHIR Appointment). ``practitioners``: the
    ``(system, value)`` identifiers of its practitioner participants, to find our provider by."""

    status: str
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    practitioners: list[tuple[str, str]] = Field(default_factory=list)
    appointment_type: str | None = None
    cancelation_reason: str | None = None


Clinical = EncounterRecord | ResultRecord | ReportRecord | ExternalAppointment


class Incoming(Model):
    """One resource of a delivery to apply: its record, the ``(system, value)`` identifiers of the
    patient it is about (matched against our patients' identifiers, never by name) and its index in
    the bundle (``None`` for a delivery of a single resource)."""

    resource_type: Literal["Encounter", "Observation", "DiagnosticReport", "Appointment"]
    patient: list[tuple[str, str]]
    record: Clinical
    entry: int | None = None
