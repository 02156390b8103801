"""Observations as records (shared/domain/observations.py): what the patient reads of a reading (no
staff fields: who recorded it, the canonical values, the interpretation) and the names readings are
shown under."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.domain.monitoring import ComponentIn, Finding, Interpretation, Measure, Threshold, ThresholdSource
from shared.domain.observations import (
    ObservationOut,
    ObservationPatientView,
    PatientThresholds,
    Sender,
    display,
)

TAKEN = datetime(2026, 12, 3, 12, 5, tzinfo=UTC)
RECORDED = datetime(2026, 12, 3, 12, 6, tzinfo=UTC)


def blood_pressure() -> ObservationOut:
    return ObservationOut(
        id="obs-1",
        patient_id="pat-1",
        code=Measure.BLOOD_PRESSURE,
        display="Blood pressure",
        components=[
            ComponentIn(code=Measure.SYSTOLIC, value=182, unit="mm[Hg]"),
            ComponentIn(code=Measure.DIASTOLIC, value=95, unit="mm[Hg]"),
        ],
        values={Measure.SYSTOLIC: 182.0, Measure.DIASTOLIC: 95.0},
        effective_at=TAKEN,
        recorded_at=RECORDED,
        device=True,
        sender=Sender.DEVICE,
        recorded_by="partner-omron",
        interpretation=[
            Finding(
                code=Measure.SYSTOLIC,
                value=182,
                interpretation=Interpretation.H,
                bound=180,
                source=ThresholdSource.CARE_PLAN,
            )
        ],
    )


def test_the_patient_reads_their_reading_as_sent_without_staff_fields() -> None:
    view = ObservationPatientView.of(blood_pressure())
    assert view.model_dump(mode="json") == {
        "id": "obs-1",
        "code": "85354-9",
        "display": "Blood pressure",
        "value": None,
        "unit": None,
        "components": [
            {"code": "8480-6", "value": 182.0, "unit": "mm[Hg]"},
            {"code": "8462-4", "value": 95.0, "unit": "mm[Hg]"},
        ],
        "effective_at": "2026-12-03T12:05:00Z",
        "device": True,
    }


def test_a_weight_in_pounds_reads_in_pounds_for_the_patient() -> None:
    weight = ObservationOut(
        id="obs-2",
        patient_id="pat-1",
        code=Measure.WEIGHT,
        display=display(Measure.WEIGHT),
        value=150,
        unit="[lb_av]",
        values={Measure.WEIGHT: 68.04},
        effective_at=TAKEN,
        recorded_at=RECORDED,
        sender=Sender.PATIENT,
        recorded_by="pat-1",
    )
    view = ObservationPatientView.of(weight)
    assert (view.value, view.unit, view.display, view.device, view.components) == (
        150,
        "[lb_av]",
        "Body weight",
        False,
        None,
    )


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        (Measure.BLOOD_PRESSURE, "Blood pressure"),
        (Measure.SYSTOLIC, "Systolic blood pressure"),
        (Measure.GLUCOSE, "Glucose"),
        (Measure.SPO2, "Oxygen saturation"),
        (Measure.TEMPERATURE, "Body temperature"),
    ],
)
def test_a_reading_is_shown_under_its_name(code: Measure, shown: str) -> None:
    assert display(code) == shown


def test_a_patient_s_own_thresholds_are_capped_and_carry_no_version() -> None:
    own = PatientThresholds(thresholds=[Threshold(code=Measure.WEIGHT, high=95)])
    assert own.thresholds[0].high == 95
    with pytest.raises(ValidationError):
        PatientThresholds.model_validate(
            {"thresholds": [{"code": "29463-7", "high": 95}] * (len(Measure) + 1)}
        )
    with pytest.raises(ValidationError):
        PatientThresholds.model_validate({"thresholds": [], "version": 3})  # the version is read, not written
