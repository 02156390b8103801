"""Tasks and escalations (shared/domain/tasks.py), against rules written out here.

The rules:
- statuses are FHIR Task's; the moves: accept (requested → accepted), start (requested or accepted →
  in-progress), hold (any open status but on-hold → on-hold), resume (on-hold → where it was held
  from), complete (requested, accepted or in-progress → completed; needs an outcome), cancel (any
  open status → cancelled; needs a reason), fail (accepted or in-progress → failed; needs a reason);
- accepting or starting a task nobody owns makes it the caller's;
- an escalation's clock runs while the task is ``requested``: a hold pauses it and keeps the whole
  minutes left, resume restarts it with them, anything else stops it for good;
- when it runs out it climbs a rung with that rung's limit; at the top it stays, breached;
- an item is at risk in the last quarter of its limit; clocks count whole minutes.

The calendar is New York's, Monday to Friday 08:00-17:00 (UTC-5 in December).
"""

from __future__ import annotations

import time as time_module
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.domain.calendar import Calendar
from shared.domain.tasks import (
    MOVES,
    RANK,
    Action,
    ClockKind,
    DueIn,
    EscalationOut,
    EscalationPolicy,
    Focus,
    FocusType,
    IllegalMove,
    MissingDetail,
    Priority,
    QueueRole,
    Rule,
    Severity,
    TaskActionIn,
    TaskCode,
    TaskOut,
    TaskStatus,
    acknowledge,
    act,
    add,
    climb,
    climbed,
    due_at,
    minute_of,
    next_status,
    pause,
    raise_escalation,
    resolved,
    resume,
    risk_from,
    rule_cause,
    run_for,
)

NY = Calendar(time_zone="America/New_York")
FRI_16 = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)  # Friday 16:00 in New York
MON_08, MON_11 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC), datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
POLICY = EscalationPolicy()
S = TaskStatus

# status → the actions it allows, and where each goes (resume: back to where the hold came from)
ALLOWED: dict[TaskStatus, dict[Action, TaskStatus]] = {
    S.REQUESTED: {
        Action.ACCEPT: S.ACCEPTED,
        Action.START: S.IN_PROGRESS,
        Action.HOLD: S.ON_HOLD,
        Action.COMPLETE: S.COMPLETED,
        Action.CANCEL: S.CANCELLED,
    },
    S.ACCEPTED: {
        Action.START: S.IN_PROGRESS,
        Action.HOLD: S.ON_HOLD,
        Action.COMPLETE: S.COMPLETED,
        Action.CANCEL: S.CANCELLED,
        Action.FAIL: S.FAILED,
    },
    S.IN_PROGRESS: {
        Action.HOLD: S.ON_HOLD,
        Action.COMPLETE: S.COMPLETED,
        Action.CANCEL: S.CANCELLED,
        Action.FAIL: S.FAILED,
    },
    S.ON_HOLD: {Action.RESUME: S.ACCEPTED, Action.CANCEL: S.CANCELLED},  # held from accepted
    S.COMPLETED: {},
    S.CANCELLED: {},
    S.FAILED: {},
}


@pytest.mark.parametrize("status", list(TaskStatus))
@pytest.mark.parametrize("action", list(Action))
def test_every_move_by_the_table(status: TaskStatus, action: Action) -> None:
    expected = ALLOWED[status].get(action)
    if expected is None:
        with pytest.raises(IllegalMove) as raised:
            next_status(status, action, S.ACCEPTED)
        assert raised.value.status is status and status.value in str(raised.value)
    else:
        assert next_status(status, action, S.ACCEPTED) is expected


def test_resume_goes_back_where_the_hold_came_from_and_to_requested_when_unknown() -> None:
    assert next_status(S.ON_HOLD, Action.RESUME, S.IN_PROGRESS) is S.IN_PROGRESS
    assert next_status(S.ON_HOLD, Action.RESUME, None) is S.REQUESTED
    assert set(MOVES) == set(Action)


def task(**changes: object) -> TaskOut:
    base: dict[str, object] = {
        "id": "01KB0000000000000000000001",
        "version": 1,
        "code": TaskCode.CALL_PATIENT,
        "status": S.REQUESTED,
        "priority": Priority.ROUTINE,
        "role": QueueRole.COORDINATOR,
        "created_at": FRI_16,
        "created_by": "rule:no-show",
        "updated_at": FRI_16,
    }
    return TaskOut.model_validate({**base, **changes})


def escalation(at: datetime = FRI_16, severity: Severity = Severity.MODERATE, **kw: object) -> EscalationOut:
    clock = kw.pop("clock", ClockKind.BUSINESS)
    role = kw.pop("role", QueueRole.COORDINATOR)
    return raise_escalation(severity, clock, POLICY, role, at, NY)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the clock


def test_a_moderate_escalation_has_four_business_hours_on_the_first_rung() -> None:
    esc = escalation()
    assert (esc.level, esc.role, esc.limit, esc.limits) == (0, QueueRole.COORDINATOR, 240, [240, 240, 480])
    assert esc.deadline_at == MON_11 and esc.running
    # at risk in the last quarter: 60 business minutes before the deadline, Monday 10:00
    assert esc.at_risk_at == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    assert esc.ladder == [QueueRole.COORDINATOR, QueueRole.NURSE, QueueRole.PHYSICIAN]


def test_a_clock_counts_whole_minutes() -> None:
    esc = escalation(at=FRI_16 + timedelta(seconds=50))
    assert esc.deadline_at == MON_11
    assert minute_of(datetime(2026, 12, 4, 21, 0, 59, 999, tzinfo=UTC)) == FRI_16


def test_a_wall_clock_escalation_starts_on_its_rule_s_rung_and_counts_every_minute() -> None:
    esc = escalation(severity=Severity.HIGH, clock=ClockKind.WALL, role=QueueRole.NURSE)
    assert (esc.level, esc.role, esc.limit) == (1, QueueRole.NURSE, 60)
    assert esc.deadline_at == FRI_16 + timedelta(hours=1)
    assert esc.at_risk_at == FRI_16 + timedelta(minutes=45)


def test_a_restart_with_less_than_a_quarter_left_is_at_risk_at_once() -> None:
    esc = run_for(escalation(), 30, MON_08, NY)
    assert esc.deadline_at == MON_08 + timedelta(minutes=30) and esc.at_risk_at == MON_08
    exactly_a_quarter = run_for(escalation(), 60, MON_08, NY)
    assert exactly_a_quarter.at_risk_at == MON_08
    more = run_for(escalation(), 61, MON_08, NY)
    assert more.at_risk_at == MON_08 + timedelta(minutes=1)


def test_a_hold_keeps_the_whole_minutes_left_and_resume_gives_them_back() -> None:
    esc = escalation()
    held = pause(esc, MON_08 + timedelta(minutes=60, seconds=40), NY)  # 2 of 4 hours used at Mon 09:00
    assert (held.deadline_at, held.at_risk_at, held.remaining_minutes) == (None, None, 120)
    assert not held.running
    tuesday_9 = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    back = resume(held, tuesday_9, NY)
    assert back.deadline_at == tuesday_9 + timedelta(hours=2) and back.remaining_minutes is None
    assert back.at_risk_at == tuesday_9 + timedelta(hours=1)
    assert pause(held, tuesday_9, NY) == held  # no clock running: nothing to pause
    assert resume(esc, tuesday_9, NY) == esc  # nothing kept: nothing to resume


def test_a_wall_clock_hold_keeps_wall_minutes() -> None:
    esc = escalation(severity=Severity.HIGH, clock=ClockKind.WALL, role=QueueRole.NURSE)
    held = pause(esc, FRI_16 + timedelta(minutes=25), NY)
    assert held.remaining_minutes == 35
    late = pause(esc, FRI_16 + timedelta(hours=3), NY)
    assert late.remaining_minutes == 0


def test_acknowledging_stops_the_clock_once() -> None:
    esc = escalation()
    ack = acknowledge(esc, MON_08)
    assert (ack.deadline_at, ack.at_risk_at, ack.remaining_minutes, ack.acknowledged_at) == (
        None,
        None,
        None,
        MON_08,
    )
    assert acknowledge(ack, MON_11).acknowledged_at == MON_08


def test_climbing_goes_up_a_rung_with_its_limit_and_stays_breached_at_the_top() -> None:
    esc = escalation()
    nurse = climb(esc, MON_11, NY)
    assert (nurse.level, nurse.role, nurse.limit, nurse.breached) == (1, QueueRole.NURSE, 240, False)
    assert nurse.deadline_at == datetime(2026, 12, 7, 20, 0, tzinfo=UTC)  # Monday 15:00
    doctor = climb(nurse, nurse.deadline_at, NY)
    assert (doctor.level, doctor.role, doctor.limit) == (2, QueueRole.PHYSICIAN, 480)
    assert doctor.deadline_at == datetime(2026, 12, 8, 19, 0, tzinfo=UTC)  # Tuesday 14:00 (2 + 6 hours)
    top = climb(doctor, doctor.deadline_at, NY)
    assert (top.level, top.breached, top.deadline_at, top.at_risk_at) == (2, True, None, None)


# ---------------------------------------------------------------- acting on a task


def test_accepting_a_queued_task_makes_it_yours_and_stops_its_clock() -> None:
    t = task(escalation=escalation())
    after = act(t, Action.ACCEPT, "coord-7", None, MON_08, NY)
    assert (after.status, after.owner_id, after.updated_at) == (S.ACCEPTED, "coord-7", MON_08)
    assert after.escalation is not None and after.escalation.acknowledged_at == MON_08
    assert not after.escalation.running
    owned = act(task(owner_id="coord-2"), Action.START, "coord-7", None, MON_08, NY)
    assert (owned.status, owned.owner_id) == (S.IN_PROGRESS, "coord-2")
    assert act(task(), Action.START, "coord-7", None, MON_08, NY).owner_id == "coord-7"


def test_complete_needs_an_outcome_and_cancel_and_fail_a_reason() -> None:
    with pytest.raises(MissingDetail, match="outcome"):
        act(task(), Action.COMPLETE, "c", None, MON_08, NY)
    with pytest.raises(MissingDetail, match="reason"):
        act(task(), Action.CANCEL, "c", TaskActionIn(), MON_08, NY)
    with pytest.raises(MissingDetail, match="reason"):
        act(task(status=S.ACCEPTED), Action.FAIL, "c", TaskActionIn(), MON_08, NY)
    body = TaskActionIn.model_validate({"outcome": {"code": "reached", "note": "Rebooked"}})
    done = act(task(), Action.COMPLETE, "c", body, MON_08, NY)
    assert done.status is S.COMPLETED and done.outcome is not None and done.outcome.code == "reached"
    cancelled = act(task(), Action.CANCEL, "c", TaskActionIn(reason="duplicate"), MON_08, NY)
    assert (cancelled.status, cancelled.status_reason, cancelled.outcome) == (S.CANCELLED, "duplicate", None)
    failed = act(task(status=S.IN_PROGRESS), Action.FAIL, "c", TaskActionIn(reason="unreachable"), MON_08, NY)
    assert (failed.status, failed.status_reason) == (S.FAILED, "unreachable")


def test_a_hold_remembers_where_it_came_from_and_a_reason_if_given() -> None:
    held = act(task(status=S.IN_PROGRESS), Action.HOLD, "c", TaskActionIn(reason="waiting"), MON_08, NY)
    assert (held.status, held.held_from, held.status_reason) == (S.ON_HOLD, S.IN_PROGRESS, "waiting")
    back = act(held, Action.RESUME, "c", None, MON_11, NY)
    assert (back.status, back.held_from) == (S.IN_PROGRESS, None)
    quiet = act(task(), Action.HOLD, "c", None, MON_08, NY)
    assert quiet.status_reason is None


def test_holding_an_unacknowledged_escalation_pauses_it_and_resuming_restarts_it() -> None:
    t = task(escalation=escalation())
    held = act(t, Action.HOLD, "c", None, MON_08 + timedelta(hours=1), NY)
    assert held.escalation is not None and held.escalation.remaining_minutes == 120
    assert held.escalation.acknowledged_at is None
    tuesday_9 = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    back = act(held, Action.RESUME, "c", None, tuesday_9, NY)
    assert back.status is S.REQUESTED
    assert back.escalation is not None and back.escalation.deadline_at == tuesday_9 + timedelta(hours=2)


def test_holding_an_acknowledged_escalation_changes_nothing_on_its_clock() -> None:
    accepted = act(task(escalation=escalation()), Action.ACCEPT, "c", None, MON_08, NY)
    held = act(accepted, Action.HOLD, "c", None, MON_11, NY)
    assert held.escalation == accepted.escalation
    back = act(held, Action.RESUME, "c", None, MON_11, NY)
    assert back.status is S.ACCEPTED and back.escalation == accepted.escalation


def test_a_fired_clock_climbs_only_an_unacknowledged_task_whose_deadline_has_come() -> None:
    t = task(escalation=escalation(), owner_id="coord-2")
    assert climbed(t, MON_11 - timedelta(seconds=1), NY) is None
    up = climbed(t, MON_11, NY)
    assert up is not None and (up.role, up.owner_id, up.updated_at) == (QueueRole.NURSE, None, MON_11)
    assert up.escalation is not None and up.escalation.level == 1
    assert climbed(task(), MON_11, NY) is None  # no escalation
    assert climbed(task(status=S.ACCEPTED, escalation=escalation()), MON_11, NY) is None
    held = act(t, Action.HOLD, "c", None, MON_08, NY)
    assert climbed(held, MON_11, NY) is None
    stopped = task(escalation=acknowledge(escalation(), MON_08))
    assert climbed(stopped, MON_11, NY) is None


def test_at_the_top_a_fired_clock_flags_it_breached_and_keeps_its_queue() -> None:
    doc = task(
        role=QueueRole.PHYSICIAN,
        owner_id="doc-1",
        escalation=climb(climb(escalation(), MON_11, NY), MON_11, NY),
    )
    assert doc.escalation is not None
    top = climbed(doc, doc.escalation.deadline_at, NY)  # type: ignore[arg-type]
    assert top is not None and top.escalation is not None and top.escalation.breached
    assert (top.role, top.owner_id) == (QueueRole.PHYSICIAN, "doc-1")
    seen = top.as_seen(MON_11)
    assert seen.breached and not task(escalation=escalation()).as_seen(MON_11).breached


def test_resolved_by_event_cancels_and_stops_the_clock() -> None:
    out = resolved(task(escalation=escalation()), MON_08)
    assert (out.status, out.status_reason, out.updated_at) == (S.CANCELLED, "resolved-by-event", MON_08)
    assert out.escalation is not None and out.escalation.acknowledged_at == MON_08
    plain = resolved(task(), MON_08)
    assert plain.escalation is None and plain.status is S.CANCELLED


# ---------------------------------------------------------------- due times, risk, what a list shows


def test_due_times_by_unit() -> None:
    visit = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
    assert due_at(DueIn(amount=1, unit="business-days"), FRI_16, NY, None) == MON_08 + timedelta(hours=8)
    assert due_at(DueIn(amount=2, unit="business-hours"), FRI_16, NY, None) == MON_08 + timedelta(hours=1)
    assert due_at(DueIn(amount=90, unit="minutes"), FRI_16, NY, None) == FRI_16 + timedelta(minutes=90)
    assert due_at(DueIn(amount=3, unit="hours"), FRI_16, NY, None) == FRI_16 + timedelta(hours=3)
    before = DueIn(amount=2, unit="hours", before_visit=True)
    assert due_at(before, FRI_16, NY, visit) == visit - timedelta(hours=2)
    assert due_at(before, visit - timedelta(minutes=30), NY, visit) == visit - timedelta(minutes=30)
    assert due_at(before, FRI_16, NY, None) == FRI_16 + timedelta(hours=2)  # no visit: after the event
    assert due_at(
        DueIn(amount=1, unit="hours"), FRI_16 + timedelta(seconds=30), NY, None
    ) == FRI_16 + timedelta(hours=1)


def test_risk_is_the_last_quarter_of_the_time() -> None:
    assert risk_from(FRI_16, FRI_16 + timedelta(hours=4)) == FRI_16 + timedelta(hours=3)


def test_what_a_list_shows_at_an_instant() -> None:
    due = FRI_16 + timedelta(hours=4)
    t = task(due_at=due, at_risk_at=risk_from(FRI_16, due))
    assert not t.as_seen(FRI_16).at_risk and not t.as_seen(FRI_16).overdue
    assert (
        t.as_seen(FRI_16 + timedelta(hours=3)).at_risk and not t.as_seen(FRI_16 + timedelta(hours=3)).overdue
    )
    assert t.as_seen(due).overdue
    closed = task(status=S.COMPLETED, due_at=due, at_risk_at=risk_from(FRI_16, due))
    assert not closed.as_seen(due).at_risk and not closed.as_seen(due).overdue
    esc = task(escalation=escalation())
    assert esc.as_seen(datetime(2026, 12, 7, 15, 0, tzinfo=UTC)).at_risk
    assert not esc.as_seen(datetime(2026, 12, 7, 14, 59, tzinfo=UTC)).at_risk


def test_the_earliest_clock_sorts_a_task() -> None:
    assert task().sort_at() is None
    assert task(due_at=MON_08).sort_at() == MON_08
    assert task(due_at=MON_08 + timedelta(days=3), escalation=escalation()).sort_at() == MON_11
    assert task(due_at=MON_08, escalation=escalation()).sort_at() == MON_08
    assert task(escalation=acknowledge(escalation(), MON_08)).sort_at() is None
    assert [p for p, _ in sorted(RANK.items(), key=lambda kv: kv[1])] == ["stat", "asap", "urgent", "routine"]


# ---------------------------------------------------------------- the policy


def test_the_default_rules_cover_the_events_that_make_work() -> None:
    on = {r.on: r for r in POLICY.rules}
    assert set(on) >= {
        "AppointmentNoShow",
        "AppointmentUnconfirmed",
        "ReminderUndeliverable",
        "ReferralOverdue",
        "SocialNeedIdentified",
        "SafetyConcernIdentified",
    }
    safety = on["SafetyConcernIdentified"]
    assert (safety.role, safety.priority, safety.severity, safety.clock) == (
        QueueRole.NURSE,
        Priority.URGENT,
        Severity.HIGH,
        ClockKind.WALL,
    )
    assert on["AppointmentNoShow"].severity is Severity.MODERATE
    assert "AppointmentConfirmed" in on["AppointmentUnconfirmed"].closed_by
    assert [r.id for r in POLICY.rules_closed_by("AppointmentConfirmed")] == ["unconfirmed"]
    assert [r.id for r in POLICY.rules_on("AppointmentNoShow")] == ["no-show"]


def test_a_disabled_rule_opens_nothing_but_still_closes() -> None:
    rules = [r.model_copy(update={"enabled": r.id != "unconfirmed"}) for r in POLICY.rules]
    policy = EscalationPolicy(rules=rules)
    assert policy.rules_on("AppointmentUnconfirmed") == []
    assert [r.id for r in policy.rules_closed_by("AppointmentConfirmed")] == ["unconfirmed"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ladder": ["nurse", "nurse"]}, "appears once"),
        ({"limits": {"low": [1, 1, 1], "moderate": [1, 1, 1]}}, "every severity"),
        ({"limits": {"low": [1, 1], "moderate": [1, 1, 1], "high": [1, 1, 1]}}, "one limit per level"),
        ({"ladder": ["coordinator", "physician"]}, "one limit per level"),
        (
            {"rules": [{"id": "a", "on": "AppointmentNoShow", "code": "other"}] * 2},
            "unique",
        ),
        (
            {
                "ladder": ["coordinator"],
                "limits": {"low": [1], "moderate": [1], "high": [1]},
                "rules": [
                    {
                        "id": "a",
                        "on": "AppointmentNoShow",
                        "code": "other",
                        "role": "nurse",
                        "severity": "low",
                    }
                ],
            },
            "rung of the ladder",
        ),
        (
            {
                "rules": [
                    {
                        "id": "a",
                        "on": "AppointmentNoShow",
                        "code": "other",
                        "closed_by": ["AppointmentNoShow"],
                    }
                ]
            },
            "closed by the event that opens it",
        ),
        (
            {
                "rules": [
                    {
                        "id": "a",
                        "on": "AppointmentNoShow",
                        "code": "other",
                        "due": {"amount": 1, "unit": "business-days", "before_visit": True},
                    }
                ]
            },
            "minutes or hours",
        ),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EscalationPolicy.model_validate(change)


def test_a_plain_task_rule_may_name_a_role_off_the_ladder() -> None:
    policy = EscalationPolicy.model_validate(
        {
            "ladder": ["coordinator"],
            "limits": {"low": [1], "moderate": [1], "high": [1]},
            "rules": [{"id": "a", "on": "AppointmentNoShow", "code": "other", "role": "nurse"}],
        }
    )
    assert policy.rules[0].role is QueueRole.NURSE
    assert Rule(id="b", on="PatientReplied", code=TaskCode.READ_REPLY).enabled
    assert Focus(type="appointment", id="01KB").id == "01KB"


ENDS = ["AppointmentCancelled", "AppointmentCheckedIn", "AppointmentArrived"]
REFERRAL_DONE = ["ReferralScheduled", "ReferralCompleted", "ReferralClosed", "ReferralCancelled"]
TRANSITION_DONE = ["TransitionStepCompleted", "TransitionClosed"]
# What an organization gets before an admin writes its own (the README's "Tasks and escalations").
DEFAULT_RULES = [
    ("no-show", "AppointmentNoShow", "call-patient", "coordinator", "routine", (1, "business-days", False),
     "moderate", "business", []),
    ("unconfirmed", "AppointmentUnconfirmed", "confirm-appointment", "coordinator", "routine",
     (2, "hours", True), None, "business", ["AppointmentConfirmed", "AppointmentRescheduled", *ENDS]),
    ("undeliverable", "ReminderUndeliverable", "fix-contact-details", "coordinator", "routine",
     (1, "business-days", False), "low", "business", []),
    ("reschedule", "RescheduleRequested", "reschedule-appointment", "coordinator", "routine",
     (1, "business-days", False), None, "business", ["AppointmentRescheduled", *ENDS]),
    ("reply", "PatientReplied", "read-reply", "coordinator", "routine", (1, "business-days", False), None,
     "business", []),
    ("referral-overdue", "ReferralOverdue", "chase-referral", "coordinator", "routine",
     (2, "business-days", False), "low", "business", REFERRAL_DONE),
    ("social-need", "SocialNeedIdentified", "connect-resource", "coordinator", "routine",
     (3, "business-days", False), None, "business", []),
    ("safety-concern", "SafetyConcernIdentified", "safety-check", "nurse", "urgent", (1, "hours", False),
     "high", "wall", []),
    ("abnormal-result", "ResultAbnormal", "review-result", "nurse", "routine", (1, "business-days", False),
     None, "business", ["ResultAcknowledged"]),
    ("critical-result", "ResultCritical", "review-result", "physician", "stat", (30, "minutes", False),
     "high", "wall", ["ResultAcknowledged"]),
    ("transition-contact-missed", "TransitionStepMissed", "call-patient", "coordinator", "urgent",
     (4, "hours", False), "moderate", "business", TRANSITION_DONE),
    ("transition-visit-unbooked", "TransitionStepMissed", "book-follow-up", "coordinator", "routine",
     (1, "business-days", False), "low", "business", TRANSITION_DONE),
    ("transition-visit-missed", "TransitionStepMissed", "book-follow-up", "nurse", "urgent",
     (1, "business-days", False), "moderate", "business", TRANSITION_DONE),
    ("transition-reconciliation-missed", "TransitionStepMissed", "reconcile-medications", "nurse", "routine",
     (1, "business-days", False), "low", "business", TRANSITION_DONE),
    ("urgent-message", "MessageUrgent", "answer-message", "nurse", "urgent", (30, "minutes", False), "high",
     "wall", ["MessageAnswered"]),
    ("message-unanswered", "MessageUnanswered", "answer-message", "coordinator", "routine",
     (4, "hours", False), "low", "business", ["MessageAnswered"]),
    ("reading-out-of-range", "ObservationOutOfRange", "review-reading", "nurse", "routine",
     (4, "hours", False), "moderate", "business", []),
    ("reading-trend", "TrendDetected", "review-reading", "nurse", "routine", (4, "hours", False), "moderate",
     "business", []),
    ("measurement-missed", "MeasurementMissed", "call-patient", "coordinator", "routine",
     (1, "business-days", False), None, "business", []),
    ("authorization-overdue", "AuthorizationOverdue", "follow-up-authorization", "coordinator", "urgent",
     (4, "hours", False), "moderate", "business", ["AuthorizationMoved"]),
]  # fmt: skip


def test_the_defaults_an_organization_starts_with() -> None:
    policy = EscalationPolicy().model_dump(mode="json")
    assert policy["ladder"] == ["coordinator", "nurse", "physician"]
    assert policy["limits"] == {"low": [480, 480, 960], "moderate": [240, 240, 480], "high": [60, 60, 60]}
    rules = [
        (
            r["id"], r["on"], r["code"], r["role"], r["priority"],
            (r["due"]["amount"], r["due"]["unit"], r["due"]["before_visit"]),
            r["severity"], r["clock"], r["closed_by"],
        )
        for r in policy["rules"]
    ]  # fmt: skip
    assert rules == DEFAULT_RULES
    assert all(r["enabled"] for r in policy["rules"])
    # only the critical-result rule names critical values (a potassium of 6.2 mmol/L or more, among others)
    named = {r["id"]: r["critical_values"] for r in policy["rules"] if r["critical_values"] is not None}
    assert list(named) == ["critical-result"]
    assert {"code": "2823-3", "unit": "mmol/L", "low": 2.8, "high": 6.2} in named["critical-result"]


def test_critical_values_belong_to_a_result_critical_rule() -> None:
    with pytest.raises(ValueError, match="critical_values belong"):
        Rule(id="x", on="ResultAbnormal", code=TaskCode.REVIEW_RESULT, critical_values=[])
    policy = EscalationPolicy()
    assert [v.code for v in policy.critical_values()][:2] == ["2823-3", "6298-4"]
    off = EscalationPolicy(rules=[r.model_copy(update={"enabled": False}) for r in policy.rules])
    assert off.critical_values() == []  # a disabled rule names nothing


# ---------------------------------------------------------------- rules that match an event's codes
#
# A rule's ``match`` names codes the event must carry to open the rule's task (TransitionStepMissed's
# ``step``); a closing event closes the task when it carries the same codes, or lacks the field (an
# episode's close names no step, so it closes every step's task). A rule without ``match`` takes any
# event of its trigger.

TRANSITION_RULES = {
    "contact": "transition-contact-missed",
    "visit-booking": "transition-visit-unbooked",
    "visit": "transition-visit-missed",
    "medication-reconciliation": "transition-reconciliation-missed",
}


def test_the_transition_rules_match_their_step() -> None:
    policy = EscalationPolicy().model_dump(mode="json")
    named = {r["id"]: r["match"] for r in policy["rules"] if r["match"] is not None}
    assert named == {rule: {"step": step} for step, rule in TRANSITION_RULES.items()}


@pytest.mark.parametrize(("step", "rule"), list(TRANSITION_RULES.items()))
def test_a_missed_step_opens_its_own_rule_s_task(step: str, rule: str) -> None:
    policy = EscalationPolicy()
    assert [r.id for r in policy.rules_on("TransitionStepMissed", {"step": step})] == [rule]
    # other codes the event carries do not matter
    with_more = {"step": step, "transition_id": "tr-1", "on_time": False}
    assert [r.id for r in policy.rules_on("TransitionStepMissed", with_more)] == [rule]


def test_a_missed_step_no_rule_names_opens_nothing() -> None:
    policy = EscalationPolicy()
    assert policy.rules_on("TransitionStepMissed", {"step": "close"}) == []
    assert policy.rules_on("TransitionStepMissed", {"stage": "contact"}) == []
    # an opening event without the field matches no rule that names it
    assert policy.rules_on("TransitionStepMissed", {}) == []
    assert policy.rules_on("TransitionStepMissed") == []


def test_a_rule_without_match_takes_any_event_of_its_trigger() -> None:
    policy = EscalationPolicy()
    assert [r.id for r in policy.rules_on("AppointmentNoShow", {"step": "contact"})] == ["no-show"]
    assert [r.id for r in policy.rules_closed_by("AppointmentConfirmed", {"step": "contact"})] == [
        "unconfirmed"
    ]


@pytest.mark.parametrize(("step", "rule"), list(TRANSITION_RULES.items()))
def test_a_step_done_closes_its_own_rule_s_task(step: str, rule: str) -> None:
    policy = EscalationPolicy()
    assert [r.id for r in policy.rules_closed_by("TransitionStepCompleted", {"step": step})] == [rule]
    assert [r.id for r in policy.rules_closed_by("TransitionClosed", {"step": step})] == [rule]


def test_a_closing_event_without_the_field_closes_every_step_s_task() -> None:
    policy = EscalationPolicy()
    every = list(TRANSITION_RULES.values())
    assert [r.id for r in policy.rules_closed_by("TransitionClosed", {"reason": "period-ended"})] == every
    assert [r.id for r in policy.rules_closed_by("TransitionClosed", {})] == every
    assert [r.id for r in policy.rules_closed_by("TransitionClosed")] == every
    assert [r.id for r in policy.rules_closed_by("TransitionStepCompleted")] == every
    # carrying the field with another code closes none
    assert policy.rules_closed_by("TransitionStepCompleted", {"step": "close"}) == []
    # the events that open them close none
    assert policy.rules_closed_by("TransitionStepMissed", {"step": "contact"}) == []


def test_a_rule_matches_only_when_every_named_code_agrees() -> None:
    rule = Rule(
        id="two-codes",
        on="TransitionStepMissed",
        code=TaskCode.OTHER,
        match={"step": "visit", "kind": "high"},
        closed_by=["TransitionClosed"],
    )
    policy = EscalationPolicy(rules=[rule])
    assert [r.id for r in policy.rules_on("TransitionStepMissed", {"step": "visit", "kind": "high"})] == [
        "two-codes"
    ]
    assert policy.rules_on("TransitionStepMissed", {"step": "visit", "kind": "low"}) == []
    assert policy.rules_on("TransitionStepMissed", {"step": "visit"}) == []
    # closing: a field that is there must agree, one that is not is no obstacle
    assert [r.id for r in policy.rules_closed_by("TransitionClosed", {"step": "visit"})] == ["two-codes"]
    assert policy.rules_closed_by("TransitionClosed", {"step": "visit", "kind": "low"}) == []
    assert policy.rules_closed_by("TransitionClosed", {"step": "contact"}) == []


def test_a_disabled_transition_rule_opens_nothing_but_still_closes() -> None:
    defaults = EscalationPolicy().rules
    rules = [r.model_copy(update={"enabled": r.id != "transition-contact-missed"}) for r in defaults]
    policy = EscalationPolicy(rules=rules)
    assert policy.rules_on("TransitionStepMissed", {"step": "contact"}) == []
    assert [r.id for r in policy.rules_on("TransitionStepMissed", {"step": "visit"})] == [
        "transition-visit-missed"
    ]
    assert [r.id for r in policy.rules_closed_by("TransitionStepCompleted", {"step": "contact"})] == [
        "transition-contact-missed"
    ]


@pytest.mark.parametrize(
    "match",
    [
        {"Step": "contact"},  # codes are lower-case slugs
        {"step": "Contact"},
        {"step": ""},
        {"step": "a" * 49},
        {"step": "contact visit"},
        {f"field-{i}": "x" for i in range(6)},  # at most five
    ],
)
def test_a_match_that_is_not_slugs_is_refused(match: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate({"id": "a", "on": "TransitionStepMissed", "code": "other", "match": match})


def test_a_match_of_slugs_is_accepted() -> None:
    five = {f"field-{i}": "x" for i in range(5)}
    rule = Rule.model_validate({"id": "a", "on": "TransitionStepMissed", "code": "other", "match": five})
    assert rule.match == five
    assert Rule(id="b", on="TransitionStepMissed", code=TaskCode.OTHER).match is None


def test_the_transition_triggers_codes_and_focus() -> None:
    for trigger in ("TransitionStepMissed", "TransitionStepCompleted", "TransitionClosed"):
        assert Rule.model_validate({"id": "a", "on": trigger, "code": "close-transition"}).on == trigger
    with pytest.raises(ValidationError):
        Rule.model_validate({"id": "a", "on": "TransitionOpened", "code": "other"})
    with pytest.raises(ValidationError, match="closed by the event that opens it"):
        Rule.model_validate(
            {"id": "a", "on": "TransitionClosed", "code": "other", "closed_by": ["TransitionClosed"]}
        )
    assert TaskCode("close-transition") is TaskCode.CLOSE_TRANSITION
    assert Focus(type="transition", id="01KB").type is FocusType.TRANSITION


# ---------------------------------------------------------------- prior authorizations


def test_a_late_payer_decision_opens_an_urgent_escalation_that_any_move_closes() -> None:
    (rule,) = POLICY.rules_on("AuthorizationOverdue")
    assert rule.id == "authorization-overdue"
    assert (rule.code, rule.role, rule.priority, rule.severity, rule.clock) == (
        TaskCode.FOLLOW_UP_AUTHORIZATION,
        QueueRole.COORDINATOR,
        Priority.URGENT,
        Severity.MODERATE,
        ClockKind.BUSINESS,
    )
    # raised Friday 16:00: the task is due in 4 hours, the escalation climbs after 4 business hours
    assert rule.due is not None and rule.severity is not None
    assert due_at(rule.due, FRI_16, NY, None) == FRI_16 + timedelta(hours=4)
    opened = raise_escalation(rule.severity, rule.clock, POLICY, rule.role, FRI_16, NY)
    assert (opened.level, opened.deadline_at) == (0, MON_11)
    # decided, information given, cancelled: every move of the authorization closes it
    assert [r.id for r in POLICY.rules_closed_by("AuthorizationMoved")] == ["authorization-overdue"]
    assert POLICY.rules_on("AuthorizationMoved") == []
    assert POLICY.rules_closed_by("AuthorizationOverdue") == []
    off = EscalationPolicy(rules=[r.model_copy(update={"enabled": False}) for r in POLICY.rules])
    assert off.rules_on("AuthorizationOverdue") == []
    assert [r.id for r in off.rules_closed_by("AuthorizationMoved")] == ["authorization-overdue"]


def test_the_authorization_and_survey_codes_and_focus() -> None:
    for trigger in ("AuthorizationOverdue", "AuthorizationMoved"):
        assert Rule.model_validate({"id": "a", "on": trigger, "code": "other"}).on == trigger
    with pytest.raises(ValidationError):
        Rule.model_validate({"id": "a", "on": "AuthorizationApproved", "code": "other"})
    assert [
        TaskCode(c)
        for c in (
            "obtain-authorization",
            "follow-up-authorization",
            "renew-authorization",
            "service-recovery",
        )
    ] == [
        TaskCode.OBTAIN_AUTHORIZATION,
        TaskCode.FOLLOW_UP_AUTHORIZATION,
        TaskCode.RENEW_AUTHORIZATION,
        TaskCode.SERVICE_RECOVERY,
    ]
    assert Focus(type="authorization", id="01KB").type is FocusType.AUTHORIZATION
    assert Focus(type="survey-response", id="01KB").type is FocusType.SURVEY_RESPONSE


# ---------------------------------------------------------------- details the clocks and causes depend on


def test_a_hold_on_a_business_clock_keeps_business_minutes() -> None:
    # held on Friday at 16:30 with the deadline on Monday at 11:00: 30 minutes on Friday, 3 hours on Monday
    held = pause(escalation(), FRI_16 + timedelta(minutes=30), NY)
    assert held.remaining_minutes == 210
    back = resume(held, MON_08, NY)
    assert back.deadline_at == MON_08 + timedelta(minutes=210)


def test_an_at_risk_time_falls_on_a_whole_minute() -> None:
    policy = EscalationPolicy.model_validate(
        {"ladder": ["coordinator"], "limits": {"low": [10], "moderate": [10], "high": [10]}, "rules": []}
    )
    esc = raise_escalation(Severity.LOW, ClockKind.WALL, policy, QueueRole.COORDINATOR, FRI_16, NY)
    # the last quarter of 10 minutes is its last 2 whole minutes
    assert (esc.deadline_at, esc.at_risk_at) == (
        FRI_16 + timedelta(minutes=10),
        FRI_16 + timedelta(minutes=8),
    )


def test_cancelling_a_held_escalation_forgets_the_minutes_it_kept() -> None:
    held = act(task(escalation=escalation()), Action.HOLD, "c", None, MON_08 + timedelta(hours=1), NY)
    assert held.escalation is not None and held.escalation.remaining_minutes == 120
    gone = act(held, Action.CANCEL, "c", TaskActionIn(reason="duplicate"), MON_11, NY)
    assert gone.escalation is not None
    assert (
        gone.escalation.remaining_minutes,
        gone.escalation.deadline_at,
        gone.escalation.acknowledged_at,
    ) == (
        None,
        None,
        MON_11,
    )
    assert resume(gone.escalation, MON_11, NY) == gone.escalation  # nothing left to restart


def test_what_is_missing_is_named_alone() -> None:
    with pytest.raises(MissingDetail, match=r"^outcome$"):
        act(task(), Action.COMPLETE, "c", TaskActionIn(reason="done"), MON_08, NY)
    with pytest.raises(MissingDetail, match=r"^reason$"):
        act(task(), Action.CANCEL, "c", None, MON_08, NY)


def test_a_reason_is_kept_only_for_a_cancel_a_failure_or_a_hold() -> None:
    accepted = act(task(), Action.ACCEPT, "c", TaskActionIn(reason="mine"), MON_08, NY)
    assert accepted.status_reason is None
    body = TaskActionIn.model_validate({"outcome": {"code": "reached"}, "reason": "called"})
    assert act(task(), Action.COMPLETE, "c", body, MON_08, NY).status_reason is None


def test_a_rule_s_cause_names_the_rule_its_focus_and_what_tells_two_apart() -> None:
    focus = Focus(type="appointment", id="A1")
    assert rule_cause("no-show", focus) == "no-show|appointment:A1|"
    assert (
        rule_cause("social-need", Focus(type="assessment", id="S1"), "housing")
        == "social-need|assessment:S1|housing"
    )
    assert rule_cause("no-show", focus) != rule_cause("no-show", focus, "again")


@pytest.fixture
def machine_clock_in_auckland(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's own zone (``TZ``) set far from UTC, as a developer's laptop may be."""
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time_module.tzset()
    yield
    monkeypatch.undo()
    time_module.tzset()


@pytest.mark.usefixtures("machine_clock_in_auckland")
def test_due_times_and_deadlines_are_in_utc_whatever_the_machines_zone() -> None:
    # stored and sorted as text, they must all read in UTC
    local = FRI_16.astimezone(NY.zone)
    visit = datetime(2026, 12, 9, 10, 0, tzinfo=NY.zone)
    times = [
        minute_of(local),
        add(ClockKind.WALL, NY, local, 30),
        due_at(DueIn(amount=1, unit="business-days"), local, NY, None),
        due_at(DueIn(amount=2, unit="hours", before_visit=True), local, NY, visit),
        due_at(DueIn(amount=3, unit="hours"), local, NY, None),
    ]
    assert [t.isoformat() for t in times] == [
        "2026-12-04T21:00:00+00:00",
        "2026-12-04T21:30:00+00:00",
        "2026-12-07T21:00:00+00:00",  # Monday 16:00 in New York
        "2026-12-09T13:00:00+00:00",  # two hours before the 10:00 visit
        "2026-12-05T00:00:00+00:00",
    ]
