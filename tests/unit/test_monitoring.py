"""Remote monitoring (shared/domain/monitoring.py): readings checked and converted to canonical UCUM
units, thresholds by precedence, out-of-range and trend findings, alerts raised once, summaries.

Numbers a care team would check by hand:
- 150 lb = 68.04 kg (1 lb = 0.45359237 kg); 5.5 mmol/L glucose = 99.09 mg/dL (x 18.016);
  98.6 °F = 37.0 °C.
- Heart failure weight rule: more than 0.9 kg (≈ 2 lb) in a day or 2.3 kg (≈ 5 lb) in a week.
- A value beyond a bound is out of range, the bound itself is not: systolic 180 is fine, 181 is H.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.monitoring import (
    CATALOG,
    RECORDED,
    EffectiveThreshold,
    Finding,
    Interpretation,
    Measure,
    MonitoringPolicy,
    ObservationIn,
    SeriesSummary,
    Threshold,
    ThresholdSource,
    TrendFinding,
    TrendRule,
    canonical,
    check_time,
    finding_keys,
    missed_after,
    newly_raised,
    out_of_range,
    summarize,
    thresholds_for,
    trends,
)

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
LB = 0.45359237
ORG = ThresholdSource.ORGANIZATION
PLAN = ThresholdSource.CARE_PLAN


def reading(code: Measure, value: float | None, unit: str | None, **more: Any) -> ObservationIn:
    return ObservationIn.model_validate({"code": code, "value": value, "unit": unit, **more})


def bp(systolic: float, diastolic: float, unit: str = "mm[Hg]") -> ObservationIn:
    return ObservationIn.model_validate(
        {
            "code": "85354-9",
            "components": [
                {"code": "8480-6", "value": systolic, "unit": unit},
                {"code": "8462-4", "value": diastolic, "unit": unit},
            ],
        }
    )


def lb(pounds: float) -> float:
    return canonical(reading(Measure.WEIGHT, pounds, "[lb_av]"))[Measure.WEIGHT]


# ---------------------------------------------------------------- the catalog


@pytest.mark.parametrize(
    ("code", "display", "unit"),
    [
        (Measure.BLOOD_PRESSURE, "Blood pressure", "mm[Hg]"),
        (Measure.SYSTOLIC, "Systolic blood pressure", "mm[Hg]"),
        (Measure.DIASTOLIC, "Diastolic blood pressure", "mm[Hg]"),
        (Measure.WEIGHT, "Body weight", "kg"),
        (Measure.GLUCOSE, "Glucose", "mg/dL"),
        (Measure.SPO2, "Oxygen saturation", "%"),
        (Measure.HEART_RATE, "Heart rate", "/min"),
        (Measure.PAIN, "Pain severity", "{score}"),
        (Measure.TEMPERATURE, "Body temperature", "Cel"),
    ],
)
def test_each_measure_has_its_name_and_canonical_ucum_unit(code: Measure, display: str, unit: str) -> None:
    assert (CATALOG[code].display, CATALOG[code].unit) == (display, unit)


def test_blood_pressure_components_cannot_be_sent_alone() -> None:
    assert frozenset(Measure) - RECORDED == {Measure.SYSTOLIC, Measure.DIASTOLIC}


# ---------------------------------------------------------------- a reading


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected"),
    [
        (Measure.WEIGHT, 70, "kg", 70.0),
        (Measure.WEIGHT, 70500, "g", 70.5),
        (Measure.WEIGHT, 150, "[lb_av]", 68.04),
        (Measure.GLUCOSE, 120, "mg/dL", 120.0),
        (Measure.GLUCOSE, 5.5, "mmol/L", 99.09),
        (Measure.SPO2, 97, "%", 97.0),
        (Measure.HEART_RATE, 72, "/min", 72.0),
        (Measure.PAIN, 4, "{score}", 4.0),
        (Measure.PAIN, 7, "1", 7.0),
        (Measure.TEMPERATURE, 37.2, "Cel", 37.2),
        (Measure.TEMPERATURE, 98.6, "[degF]", 37.0),
        (Measure.TEMPERATURE, 100.4, "[degF]", 38.0),
    ],
)
def test_each_accepted_unit_converts_to_the_canonical_one(
    code: Measure, value: float, unit: str, expected: float
) -> None:
    assert canonical(reading(code, value, unit)) == {code: expected}


def test_blood_pressure_is_keyed_by_its_components_in_any_order() -> None:
    body = {
        "code": "85354-9",
        "components": [
            {"code": "8462-4", "value": 80, "unit": "mm[Hg]"},
            {"code": "8480-6", "value": 120, "unit": "mm[Hg]"},
        ],
    }
    assert canonical(ObservationIn.model_validate(body)) == {Measure.SYSTOLIC: 120.0, Measure.DIASTOLIC: 80.0}
    assert canonical(bp(135, 85)) == {Measure.SYSTOLIC: 135.0, Measure.DIASTOLIC: 85.0}


def test_a_reading_defaults_to_typed_with_no_time() -> None:
    obs = reading(Measure.HEART_RATE, 72, "/min")
    assert (obs.device, obs.effective_at) == (False, None)


def test_a_weight_of_4000_kg_is_refused_as_implausible() -> None:
    with pytest.raises(
        ValidationError, match=r"Body weight \(29463-7\) is not plausible \(expected 0\.5 to 400 kg"
    ):
        reading(Measure.WEIGHT, 4000, "kg")


@pytest.mark.parametrize(
    ("code", "unit", "low", "high", "step"),
    [
        (Measure.WEIGHT, "kg", 0.5, 400, 0.01),
        (Measure.GLUCOSE, "mg/dL", 10, 1500, 0.01),
        (Measure.SPO2, "%", 50, 100, 0.01),
        (Measure.HEART_RATE, "/min", 20, 300, 0.01),
        (Measure.TEMPERATURE, "Cel", 30, 45, 0.01),
        (Measure.PAIN, "{score}", 0, 10, 1),
    ],
)
def test_plausible_range_includes_its_bounds(
    code: Measure, unit: str, low: float, high: float, step: float
) -> None:
    assert canonical(reading(code, low, unit)) == {code: low}
    assert canonical(reading(code, high, unit)) == {code: high}
    for outside in (low - step, high + step):
        with pytest.raises(ValidationError, match="is not plausible"):
            reading(code, outside, unit)


@pytest.mark.parametrize(
    ("systolic", "diastolic", "ok"),
    [
        (40, 30, True),
        (39.99, 30, False),
        (300, 100, True),
        (300.01, 100, False),
        (120, 20, True),
        (120, 19.99, False),
        (210, 200, True),
        (210, 200.01, False),
    ],
)
def test_blood_pressure_components_have_their_own_plausible_ranges(
    systolic: float, diastolic: float, ok: bool
) -> None:
    if ok:
        assert canonical(bp(systolic, diastolic)) == {
            Measure.SYSTOLIC: systolic,
            Measure.DIASTOLIC: diastolic,
        }
    else:
        with pytest.raises(ValidationError, match="is not plausible"):
            bp(systolic, diastolic)


def test_plausibility_is_judged_after_conversion() -> None:
    assert lb(880) == 399.16
    with pytest.raises(ValidationError, match=r"Body weight .* is not plausible"):
        reading(Measure.WEIGHT, 900, "[lb_av]")
    with pytest.raises(ValidationError, match="not plausible"):
        reading(Measure.GLUCOSE, 84, "mmol/L")  # 1513.34 mg/dL


@pytest.mark.parametrize(
    ("code", "unit", "accepted"),
    [
        (Measure.WEIGHT, "lb", "kg, g, [lb_av]"),
        (Measure.GLUCOSE, "mg/dl", "mg/dL, mmol/L"),
        (Measure.TEMPERATURE, "[degC]", "Cel, [degF]"),
        (Measure.PAIN, "%", "{score}, 1"),
        (Measure.SPO2, "1", "%"),
        (Measure.HEART_RATE, "bpm", "/min"),
    ],
)
def test_a_unit_not_accepted_is_refused_naming_the_accepted_ones(
    code: Measure, unit: str, accepted: str
) -> None:
    with pytest.raises(
        ValidationError,
        match=f"the unit is not one of .*: use one of {re.escape(accepted)}",
    ):
        reading(code, 70, unit)


def test_a_blood_pressure_component_unit_must_be_mm_hg() -> None:
    with pytest.raises(
        ValidationError, match=r"the unit is not one of Systolic blood pressure.*use one of mm\[Hg\]"
    ):
        bp(16, 10.7, unit="kPa")


@pytest.mark.parametrize(
    "components",
    [
        None,
        [],
        [{"code": "8480-6", "value": 120, "unit": "mm[Hg]"}],
        [{"code": "8462-4", "value": 80, "unit": "mm[Hg]"}],
        [
            {"code": "8480-6", "value": 120, "unit": "mm[Hg]"},
            {"code": "8480-6", "value": 80, "unit": "mm[Hg]"},
        ],
        [{"code": "8480-6", "value": 120, "unit": "mm[Hg]"}, {"code": "8867-4", "value": 80, "unit": "/min"}],
    ],
)
def test_blood_pressure_needs_one_systolic_and_one_diastolic(components: list[dict[str, Any]] | None) -> None:
    with pytest.raises(
        ValidationError, match=r"needs one systolic \(8480-6\) and one diastolic \(8462-4\) component"
    ):
        ObservationIn.model_validate({"code": "85354-9", "components": components})


def test_blood_pressure_takes_at_most_two_components() -> None:
    body = {
        "code": "85354-9",
        "components": [
            {"code": c, "value": v, "unit": "mm[Hg]"}
            for c, v in [("8480-6", 120), ("8462-4", 80), ("8480-6", 125)]
        ],
    }
    with pytest.raises(ValidationError) as raised:
        ObservationIn.model_validate(body)
    assert raised.value.errors()[0]["type"] == "too_long"


@pytest.mark.parametrize(("value", "unit"), [(120, None), (None, "mm[Hg]"), (120, "mm[Hg]")])
def test_blood_pressure_has_no_value_or_unit_of_its_own(value: float | None, unit: str | None) -> None:
    body = bp(120, 80).model_dump() | {"value": value, "unit": unit}
    with pytest.raises(ValidationError, match="no value or unit of its own"):
        ObservationIn.model_validate(body)


@pytest.mark.parametrize(("systolic", "diastolic"), [(80, 80), (80, 120)])
def test_systolic_must_be_above_diastolic(systolic: float, diastolic: float) -> None:
    with pytest.raises(ValidationError, match="systolic must be above diastolic"):
        bp(systolic, diastolic)


def test_systolic_one_above_diastolic_is_accepted() -> None:
    assert canonical(bp(81, 80)) == {Measure.SYSTOLIC: 81.0, Measure.DIASTOLIC: 80.0}


@pytest.mark.parametrize("code", [Measure.SYSTOLIC, Measure.DIASTOLIC])
def test_a_component_code_cannot_be_the_observation(code: Measure) -> None:
    with pytest.raises(
        ValidationError, match=f"{code.value}. is a component of blood pressure: send 85354-9"
    ):
        reading(code, 100, "mm[Hg]")


def test_only_blood_pressure_has_components() -> None:
    with pytest.raises(
        ValidationError, match=r"only blood pressure has components: send Body weight \(29463-7\)"
    ):
        reading(Measure.WEIGHT, 70, "kg", components=[{"code": "8480-6", "value": 120, "unit": "mm[Hg]"}])


@pytest.mark.parametrize(("value", "unit"), [(70, None), (None, "kg"), (None, None)])
def test_other_measures_need_a_value_and_a_unit(value: float | None, unit: str | None) -> None:
    with pytest.raises(ValidationError, match=r"Body weight \(29463-7\) needs a value and a unit"):
        reading(Measure.WEIGHT, value, unit)


@pytest.mark.parametrize("value", [3.5, 0.01, 9.99])
def test_pain_is_a_whole_number(value: float) -> None:
    with pytest.raises(ValidationError, match=r"Pain severity \(72514-3\) is a whole number"):
        reading(Measure.PAIN, value, "{score}")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(value: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        reading(Measure.HEART_RATE, value, "/min")
    with pytest.raises(ValidationError, match="finite"):
        bp(value, 80)


def test_unknown_fields_and_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        reading(Measure.WEIGHT, 70, "kg", status="final")
    with pytest.raises(ValidationError, match="timezone"):
        reading(Measure.WEIGHT, 70, "kg", effective_at="2026-03-10T09:00:00")
    with pytest.raises(ValidationError, match="at most 20 characters"):
        reading(Measure.WEIGHT, 70, "k" * 21)
    with pytest.raises(ValidationError, match="at most 20 characters"):
        bp(120, 80, unit="m" * 21)


@pytest.mark.parametrize(
    ("effective_at", "problem"),
    [
        (NOW + timedelta(minutes=5), None),
        (NOW + timedelta(minutes=5, seconds=1), "more than 5 minutes ahead of now"),
        (NOW + timedelta(minutes=6), "more than 5 minutes ahead of now"),
        (NOW, None),
        (NOW - timedelta(days=30), None),
        (NOW - timedelta(days=30, seconds=1), "more than 30 days ago"),
        (NOW - timedelta(days=31), "more than 30 days ago"),
    ],
)
def test_check_time_allows_5_minutes_ahead_and_30_days_back(
    effective_at: datetime, problem: str | None
) -> None:
    if problem is None:
        check_time(effective_at, NOW)
    else:
        with pytest.raises(ValueError, match=problem):
            check_time(effective_at, NOW)


# ---------------------------------------------------------------- the policy


def test_the_default_policy() -> None:
    policy = MonitoringPolicy()
    assert [(t.code, t.low, t.high, t.critical_low, t.critical_high) for t in policy.thresholds] == [
        (Measure.SYSTOLIC, 90, 180, None, None),
        (Measure.DIASTOLIC, None, 110, None, None),
        (Measure.SPO2, 90, None, 85, None),
        (Measure.HEART_RATE, 50, 120, None, None),
        (Measure.GLUCOSE, 70, 300, 54, None),
        (Measure.TEMPERATURE, None, 38.0, None, None),
    ]
    assert [(r.id, r.code, r.rise, r.fall, r.within_days) for r in policy.trends] == [
        ("weight-gain-day", Measure.WEIGHT, 0.9, None, 1),
        ("weight-gain-week", Measure.WEIGHT, 2.3, None, 7),
    ]
    assert [missed_after(policy, f) for f in ("daily", "twice-daily", "weekly")] == [2 * DAY, DAY, 9 * DAY]


def test_a_policy_keeps_the_default_for_a_frequency_it_leaves_out() -> None:
    policy = MonitoringPolicy.model_validate({"missed_after_days": {"weekly": 14}})
    assert [missed_after(policy, f) for f in ("daily", "twice-daily", "weekly")] == [2 * DAY, DAY, 14 * DAY]
    with pytest.raises(ValueError, match="monthly"):
        missed_after(policy, "monthly")


@pytest.mark.parametrize(("days", "ok"), [(0, False), (1, True), (30, True), (31, False)])
def test_days_run_from_1_to_30(days: int, ok: bool) -> None:
    rule = {"id": "weight-gain", "code": "29463-7", "rise": 1, "within_days": days}
    if ok:
        assert TrendRule.model_validate(rule).within_days == days
        assert missed_after(
            MonitoringPolicy.model_validate({"missed_after_days": {"daily": days}}), "daily"
        ) == (days * DAY)
    else:
        with pytest.raises(ValidationError):
            TrendRule.model_validate(rule)
        with pytest.raises(ValidationError):
            MonitoringPolicy.model_validate({"missed_after_days": {"daily": days}})


def test_one_threshold_per_code() -> None:
    body = {"thresholds": [{"code": "8867-4", "high": 120}, {"code": "8867-4", "low": 40}]}
    with pytest.raises(ValidationError, match=r"one threshold per code: Heart rate \(8867-4\) has 2"):
        MonitoringPolicy.model_validate(body)


def test_rule_ids_are_unique() -> None:
    rule = {"id": "weight-gain", "code": "29463-7", "rise": 1, "within_days": 1}
    with pytest.raises(ValidationError, match="rule ids are unique"):
        MonitoringPolicy.model_validate({"trends": [rule, rule | {"within_days": 7}]})


def test_a_policy_holds_at_most_one_threshold_per_measure_and_20_rules() -> None:
    too_many = [{"code": "8867-4", "high": 120 + i} for i in range(len(Measure) + 1)]
    with pytest.raises(ValidationError) as raised:
        MonitoringPolicy.model_validate({"thresholds": too_many})
    assert raised.value.errors()[0]["type"] == "too_long"
    rules = [{"id": f"rule-{i}", "code": "29463-7", "rise": 1, "within_days": 1} for i in range(21)]
    assert len(MonitoringPolicy.model_validate({"trends": rules[:20]}).trends) == 20
    with pytest.raises(ValidationError, match="at most 20 items"):
        MonitoringPolicy.model_validate({"trends": rules})


@pytest.mark.parametrize(
    ("threshold", "problem"),
    [
        ({"code": "8867-4"}, "give a low, a high or both"),
        ({"code": "8867-4", "low": 100, "high": 100}, "low must be below high"),
        ({"code": "8867-4", "low": 101, "high": 100}, "low must be below high"),
        ({"code": "8867-4", "low": 50, "critical_low": 50.01}, "critical_low must be at or below low"),
        ({"code": "8867-4", "high": 120, "critical_high": 119.99}, "critical_high must be at or above high"),
        ({"code": "85354-9", "high": 140}, "not blood pressure itself"),
        ({"code": "8867-4", "high": 120, "note": "x"}, "Extra inputs"),
        ({"code": "8867-4", "high": math.nan}, "finite"),
    ],
)
def test_a_threshold_that_makes_no_sense_is_refused(threshold: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Threshold.model_validate(threshold)


@pytest.mark.parametrize("side", ["rise", "fall"])
def test_a_trend_rule_may_take_a_small_amount(side: str) -> None:
    rule = TrendRule.model_validate({"id": "small", "code": "8867-4", "within_days": 1, side: 0.5})
    assert getattr(rule, side) == 0.5


def test_a_threshold_may_put_its_critical_bound_on_its_plain_one() -> None:
    t = Threshold(code=Measure.HEART_RATE, low=50, high=50.01, critical_low=50, critical_high=50.01)
    assert (t.critical_low, t.critical_high) == (50, 50.01)


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"rise": 1, "fall": 1}, "give a rise or a fall, not both"),
        ({}, "give a rise or a fall"),
        ({"rise": 0}, "greater than 0"),
        ({"fall": 0}, "greater than 0"),
        ({"fall": -1}, "greater than 0"),
        ({"rise": 1, "code": "85354-9"}, "not blood pressure itself"),
        ({"rise": 1, "id": "Weight gain"}, "pattern"),
        ({"rise": 1, "id": "w"}, "pattern"),
    ],
)
def test_a_trend_rule_that_makes_no_sense_is_refused(rule: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        TrendRule.model_validate({"id": "weight-gain", "code": "29463-7", "within_days": 7} | rule)


# ---------------------------------------------------------------- thresholds by precedence


def effective(
    goals: list[tuple[str, str, float, str | None]], patient: list[Threshold] | None = None
) -> dict[Measure, EffectiveThreshold]:
    return {t.code: t for t in thresholds_for(MonitoringPolicy(), goals, patient or [])}


def test_without_goals_or_patient_thresholds_the_organization_s_apply_in_measure_order() -> None:
    found = thresholds_for(MonitoringPolicy(), [], [])
    assert [t.code for t in found] == [
        Measure.SYSTOLIC,
        Measure.DIASTOLIC,
        Measure.GLUCOSE,
        Measure.SPO2,
        Measure.HEART_RATE,
        Measure.TEMPERATURE,
    ]
    assert {t.source for t in found} == {ORG}


@pytest.mark.parametrize("comparator", ["<", "<="])
def test_a_goal_below_a_value_replaces_only_the_high_side(comparator: str) -> None:
    t = effective([("8480-6", comparator, 130, "mm[Hg]")])[Measure.SYSTOLIC]
    assert (t.low, t.high, t.source) == (90, 130, PLAN)


@pytest.mark.parametrize("comparator", [">", ">="])
def test_a_goal_above_a_value_replaces_only_the_low_side_and_keeps_the_critical(comparator: str) -> None:
    t = effective([("59408-5", comparator, 88, "%")])[Measure.SPO2]
    assert (t.low, t.high, t.critical_low, t.source) == (88, None, 85, PLAN)


def test_a_glucose_goal_in_mmol_per_litre_is_converted() -> None:
    t = effective([("2339-0", "<", 10, "mmol/L"), ("2339-0", ">", 4, "mmol/L")])[Measure.GLUCOSE]
    assert (t.low, t.high, t.critical_low, t.source) == (72.06, 180.16, 54, PLAN)


@pytest.mark.parametrize(
    ("comparator", "first", "second", "expected"),
    [
        ("<", 140, 130, (90, 130)),
        ("<", 130, 140, (90, 130)),
        (">", 100, 95, (100, 180)),
        (">", 95, 100, (100, 180)),
    ],
)
def test_the_tighter_of_two_goals_on_one_side_wins(
    comparator: str, first: float, second: float, expected: tuple[float, float]
) -> None:
    t = effective([("8480-6", comparator, first, "mm[Hg]"), ("8480-6", comparator, second, "mm[Hg]")])
    assert (t[Measure.SYSTOLIC].low, t[Measure.SYSTOLIC].high) == expected


def test_a_goal_on_a_measure_without_an_organization_threshold_makes_one() -> None:
    t = effective([("29463-7", "<", 200, "[lb_av]")])[Measure.WEIGHT]
    assert (t.low, t.high, t.critical_low, t.critical_high, t.source) == (None, 90.72, None, None, PLAN)


@pytest.mark.parametrize(
    "goal",
    [
        ("2339-0", "<", 180, "kg"),  # not a unit of glucose
        ("2339-0", "<", 180, None),  # no unit
        ("2339-0", "=", 180, "mg/dL"),
        ("4548-4", "<", 7, "%"),  # HbA1c: not monitored
        ("85354-9", "<", 130, "mm[Hg]"),  # blood pressure itself: which component?
        ("2339-0", "<", 60, "mg/dL"),  # below the organization's low (70)
        ("2339-0", ">", 50, "mg/dL"),  # below the organization's critical low (54)
    ],
)
def test_a_goal_that_cannot_be_used_leaves_the_organization_s_threshold(
    goal: tuple[str, str, float, str | None],
) -> None:
    found = effective([goal, ("8480-6", "<", 130, "mm[Hg]")])
    t = found.pop(Measure.GLUCOSE)
    assert (t.low, t.high, t.critical_low, t.source) == (70, 300, 54, ORG)
    assert found.pop(Measure.SYSTOLIC).high == 130  # the next goal still counts
    assert found == {c: t for c, t in effective([]).items() if c not in (Measure.GLUCOSE, Measure.SYSTOLIC)}


def test_the_patient_s_own_threshold_wins_over_goal_and_organization() -> None:
    mine = Threshold(code=Measure.SYSTOLIC, high=160)
    found = effective([("8480-6", "<", 130, "mm[Hg]")], [mine])
    t = found[Measure.SYSTOLIC]
    assert (t.low, t.high, t.source) == (None, 160, ThresholdSource.PATIENT)
    assert found[Measure.DIASTOLIC].source is ORG


# ---------------------------------------------------------------- out of range


@pytest.mark.parametrize(
    ("code", "value", "interpretation", "bound"),
    [
        (Measure.SYSTOLIC, 180, None, None),
        (Measure.SYSTOLIC, 181, Interpretation.H, 180),
        (Measure.SYSTOLIC, 90, None, None),
        (Measure.SYSTOLIC, 89, Interpretation.L, 90),
        (Measure.DIASTOLIC, 110, None, None),
        (Measure.DIASTOLIC, 111, Interpretation.H, 110),
        (Measure.SPO2, 90, None, None),
        (Measure.SPO2, 89, Interpretation.L, 90),
        (Measure.SPO2, 85, Interpretation.L, 90),
        (Measure.SPO2, 84, Interpretation.LL, 85),
        (Measure.HEART_RATE, 49, Interpretation.L, 50),
        (Measure.HEART_RATE, 50, None, None),
        (Measure.HEART_RATE, 120, None, None),
        (Measure.HEART_RATE, 121, Interpretation.H, 120),
        (Measure.GLUCOSE, 70, None, None),
        (Measure.GLUCOSE, 69, Interpretation.L, 70),
        (Measure.GLUCOSE, 54, Interpretation.L, 70),
        (Measure.GLUCOSE, 53, Interpretation.LL, 54),
        (Measure.GLUCOSE, 300, None, None),
        (Measure.GLUCOSE, 301, Interpretation.H, 300),
        (Measure.TEMPERATURE, 38.0, None, None),
        (Measure.TEMPERATURE, 38.1, Interpretation.H, 38.0),
        (Measure.WEIGHT, 250, None, None),  # no threshold on weight by default
    ],
)
def test_out_of_range_against_the_default_thresholds(
    code: Measure, value: float, interpretation: Interpretation | None, bound: float | None
) -> None:
    found = out_of_range({code: value}, thresholds_for(MonitoringPolicy(), [], []))
    assert [(f.code, f.value, f.interpretation, f.bound, f.source) for f in found] == (
        [] if interpretation is None else [(code, value, interpretation, bound, ORG)]
    )


def test_beyond_a_critical_high_is_hh() -> None:
    mine = Threshold(code=Measure.HEART_RATE, low=40, high=100, critical_high=140)
    thresholds = thresholds_for(MonitoringPolicy(), [], [mine])
    assert [(f.interpretation, f.bound) for f in out_of_range({Measure.HEART_RATE: 141}, thresholds)] == [
        (Interpretation.HH, 140)
    ]
    assert [(f.interpretation, f.bound) for f in out_of_range({Measure.HEART_RATE: 140}, thresholds)] == [
        (Interpretation.H, 100)
    ]


def test_a_blood_pressure_reading_is_judged_by_each_component() -> None:
    values = canonical(bp(185, 115))
    found = out_of_range(values, thresholds_for(MonitoringPolicy(), [("8480-6", "<", 130, "mm[Hg]")], []))
    assert [(f.code, f.interpretation, f.bound, f.source) for f in found] == [
        (Measure.SYSTOLIC, Interpretation.H, 130, PLAN),
        (Measure.DIASTOLIC, Interpretation.H, 110, ORG),
    ]


# ---------------------------------------------------------------- trends

RULES = MonitoringPolicy().trends


def test_3_lb_since_yesterday_raises_weight_gain_day_once() -> None:
    yesterday = (NOW - DAY + timedelta(minutes=10), lb(150))  # 68.04 kg at 09:10
    found = trends(Measure.WEIGHT, NOW, lb(153), [yesterday], RULES)
    assert found == [
        TrendFinding(
            rule_id="weight-gain-day",
            code=Measure.WEIGHT,
            change=1.36,
            baseline=68.04,
            baseline_at=yesterday[0],
            within_days=1,
        )
    ]
    raise_now, alerting = newly_raised(set(), set(finding_keys([], found)))
    assert raise_now == alerting == {"trend:weight-gain-day"}
    # the patient steps on the scale again five minutes later: still found, not raised again
    again = trends(Measure.WEIGHT, NOW + timedelta(minutes=5), lb(153.2), [yesterday, (NOW, lb(153))], RULES)
    assert [f.rule_id for f in again] == ["weight-gain-day"]
    assert newly_raised(alerting, set(finding_keys([], again))) == (set(), {"trend:weight-gain-day"})


def test_1_5_lb_since_yesterday_is_not_a_trend() -> None:
    assert trends(Measure.WEIGHT, NOW, lb(151.5), [(NOW - DAY, lb(150))], RULES) == []


def test_a_gain_of_exactly_the_rule_s_amount_is_not_a_trend() -> None:
    assert trends(Measure.WEIGHT, NOW, 68.94, [(NOW - DAY, 68.04)], RULES) == []
    assert [f.change for f in trends(Measure.WEIGHT, NOW, 68.95, [(NOW - DAY, 68.04)], RULES)] == [0.91]


def test_6_lb_over_6_days_in_small_steps_is_a_weekly_not_a_daily_gain() -> None:
    history = [(NOW - (6 - day) * DAY, lb(150 + day)) for day in range(6)]
    found = trends(Measure.WEIGHT, NOW, lb(156), history[::-1], RULES)
    assert [(f.rule_id, f.change, f.baseline, f.baseline_at) for f in found] == [
        ("weight-gain-week", 2.72, 68.04, NOW - 6 * DAY)
    ]


def test_the_baseline_is_the_lowest_earlier_reading() -> None:
    history = [(NOW - 5 * DAY, 70.0), (NOW - 4 * DAY, 68.0), (NOW - 2 * DAY, 69.0)]
    found = trends(Measure.WEIGHT, NOW, 70.5, history, RULES)
    assert [(f.rule_id, f.baseline, f.change) for f in found] == [("weight-gain-week", 68.0, 2.5)]


def test_the_earliest_of_equal_lowest_readings_is_the_baseline() -> None:
    history = [(NOW - 2 * DAY, 68.0), (NOW - 5 * DAY, 68.0), (NOW - 3 * DAY, 68.0)]
    assert [f.baseline_at for f in trends(Measure.WEIGHT, NOW, 71.0, history, RULES)] == [NOW - 5 * DAY]


def test_readings_at_or_after_the_new_one_are_not_history() -> None:
    assert trends(Measure.WEIGHT, NOW, 70.0, [(NOW, 60.0), (NOW + timedelta(hours=1), 60.0)], RULES) == []
    found = trends(Measure.WEIGHT, NOW, 70.0, [(NOW - timedelta(seconds=1), 69.0)], RULES)
    assert [f.rule_id for f in found] == ["weight-gain-day"]


@pytest.mark.parametrize(("rule_id", "days"), [("weight-gain-day", 1), ("weight-gain-week", 7)])
def test_a_rule_looks_back_its_days_plus_3_hours(rule_id: str, days: int) -> None:
    edge = NOW - days * DAY - timedelta(hours=3)
    assert rule_id in [f.rule_id for f in trends(Measure.WEIGHT, NOW, 80.0, [(edge, 70.0)], RULES)]
    before = edge - timedelta(seconds=1)
    assert rule_id not in [f.rule_id for f in trends(Measure.WEIGHT, NOW, 80.0, [(before, 70.0)], RULES)]


def test_no_history_no_trend_and_rules_on_other_codes_are_ignored() -> None:
    assert trends(Measure.WEIGHT, NOW, 80.0, [], RULES) == []
    assert trends(Measure.GLUCOSE, NOW, 300.0, [(NOW - DAY, 100.0)], RULES) == []


def test_a_fall_rule_compares_with_the_highest_reading() -> None:
    rule = TrendRule(id="spo2-drop", code=Measure.SPO2, fall=4, within_days=2)
    history = [(NOW - DAY, 97.0), (NOW - timedelta(hours=12), 95.0), (NOW - 3 * DAY, 99.0)]
    found = trends(Measure.SPO2, NOW, 92.5, history, [rule])
    assert [(f.rule_id, f.change, f.baseline, f.baseline_at, f.within_days) for f in found] == [
        ("spo2-drop", -4.5, 97.0, NOW - DAY, 2)
    ]
    assert trends(Measure.SPO2, NOW, 93.0, history, [rule]) == []  # exactly 4 down
    assert trends(Measure.SPO2, NOW, 99.0, history, [rule]) == []  # a rise


# ---------------------------------------------------------------- alerts


def test_finding_keys() -> None:
    finding = Finding(
        code=Measure.SYSTOLIC, value=181, interpretation=Interpretation.H, bound=180, source=ORG
    )
    trend = TrendFinding(
        rule_id="weight-gain-day",
        code=Measure.WEIGHT,
        change=1.4,
        baseline=70,
        baseline_at=NOW,
        within_days=1,
    )
    assert finding_keys([finding], [trend]) == {"range:8480-6:H": finding, "trend:weight-gain-day": trend}
    assert finding_keys([], []) == {}


def test_an_alert_is_raised_once_stays_while_found_clears_and_is_raised_again() -> None:
    thresholds = thresholds_for(MonitoringPolicy(), [], [])
    alerting: set[str] = set()
    raised = []
    for systolic in (185, 190, 150, 182):
        keys = set(finding_keys(out_of_range(canonical(bp(systolic, 90)), thresholds), []))
        now, alerting = newly_raised(alerting, keys)
        raised.append((now, set(alerting)))
    assert raised == [
        ({"range:8480-6:H"}, {"range:8480-6:H"}),  # raised
        (set(), {"range:8480-6:H"}),  # still high: nothing new
        (set(), set()),  # back in range: cleared
        ({"range:8480-6:H"}, {"range:8480-6:H"}),  # high again: raised again
    ]


def test_escalating_to_critical_raises_the_new_key_only() -> None:
    raise_now, alerting = newly_raised({"range:59408-5:L"}, {"range:59408-5:LL", "trend:spo2-drop"})
    assert raise_now == {"range:59408-5:LL", "trend:spo2-drop"}
    assert alerting == {"range:59408-5:LL", "trend:spo2-drop"}


# ---------------------------------------------------------------- summaries


def test_summarize_counts_and_changes_within_7_and_30_days() -> None:
    series = [
        (NOW - timedelta(hours=1), 76.0),
        (NOW - 40 * DAY, 80.0),
        (NOW - 8 * DAY, 77.5),
        (NOW - 29 * DAY, 78.0),
        (NOW - 6 * DAY, 77.0),
        (NOW - DAY, 76.5),
    ]
    assert summarize(Measure.WEIGHT, series, NOW) == SeriesSummary(
        code=Measure.WEIGHT,
        unit="kg",
        latest=76.0,
        latest_at=NOW - timedelta(hours=1),
        change_7d=-1.0,
        change_30d=-2.0,
        readings_7d=3,
        readings_30d=5,
    )


@pytest.mark.parametrize(
    ("age", "change_7d", "readings_7d", "change_30d", "readings_30d"),
    [
        (7 * DAY, 1.0, 2, 1.0, 2),
        (7 * DAY + timedelta(seconds=1), None, 1, 1.0, 2),
        (30 * DAY, None, 1, 1.0, 2),
        (30 * DAY + timedelta(seconds=1), None, 1, None, 1),
    ],
)
def test_a_window_includes_a_reading_exactly_its_days_old(
    age: timedelta, change_7d: float | None, readings_7d: int, change_30d: float | None, readings_30d: int
) -> None:
    summary = summarize(Measure.SYSTOLIC, [(NOW, 131.0), (NOW - age, 130.0)], NOW)
    assert summary is not None
    assert (summary.unit, summary.latest, summary.latest_at) == ("mm[Hg]", 131.0, NOW)
    assert (summary.change_7d, summary.readings_7d, summary.change_30d, summary.readings_30d) == (
        change_7d,
        readings_7d,
        change_30d,
        readings_30d,
    )


def test_summarize_rounds_the_change_and_handles_one_or_no_reading() -> None:
    summary = summarize(Measure.WEIGHT, [(NOW - DAY, 68.04), (NOW, 69.4)], NOW)
    assert summary is not None
    assert (summary.change_7d, summary.change_30d) == (1.36, 1.36)
    one = summarize(Measure.WEIGHT, [(NOW - 2 * DAY, 68.04)], NOW)
    assert one is not None
    assert (one.change_7d, one.change_30d, one.readings_7d, one.readings_30d) == (None, None, 1, 1)
    assert summarize(Measure.WEIGHT, [], NOW) is None


def test_every_effective_threshold_says_the_unit_its_bounds_are_in() -> None:
    own = [Threshold(code=Measure.WEIGHT, high=95)]
    goals = [("2339-0", "<", 10.0, "mmol/L")]
    found = {t.code: t for t in thresholds_for(MonitoringPolicy(), goals, own)}
    assert (found[Measure.WEIGHT].unit, found[Measure.WEIGHT].high) == ("kg", 95)
    assert (found[Measure.GLUCOSE].unit, found[Measure.GLUCOSE].high) == ("mg/dL", 180.16)
    assert found[Measure.SYSTOLIC].model_dump()["unit"] == "mm[Hg]"
    assert found[Measure.TEMPERATURE].unit == "Cel"
