"""Remote patient monitoring: vital signs a patient or their device sends, checked, compared with the
thresholds and trends that matter to their care team, and summed up.

- A **measure** is a LOINC code with a canonical UCUM unit (:data:`CATALOG`). Blood pressure
  (85354-9) is one observation with two components, systolic (8480-6) and diastolic (8462-4), and no
  value of its own; every other measure is a value and a unit. A value is converted to the canonical
  unit (150 [lb_av] → 68.04 kg, 5.5 mmol/L → 99.09 mg/dL, 98.6 [degF] → 37 Cel; 2 decimals) and must
  be plausible there (a weight of 4,000 kg is a typo, not a reading). A reading is taken at most
  5 minutes ahead of now (a device's clock) and at most 30 days ago.
- **Thresholds** (low/high, and critical beyond them: L/H, LL/HH) per code: the patient's own win,
  then a care-plan goal's target (``systolic < 130`` replaces only the high side), then the
  organization's (:class:`MonitoringPolicy`; the defaults until an admin writes one). A value beyond
  a bound is out of range; the bound itself is not.
- **Trends**: a rise (or fall) by more than a rule's amount against the lowest (highest) earlier
  reading within its days, plus 3 hours so yesterday's 09:10 weight counts against today's 09:00.
- **Alerts** are raised once: a key (``range:8480-6:H``, ``trend:weight-gain-day``) is raised when a
  reading finds it and it is not already raised, stays raised while readings keep finding it, and
  clears when a reading no longer does.

Everything here is pure: callers pass the time and the readings.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, NamedTuple

from pydantic import AwareDatetime, Field, ValidationError, computed_field, field_validator, model_validator

from shared.domain.base import Code, Model, Strict

FUTURE_SLACK = timedelta(minutes=5)  # a device's clock a little ahead
MAX_AGE = timedelta(days=30)
TREND_SLACK = timedelta(hours=3)
MAX_DAYS = 30
MAX_RULES = 20
DECIMALS = 2

Finite = Annotated[float, Field(allow_inf_nan=False)]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]


class Frequency(StrEnum):
    """How often a care plan's measurement is taken (its activity's ``frequency``)."""

    DAILY = "daily"
    TWICE_DAILY = "twice-daily"
    WEEKLY = "weekly"


class Measure(StrEnum):
    BLOOD_PRESSURE = "85354-9"
    SYSTOLIC = "8480-6"
    DIASTOLIC = "8462-4"
    WEIGHT = "29463-7"
    GLUCOSE = "2339-0"
    SPO2 = "59408-5"
    HEART_RATE = "8867-4"
    PAIN = "72514-3"
    TEMPERATURE = "8310-5"


class Unit(NamedTuple):
    """An accepted unit's conversion: canonical = (value + shift) * scale."""

    scale: float
    shift: float = 0.0


class Spec(NamedTuple):
    display: str
    unit: str  # canonical UCUM
    units: dict[str, Unit]  # the accepted UCUM units
    plausible: tuple[float, float] | None  # in the canonical unit, bounds included
    whole: bool = False


_MMHG = {"mm[Hg]": Unit(1)}
CATALOG: dict[Measure, Spec] = {
    Measure.BLOOD_PRESSURE: Spec("Blood pressure", "mm[Hg]", {}, None),
    Measure.SYSTOLIC: Spec("Systolic blood pressure", "mm[Hg]", _MMHG, (40, 300)),
    Measure.DIASTOLIC: Spec("Diastolic blood pressure", "mm[Hg]", _MMHG, (20, 200)),
    Measure.WEIGHT: Spec(
        "Body weight", "kg", {"kg": Unit(1), "g": Unit(0.001), "[lb_av]": Unit(0.45359237)}, (0.5, 400)
    ),
    Measure.GLUCOSE: Spec("Glucose", "mg/dL", {"mg/dL": Unit(1), "mmol/L": Unit(18.016)}, (10, 1500)),
    Measure.SPO2: Spec("Oxygen saturation", "%", {"%": Unit(1)}, (50, 100)),
    Measure.HEART_RATE: Spec("Heart rate", "/min", {"/min": Unit(1)}, (20, 300)),
    Measure.PAIN: Spec("Pain severity", "{score}", {"{score}": Unit(1), "1": Unit(1)}, (0, 10), True),
    Measure.TEMPERATURE: Spec(
        "Body temperature", "Cel", {"Cel": Unit(1), "[degF]": Unit(5 / 9, -32)}, (30, 45)
    ),
}
COMPONENTS = (Measure.SYSTOLIC, Measure.DIASTOLIC)
# what can be sent as an observation: all but blood pressure's components
RECORDED = frozenset(Measure) - frozenset(COMPONENTS)


def _name(code: Measure) -> str:
    return f"{CATALOG[code].display} ({code.value})"


def _convert(code: Measure, value: float, unit: str) -> float:
    scale, shift = CATALOG[code].units[unit]
    return round((value + shift) * scale, DECIMALS)


def _checked(code: Measure, value: float, unit: str) -> float:
    """``value`` in the canonical unit, or a ValueError saying what is wrong with it."""
    spec = CATALOG[code]
    if unit not in spec.units:
        raise ValueError(f"the unit is not one of {_name(code)}: use one of {', '.join(spec.units)}")
    converted = _convert(code, value, unit)
    if spec.plausible is not None and not spec.plausible[0] <= converted <= spec.plausible[1]:
        low, high = spec.plausible
        raise ValueError(
            f"{_name(code)} is not plausible (expected {low:g} to {high:g} {spec.unit} once converted): "
            "check the value and its unit"
        )
    if spec.whole and converted != int(converted):
        raise ValueError(f"{_name(code)} is a whole number")
    return converted


# ---------------------------------------------------------------- a reading


class ComponentIn(Strict):
    code: Measure = Field(description="8480-6 systolic or 8462-4 diastolic")
    value: Finite
    unit: str = Field(max_length=20, examples=["mm[Hg]"])


class ObservationIn(Strict):
    """One reading: a value and its UCUM unit, or for blood pressure (85354-9) its systolic and
    diastolic components."""

    code: Measure
    value: Finite | None = None
    unit: str | None = Field(None, max_length=20, description="UCUM", examples=["kg", "[lb_av]"])
    components: list[ComponentIn] | None = Field(None, max_length=2, description="blood pressure only")
    effective_at: AwareDatetime | None = Field(None, description="when it was taken; default now")
    device: bool = Field(False, description="sent by a device rather than typed")

    @model_validator(mode="after")
    def _valid(self) -> ObservationIn:
        if self.code not in RECORDED:
            raise ValueError(
                f"{_name(self.code)} is a component of blood pressure: send {Measure.BLOOD_PRESSURE.value} "
                "with systolic and diastolic components"
            )
        if self.code is Measure.BLOOD_PRESSURE:
            if self.value is not None or self.unit is not None:
                raise ValueError(
                    "blood pressure has no value or unit of its own: send them in its components"
                )
            if sorted(c.code for c in self.components or []) != sorted(COMPONENTS):
                raise ValueError(
                    f"blood pressure needs one systolic ({Measure.SYSTOLIC.value}) and one diastolic "
                    f"({Measure.DIASTOLIC.value}) component"
                )
        elif self.components:
            raise ValueError(
                f"only blood pressure has components: send {_name(self.code)} as a value and unit"
            )
        values = {code: _checked(code, value, unit) for code, value, unit in _parts(self)}
        if self.code is Measure.BLOOD_PRESSURE and values[Measure.SYSTOLIC] <= values[Measure.DIASTOLIC]:
            raise ValueError("systolic must be above diastolic: are they swapped?")
        return self


def _parts(obs: ObservationIn) -> list[tuple[Measure, float, str]]:
    if obs.code is Measure.BLOOD_PRESSURE:
        return [(c.code, c.value, c.unit) for c in obs.components or []]
    if obs.value is None or obs.unit is None:
        raise ValueError(f"{_name(obs.code)} needs a value and a unit")
    return [(obs.code, obs.value, obs.unit)]


def canonical(obs: ObservationIn) -> dict[Measure, float]:
    """The values in canonical units by the code that carries them: blood pressure's by component."""
    return {code: _convert(code, value, unit) for code, value, unit in _parts(obs)}


def check_time(effective_at: datetime, now: datetime) -> None:
    if effective_at > now + FUTURE_SLACK:
        raise ValueError("effective_at is more than 5 minutes ahead of now: check the device's clock")
    if effective_at < now - MAX_AGE:
        raise ValueError("effective_at is more than 30 days ago: too old to record")


# ---------------------------------------------------------------- an organization's rules


class Threshold(Strict):
    """Bounds in the code's canonical unit: below ``low`` is L, above ``high`` H; below
    ``critical_low`` LL, above ``critical_high`` HH."""

    code: Measure = Field(description="a single-valued measure or a blood pressure component")
    low: Finite | None = None
    high: Finite | None = None
    critical_low: Finite | None = None
    critical_high: Finite | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.code is Measure.BLOOD_PRESSURE:
            raise ValueError(
                f"a threshold is on systolic ({Measure.SYSTOLIC.value}) or diastolic "
                f"({Measure.DIASTOLIC.value}), not blood pressure itself"
            )
        if self.low is None and self.high is None:
            raise ValueError("give a low, a high or both")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError("low must be below high")
        if self.critical_low is not None and self.low is not None and self.critical_low > self.low:
            raise ValueError("critical_low must be at or below low")
        if self.critical_high is not None and self.high is not None and self.critical_high < self.high:
            raise ValueError("critical_high must be at or above high")
        return self


class TrendRule(Strict):
    """A rise (or fall) by more than an amount, in the code's canonical unit, within some days."""

    id: Code = Field(examples=["weight-gain-day"])
    code: Measure
    rise: Finite | None = Field(None, gt=0)
    fall: Finite | None = Field(None, gt=0)
    within_days: Days

    @model_validator(mode="after")
    def _one(self) -> TrendRule:
        if self.code is Measure.BLOOD_PRESSURE:
            raise ValueError("a trend is on systolic or diastolic, not blood pressure itself")
        if (self.rise is None) == (self.fall is None):
            raise ValueError("give a rise or a fall, not both")
        return self


MISSED_AFTER_DAYS: dict[Frequency, int] = {Frequency.DAILY: 2, Frequency.TWICE_DAILY: 1, Frequency.WEEKLY: 9}


def _default_thresholds() -> list[Threshold]:
    return [
        Threshold(code=Measure.SYSTOLIC, low=90, high=180),
        Threshold(code=Measure.DIASTOLIC, high=110),
        Threshold(code=Measure.SPO2, low=90, critical_low=85),
        Threshold(code=Measure.HEART_RATE, low=50, high=120),
        Threshold(code=Measure.GLUCOSE, low=70, high=300, critical_low=54),
        Threshold(code=Measure.TEMPERATURE, high=38.0),
    ]


def _default_trends() -> list[TrendRule]:
    return [
        TrendRule(id="weight-gain-day", code=Measure.WEIGHT, rise=0.9, within_days=1),  # ≈ 2 lb
        TrendRule(id="weight-gain-week", code=Measure.WEIGHT, rise=2.3, within_days=7),  # ≈ 5 lb
    ]


class MonitoringPolicy(Strict):
    """An organization's rules; the defaults apply until an admin writes one."""

    thresholds: list[Threshold] = Field(default_factory=_default_thresholds, max_length=len(Measure))
    trends: list[TrendRule] = Field(default_factory=_default_trends, max_length=MAX_RULES)
    missed_after_days: dict[Frequency, Days] = Field(
        default_factory=lambda: dict(MISSED_AFTER_DAYS),
        description="a care plan's frequency → days without a reading before it counts as missed; "
        "a frequency left out keeps its default",
    )

    @field_validator("missed_after_days")
    @classmethod
    def _every_frequency(cls, days: dict[Frequency, int]) -> dict[Frequency, int]:
        return {**MISSED_AFTER_DAYS, **days}

    @model_validator(mode="after")
    def _unique(self) -> MonitoringPolicy:
        codes = [t.code for t in self.thresholds]
        for code in codes:
            if codes.count(code) > 1:
                raise ValueError(f"one threshold per code: {_name(code)} has {codes.count(code)}")
        ids = [r.id for r in self.trends]
        for rule_id in ids:
            if ids.count(rule_id) > 1:
                raise ValueError("rule ids are unique")
        return self


class MonitoringPolicyOut(MonitoringPolicy):
    version: int = 0


def missed_after(policy: MonitoringPolicy, frequency: str) -> timedelta:
    """How long without a reading before a measurement taken at ``frequency`` counts as missed."""
    return timedelta(days=policy.missed_after_days[Frequency(frequency)])


# ---------------------------------------------------------------- a patient's thresholds


class ThresholdSource(StrEnum):
    PATIENT = "patient"
    CARE_PLAN = "care-plan"
    ORGANIZATION = "organization"


# a goal's comparator → the side of the threshold it sets ("=" sets none)
_SIDES = {"<": "high", "<=": "high", ">": "low", ">=": "low"}


class EffectiveThreshold(Threshold):
    source: ThresholdSource

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unit(self) -> str:
        """The canonical UCUM unit its bounds are in (what a ``PUT`` of thresholds must use)."""
        return CATALOG[self.code].unit


def thresholds_for(
    policy: MonitoringPolicy,
    goals: list[tuple[str, str, float, str | None]],
    patient: list[Threshold],
) -> list[EffectiveThreshold]:
    """Per code, the patient's own threshold, else the organization's with the sides care-plan goals
    set (``<``/``<=`` a high, ``>``/``>=`` a low; the tighter of two on one side), else the
    organization's. A goal is left out when its code is not one we threshold, its unit is not one of
    the code's (a goal without a unit included), its comparator is ``=``, or it contradicts the
    organization's other side or criticals (the organization's threshold stands)."""
    found = {
        t.code: EffectiveThreshold(**t.model_dump(), source=ThresholdSource.ORGANIZATION)
        for t in policy.thresholds
    }
    sides: dict[Measure, dict[str, float]] = {}
    for code, comparator, value, unit in goals:
        try:
            measure = Measure(code)
        except ValueError:
            continue
        side = _SIDES.get(comparator)
        if (
            side is None
            or measure is Measure.BLOOD_PRESSURE
            or unit is None
            or unit not in CATALOG[measure].units
        ):
            continue
        bound = _convert(measure, value, unit)
        held = sides.setdefault(measure, {})
        held[side] = (min if side == "high" else max)(bound, held.get(side, bound))
    for measure, bounds in sides.items():
        base = (
            found[measure].model_dump(exclude={"source", "unit"}) if measure in found else {"code": measure}
        )
        with suppress(ValidationError):  # the goal contradicts the organization's other side: it stands
            found[measure] = EffectiveThreshold(**{**base, **bounds, "source": ThresholdSource.CARE_PLAN})
    for t in patient:
        found[t.code] = EffectiveThreshold(**t.model_dump(), source=ThresholdSource.PATIENT)
    return [found[code] for code in Measure if code in found]


# ---------------------------------------------------------------- a reading against them


class Interpretation(StrEnum):
    """FHIR Observation.interpretation (v3 ObservationInterpretation)."""

    H = "H"
    L = "L"
    HH = "HH"
    LL = "LL"


class Finding(Model):
    code: Measure
    value: float
    interpretation: Interpretation
    bound: float = Field(description="the bound it crossed")
    source: ThresholdSource


def _crossed(value: float, t: Threshold) -> tuple[Interpretation, float] | None:
    if t.critical_low is not None and value < t.critical_low:
        return Interpretation.LL, t.critical_low
    if t.critical_high is not None and value > t.critical_high:
        return Interpretation.HH, t.critical_high
    if t.low is not None and value < t.low:
        return Interpretation.L, t.low
    if t.high is not None and value > t.high:
        return Interpretation.H, t.high
    return None


def out_of_range(values: dict[Measure, float], thresholds: list[EffectiveThreshold]) -> list[Finding]:
    """The values beyond their code's threshold, by the most severe bound crossed (LL before L)."""
    findings = []
    for t in thresholds:
        crossed = _crossed(values[t.code], t) if t.code in values else None
        if crossed is not None:
            findings.append(
                Finding(
                    code=t.code,
                    value=values[t.code],
                    interpretation=crossed[0],
                    bound=crossed[1],
                    source=t.source,
                )
            )
    return findings


class TrendFinding(Model):
    rule_id: str
    code: Measure
    change: float = Field(description="in the canonical unit, signed")
    baseline: float
    baseline_at: datetime
    within_days: int


def trends(
    code: Measure,
    at: datetime,
    value: float,
    history: list[tuple[datetime, float]],
    rules: list[TrendRule],
) -> list[TrendFinding]:
    """The rules on ``code`` a reading of ``value`` at ``at`` breaks: a rise by more than the rule's
    against the lowest reading in ``[at - within_days - 3 h, at)`` (a fall: the highest); the earliest
    of equal readings is the baseline. Readings at or after ``at`` are not history."""
    found = []
    for rule in [r for r in rules if r.code == code]:
        start = at - timedelta(days=rule.within_days) - TREND_SLACK
        earlier = [(t, v) for t, v in history if start <= t < at]
        for sign, amount in ((1, rule.rise), (-1, rule.fall)):
            if amount is None or not earlier:
                continue
            baseline_at, baseline = min(earlier, key=lambda r: (r[1] * sign, r[0]))
            change = round(value - baseline, DECIMALS)
            if change * sign > amount:
                found.append(
                    TrendFinding(
                        rule_id=rule.id,
                        code=code,
                        change=change,
                        baseline=baseline,
                        baseline_at=baseline_at,
                        within_days=rule.within_days,
                    )
                )
    return found


def finding_keys(
    findings: list[Finding], trend_findings: list[TrendFinding]
) -> dict[str, Finding | TrendFinding]:
    """Each finding by its alert key: ``range:<code>:<interpretation>``, ``trend:<rule id>``."""
    keys: dict[str, Finding | TrendFinding] = {
        f"range:{f.code.value}:{f.interpretation.value}": f for f in findings
    }
    keys.update({f"trend:{t.rule_id}": t for t in trend_findings})
    return keys


def newly_raised(alerting: set[str], findings_keys: set[str]) -> tuple[set[str], set[str]]:
    """(the alerts to raise now, the alerts raised after this reading): a key is raised once, stays
    raised while readings find it, and clears when one does not."""
    return findings_keys - alerting, set(findings_keys)


# ---------------------------------------------------------------- a series


class SeriesSummary(Model):
    code: Measure
    unit: str = Field(description="canonical UCUM")
    latest: float
    latest_at: datetime
    change_7d: float | None = Field(None, description="latest minus the earliest reading of the last 7 days")
    change_30d: float | None = None
    readings_7d: int
    readings_30d: int


def summarize(code: Measure, series: list[tuple[datetime, float]], now: datetime) -> SeriesSummary | None:
    """The latest reading and its change over the last 7 and 30 days (readings at or after
    ``now - days``); ``None`` for no readings."""
    if not series:
        return None
    ordered = sorted(series, key=lambda r: r[0])
    latest_at, latest = ordered[-1]
    windows = {days: [v for t, v in ordered if t >= now - timedelta(days=days)] for days in (7, 30)}
    change = {
        days: round(latest - values[0], DECIMALS) if len(values) > 1 else None
        for days, values in windows.items()
    }
    return SeriesSummary(
        code=code,
        unit=CATALOG[code].unit,
        latest=latest,
        latest_at=latest_at,
        change_7d=change[7],
        change_30d=change[30],
        readings_7d=len(windows[7]),
        readings_30d=len(windows[30]),
    )
