"""Assessments and coverage: what intake records about a patient, and what it derives from them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field, model_validator

from shared.domain.base import MULTILINE, Model, Strict
from shared.domain.screening import Score, Screening

MAX_ASSESSMENT_BYTES = 200_000


class Condition(Strict):
    display: str = Field(min_length=1, max_length=200)
    code: str | None = Field(None, max_length=32, description="e.g. an ICD-10-CM or SNOMED CT code")
    system: str | None = Field(None, max_length=120)


class Medication(Strict):
    name: str = Field(min_length=1, max_length=200)
    dose: str | None = Field(None, max_length=120)


class Allergy(Strict):
    substance: str = Field(min_length=1, max_length=200)
    reaction: str | None = Field(None, max_length=200)


class AssessmentIn(Strict):
    """``POST /patients/{id}/assessments``: intake history and the AHC social-needs screening."""

    conditions: list[Condition] = Field(default_factory=list, max_length=100)
    medications: list[Medication] = Field(default_factory=list, max_length=100)
    allergies: list[Allergy] = Field(default_factory=list, max_length=100)
    psychosocial_notes: str | None = Field(None, max_length=4000, json_schema_extra=MULTILINE)
    screening: Screening

    @model_validator(mode="after")
    def _fits(self) -> AssessmentIn:
        # DynamoDB items are capped at 400 KB; field limits count characters, not bytes
        if len(self.model_dump_json().encode()) > MAX_ASSESSMENT_BYTES:
            raise ValueError(
                f"the assessment is over {MAX_ASSESSMENT_BYTES // 1000} kB; shorten the lists or notes"
            )
        return self


class AssessmentOut(AssessmentIn):
    id: str
    patient_id: str
    recorded_at: datetime
    recorded_by: str
    score: Score


class CoverageIn(Strict):
    """``POST /patients/{id}/coverage``: insurance on file."""

    payer: str = Field(min_length=1, max_length=120)
    plan: str | None = Field(None, max_length=120)
    member_id: str = Field(min_length=1, max_length=64)
    group: str | None = Field(None, max_length=64)
    effective_start: date
    effective_end: date | None = None
    rank: Literal["primary", "secondary"] = "primary"

    @model_validator(mode="after")
    def _period(self) -> CoverageIn:
        if self.effective_end is not None and self.effective_end < self.effective_start:
            raise ValueError("effective_end cannot be before effective_start")
        return self


class CoverageOut(CoverageIn):
    id: str
    patient_id: str
    recorded_at: datetime


class ActiveCoverage(Model):
    on: date
    primary: CoverageOut | None = None
    secondary: CoverageOut | None = None


def active_on(coverages: list[CoverageOut], on: date) -> ActiveCoverage:
    """The coverage in force on ``on`` for each rank: of those whose period contains the date, the
    most recently recorded (a newer entry supersedes an older one for the same rank)."""
    active = ActiveCoverage(on=on)
    for coverage in sorted(coverages, key=lambda c: c.recorded_at):
        if coverage.effective_start <= on and (
            coverage.effective_end is None or on <= coverage.effective_end
        ):
            setattr(active, coverage.rank, coverage)
    return active
