"""A patient's readings as records (the rules they are checked by: :mod:`shared.domain.monitoring`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.domain.base import Model, Strict
from shared.domain.monitoring import (
    CATALOG,
    ComponentIn,
    EffectiveThreshold,
    Finding,
    Measure,
    SeriesSummary,
    Threshold,
    TrendFinding,
)


class Sender(StrEnum):
    PATIENT = "patient"
    STAFF = "staff"
    DEVICE = "device"  # a device partner, through the webhooks area


class ObservationOut(Model):
    id: str
    patient_id: str
    code: Measure
    display: str
    value: float | None = Field(None, description="as sent")
    unit: str | None = Field(None, description="as sent (UCUM)")
    components: list[ComponentIn] | None = None
    values: dict[Measure, float] = Field(description="in the canonical unit, by the code that carries it")
    effective_at: datetime
    recorded_at: datetime
    device: bool = False
    sender: Sender
    recorded_by: str
    interpretation: list[Finding] = Field(default_factory=list, description="out of range when recorded")
    trends: list[TrendFinding] = Field(default_factory=list, description="the trends it showed when recorded")


class ObservationPatientView(Model):
    id: str
    code: Measure
    display: str
    value: float | None = None
    unit: str | None = None
    components: list[ComponentIn] | None = None
    effective_at: datetime
    device: bool = False

    @classmethod
    def of(cls, record: ObservationOut) -> ObservationPatientView:
        return cls(**record.model_dump(include=set(cls.model_fields)))


class MonitorState(Model):
    """A patient's measure now (one per code sent): the latest reading and the alerts it holds raised."""

    code: Measure
    latest_id: str
    latest_at: datetime
    values: dict[Measure, float]
    alerting: list[str] = Field(default_factory=list)


class PatientThresholds(Strict):
    """``PUT /patients/{id}/thresholds``: the patient's own, which win over their plan's and the
    organization's."""

    thresholds: list[Threshold] = Field(default_factory=list, max_length=len(Measure))


class PatientThresholdsOut(PatientThresholds):
    version: int = 0


class EffectiveThresholds(Model):
    """What a patient's readings are checked against now, and where each bound comes from."""

    thresholds: list[EffectiveThreshold]
    version: int = Field(0, description="of the patient's own (what PUT names in If-Match)")


class Summary(Model):
    items: list[SeriesSummary]


def display(code: Measure) -> str:
    return CATALOG[code].display
