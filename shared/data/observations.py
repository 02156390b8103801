"""Recording a reading: checked, stored, compared with the patient's thresholds and trends, alerts
raised once. The HTTP route (the patient's app, staff) and the webhooks area (a device partner) both
call :func:`record`.

Work per reading: one BatchGetItem (the organization's monitoring policy, the patient's thresholds,
the measure's state), one Query of the patient's live care plans (their goals set thresholds, their
measurement activities say what is expected), one Query of the code's recent series when a trend
rule watches it, and one transaction: the observation, the measure's state (on
its version: two readings of one code at once are applied one after the other), the events and
their timeline entries, the audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import ids
from shared.data import careplans as plans_repo
from shared.data import core, keys
from shared.data import records as repo
from shared.data.patients import Actor
from shared.data.tx import Cancelled
from shared.domain.careplans import ActivityKind, ActivityStatus, GoalLifecycle
from shared.domain.monitoring import (
    RECORDED,
    Finding,
    Measure,
    MonitoringPolicyOut,
    ObservationIn,
    TrendFinding,
    canonical,
    check_time,
    finding_keys,
    newly_raised,
    out_of_range,
    thresholds_for,
    trends,
)
from shared.domain.observations import (
    MonitorState,
    ObservationOut,
    PatientThresholdsOut,
    Sender,
    display,
)
from shared.errors import Conflict
from shared.events.records import ObservationOutOfRange, ObservationRecorded, TrendDetected

ATTEMPTS = 3


class Recorded(Conflict):
    """This observation (its id) is recorded already: a repeat."""


POLICY = repo.MONITORING_POLICY
THRESHOLDS = repo.THRESHOLDS


@dataclass
class Context:
    """What a patient's readings are checked against: read once per reading."""

    policy: MonitoringPolicyOut
    own: PatientThresholdsOut
    goals: list[tuple[str, str, float, str | None]]
    expected: dict[str, tuple[str, str]]  # LOINC code → (plan id, frequency) of a live measurement
    monitor: repo.MonitorItem | None = None  # the state of the measure asked for

    def thresholds(self) -> list[Any]:
        return thresholds_for(self.policy, self.goals, self.own.thresholds)


def filed_as(code: str) -> str | None:
    """The code a measure's readings are filed under: a blood pressure component's are blood
    pressure's; None for a code that is not a reading we take."""
    if code in (Measure.SYSTOLIC, Measure.DIASTOLIC):
        return Measure.BLOOD_PRESSURE.value
    return code if code in RECORDED else None


def monitor_key(org: str, patient_id: str, code: str) -> tuple[str, str]:
    return keys.monitor_pk(org, patient_id), code


def context(org: str, patient_id: str, code: str | None = None) -> Context:
    """One BatchGetItem (the policy, the patient's thresholds and ``code``'s state) and one Query (the
    patient's live care plans)."""
    wanted = [POLICY.key(org), THRESHOLDS.key(org, patient_id)]
    if code is not None:
        wanted.append(monitor_key(org, patient_id, code))
    found = core.get_many(wanted)
    policy, own = POLICY.of(found.get(wanted[0])), THRESHOLDS.of(found.get(wanted[1]))
    monitor = found.get(wanted[2]) if code is not None else None
    goals: list[tuple[str, str, float, str | None]] = []
    expected: dict[str, tuple[str, str]] = {}
    for item in plans_repo.live_plans(org, patient_id):
        plan = item.record()
        for goal in plan.goals:
            target = goal.target
            if (
                goal.lifecycle_status is GoalLifecycle.ACTIVE
                and target is not None
                and target.measure is not None
                and target.comparator is not None
                and target.value is not None
            ):
                goals.append((target.measure.code, target.comparator, target.value, target.unit))
        for activity in plan.activities:
            if (
                activity.kind is ActivityKind.MEASUREMENT
                and activity.status is ActivityStatus.IN_PROGRESS
                and activity.measure is not None
                and activity.frequency is not None
            ):
                filed = filed_as(activity.measure.code)
                if filed is not None:  # a code we do not take readings of is not watched here
                    expected.setdefault(filed, (plan.id, activity.frequency.value))
    return Context(policy, own, goals, expected, monitor)


def _history(org: str, patient_id: str, code: Measure, at: datetime, days: int) -> list[ObservationOut]:
    """The code's readings in the ``days`` (and the trend rules' 3 hours) before ``at``: one Query."""
    items, _ = repo.series(org, patient_id, code.value, at - timedelta(days=days, hours=3), at)
    return [item.load(ObservationOut) for item in items]


def record(
    org: str,
    patient_id: str,
    body: ObservationIn,
    sender: Sender,
    actor: Actor,
    now: datetime,
    observation_id: str | None = None,
) -> tuple[ObservationOut, list[Finding | TrendFinding]]:
    """Store one reading (``ValueError``: its time is out of bounds) and raise what it newly finds.
    ``observation_id``: the caller's own (a device partner's reading, so a redelivery is recognised)."""
    at = body.effective_at or now
    check_time(at, now)
    values = canonical(body)
    ctx = context(org, patient_id, body.code.value)
    findings = out_of_range(values, ctx.thresholds())
    watching = [r for r in ctx.policy.trends if r.code in values]
    trend_findings: list[TrendFinding] = []
    if watching:
        earlier = _history(org, patient_id, body.code, at, max(r.within_days for r in watching))
        for code, value in values.items():
            series = [(r.effective_at, r.values[code]) for r in earlier if code in r.values]
            trend_findings += trends(code, at, value, series, watching)
    found = finding_keys(findings, trend_findings)
    record = ObservationOut(
        id=observation_id or ids.new_id(),
        patient_id=patient_id,
        code=body.code,
        display=display(body.code),
        value=body.value,
        unit=body.unit,
        components=body.components,
        values=values,
        effective_at=at,
        recorded_at=now,
        device=body.device or sender is Sender.DEVICE,
        sender=sender,
        recorded_by=actor.subject,
        interpretation=findings,
        trends=trend_findings,
    )
    state_item = ctx.monitor
    for attempt in range(ATTEMPTS):
        if attempt:  # another reading of this code moved its state: read it again, as written
            try:
                state_item = repo.MonitorItem.get(
                    *monitor_key(org, patient_id, body.code.value), consistent_read=True
                )
            except repo.MonitorItem.DoesNotExist:
                state_item = None
        state = state_item.load(MonitorState) if state_item is not None else None
        before = set(state.alerting) if state is not None else set()
        if state is None or at >= state.latest_at:
            raise_now, alerting = newly_raised(before, set(found))
            state = MonitorState(
                code=body.code, latest_id=record.id, latest_at=at, values=values, alerting=[]
            )
        else:  # a late reading (a device's backlog): raises what it finds, clears nothing
            raise_now, alerting = set(found) - before, before | set(found)
        state = state.model_copy(update={"alerting": sorted(alerting)})
        change = core.Change(actor, now)
        core.active_patient(change, org, patient_id)
        change.put(
            "observation", repo.observation_item(org, record), repo.ObservationItem.PK.does_not_exist()
        )
        change.put("monitor", repo.monitor_item(org, patient_id, body.code.value, state, state_item))
        change.audit.append((patient_id, "observation.create"))
        common = {
            "organization_id": org,
            "patient_id": patient_id,
            "observation_id": record.id,
            "code": body.code,
        }
        repo.record_event(change, ObservationRecorded(**common, device=record.device, occurred_at=now))
        for key in sorted(raise_now):
            finding = found[key]
            if isinstance(finding, TrendFinding):
                repo.record_event(change, TrendDetected(**common, rule_id=finding.rule_id, occurred_at=now))
            else:
                critical = finding.interpretation.value in ("HH", "LL")
                event = ObservationOutOfRange(
                    **common,
                    component=finding.code,
                    interpretation=finding.interpretation,
                    priority="urgent" if critical else "routine",
                    occurred_at=now,
                )
                repo.record_event(change, event)
        try:
            change.commit()
        except Cancelled as exc:
            if "observation" in exc.failed:
                raise Recorded("This observation was recorded already.", conflict="observation") from None
            if "patient" in exc.failed:
                raise
            continue
        return record, [found[k] for k in sorted(raise_now)]
    raise Conflict("Readings of this measure arrived at once; send again.")
