"""Remote monitoring over HTTP: readings (the patient's app, staff), their series and summary, the
patient's thresholds and the organization's monitoring policy. Rules: :mod:`shared.domain.monitoring`;
recording: :mod:`shared.data.observations`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import AwareDatetime

from functions.records.common import commit, patient_of
from shared import clock
from shared.data import core, keys
from shared.data import records as repo
from shared.data.patients import Patient
from shared.data.tx import Cancelled
from shared.domain.monitoring import (
    Measure,
    MonitoringPolicy,
    MonitoringPolicyOut,
    ObservationIn,
    SeriesSummary,
    summarize,
)
from shared.domain.observations import (
    EffectiveThresholds,
    MonitorState,
    ObservationOut,
    ObservationPatientView,
    PatientThresholds,
    PatientThresholdsOut,
    Sender,
    Summary,
)
from shared.errors import NotFound
from shared.http.auth import STAFF, Principal, Role, allow
from shared.http.caller import audit_replay, audited_read, caller, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, require_current, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, cursor_list, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
MAX_RANGE = timedelta(days=366)
DEFAULT_RANGE = timedelta(days=30)
SUMMARY_DAYS = 30
ObservationPage = Page[ObservationOut]
ObservationPatientPage = Page[ObservationPatientView]
CodeFilter = Annotated[
    Measure | None, Query(description="one LOINC code (a component's for blood pressure's values)")
]
From = Annotated[AwareDatetime | None, Query(alias="from", description="default: 30 days before `to`")]
To = Annotated[AwareDatetime | None, Query(description="default: now")]


def _view(principal: Principal, record: ObservationOut) -> ObservationOut | ObservationPatientView:
    return ObservationPatientView.of(record) if principal.is_patient else record


# ---------------------------------------------------------------- policy and thresholds


@router.get(
    "/monitoring-policy",
    summary="The organization's monitoring rules: thresholds, trends, when a measurement counts as missed",
    tags=["monitoring"],
    operation_id="getMonitoringPolicy",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read_policy() -> Response[MonitoringPolicyOut]:
    principal, _ = caller(router)
    record, _ = repo.MONITORING_POLICY.get(principal.organization_id)
    return Response(200, "application/json", record, headers=etag(record.version))


@router.put(
    "/monitoring-policy",
    summary="Replace the monitoring rules (If-Match once they exist); they check readings from now on",
    tags=["monitoring"],
    operation_id="putMonitoringPolicy",
    responses=responses(
        headers=["ETag"], errors={409: "If-Match is stale (`current_version`)", 428: "Send If-Match"}
    ),
)
@allow(Role.ADMIN)
def write_policy(body: MonitoringPolicy, if_match: IfMatch = None) -> Response[MonitoringPolicyOut]:
    principal, _ = caller(router)
    record = repo.MONITORING_POLICY.replace(principal.organization_id, body, if_match)
    return Response(200, "application/json", record, headers=etag(record.version))


@router.get(
    "/patients/<patient_id>/thresholds",
    summary="What the patient's readings are checked against, and where each bound comes from",
    tags=["monitoring"],
    operation_id="getThresholds",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read_thresholds(patient_id: UlidPath) -> Response[EffectiveThresholds]:
    """Per code: the patient's own (``PUT``), else their care plan's goal (its side), else the
    organization's."""
    principal, _ = caller(router)
    org = principal.organization_id
    patient_of(org, patient_id)
    from shared.data import observations as obs  # here: it loads the care-plans model

    ctx = obs.context(org, patient_id)
    record = EffectiveThresholds(thresholds=ctx.thresholds(), version=ctx.own.version)
    return Response(200, "application/json", record, headers=etag(record.version))


@router.put(
    "/patients/<patient_id>/thresholds",
    summary="Set the patient's own thresholds (If-Match once they exist); an empty list means none",
    tags=["monitoring"],
    operation_id="putThresholds",
    responses=responses(
        headers=["ETag"], errors={409: "If-Match is stale (`current_version`)", 428: "Send If-Match"}
    ),
)
@allow(Role.NURSE, Role.PHYSICIAN, Role.ADMIN)
def write_thresholds(
    patient_id: UlidPath, body: PatientThresholds, if_match: IfMatch = None
) -> Response[PatientThresholdsOut]:
    principal, actor = caller(router)
    org = principal.organization_id
    patient_of(org, patient_id)
    codes = [t.code for t in body.thresholds]
    if len(codes) != len(set(codes)):
        raise invalid("thresholds", "one threshold per code")
    _, item = repo.THRESHOLDS.get(org, patient_id)
    if item is not None:
        require_current(if_match, item.version, "thresholds")
    change = core.Change(actor, clock.now())
    record = repo.THRESHOLDS.put(change, org, body, item, patient_id)
    change.audit.append((patient_id, "thresholds.update"))
    commit(change, "thresholds")
    return Response(200, "application/json", record, headers=etag(record.version))


# ---------------------------------------------------------------- readings


@router.post(
    "/patients/<patient_id>/observations",
    summary="Record a reading (LOINC code, UCUM unit), checked against the patient's thresholds and trends",
    tags=["monitoring"],
    operation_id="recordObservation",
    responses=responses(201, "Recorded", headers=["Location"]),
)
@allow(STAFF, Role.PATIENT)
@idempotent(router, on_replay=audit_replay(router, "observation.read"))
def record_observation(
    patient_id: UlidPath, body: ObservationIn
) -> Response[ObservationOut | ObservationPatientView]:
    """A value beyond a threshold or a trend (weight up 2 lb in a day) raises an alert once, which the
    escalation rules turn into a task; readings that keep finding it raise nothing more."""
    principal, actor = caller(router)
    principal.require_patient(patient_id)
    org, now = principal.organization_id, clock.now()
    patient_of(org, patient_id, active=True)
    from shared.data import observations as obs

    sender = Sender.PATIENT if principal.is_patient else Sender.STAFF
    try:
        record, _ = obs.record(org, patient_id, body, sender, actor, now)
    except ValueError as exc:
        raise invalid("effective_at", str(exc)) from None
    except Cancelled:  # made inactive since it was read: as if it had been then
        raise invalid("patient_id", "the patient is inactive", where="path") from None
    headers = {"Location": f"/patients/{patient_id}/observations/{record.id}"}
    return Response(201, "application/json", _view(principal, record), headers=headers)


@router.get(
    "/patients/<patient_id>/observations",
    summary="The patient's readings between two instants, oldest first: one code, or every code",
    tags=["monitoring"],
    operation_id="listObservations",
)
@allow(STAFF, Role.PATIENT)
def list_observations(
    patient_id: UlidPath,
    code: CodeFilter = None,
    from_: From = None,
    to: To = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ObservationPage | ObservationPatientPage:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    # the first page fixes the range (``to`` defaults to now); later pages carry it in their cursor
    prefix = f"observations:{_filed(code) or ''}:"
    issued = cursor_list(cursor, tenant=org) or ""
    if issued.startswith(prefix) and from_ is None and to is None:
        first, _, last_bound = issued.removeprefix(prefix).partition("|")
        since, until = datetime.fromisoformat(first), datetime.fromisoformat(last_bound)
    else:
        until = to or clock.now()
        since = from_ or until - DEFAULT_RANGE
    if since > until or until - since > MAX_RANGE:
        raise invalid("from", "from is before to, at most a year apart", where="query")
    index = 1 if code else 2
    partition = keys.patient_observations_pk(org, patient_id, _filed(code))
    list_id = f"{prefix}{clock.isoformat(since)}|{clock.isoformat(until)}"
    attributes = (f"GSI{index}PK", f"GSI{index}SK", "PK", "SK")
    start = decode_cursor(cursor, list_id, {attributes[0]: partition}, attributes, tenant=org)
    items, last = repo.series(org, patient_id, _filed(code), since, until, limit, start)
    if principal.is_staff:
        require_parent(bool(items), cursor, Patient, core.patient_key(org, patient_id), "patient")
    if items:
        audited_read(router, [patient_id], "observation.read")
    records = [i.load(ObservationOut) for i in items]
    next_cursor = encode_cursor(list_id, last, tenant=org)
    if principal.is_patient:
        return ObservationPatientPage(
            items=[ObservationPatientView.of(r) for r in records], next_cursor=next_cursor
        )
    return ObservationPage(items=records, next_cursor=next_cursor)


def _filed(code: Measure | None) -> str | None:
    """Readings are filed by the code they were sent with: a component's are blood pressure's."""
    if code in (Measure.SYSTOLIC, Measure.DIASTOLIC):
        return Measure.BLOOD_PRESSURE.value
    return code.value if code else None


@router.get(
    "/patients/<patient_id>/observations/summary",
    summary="Per code: the latest reading and its change over 7 and 30 days",
    tags=["monitoring"],
    operation_id="summarizeObservations",
)
@allow(STAFF, Role.PATIENT)
def summary(patient_id: UlidPath) -> Summary:
    """Two Queries: the patient's measures now, and the last 30 days of readings."""
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org, now = principal.organization_id, clock.now()
    states = [i.load(MonitorState) for i in repo.monitors(org, patient_id).values()]
    if not states:
        if principal.is_staff:
            patient_of(org, patient_id)
        return Summary(items=[])
    items, _ = repo.series(org, patient_id, None, now - timedelta(days=SUMMARY_DAYS), now)
    readings = [i.load(ObservationOut) for i in items]
    out: list[SeriesSummary] = []
    for state in sorted(states, key=lambda s: s.code.value):
        for code, latest in state.values.items():
            series = [(r.effective_at, r.values[code]) for r in readings if code in r.values]
            if not series or max(t for t, _ in series) < state.latest_at:
                series.append((state.latest_at, latest))
            found = summarize(code, series, now)
            if found is not None:
                out.append(found)
    audited_read(router, [patient_id], "observation.read")
    return Summary(items=out)


@router.get(
    "/patients/<patient_id>/observations/<observation_id>",
    summary="A reading",
    tags=["monitoring"],
    operation_id="getObservation",
)
@allow(STAFF, Role.PATIENT)
def read_observation(
    patient_id: UlidPath, observation_id: UlidPath
) -> ObservationOut | ObservationPatientView:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    item = repo.get_observation(principal.organization_id, observation_id)
    if item is None or item.patient_id != patient_id:
        raise NotFound("No observation with this id for this patient.")
    audited_read(router, [patient_id], "observation.read")
    return _view(principal, item.load(ObservationOut))
