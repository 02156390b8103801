"""Prior authorizations (shared/domain/authorizations.py), against rules written out here.

The rules:
- moves: submit (draft → submitted); request-info (submitted | appealed → pending-info); provide-info
  (pending-info → where it came from); approve, partially-approve, deny (submitted | appealed →
  approved, partially-approved, denied); appeal (denied → appealed); expire (approved |
  partially-approved → expired); cancel (anything but expired and cancelled → cancelled);
- a full approval is for the units asked (given or not); a partial one for 1 up to the units asked;
- clocks are wall clock, real time, to the minute: expedited 72 h, standard 7 days, an appeal 72 h or
  30 days; the follow-up 12 h (expedited) or 24 h (standard) before, never before the start; the
  payer's clock stops while information is pending and starts again, whole, when it is provided;
- information is due 14 calendar days after the request's local date, unless the payer names a day;
- renewal 14 days before the window's last day (not before its first), or when at most one unit is
  left; a window's first and last days are covered; a visit uses one unit however often it is counted;
- the history keeps the last 50 changes.

The organization is in New York (UTC-5 in winter, UTC-4 in summer); 2026-11-01 is the fall-back day.
"""

from __future__ import annotations

import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.authorizations import (
    LISTS,
    MAX_HISTORY,
    MOVES,
    Alert,
    AlertKind,
    AuthAction,
    AuthChange,
    AuthList,
    AuthorizationIn,
    AuthorizationOut,
    AuthorizationPolicyIn,
    AuthorizationPolicyOut,
    AuthStatus,
    AuthUrgency,
    BadDetail,
    Decision,
    DenialReason,
    Document,
    IllegalMove,
    MoveIn,
    NotCovered,
    PayerRules,
    Purpose,
    Turnaround,
    UnapprovedBooking,
    UnitUse,
    WithoutApproval,
    act,
    alerts_of,
    appeal_due_at,
    covering,
    covers,
    due_alerts,
    due_at,
    due_for_renewal,
    expires_at,
    follow_up_at,
    in_force,
    info_due_on,
    needs_renewal,
    new_authorization,
    next_alert_at,
    next_status,
    payer_key,
    raised,
    renewal_key,
    renewal_on,
    report,
    sort_at,
    use_unit,
    window,
)
from shared.domain.calendar import Calendar
from shared.domain.codes import ServiceCode, ServiceSystem
from shared.domain.records import CoverageOut

NY = Calendar(time_zone="America/New_York")
CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
S = AuthStatus
A = AuthAction

# Friday 4 December 2026, 17:00 in New York (EST, UTC-5)
FRIDAY_5PM = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
NOW = FRIDAY_5PM


def ny(year: int, month: int, day: int, hour: int, minute: int = 0, *, offset: int = 5) -> datetime:
    """A New York wall time (``offset`` hours behind UTC: 5 in winter, 4 in summer) in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) + timedelta(hours=offset)


COVERAGE = CoverageOut(
    id="cov-1",
    patient_id="pat-1",
    recorded_at=datetime(2026, 1, 2, tzinfo=UTC),
    payer="Acme Health",
    member_id="M-1",
    effective_start=date(2026, 1, 1),
    effective_end=date(2026, 12, 31),
)


def request(**extra: Any) -> AuthorizationIn:
    body: dict[str, Any] = {
        "coverage_id": "cov-1",
        "service": {"system": CPT, "code": "97110", "display": "Therapeutic exercise"},
        "units_requested": 12,
        "ordering_provider_id": "prov-1",
        "diagnoses": [{"system": ICD, "code": "M54.50"}],
        "service_date": "2026-12-14",
        **extra,
    }
    return AuthorizationIn.model_validate(body)


def draft(**extra: Any) -> AuthorizationOut:
    return new_authorization(
        request(**extra), auth_id="auth-1", patient_id="pat-1", coverage=COVERAGE, by="u-1", now=NOW
    )


def move(auth: AuthorizationOut, action: str, now: datetime = NOW, **body: Any) -> AuthorizationOut:
    rules = body.pop("rules", PayerRules())
    return act(auth, MoveIn.model_validate({"action": action, **body}), "u-2", now, NY, rules)


APPROVAL: dict[str, Any] = {"number": "PA-77", "valid_from": "2026-12-07", "valid_to": "2027-02-28"}


def submitted(**extra: Any) -> AuthorizationOut:
    return move(draft(**extra), "submit")


def approved(units: int | None = None, **extra: Any) -> AuthorizationOut:
    auth = submitted(**extra)
    if units is None:
        return move(auth, "approve", **APPROVAL)
    return move(auth, "partially-approve", approved_units=units, **APPROVAL)


def denied() -> AuthorizationOut:
    return move(submitted(), "deny", reason="not-medically-necessary")


def at_status(status: AuthStatus) -> AuthorizationOut:
    auth = draft()
    steps: dict[AuthStatus, list[tuple[str, dict[str, Any]]]] = {
        S.DRAFT: [],
        S.SUBMITTED: [("submit", {})],
        S.PENDING_INFO: [("submit", {}), ("request-info", {})],
        S.APPROVED: [("submit", {}), ("approve", APPROVAL)],
        S.PARTIALLY_APPROVED: [("submit", {}), ("partially-approve", {"approved_units": 6, **APPROVAL})],
        S.DENIED: [("submit", {}), ("deny", {"reason": "other"})],
        S.APPEALED: [("submit", {}), ("deny", {"reason": "other"}), ("appeal", {})],
        S.EXPIRED: [("submit", {}), ("approve", APPROVAL), ("expire", {})],
        S.CANCELLED: [("cancel", {})],
    }
    for action, body in steps[status]:
        auth = move(auth, action, **body)
    assert auth.status is status
    return auth


# ---------------------------------------------------------------- the status machine

# (action, from) → to, written out here
LEGAL: dict[tuple[AuthAction, AuthStatus], AuthStatus] = {
    (A.SUBMIT, S.DRAFT): S.SUBMITTED,
    (A.PROVIDE_INFO, S.PENDING_INFO): S.SUBMITTED,  # back to submitted (or appealed, below)
    (A.REQUEST_INFO, S.SUBMITTED): S.PENDING_INFO,
    (A.REQUEST_INFO, S.APPEALED): S.PENDING_INFO,
    (A.APPROVE, S.SUBMITTED): S.APPROVED,
    (A.APPROVE, S.APPEALED): S.APPROVED,
    (A.PARTIALLY_APPROVE, S.SUBMITTED): S.PARTIALLY_APPROVED,
    (A.PARTIALLY_APPROVE, S.APPEALED): S.PARTIALLY_APPROVED,
    (A.DENY, S.SUBMITTED): S.DENIED,
    (A.DENY, S.APPEALED): S.DENIED,
    (A.APPEAL, S.DENIED): S.APPEALED,
    (A.EXPIRE, S.APPROVED): S.EXPIRED,
    (A.EXPIRE, S.PARTIALLY_APPROVED): S.EXPIRED,
    **{
        (A.CANCEL, s): S.CANCELLED
        for s in (
            S.DRAFT,
            S.SUBMITTED,
            S.PENDING_INFO,
            S.APPROVED,
            S.PARTIALLY_APPROVED,
            S.DENIED,
            S.APPEALED,
        )
    },
}


@pytest.mark.parametrize("action", list(AuthAction))
@pytest.mark.parametrize("status", list(AuthStatus))
def test_the_moves_table(action: AuthAction, status: AuthStatus) -> None:
    allowed, _ = MOVES[action]
    assert (status in allowed) is ((action, status) in LEGAL)
    if (action, status) in LEGAL:
        assert next_status(status, action, None) is LEGAL[action, status]
    else:
        with pytest.raises(IllegalMove) as raised:
            next_status(status, action, None)
        assert raised.value.status is status
        assert str(raised.value) == f"An authorization that is {status.value} cannot {action.value}."


def test_provide_info_goes_back_where_the_request_for_it_came_from() -> None:
    assert next_status(S.PENDING_INFO, A.PROVIDE_INFO, S.SUBMITTED) is S.SUBMITTED
    assert next_status(S.PENDING_INFO, A.PROVIDE_INFO, S.APPEALED) is S.APPEALED
    assert next_status(S.PENDING_INFO, A.PROVIDE_INFO, None) is S.SUBMITTED
    for status in set(AuthStatus) - {S.PENDING_INFO}:
        with pytest.raises(IllegalMove):
            next_status(status, A.PROVIDE_INFO, S.APPEALED)


BODIES: dict[AuthAction, dict[str, Any]] = {
    A.REQUEST_INFO: {},
    A.APPROVE: APPROVAL,
    A.PARTIALLY_APPROVE: {"approved_units": 3, **APPROVAL},
    A.DENY: {"reason": "other"},
}


@pytest.mark.parametrize(("action", "status"), sorted(LEGAL))
def test_every_legal_move_is_made_and_recorded(action: AuthAction, status: AuthStatus) -> None:
    before = at_status(status)
    later = NOW + timedelta(hours=1)
    after = move(
        before, action, later, reference="REF-9", note="line one\nline two", **BODIES.get(action, {})
    )
    assert after.status is LEGAL[action, status]
    assert after.version == before.version + 1
    assert after.updated_at == later
    assert after.payer_reference == "REF-9"
    # a decision says whether it came by the time it was due (an hour in: it did), a denial why
    decided: dict[str, Any] = {}
    if action in (A.APPROVE, A.PARTIALLY_APPROVE, A.DENY):
        decided = {"on_time": True, "reason": DenialReason.OTHER if action is A.DENY else None}
    assert after.history[-1] == AuthChange(
        version=after.version,
        at=later,
        by="u-2",
        action=action.value,
        from_status=status,
        to_status=after.status,
        reference="REF-9",
        note="line one\nline two",
        **decided,
    )
    assert after.history[:-1] == before.history


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (S.DRAFT, A.APPROVE),  # not submitted yet
        (S.PENDING_INFO, A.APPROVE),  # the information first
        (S.APPROVED, A.DENY),
        (S.APPROVED, A.SUBMIT),
        (S.DENIED, A.APPROVE),  # appeal first
        (S.SUBMITTED, A.APPEAL),
        (S.SUBMITTED, A.EXPIRE),
        (S.EXPIRED, A.CANCEL),
        (S.CANCELLED, A.CANCEL),
        (S.CANCELLED, A.SUBMIT),
    ],
)
def test_illegal_moves_change_nothing(status: AuthStatus, action: AuthAction) -> None:
    auth = at_status(status)
    with pytest.raises(IllegalMove, match=f"that is {status.value} cannot {action.value}"):
        move(auth, action, **BODIES.get(action, {}))


# ---------------------------------------------------------------- a request


def test_a_request_is_made_as_a_draft_on_its_coverage() -> None:
    auth = draft(urgency="expedited", purpose={"type": "appointment", "id": "appt-1"}, note="a\nb")
    assert auth.status is S.DRAFT
    assert (auth.id, auth.patient_id, auth.coverage_id, auth.payer) == (
        "auth-1",
        "pat-1",
        "cov-1",
        "Acme Health",
    )
    assert auth.service == ServiceCode(system=ServiceSystem.CPT, code="97110", display="Therapeutic exercise")
    assert (auth.units_requested, auth.urgency, auth.service_date) == (
        12,
        AuthUrgency.EXPEDITED,
        date(2026, 12, 14),
    )
    assert auth.purpose is not None and auth.purpose.id == "appt-1"
    assert auth.note == "a\nb"
    assert (auth.version, auth.created_at, auth.updated_at) == (1, NOW, NOW)
    assert auth.history == [AuthChange(version=1, at=NOW, by="u-1", action="created", to_status=S.DRAFT)]
    assert (auth.submitted_at, auth.due_at, auth.follow_up_at, auth.decision) == (None, None, None, None)
    assert (auth.units_used, auth.approved_units, auth.units_left) == (0, 0, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"coverage_id": "cov-2"}, "^coverage_id: not a coverage of this patient$"),
        ({"patient_id": "pat-2"}, "^coverage_id: not a coverage of this patient$"),
        (
            {"service_date": date(2025, 12, 31)},
            "^coverage_id: the coverage is not in force on the service date$",
        ),
        (
            {"service_date": date(2027, 1, 1)},
            "^coverage_id: the coverage is not in force on the service date$",
        ),
    ],
)
def test_the_coverage_must_be_the_patients_and_in_force(change: dict[str, Any], message: str) -> None:
    change = dict(change)  # the parameter is shared between runs
    patient = change.pop("patient_id", "pat-1")
    with pytest.raises(NotCovered, match=message):
        new_authorization(
            request(**change), auth_id="a", patient_id=patient, coverage=COVERAGE, by="u", now=NOW
        )


@pytest.mark.parametrize("day", [date(2026, 1, 1), date(2026, 12, 31)])
def test_a_coverage_is_in_force_on_its_first_and_last_days(day: date) -> None:
    auth = draft(service_date=day.isoformat())
    assert auth.service_date == day


def test_in_force() -> None:
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    assert not in_force(start, end, date(2025, 12, 31))
    assert in_force(start, end, start)
    assert in_force(start, end, end)
    assert not in_force(start, end, date(2027, 1, 1))
    assert in_force(start, None, date(2099, 1, 1))
    assert not in_force(start, None, date(2025, 12, 31))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"diagnoses": []}, "at least 1 item"),
        ({"diagnoses": [{"system": ICD, "code": f"M54.{n}"} for n in range(13)]}, "at most 12 items"),
        (
            {"diagnoses": [{"system": "http://snomed.info/sct", "code": "84114007"}]},
            "diagnoses are ICD-10-CM",
        ),
        ({"diagnoses": [{"system": ICD, "code": "I50.9"}] * 2}, "each diagnosis may appear once"),
        ({"units_requested": 0}, "greater than or equal to 1"),
        ({"units_requested": 1000}, "less than or equal to 999"),
        ({"service": {"system": CPT, "code": "J1885"}}, "not a valid code"),
        ({"urgency": "urgent"}, "urgency"),
        ({"purpose": {"type": "task", "id": "t-1"}}, "purpose"),
        ({"payer": "Other"}, "Extra inputs are not permitted"),
        ({"ordering_provider_id": "prov 1"}, "ordering_provider_id"),
    ],
)
def test_a_request_refuses(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        request(**extra)


def test_a_request_takes_up_to_12_distinct_diagnoses_and_1_to_999_units() -> None:
    assert len(request(diagnoses=[{"system": ICD, "code": f"M54.{n}"} for n in range(12)]).diagnoses) == 12
    assert request(units_requested=1).units_requested == 1
    assert request(units_requested=999).units_requested == 999
    assert request().units_requested == 12
    body = request(service={"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197361"})
    assert body.service.is_drug
    assert AuthorizationIn.model_validate({**request().model_dump(), "units_requested": 1}).urgency is (
        AuthUrgency.STANDARD
    )


# ---------------------------------------------------------------- clocks


def test_an_expedited_request_on_friday_at_5pm_is_due_monday_at_5pm() -> None:
    auth = move(draft(urgency="expedited"), "submit")
    assert auth.submitted_at == FRIDAY_5PM
    assert auth.due_at == ny(2026, 12, 7, 17)  # Monday 17:00: 72 hours, across the weekend
    assert auth.follow_up_at == ny(2026, 12, 7, 5)  # 12 hours before


def test_a_standard_request_is_due_7_calendar_days_later_whatever_the_holidays() -> None:
    thanksgiving_eve = ny(2026, 11, 25, 10, 30)
    assert due_at(AuthUrgency.STANDARD, thanksgiving_eve) == ny(2026, 12, 2, 10, 30)
    before_christmas = ny(2026, 12, 22, 16)
    assert due_at(AuthUrgency.STANDARD, before_christmas) == ny(2026, 12, 29, 16)
    auth = move(draft(), "submit", thanksgiving_eve)
    assert auth.due_at == ny(2026, 12, 2, 10, 30)
    assert auth.follow_up_at == ny(2026, 12, 1, 10, 30)  # 24 hours before


def test_the_clock_counts_real_hours_across_the_dst_change() -> None:
    # Saturday 31 October 2026, 12:00 EDT; clocks go back at 02:00 on Sunday 1 November
    saturday_noon = ny(2026, 10, 31, 12, offset=4)
    assert saturday_noon == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    expedited = due_at(AuthUrgency.EXPEDITED, saturday_noon)
    assert expedited - saturday_noon == timedelta(hours=72)
    assert expedited == ny(2026, 11, 3, 11)  # Tuesday 11:00 EST on the wall
    standard = due_at(AuthUrgency.STANDARD, saturday_noon)
    assert standard - saturday_noon == timedelta(hours=168)
    assert standard == ny(2026, 11, 7, 11)


def test_clocks_count_whole_minutes() -> None:
    start = datetime(2026, 12, 4, 22, 0, 59, 999, tzinfo=UTC)
    assert due_at(AuthUrgency.EXPEDITED, start) == datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
    assert appeal_due_at(AuthUrgency.STANDARD, start) == datetime(2027, 1, 3, 22, 0, tzinfo=UTC)
    assert follow_up_at(AuthUrgency.EXPEDITED, start, start, PayerRules()) == datetime(
        2026, 12, 4, 22, 0, tzinfo=UTC
    )


def test_a_payer_sets_its_own_clocks() -> None:
    rules = PayerRules(
        expedited_hours=24,
        standard_days=5,
        appeal_days=10,
        follow_up_before_expedited_hours=2,
        follow_up_before_standard_hours=48,
        info_days=7,
        renewal_days=30,
    )
    assert due_at(AuthUrgency.EXPEDITED, NOW, rules) == NOW + timedelta(hours=24)
    assert due_at(AuthUrgency.STANDARD, NOW, rules) == NOW + timedelta(days=5)
    assert appeal_due_at(AuthUrgency.EXPEDITED, NOW, rules) == NOW + timedelta(hours=24)
    assert appeal_due_at(AuthUrgency.STANDARD, NOW, rules) == NOW + timedelta(days=10)
    assert follow_up_at(AuthUrgency.EXPEDITED, NOW, NOW + timedelta(hours=24), rules) == NOW + timedelta(
        hours=22
    )
    assert follow_up_at(AuthUrgency.STANDARD, NOW, NOW + timedelta(days=5), rules) == NOW + timedelta(days=3)
    assert info_due_on(NOW, NY, rules) == date(2026, 12, 11)
    assert renewal_on(date(2026, 1, 1), date(2026, 6, 30), rules) == date(2026, 5, 31)
    auth = move(draft(urgency="expedited"), "submit", rules=rules)
    assert (auth.due_at, auth.follow_up_at) == (NOW + timedelta(hours=24), NOW + timedelta(hours=22))


def test_the_defaults_are_cms_0057_f() -> None:
    rules = PayerRules()
    assert (rules.expedited_hours, rules.standard_days, rules.appeal_days) == (72, 7, 30)
    assert (rules.follow_up_before_expedited_hours, rules.follow_up_before_standard_hours) == (12, 24)
    assert (rules.info_days, rules.renewal_days) == (14, 14)
    assert due_at(AuthUrgency.STANDARD, NOW) == NOW + timedelta(days=7)
    assert appeal_due_at(AuthUrgency.EXPEDITED, NOW) == NOW + timedelta(hours=72)


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("expedited_hours", 1, 336),
        ("standard_days", 1, 60),
        ("appeal_days", 1, 60),
        ("follow_up_before_expedited_hours", 0, 336),
        ("follow_up_before_standard_hours", 0, 1440),
        ("info_days", 1, 90),
        ("renewal_days", 0, 180),
    ],
)
def test_payer_rules_bounds(field: str, low: int, high: int) -> None:
    assert getattr(PayerRules.model_validate({field: low}), field) == low
    assert getattr(PayerRules.model_validate({field: high}), field) == high
    for bad in (low - 1, high + 1):
        with pytest.raises(ValidationError):
            PayerRules.model_validate({field: bad})


def test_a_follow_up_never_opens_before_the_clock_started() -> None:
    rules = PayerRules(follow_up_before_expedited_hours=100, follow_up_before_standard_hours=168)
    due = due_at(AuthUrgency.EXPEDITED, NOW, rules)
    assert follow_up_at(AuthUrgency.EXPEDITED, NOW, due, rules) == NOW
    assert follow_up_at(AuthUrgency.STANDARD, NOW, due_at(AuthUrgency.STANDARD, NOW), rules) == NOW
    just = PayerRules(follow_up_before_standard_hours=167)
    assert follow_up_at(
        AuthUrgency.STANDARD, NOW, due_at(AuthUrgency.STANDARD, NOW), just
    ) == NOW + timedelta(hours=1)


# ---------------------------------------------------------------- information


def test_information_is_due_14_calendar_days_after_the_local_day_of_the_request() -> None:
    evening = ny(2026, 12, 3, 21)  # Thursday 21:00 in New York, Friday 02:00 UTC
    assert info_due_on(evening, NY) == date(2026, 12, 17)
    sent = move(draft(), "submit", at=ny(2026, 12, 3, 9).isoformat())  # that Thursday morning
    auth = move(sent, "request-info", NOW + timedelta(days=1), at=evening.isoformat())
    assert auth.status is S.PENDING_INFO
    assert (auth.info_from, auth.info_due_on) == (S.SUBMITTED, date(2026, 12, 17))
    assert (auth.due_at, auth.follow_up_at) == (None, None)  # the payer waits on us


def test_the_payer_may_name_the_day_information_is_due() -> None:
    auth = move(submitted(), "request-info", info_due="2026-12-10")
    assert auth.info_due_on == date(2026, 12, 10)
    same_day = move(submitted(), "request-info", info_due="2026-12-04")
    assert same_day.info_due_on == date(2026, 12, 4)
    with pytest.raises(BadDetail, match=r"^info_due: cannot be before the request$"):
        move(submitted(), "request-info", info_due="2026-12-03")


def test_the_clock_starts_again_whole_when_the_information_is_provided() -> None:
    later = NOW + timedelta(days=3, hours=2)
    auth = move(move(submitted(), "request-info"), "provide-info", later)
    assert auth.status is S.SUBMITTED
    assert auth.submitted_at == NOW
    assert (auth.due_at, auth.follow_up_at) == (later + timedelta(days=7), later + timedelta(days=6))
    assert (auth.info_from, auth.info_due_on) == (None, None)


def test_information_for_an_appeal_goes_back_to_the_appeal_and_its_clock() -> None:
    pending = move(move(denied(), "appeal"), "request-info")
    assert pending.info_from is S.APPEALED
    later = NOW + timedelta(days=2)
    auth = move(pending, "provide-info", later)
    assert auth.status is S.APPEALED
    assert (auth.due_at, auth.follow_up_at) == (later + timedelta(days=30), later + timedelta(days=29))
    expedited = move(
        move(move(move(draft(urgency="expedited"), "submit"), "deny", reason="other"), "appeal"),
        "request-info",
    )
    assert move(expedited, "provide-info", later).due_at == later + timedelta(hours=72)


# ---------------------------------------------------------------- decisions


def test_a_full_approval_is_for_the_units_asked() -> None:
    later = NOW + timedelta(days=1)
    auth = move(submitted(), "approve", later, **APPROVAL)
    assert auth.status is S.APPROVED
    assert auth.decision == Decision(
        outcome=S.APPROVED,
        decided_at=later,
        number="PA-77",
        approved_units=12,
        valid_from=date(2026, 12, 7),
        valid_to=date(2027, 2, 28),
    )
    assert (auth.due_at, auth.follow_up_at) == (None, None)
    assert (auth.approved_units, auth.units_left) == (12, 12)
    assert move(submitted(), "approve", approved_units=12, **APPROVAL).approved_units == 12
    for units in (11, 1):
        with pytest.raises(
            BadDetail,
            match=r"^approved_units: a full approval is for the units asked; else partially-approve$",
        ):
            move(submitted(), "approve", approved_units=units, **APPROVAL)
    with pytest.raises(
        BadDetail, match=r"^approved_units: a full approval is for the units asked; else partially-approve$"
    ):
        move(submitted(), "approve", approved_units=13, **APPROVAL)


@pytest.mark.parametrize("units", [1, 6, 11, 12])
def test_a_partial_approval_allows_1_up_to_the_units_asked(units: int) -> None:
    auth = approved(units)
    assert auth.status is S.PARTIALLY_APPROVED
    assert auth.decision is not None
    assert (auth.decision.outcome, auth.decision.approved_units, auth.decision.number) == (
        S.PARTIALLY_APPROVED,
        units,
        "PA-77",
    )
    assert auth.units_left == units


def test_a_partial_approval_refuses_more_units_than_asked_and_needs_its_units() -> None:
    with pytest.raises(BadDetail, match=r"^approved_units: more than the units asked$"):
        move(submitted(), "partially-approve", approved_units=13, **APPROVAL)
    with pytest.raises(ValidationError, match="partially-approve needs approved_units"):
        MoveIn.model_validate({"action": "partially-approve", **APPROVAL})


def test_a_denial_carries_its_reason_and_an_appeal_restarts_the_clock() -> None:
    auth = denied()
    assert auth.decision == Decision(
        outcome=S.DENIED, decided_at=NOW, reason=DenialReason.NOT_MEDICALLY_NECESSARY
    )
    assert (auth.due_at, auth.approved_units, auth.units_left) == (None, 0, 0)
    later = NOW + timedelta(days=2)
    appealed = move(auth, "appeal", later)
    assert appealed.appealed_at == later
    assert (appealed.due_at, appealed.follow_up_at) == (
        later + timedelta(days=30),
        later + timedelta(days=29),
    )
    assert appealed.decision == auth.decision  # the denial stands until the appeal is decided
    overturned = move(appealed, "approve", later + timedelta(days=5), **APPROVAL)
    assert overturned.status is S.APPROVED
    assert overturned.decision is not None and overturned.decision.number == "PA-77"
    assert overturned.appealed_at == later


def test_an_expedited_appeal_is_due_in_72_hours() -> None:
    auth = move(move(move(draft(urgency="expedited"), "submit"), "deny", reason="other"), "appeal")
    assert (auth.due_at, auth.follow_up_at) == (NOW + timedelta(hours=72), NOW + timedelta(hours=60))


def test_expiring_and_cancelling_stop_everything() -> None:
    expired = move(approved(), "expire")
    assert expired.status is S.EXPIRED
    assert expired.decision is not None and expired.decision.number == "PA-77"
    cancelled = move(move(submitted(), "request-info"), "cancel", reason=None)
    assert cancelled.status is S.CANCELLED
    assert (cancelled.due_at, cancelled.follow_up_at, cancelled.info_from, cancelled.info_due_on) == (
        None,
        None,
        None,
        None,
    )
    assert move(submitted(), "cancel").due_at is None


def test_a_move_may_be_dated_earlier_but_not_later() -> None:
    yesterday = NOW - timedelta(days=1)
    auth = move(draft(), "submit", at=yesterday.isoformat())
    assert (auth.submitted_at, auth.due_at, auth.updated_at) == (
        yesterday,
        yesterday + timedelta(days=7),
        yesterday,
    )
    assert auth.history[-1].at == yesterday
    assert move(draft(), "submit", at=NOW.isoformat()).submitted_at == NOW
    with pytest.raises(BadDetail, match=r"^at: cannot be in the future$"):
        move(draft(), "submit", at=(NOW + timedelta(seconds=1)).isoformat())
    # a move is dated no earlier than the move before it (a decision before its submission is a typo)
    before = (yesterday - timedelta(minutes=1)).isoformat()
    with pytest.raises(BadDetail, match=r"^at: cannot be before the authorization's last move$"):
        move(auth, "deny", reason="other", at=before)
    same = move(auth, "deny", reason="other", at=yesterday.isoformat())
    assert same.decision is not None and same.decision.decided_at == yesterday
    # a request entered after it was sent may say so, within 30 days of its entry
    month = NOW - timedelta(days=30)
    assert move(draft(), "submit", at=month.isoformat()).submitted_at == month
    with pytest.raises(BadDetail, match=r"^at: at most 30 days before the request was entered$"):
        move(draft(), "submit", at=(month - timedelta(minutes=1)).isoformat())


def test_the_payers_reference_is_kept_until_another_is_given() -> None:
    auth = move(draft(), "submit", reference="TRK-1")
    assert auth.payer_reference == "TRK-1"
    auth = move(auth, "request-info")
    assert auth.payer_reference == "TRK-1"
    assert auth.history[-1].reference is None
    assert move(auth, "provide-info", reference="TRK-2").payer_reference == "TRK-2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "approve", "valid_from": "2026-12-07", "valid_to": "2027-02-28"}, "approve needs number"),
        ({"action": "approve", "number": "PA-1", "valid_to": "2027-02-28"}, "approve needs valid_from"),
        ({"action": "approve", "number": "PA-1", "valid_from": "2026-12-07"}, "approve needs valid_to"),
        ({"action": "deny"}, "deny needs reason"),
        ({"action": "deny", "reason": "other", "number": "PA-1"}, "number is not for deny"),
        ({"action": "submit", "info_due": "2026-12-10"}, "info_due is not for submit"),
        ({"action": "request-info", "reason": "other"}, "reason is not for request-info"),
        ({"action": "appeal", "valid_from": "2026-12-07"}, "valid_from is not for appeal"),
        ({"action": "cancel", "valid_to": "2026-12-07"}, "valid_to is not for cancel"),
        ({"action": "expire", "approved_units": 1}, "approved_units is not for expire"),
        (
            {"action": "approve", "number": "PA-1", "valid_from": "2026-12-07", "valid_to": "2026-12-06"},
            "valid_to cannot be before valid_from",
        ),
        (
            {"action": "approve", "number": "PA-1", "valid_from": "2026-01-01", "valid_to": "2027-01-03"},
            "at most 366 days",
        ),
        ({"action": "deny", "reason": "because"}, "reason"),
        ({"action": "submit", "at": "2026-12-04T10:00:00"}, "timezone"),
        ({"action": "submit", "reference": "has space"}, "reference"),
        ({"action": "submit", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_a_move_refuses(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MoveIn.model_validate(body)


def test_a_window_is_one_day_to_366_days_long() -> None:
    one = MoveIn.model_validate(
        {"action": "approve", "number": "PA-1", "valid_from": "2026-12-07", "valid_to": "2026-12-07"}
    )
    assert one.valid_to == one.valid_from
    long = MoveIn.model_validate(
        {"action": "approve", "number": "PA-1", "valid_from": "2026-01-01", "valid_to": "2027-01-02"}
    )
    assert long.valid_to == date(2027, 1, 2)
    assert MoveIn(action=A.REQUEST_INFO).info_due is None


# ---------------------------------------------------------------- history


def test_the_history_keeps_the_last_50_changes() -> None:
    auth = submitted()  # created, submit
    for _ in range(30):
        auth = move(move(auth, "request-info"), "provide-info")
    assert auth.version == 62
    assert len(auth.history) == MAX_HISTORY
    assert [h.version for h in auth.history] == list(range(13, 63))
    assert auth.history[-1].action == "provide-info"
    assert auth.history[0].action == "request-info"
    almost = submitted()
    for _ in range(24):
        almost = move(move(almost, "request-info"), "provide-info")
    assert len(almost.history) == 50
    assert almost.history[0].action == "created"


# ---------------------------------------------------------------- using it


def test_covers_the_first_and_last_days_of_its_window() -> None:
    auth = approved()
    assert window(auth) == (date(2026, 12, 7), date(2027, 2, 28))
    assert not covers(auth, date(2026, 12, 6))
    assert covers(auth, date(2026, 12, 7))
    assert covers(auth, date(2027, 2, 28))
    assert not covers(auth, date(2027, 3, 1))
    assert covers(auth, date(2027, 1, 15), units=12)
    assert not covers(auth, date(2027, 1, 15), units=13)
    assert covers(approved(3), date(2027, 1, 15), units=3)
    assert not covers(approved(3), date(2027, 1, 15), units=4)


@pytest.mark.parametrize("status", sorted(set(AuthStatus) - {S.APPROVED, S.PARTIALLY_APPROVED}))
def test_only_an_approval_covers(status: AuthStatus) -> None:
    auth = at_status(status)
    assert not covers(auth, date(2027, 1, 15))
    assert window(auth) is None or status is S.EXPIRED


def test_a_visit_uses_one_unit_however_often_it_is_counted() -> None:
    auth = approved(2)
    later = NOW + timedelta(days=10)
    once, use = use_unit(auth, "appt-1", date(2026, 12, 14), later)
    assert use is UnitUse.COUNTED
    assert (once.units_used, once.units_left, once.counted) == (1, 1, ["appt-1"])
    assert (once.version, once.updated_at) == (auth.version + 1, later)
    again, use = use_unit(once, "appt-1", date(2026, 12, 14), later)
    assert use is UnitUse.ALREADY_COUNTED
    assert again == once
    twice, use = use_unit(once, "appt-2", date(2026, 12, 21), later)
    assert use is UnitUse.COUNTED
    assert (twice.units_used, twice.units_left, twice.counted) == (2, 0, ["appt-1", "appt-2"])
    none_left, use = use_unit(twice, "appt-3", date(2026, 12, 28), later)
    assert (use, none_left) == (UnitUse.NOT_COVERED, twice)
    assert not covers(twice, date(2026, 12, 28))


def test_a_visit_outside_the_window_or_without_approval_is_not_covered() -> None:
    auth = approved()
    for day in (date(2026, 12, 6), date(2027, 3, 1)):
        assert use_unit(auth, "appt-1", day, NOW) == (auth, UnitUse.NOT_COVERED)
    for status in (S.SUBMITTED, S.DENIED, S.CANCELLED):
        other = at_status(status)
        assert use_unit(other, "appt-1", date(2026, 12, 14), NOW) == (other, UnitUse.NOT_COVERED)


def test_a_visit_in_the_window_recorded_after_expiry_still_counts() -> None:
    expired = at_status(S.EXPIRED)
    used, use = use_unit(expired, "appt-1", date(2027, 2, 28), NOW)
    assert (use, used.units_used, used.status) == (UnitUse.COUNTED, 1, S.EXPIRED)
    assert use_unit(expired, "appt-2", date(2027, 3, 1), NOW)[1] is UnitUse.NOT_COVERED


def test_covering_picks_the_approval_that_ends_first_for_the_service() -> None:
    early = approved()
    late = move(submitted(), "approve", number="PA-88", valid_from="2026-12-01", valid_to="2027-06-30")
    late = late.model_copy(update={"id": "auth-2"})
    drug = approved(service={"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197361"})
    drug = drug.model_copy(update={"id": "auth-3"})
    day = date(2026, 12, 14)
    assert covering([late, early, drug], day) is early
    assert covering([late, early], day, service=ServiceCode(system=ServiceSystem.CPT, code="97110")) is early
    assert covering([late, early, drug], day, service=drug.service) is drug
    assert covering([late, early], day, service=ServiceCode(system=ServiceSystem.CPT, code="97112")) is None
    assert covering([late, early], date(2027, 3, 1)) is late
    assert covering([late, early], date(2026, 12, 3)) is late
    assert covering([late, early], date(2027, 7, 1)) is None
    assert covering([], day) is None
    assert covering([late, approved(1)], day, units=2) is late


def test_needs_renewal_at_the_last_unit() -> None:
    assert not needs_renewal(10, 12)
    assert needs_renewal(11, 12)
    assert needs_renewal(12, 12)
    assert needs_renewal(0, 1)


def test_renewal_is_due_14_days_before_the_window_ends() -> None:
    assert renewal_on(date(2026, 12, 7), date(2027, 2, 28)) == date(2027, 2, 14)
    assert renewal_on(date(2027, 2, 20), date(2027, 2, 28)) == date(2027, 2, 20)  # a short window
    assert renewal_on(date(2027, 2, 14), date(2027, 2, 28)) == date(2027, 2, 14)
    auth = approved()
    assert not due_for_renewal(auth, date(2027, 2, 13))
    assert due_for_renewal(auth, date(2027, 2, 14))
    assert due_for_renewal(auth, date(2027, 2, 28))
    eleven = auth.model_copy(update={"units_used": 11})
    assert due_for_renewal(eleven, date(2026, 12, 20))
    assert not due_for_renewal(auth.model_copy(update={"units_used": 10}), date(2026, 12, 20))
    assert not due_for_renewal(move(auth, "expire"), date(2027, 2, 20))
    assert not due_for_renewal(denied(), date(2027, 2, 20))
    assert not due_for_renewal(at_status(S.SUBMITTED), date(2027, 2, 20))
    assert due_for_renewal(approved(6), date(2027, 2, 14))


def test_a_window_expires_at_the_local_midnight_after_its_last_day() -> None:
    assert expires_at(date(2027, 2, 28), NY) == datetime(2027, 3, 1, 5, 0, tzinfo=UTC)
    assert expires_at(date(2027, 7, 31), NY) == datetime(2027, 8, 1, 4, 0, tzinfo=UTC)


def test_of_two_approvals_ending_the_same_day_the_first_listed_is_used() -> None:
    one, two = approved(), approved().model_copy(update={"id": "auth-2"})
    assert covering([one, two], date(2026, 12, 14)) is one
    assert covering([two, one], date(2026, 12, 14)) is two


def test_a_decision_without_a_whole_window_covers_nothing() -> None:
    auth = approved()
    assert auth.decision is not None
    for half in ({"valid_from": None}, {"valid_to": None}):
        broken = auth.model_copy(update={"decision": auth.decision.model_copy(update=half)})
        assert window(broken) is None
        assert not covers(broken, date(2026, 12, 14))
        assert not due_for_renewal(broken, date(2027, 2, 20))


def test_the_payers_rules_run_every_clock_of_a_move() -> None:
    rules = PayerRules(standard_days=5, appeal_days=10, info_days=7, follow_up_before_standard_hours=48)
    later = NOW + timedelta(days=1)
    pending = move(submitted(), "request-info", rules=rules)
    assert pending.info_due_on == date(2026, 12, 11)
    back = move(pending, "provide-info", later, rules=rules)
    assert (back.due_at, back.follow_up_at) == (later + timedelta(days=5), later + timedelta(days=3))
    appealed = move(denied(), "appeal", later, rules=rules)
    assert (appealed.due_at, appealed.follow_up_at) == (later + timedelta(days=10), later + timedelta(days=8))
    again = move(move(appealed, "request-info", later, rules=rules), "provide-info", later, rules=rules)
    assert again.due_at == later + timedelta(days=10)
    auth = approved()
    assert not due_for_renewal(auth, date(2027, 1, 28), rules.model_copy(update={"renewal_days": 30}))
    assert due_for_renewal(auth, date(2027, 1, 29), rules.model_copy(update={"renewal_days": 30}))


def test_an_expedited_request_keeps_its_follow_up_after_information() -> None:
    later = NOW + timedelta(days=1)
    auth = move(move(move(draft(urgency="expedited"), "submit"), "request-info"), "provide-info", later)
    assert (auth.due_at, auth.follow_up_at) == (later + timedelta(hours=72), later + timedelta(hours=60))


def test_one_unit_is_what_covering_asks_by_default() -> None:
    one = approved(1)
    assert covers(one, date(2026, 12, 14))
    assert covering([one], date(2026, 12, 14)) is one


# ---------------------------------------------------------------- what it is for, documents


def test_a_care_plan_activity_purpose_names_the_activity_and_no_other_purpose_does() -> None:
    activity = Purpose(type="care-plan-activity", id="plan-1", activity_id="act-1")
    assert (activity.type, activity.id, activity.activity_id) == ("care-plan-activity", "plan-1", "act-1")
    assert Purpose(type="referral", id="ref-1").activity_id is None
    assert Purpose(type="appointment", id="appt-1").activity_id is None
    auth = draft(purpose={"type": "care-plan-activity", "id": "plan-1", "activity_id": "act-1"})
    assert auth.purpose == activity
    for bad in (
        {"type": "care-plan-activity", "id": "plan-1"},  # which activity of the plan?
        {"type": "appointment", "id": "appt-1", "activity_id": "act-1"},
        {"type": "referral", "id": "ref-1", "activity_id": "act-1"},
    ):
        with pytest.raises(ValidationError, match="activity_id names a care plan's activity, and only that"):
            Purpose.model_validate(bad)


def test_an_authorization_holds_up_to_20_documents_sent_to_the_payer() -> None:
    auth = draft()
    assert (auth.documents, auth.alerts) == ([], [])
    pdf = Document(attachment_id="att-1", content_type="application/pdf", size=52_000, attached_at=NOW)
    assert (pdf.version_id, pdf.download_url) == (None, None)
    twenty = AuthorizationOut.model_validate({**auth.model_dump(), "documents": [pdf] * 20})
    assert twenty.documents[0] == pdf and len(twenty.documents) == 20
    with pytest.raises(ValidationError, match="at most 20 items"):
        AuthorizationOut.model_validate({**auth.model_dump(), "documents": [pdf] * 21})


# ---------------------------------------------------------------- decisions, on time or late


def test_a_decision_records_whether_it_came_by_its_due_time_and_a_denial_its_reason() -> None:
    auth = move(draft(urgency="expedited"), "submit")
    due = ny(2026, 12, 7, 17)  # Monday 17:00
    on_the_minute = move(auth, "approve", due, **APPROVAL)
    assert (on_the_minute.history[-1].on_time, on_the_minute.history[-1].reason) == (True, None)
    late = move(auth, "deny", due + timedelta(minutes=1), reason="out-of-network")
    assert (late.history[-1].on_time, late.history[-1].reason) == (False, DenialReason.OUT_OF_NETWORK)
    # a decision learned later counts at the time it was made
    learned_later = move(auth, "approve", due + timedelta(hours=5), at=due.isoformat(), **APPROVAL)
    assert learned_later.history[-1].on_time is True
    # what is not a decision records neither
    assert [(h.on_time, h.reason) for h in late.history[:-1]] == [(None, None), (None, None)]
    appealed = move(late, "appeal", due + timedelta(hours=1))
    assert (appealed.history[-1].on_time, appealed.history[-1].reason) == (None, None)
    # an appeal's decision is judged by the appeal's clock (72 hours from the appeal)
    overturned = move(appealed, "partially-approve", due + timedelta(hours=73), approved_units=6, **APPROVAL)
    assert overturned.history[-1].on_time is True
    assert move(appealed, "deny", due + timedelta(hours=74), reason="other").history[-1].on_time is False
    # a request whose clock was never set (recorded before there were clocks) is not late
    clockless = auth.model_copy(update={"due_at": None})
    assert move(clockless, "approve", due + timedelta(days=30), **APPROVAL).history[-1].on_time is True


# ---------------------------------------------------------------- the clocks' alerts

FOLLOW_UP, OVERDUE, INFO_DUE = AlertKind.FOLLOW_UP, AlertKind.OVERDUE, AlertKind.INFO_DUE
RENEWAL, EXPIRY = AlertKind.RENEWAL, AlertKind.EXPIRY


def kinds_and_times(alerts: list[Alert]) -> list[tuple[AlertKind, datetime]]:
    return [(a.kind, a.at) for a in alerts]


def test_an_expedited_request_on_friday_at_5pm_is_followed_up_monday_at_5am_and_overdue_at_5pm() -> None:
    auth = move(draft(urgency="expedited"), "submit")
    monday_5am, monday_5pm = ny(2026, 12, 7, 5), ny(2026, 12, 7, 17)
    assert monday_5pm - FRIDAY_5PM == timedelta(hours=72)
    # the keys name the clock (its due time, in UTC): they are stored, so they must not drift
    assert alerts_of(auth, NY) == [
        Alert(kind=FOLLOW_UP, at=monday_5am, key="follow-up@2026-12-07T22:00:00+00:00"),
        Alert(kind=OVERDUE, at=monday_5pm, key="overdue@2026-12-07T22:00:00+00:00"),
    ]
    assert next_alert_at(auth, NY) == monday_5am
    assert due_alerts(auth, monday_5am - timedelta(minutes=1), NY) == []
    assert kinds_and_times(due_alerts(auth, monday_5am, NY)) == [(FOLLOW_UP, monday_5am)]
    assert kinds_and_times(due_alerts(auth, monday_5pm - timedelta(minutes=1), NY)) == [
        (FOLLOW_UP, monday_5am)
    ]
    assert [a.kind for a in due_alerts(auth, monday_5pm, NY)] == [FOLLOW_UP, OVERDUE]


def test_a_standard_request_is_followed_up_6_days_on_and_overdue_7_calendar_days_on_over_christmas() -> None:
    tuesday = ny(2026, 12, 22, 16)
    auth = move(draft(), "submit", tuesday)
    assert kinds_and_times(alerts_of(auth, NY)) == [
        (FOLLOW_UP, ny(2026, 12, 28, 16)),  # Monday, 24 hours before
        (OVERDUE, ny(2026, 12, 29, 16)),  # Tuesday: Christmas Day and the weekend count
    ]


@pytest.fixture
def machine_clock_in_auckland(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's own zone (``TZ``) set far from UTC, as a developer's laptop may be."""
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time_module.tzset()
    yield
    monkeypatch.undo()
    time_module.tzset()


@pytest.mark.usefixtures("machine_clock_in_auckland")
def test_alert_keys_are_in_utc_whatever_the_machines_zone() -> None:
    # the keys are stored with the record: a worker in another zone must not raise them again
    auth = move(draft(urgency="expedited"), "submit")
    assert [a.key for a in alerts_of(auth, NY)] == [
        "follow-up@2026-12-07T22:00:00+00:00",
        "overdue@2026-12-07T22:00:00+00:00",
    ]
    # read back in another offset, the same instants make the same keys
    assert auth.due_at is not None and auth.follow_up_at is not None
    local = auth.model_copy(
        update={
            "due_at": auth.due_at.astimezone(NY.zone),
            "follow_up_at": auth.follow_up_at.astimezone(NY.zone),
        }
    )
    assert [a.key for a in alerts_of(local, NY)] == [a.key for a in alerts_of(auth, NY)]
    assert alerts_of(approved(), NY)[-1].key == "expiry@2027-03-01T05:00:00+00:00"


def test_an_appeal_raises_its_own_clocks_alerts() -> None:
    denied_at = NOW + timedelta(hours=1)
    auth = move(move(draft(urgency="expedited"), "submit"), "deny", denied_at, reason="other")
    assert alerts_of(auth, NY) == []  # a denial waits on us, not the payer
    appealed_at = denied_at + timedelta(days=1)
    appealed = move(auth, "appeal", appealed_at)
    due = appealed_at + timedelta(hours=72)
    assert alerts_of(appealed, NY) == [
        Alert(kind=FOLLOW_UP, at=due - timedelta(hours=12), key=f"follow-up@{due.isoformat()}"),
        Alert(kind=OVERDUE, at=due, key=f"overdue@{due.isoformat()}"),
    ]


def test_information_given_starts_a_new_clock_whose_alerts_are_raised_anew() -> None:
    auth = move(draft(urgency="expedited"), "submit")
    first = alerts_of(auth, NY)
    monday_5am = ny(2026, 12, 7, 5)
    auth = raised(auth, [a.key for a in due_alerts(auth, monday_5am, NY)], monday_5am)
    assert auth.alerts == [first[0].key]
    # Monday 06:00 the payer asks for notes: its clock stops, ours (the information) starts
    pending = move(auth, "request-info", ny(2026, 12, 7, 6))
    assert pending.info_due_on == date(2026, 12, 21)
    assert alerts_of(pending, NY) == [
        Alert(kind=INFO_DUE, at=ny(2026, 12, 22, 0), key="info-due@2026-12-22T05:00:00+00:00")
    ]
    assert due_alerts(pending, ny(2026, 12, 21, 23, 59), NY) == []
    # Tuesday 09:00 the notes go: a new 72 hours, new alerts, the old follow-up no obstacle
    given = move(pending, "provide-info", ny(2026, 12, 8, 9))
    new_due = ny(2026, 12, 11, 9)
    assert alerts_of(given, NY) == [
        Alert(kind=FOLLOW_UP, at=ny(2026, 12, 10, 21), key="follow-up@2026-12-11T14:00:00+00:00"),
        Alert(kind=OVERDUE, at=new_due, key="overdue@2026-12-11T14:00:00+00:00"),
    ]
    assert {a.key for a in alerts_of(given, NY)}.isdisjoint(a.key for a in first)
    assert given.alerts == [first[0].key]  # what was raised stays raised
    assert next_alert_at(given, NY) == ny(2026, 12, 10, 21)
    assert kinds_and_times(due_alerts(given, ny(2026, 12, 10, 21), NY)) == [(FOLLOW_UP, ny(2026, 12, 10, 21))]


def test_an_alert_raised_once_is_not_due_again() -> None:
    auth = move(draft(urgency="expedited"), "submit")
    monday_5pm = ny(2026, 12, 7, 17)
    follow, overdue = (a.key for a in alerts_of(auth, NY))
    later = monday_5pm + timedelta(minutes=1)
    once = raised(auth, [follow, follow], later)  # the same alert twice in one firing
    assert once.alerts == [follow]
    assert (once.version, once.updated_at, once.history) == (auth.version + 1, later, auth.history)
    assert [a.kind for a in due_alerts(once, monday_5pm, NY)] == [OVERDUE]
    assert next_alert_at(once, NY) == monday_5pm
    both = raised(once, [follow, overdue], later + timedelta(minutes=1))
    assert both.alerts == [follow, overdue]
    assert both.version == once.version + 1
    assert due_alerts(both, monday_5pm + timedelta(days=30), NY) == []
    assert next_alert_at(both, NY) is None
    assert raised(both, [overdue, follow], later + timedelta(hours=1)) is both  # nothing new, no new version
    assert raised(both, [], later) is both


def test_the_last_50_alerts_raised_are_kept() -> None:
    auth = submitted()
    keys = [f"overdue@{n}" for n in range(60)]
    many = raised(auth, keys, NOW)
    assert many.alerts == keys[10:]
    assert raised(auth, keys[:50], NOW).alerts == keys[:50]


def test_one_renewal_alert_per_window_whether_its_days_or_its_units_run_short_first() -> None:
    auth = approved(2)  # 2 units, 7 December to 28 February
    assert renewal_key(auth) == "renewal@2027-02-28"
    # renewal opens at the start of the 14th day before the last; the window ends at the midnight after it
    assert alerts_of(auth, NY) == [
        Alert(kind=RENEWAL, at=ny(2027, 2, 14, 0), key="renewal@2027-02-28"),
        Alert(kind=EXPIRY, at=ny(2027, 3, 1, 0), key="expiry@2027-03-01T05:00:00+00:00"),
    ]
    used, _ = use_unit(auth, "appt-1", date(2026, 12, 14), NOW + timedelta(days=10))
    assert needs_renewal(used.units_used, used.approved_units)  # the last unit is next: renew now
    assert renewal_key(used) == renewal_key(auth)
    renewed = raised(used, [renewal_key(used)], NOW + timedelta(days=10))
    assert due_alerts(renewed, ny(2027, 2, 14, 0), NY) == []  # the date does not ask again
    assert next_alert_at(renewed, NY) == ny(2027, 3, 1, 0)
    assert kinds_and_times(due_alerts(renewed, ny(2027, 3, 1, 0), NY)) == [(EXPIRY, ny(2027, 3, 1, 0))]
    other = move(submitted(), "approve", number="PA-78", valid_from="2027-03-01", valid_to="2027-05-31")
    assert renewal_key(other) == "renewal@2027-05-31"  # another window, another renewal
    assert renewal_key(submitted()) == "renewal@"


def test_an_approval_expires_at_the_local_midnight_after_its_last_day_across_dst() -> None:
    spring = move(submitted(), "approve", number="PA-1", valid_from="2026-12-07", valid_to="2027-03-20")
    assert kinds_and_times(alerts_of(spring, NY)) == [
        (RENEWAL, datetime(2027, 3, 6, 5, 0, tzinfo=UTC)),  # 6 March 00:00 EST
        (
            EXPIRY,
            datetime(2027, 3, 21, 4, 0, tzinfo=UTC),
        ),  # 21 March 00:00 EDT (clocks went forward on the 14th)
    ]
    before_the_change = move(
        submitted(), "approve", number="PA-1", valid_from="2026-12-07", valid_to="2027-03-13"
    )
    assert alerts_of(before_the_change, NY)[-1].at == datetime(2027, 3, 14, 5, 0, tzinfo=UTC)
    autumn = move(submitted(), "approve", number="PA-1", valid_from="2026-12-07", valid_to="2027-11-06")
    assert kinds_and_times(alerts_of(autumn, NY)) == [
        (RENEWAL, datetime(2027, 10, 23, 4, 0, tzinfo=UTC)),
        (EXPIRY, datetime(2027, 11, 7, 4, 0, tzinfo=UTC)),  # 00:00 EDT, two hours before the change
    ]


def test_a_short_window_asks_for_renewal_from_its_first_day_and_a_payers_renewal_time_counts() -> None:
    short = move(submitted(), "approve", number="PA-1", valid_from="2027-02-20", valid_to="2027-02-28")
    assert alerts_of(short, NY)[0] == Alert(kind=RENEWAL, at=ny(2027, 2, 20, 0), key="renewal@2027-02-28")
    auth = approved()
    thirty = PayerRules(renewal_days=30)
    assert kinds_and_times(alerts_of(auth, NY, thirty))[0] == (RENEWAL, ny(2027, 1, 29, 0))
    assert next_alert_at(auth, NY, thirty) == ny(2027, 1, 29, 0)
    assert next_alert_at(auth, NY) == ny(2027, 2, 14, 0)
    assert [a.kind for a in due_alerts(auth, ny(2027, 1, 29, 0), NY, thirty)] == [RENEWAL]
    assert due_alerts(auth, ny(2027, 1, 29, 0), NY) == []


def test_no_follow_up_when_the_payer_leaves_no_time_before_the_decision_is_due() -> None:
    rules = PayerRules(follow_up_before_expedited_hours=0)
    auth = move(draft(urgency="expedited"), "submit", rules=rules)
    assert auth.follow_up_at == auth.due_at
    assert kinds_and_times(alerts_of(auth, NY, rules)) == [(OVERDUE, ny(2026, 12, 7, 17))]
    hour = PayerRules(follow_up_before_expedited_hours=1)
    one = move(draft(urgency="expedited"), "submit", rules=hour)
    assert [a.kind for a in alerts_of(one, NY, hour)] == [FOLLOW_UP, OVERDUE]


@pytest.mark.parametrize("status", [S.DRAFT, S.DENIED, S.EXPIRED, S.CANCELLED])
def test_nothing_to_raise_while_nobody_waits_on_a_clock(status: AuthStatus) -> None:
    auth = at_status(status)
    assert alerts_of(auth, NY) == []
    assert next_alert_at(auth, NY) is None
    assert due_alerts(auth, NOW + timedelta(days=400), NY) == []


def test_a_record_missing_its_clock_raises_only_what_it_has() -> None:
    pending = move(submitted(), "request-info")
    assert alerts_of(submitted().model_copy(update={"due_at": None}), NY) == []
    no_follow_up = submitted().model_copy(update={"follow_up_at": None})
    assert kinds_and_times(alerts_of(no_follow_up, NY)) == [(OVERDUE, NOW + timedelta(days=7))]
    assert alerts_of(pending.model_copy(update={"info_due_on": None}), NY) == []
    auth = approved()
    assert auth.decision is not None
    half = auth.model_copy(update={"decision": auth.decision.model_copy(update={"valid_to": None})})
    assert alerts_of(half, NY) == []


# ---------------------------------------------------------------- the organization's policy


def test_a_payers_own_clocks_are_found_whatever_the_case_and_spacing() -> None:
    acme, beta = PayerRules(expedited_hours=24), PayerRules(standard_days=5)
    policy = AuthorizationPolicyOut(payers={"Beta Care": beta, " Acme  Health ": acme})
    assert policy.rules_for("acme health") == acme
    assert policy.rules_for("ACME\tHEALTH") == acme
    assert policy.rules_for("Acme Health") == acme
    assert policy.rules_for("beta   care ") == beta
    for other in ("Acme", "Acme Health Plus", "AcmeHealth", ""):
        assert policy.rules_for(other) == PayerRules()
    assert AuthorizationPolicyOut().rules_for("Acme Health") == PayerRules()
    assert payer_key("  Acme \t Health\n") == "acme health"
    assert payer_key("STRASSE Health") == payer_key("Straße health")  # casefolded, as German compares


def test_the_policy_warns_by_default_and_refuses_what_it_does_not_know() -> None:
    policy = AuthorizationPolicyOut()
    assert (policy.unapproved_booking, policy.payers, policy.version) == (UnapprovedBooking.WARN, {}, 0)
    written = AuthorizationPolicyIn.model_validate(
        {"unapproved_booking": "refuse", "payers": {"Acme Health": {"standard_days": 5}}}
    )
    assert written.unapproved_booking is UnapprovedBooking.REFUSE
    assert written.payers["Acme Health"].standard_days == 5
    bad: dict[str, Any]
    for bad in (
        {"unapproved_booking": "ignore"},
        {"payers": {"": {}}},
        {"payers": {"x" * 121: {}}},
        {"payers": {f"payer {n}": {} for n in range(101)}},
        {"payers": {"Acme Health": {"standard_days": 0}}},
        {"payers": {"Acme Health": {"standard_days": 5}, " acme  HEALTH": {"standard_days": 9}}},
        {"version": 3},
    ):
        with pytest.raises(ValidationError):
            AuthorizationPolicyIn.model_validate(bad)
    assert (
        len(AuthorizationPolicyIn.model_validate({"payers": {f"p{n}": {} for n in range(100)}}).payers) == 100
    )
    # two payers whose names differ by more than case and spacing are two
    two = {"Acme Health": {"standard_days": 5}, "Acme Health Plus": {"standard_days": 9}}
    assert len(AuthorizationPolicyIn.model_validate({"payers": two}).payers) == 2


# ---------------------------------------------------------------- lists


def test_each_status_is_worked_from_one_list() -> None:
    assert LISTS == {
        S.DRAFT: AuthList.DRAFT,
        S.SUBMITTED: AuthList.PENDING,
        S.APPEALED: AuthList.PENDING,
        S.PENDING_INFO: AuthList.PENDING,
        S.APPROVED: AuthList.APPROVED,
        S.PARTIALLY_APPROVED: AuthList.APPROVED,
        S.DENIED: AuthList.DENIED,
        S.EXPIRED: AuthList.CLOSED,
        S.CANCELLED: AuthList.CLOSED,
    }


def test_where_each_authorization_sorts_in_its_list() -> None:
    hour = timedelta(hours=1)
    # a draft by when it was made, even after it changed
    touched = draft().model_copy(update={"updated_at": NOW + hour})
    assert sort_at(touched, NY) == NOW
    # the chase list: when the payer's decision is due, or the end of the day the information is due
    assert sort_at(move(draft(urgency="expedited"), "submit"), NY) == ny(2026, 12, 7, 17)
    assert sort_at(move(denied(), "appeal", NOW + hour), NY) == NOW + hour + timedelta(days=30)
    pending = move(submitted(), "request-info", NOW + hour, info_due="2026-12-18")
    assert sort_at(pending, NY) == ny(2026, 12, 19, 0)
    # approvals by when their window ends
    assert sort_at(approved(), NY) == ny(2027, 3, 1, 0)
    assert sort_at(approved(3), NY) == ny(2027, 3, 1, 0)
    # denials by when they were decided
    refused = move(submitted(), "deny", NOW + hour, reason="other").model_copy(
        update={"updated_at": NOW + 5 * hour}  # a document attached later
    )
    assert sort_at(refused, NY) == NOW + hour
    # the closed by when they last changed
    expired = move(move(submitted(), "approve", NOW + hour, **APPROVAL), "expire", NOW + 3 * hour)
    assert sort_at(expired, NY) == NOW + 3 * hour
    assert sort_at(move(draft(), "cancel", NOW + 2 * hour), NY) == NOW + 2 * hour


def test_a_record_missing_its_dates_sorts_by_when_it_last_changed() -> None:
    later = NOW + timedelta(hours=2)
    auth = approved()
    assert auth.decision is not None
    for broken in (
        submitted().model_copy(update={"due_at": None, "updated_at": later}),
        move(submitted(), "request-info").model_copy(update={"info_due_on": None, "updated_at": later}),
        auth.model_copy(
            update={"decision": auth.decision.model_copy(update={"valid_from": None}), "updated_at": later}
        ),
        denied().model_copy(update={"decision": None, "updated_at": later}),
    ):
        assert sort_at(broken, NY) == later


# ---------------------------------------------------------------- the report

H = timedelta(hours=1)
BETA = COVERAGE.model_copy(update={"payer": "Beta Care"})


def filed(urgency: str = "standard", coverage: CoverageOut = COVERAGE) -> AuthorizationOut:
    made = new_authorization(
        request(urgency=urgency), auth_id="a", patient_id="pat-1", coverage=coverage, by="u-1", now=NOW
    )
    return move(made, "submit")


def gap(appointment_id: str, on: date) -> WithoutApproval:
    return WithoutApproval(
        appointment_id=appointment_id, patient_id="pat-1", appointment_type="physio", on=on
    )


def test_the_report_gives_turnaround_by_payer_and_urgency_and_every_decision() -> None:
    quick = move(filed("expedited"), "approve", NOW + 30 * H, **APPROVAL)  # 30 hours, on time
    # denied late (80 h 20 min, of 72), appealed, approved in part on appeal
    overturned = move(
        filed("expedited"), "deny", NOW + 80 * H + timedelta(minutes=20), reason="not-medically-necessary"
    )
    overturned = move(overturned, "appeal", NOW + 81 * H)
    overturned = move(overturned, "partially-approve", NOW + 90 * H, approved_units=6, **APPROVAL)
    quicker = move(filed("expedited"), "approve", NOW + 2.5 * H, **APPROVAL)
    # denied in 90 minutes, appealed, denied again
    refused = move(filed(), "deny", NOW + 1.5 * H, reason="missing-information")
    refused = move(move(refused, "appeal", NOW + 2 * H), "deny", NOW + 3 * H, reason="missing-information")
    # the payer asked for information on day 1, had it on day 2, approved on day 3: 72 hours after submission
    informed = move(move(filed(), "request-info", NOW + 24 * H), "provide-info", NOW + 48 * H)
    informed = move(informed, "approve", NOW + 72 * H, **APPROVAL)
    waiting = filed()  # due on day 7: overdue on day 10
    asked = move(filed(), "request-info", NOW + H)  # waiting on us: not the payer's lateness
    withdrawn = move(filed(coverage=BETA), "cancel", NOW + H)
    never_sent = draft()
    gaps = [
        gap("appt-9", date(2026, 12, 10)),
        gap("appt-5", date(2026, 12, 9)),
        gap("appt-3", date(2026, 12, 10)),
    ]
    out = report(
        [never_sent, withdrawn, refused, quick, informed, overturned, waiting, quicker, asked],
        gaps,
        date(2026, 12, 1),
        date(2026, 12, 31),
        NOW + timedelta(days=10),
    )
    assert (out.first_day, out.last_day) == (date(2026, 12, 1), date(2026, 12, 31))
    assert out.turnaround == [
        Turnaround(
            payer="Acme Health",
            urgency=AuthUrgency.EXPEDITED,
            submitted=3,
            decided=3,
            on_time=2,  # the first decision counts: the late denial, not the appeal's
            overdue=0,
            median_hours=30.0,  # of 30, 80.3 and 2.5
            longest_hours=80.3,
        ),
        Turnaround(
            payer="Acme Health",
            urgency=AuthUrgency.STANDARD,
            submitted=4,
            decided=2,
            on_time=2,
            overdue=1,
            median_hours=36.8,  # of 1.5 and 72: 36.75, to a tenth
            longest_hours=72.0,
        ),
        Turnaround(
            payer="Beta Care",
            urgency=AuthUrgency.STANDARD,
            submitted=1,
            decided=0,
            on_time=0,
            overdue=0,
            median_hours=None,
            longest_hours=None,
        ),
    ]
    assert (out.approved, out.partially_approved, out.denied) == (3, 1, 3)
    assert out.denials == {DenialReason.NOT_MEDICALLY_NECESSARY: 1, DenialReason.MISSING_INFORMATION: 2}
    assert (out.appealed, out.overturned) == (2, 1)
    assert out.without_approval == [
        gap("appt-5", date(2026, 12, 9)),
        gap("appt-3", date(2026, 12, 10)),
        gap("appt-9", date(2026, 12, 10)),
    ]


def test_a_request_is_overdue_once_its_due_time_has_passed_undecided() -> None:
    auth = filed("expedited")
    due = NOW + 72 * H

    def overdue(now: datetime, *auths: AuthorizationOut) -> int:
        return report(auths, [], date(2026, 12, 1), date(2026, 12, 31), now).turnaround[0].overdue

    assert overdue(due, auth) == 0
    assert overdue(due + timedelta(minutes=1), auth) == 1
    assert overdue(due + timedelta(minutes=1), auth, filed("expedited")) == 2
    # an appeal waiting past its time: its first decision was made
    appealed = move(move(auth, "deny", NOW + H, reason="other"), "appeal", NOW + 2 * H)
    assert overdue(NOW + timedelta(days=40), appealed) == 0
    # a record without a clock is never overdue
    assert overdue(NOW + timedelta(days=40), auth.model_copy(update={"due_at": None})) == 0


def test_the_median_turnaround_of_an_odd_and_an_even_count() -> None:
    def figures(*minutes: int) -> tuple[float | None, float | None]:
        auths = [move(filed(), "approve", NOW + timedelta(minutes=m), **APPROVAL) for m in minutes]
        row = report(auths, [], date(2026, 12, 1), date(2026, 12, 31), NOW + timedelta(days=30)).turnaround[0]
        return row.median_hours, row.longest_hours

    assert figures(300) == (5.0, 5.0)
    assert figures(540, 60, 300) == (5.0, 9.0)
    assert figures(540, 60, 240, 360) == (5.0, 9.0)  # 4 and 6 in the middle
    assert figures(60, 150) == (1.8, 2.5)  # 1.75, to a tenth of an hour
    assert figures(600, 1200) == (15.0, 20.0)
    assert figures(120, 60, 240, 180, 300) == (3.0, 5.0)
    # hours to a tenth: 20 minutes is 0.3, 10 hours 10 minutes 10.2
    assert figures(20) == (0.3, 0.3)
    assert figures(1800, 610) == (20.1, 30.0)
    assert report([], [], date(2026, 12, 1), date(2026, 12, 31), NOW).turnaround == []


def test_a_late_standard_decision_counts_its_hours_whole() -> None:
    late = move(filed(), "approve", NOW + timedelta(days=10), **APPROVAL)  # 240 hours, of 168
    (row,) = report([late], [], date(2026, 12, 1), date(2026, 12, 31), NOW + timedelta(days=11)).turnaround
    assert (row.decided, row.on_time, row.median_hours, row.longest_hours) == (1, 0, 240.0, 240.0)


def test_an_appeal_is_overturned_when_approved_fully_or_in_part_not_when_denied_again() -> None:
    def appealed() -> AuthorizationOut:
        return move(move(filed(), "deny", NOW + H, reason="not-covered"), "appeal", NOW + 2 * H)

    approved_on_appeal = move(appealed(), "approve", NOW + 3 * H, **APPROVAL)
    in_part = move(appealed(), "partially-approve", NOW + 3 * H, approved_units=4, **APPROVAL)
    denied_again = move(appealed(), "deny", NOW + 3 * H, reason="not-covered")
    out = report(
        [approved_on_appeal, in_part, denied_again], [], date(2026, 12, 1), date(2026, 12, 31), NOW + 4 * H
    )
    assert (out.appealed, out.overturned) == (3, 2)
    assert (out.approved, out.partially_approved, out.denied) == (1, 1, 4)
    assert out.denials == {DenialReason.NOT_COVERED: 4}
    assert report([denied_again], [], date(2026, 12, 1), date(2026, 12, 31), NOW).overturned == 0
