"""Lab results as we keep them, and how urgent each is.

A result's flag comes from the lab's interpretation (FHIR v3-ObservationInterpretation: ``H``/``L``/
``A`` abnormal, ``HH``/``LL``/``AA`` critical), or from the critical values the organization's
``ResultCritical`` rule names (a potassium of 6.8 mmol/L is critical whatever the lab flagged).
A corrected or amended result replaces the one it corrects and keeps what it said before.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from shared.domain.base import Model, Strict
from shared.domain.clinical import Coding, ResultRecord

ABNORMAL = frozenset({"H", "L", "A", "HU", "LU"})
CRITICAL = frozenset({"HH", "LL", "AA"})
CORRECTIONS = frozenset({"corrected", "amended"})
LoincCode = Annotated[str, Field(pattern=r"^[0-9]{1,7}-[0-9]$", examples=["2823-3"])]


class Flag(StrEnum):
    NORMAL = "normal"
    ABNORMAL = "abnormal"
    CRITICAL = "critical"


class CriticalValue(Strict):
    """A LOINC code's critical range: a value at or past ``low``/``high`` (in ``unit``) is critical."""

    code: LoincCode
    unit: str = Field(min_length=1, max_length=20, examples=["mmol/L"])
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> CriticalValue:
        if self.low is None and self.high is None:
            raise ValueError("a critical value names low, high or both")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError("low must be below high")
        return self


def default_critical_values() -> list[CriticalValue]:
    """Common laboratory critical limits (adult; the organization's lab director should own these)."""
    return [
        CriticalValue(code="2823-3", unit="mmol/L", low=2.8, high=6.2),  # potassium, serum/plasma
        CriticalValue(code="6298-4", unit="mmol/L", low=2.8, high=6.2),  # potassium, blood
        CriticalValue(code="2951-2", unit="mmol/L", low=120, high=160),  # sodium
        CriticalValue(code="2345-7", unit="mg/dL", low=40, high=450),  # glucose
        CriticalValue(code="17861-6", unit="mg/dL", low=6.0, high=13.0),  # calcium
        CriticalValue(code="718-7", unit="g/dL", low=7.0, high=20.0),  # hemoglobin
        CriticalValue(code="777-3", unit="10*3/uL", low=20, high=1000),  # platelets
        CriticalValue(code="6301-6", unit="{INR}", high=5.0),  # INR
    ]


def flag(record: ResultRecord, critical: list[CriticalValue]) -> Flag:
    interpretation = (record.interpretation or "").upper()
    if interpretation in CRITICAL or _past_limit(record, critical):
        return Flag.CRITICAL
    if interpretation in ABNORMAL:
        return Flag.ABNORMAL
    return Flag.NORMAL


def _past_limit(record: ResultRecord, critical: list[CriticalValue]) -> bool:
    if record.value is None or record.code.system not in (None, "http://loinc.org"):
        return False
    for limit in critical:
        if limit.code != record.code.code or limit.unit != record.unit:
            continue  # another test, or another unit: never compare across units
        if (limit.low is not None and record.value <= limit.low) or (
            limit.high is not None and record.value >= limit.high
        ):
            return True
    return False


class Previous(Model):
    """What a corrected result said before."""

    status: str
    value: float | None = None
    unit: str | None = None
    value_text: str | None = None
    interpretation: str | None = None
    flag: Flag
    issued: datetime | None = None


class _Result(Model):
    id: str
    code: Coding
    value: float | None = None
    unit: str | None = None
    value_text: str | None = None
    low: float | None = Field(None, description="reference range")
    high: float | None = Field(None, description="reference range")
    interpretation: str | None = Field(None, description="v3-ObservationInterpretation code")
    flag: Flag
    status: str = Field(description="FHIR Observation.status (or DiagnosticReport.status for a report)")
    kind: str = Field(description="Observation, or DiagnosticReport for a report's header")
    issued: datetime | None = None
    effective: datetime | None = None
    report_id: str | None = Field(None, description="the report it came in, by our id")
    corrected: bool = Field(False, description="it replaces an earlier result: see previous")
    previous: Previous | None = None


class ResultOut(_Result):
    """``GET /patients/{id}/results`` for staff."""

    version: int
    partner_id: str
    source_id: str = Field(description="the partner's resource id")
    received_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


class ResultPatientView(_Result):
    """What a patient reads of their own result: no partner ids, no staff."""

    reviewed: bool = Field(description="a clinician has reviewed it")

    @classmethod
    def of(cls, result: ResultOut) -> ResultPatientView:
        return cls(
            **result.model_dump(include=set(_Result.model_fields)),
            reviewed=result.acknowledged_at is not None,
        )


def corrects(held: ResultOut | None, record: ResultRecord) -> bool:
    return held is not None and record.status in CORRECTIONS
