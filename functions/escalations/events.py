"""Rules: events become tasks, later events resolve them, and escalations reach the people they move to.

- An event a rule is ``on`` opens that rule's task for the event's focus (the appointment, referral,
  assessment or reply it is about), unless one is already active for that cause or this very event
  already opened one (a redelivery, a replay): both are conditions of the one transaction that writes
  the task. A rule whose task something already resolved (an unconfirmed call for an appointment
  that is confirmed by now: events can arrive out of order) opens nothing.
- An event a rule is ``closed_by`` cancels the open task of that rule for the same focus, with reason
  ``resolved-by-event``.
- ``EscalationRaised``, ``EscalationEscalated`` and ``EscalationResumed``: the clock that started gets
  its timer (the one place timers are set); the first two are also published to the work-alert topic
  front ends and pagers subscribe to, filtered by organization and role (ids and codes only).

Work per event: one GetItem (the policy); for a rule that opens, one BatchGetItem (calendar, patient,
appointment or referral); for one that closes, two GetItems (cause, task); one transaction per task
opened or closed.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from functions.escalations.common import SYSTEM, TIMER, system_actor
from shared import clock, ids, timers
from shared.aws import client
from shared.data import keys
from shared.data import scheduling as sched
from shared.data import tasks as repo
from shared.data.table import bind
from shared.data.tx import Cancelled
from shared.domain.referrals import OPEN as OPEN_REFERRAL
from shared.domain.scheduling import AppointmentStatus
from shared.domain.tasks import (
    OPEN,
    RANK,
    Focus,
    FocusType,
    Priority,
    Rule,
    TaskOut,
    TaskStatus,
    due_at,
    raise_escalation,
    resolved,
    risk_from,
    rule_cause,
)
from shared.events.tasks import TaskCancelled
from shared.logs import entry_point, get_logger

logger = get_logger()
ALERTS = ("EscalationRaised", "EscalationEscalated")  # told to the new queue
CLOCKS = (*ALERTS, "EscalationResumed")  # a clock that (re)starts: its timer


def focus_of(kind: str, detail: dict[str, Any]) -> tuple[Focus | None, str]:
    """What an event is about, and what else tells two causes on one focus apart (a social need's
    domain: food and transport found in one screening are two tasks)."""
    if kind == "ReminderUndeliverable":
        return Focus(type=FocusType(detail["subject_kind"]), id=detail["subject_id"]), ""
    if detail.get("authorization_id"):  # before its appointment: a unit used is the approval's
        return Focus(type=FocusType.AUTHORIZATION, id=detail["authorization_id"]), ""
    if detail.get("transition_id"):  # a step's rules tell its steps apart (their match)
        return Focus(type=FocusType.TRANSITION, id=detail["transition_id"]), ""
    if detail.get("appointment_id"):
        return Focus(type=FocusType.APPOINTMENT, id=detail["appointment_id"]), ""
    if detail.get("referral_id"):
        return Focus(type=FocusType.REFERRAL, id=detail["referral_id"]), ""
    if detail.get("assessment_id"):
        return Focus(type=FocusType.ASSESSMENT, id=detail["assessment_id"]), str(detail.get("domain") or "")
    if detail.get("reply_id"):
        return Focus(type=FocusType.REPLY, id=detail["reply_id"]), ""
    if detail.get("result_id"):
        return Focus(type=FocusType.RESULT, id=detail["result_id"]), ""
    if detail.get("message_id"):
        return Focus(type=FocusType.MESSAGE, id=detail["message_id"]), ""
    if detail.get("observation_id"):  # a reading's alerts: one cause per bound or trend rule
        qualifier = str(detail.get("rule_id") or f"{detail.get('component')}:{detail.get('interpretation')}")
        return Focus(type=FocusType.OBSERVATION, id=detail["observation_id"]), qualifier
    if detail.get("care_plan_id") and detail.get("code"):  # a plan's measurement, by its code
        return Focus(type=FocusType.CARE_PLAN, id=detail["care_plan_id"]), str(detail["code"])
    return None, ""


def cause_of(rule: Rule, focus: Focus | None, qualifier: str) -> str | None:
    return rule_cause(rule.id, focus, qualifier) if focus is not None else None


def already_resolved(rule: Rule, appointment: Any, referral: Any) -> bool:
    """Has what would close this rule's task already happened?"""
    if appointment is not None and rule.closed_by:
        status = AppointmentStatus(appointment.status)
        if status not in (AppointmentStatus.PENDING, AppointmentStatus.BOOKED):
            return True
        return "AppointmentConfirmed" in rule.closed_by and status is AppointmentStatus.BOOKED
    if referral is not None and rule.closed_by:
        record = referral.record()
        return record.status not in OPEN_REFERRAL or record.appointment_id is not None
    return False


def _priority(rule: Rule, detail: dict[str, Any]) -> Priority:
    stated = detail.get("priority")
    if stated in set(Priority) and RANK[Priority(stated)] < RANK[rule.priority]:
        return Priority(stated)
    return rule.priority


def open_for(
    rule: Rule, org: str, kind: str, detail: dict[str, Any], world: dict[str, Any], now: datetime
) -> str:
    focus, qualifier = focus_of(kind, detail)
    appointment, referral = world.get("appointment"), world.get("referral")
    if already_resolved(rule, appointment, referral):
        return "resolved-already"
    cal, policy = world["calendar"], world["policy"]
    visit = appointment.record().start if appointment is not None else None
    due = due_at(rule.due, now, cal, visit) if rule.due is not None else None
    escalation = (
        raise_escalation(rule.severity, rule.clock, policy, rule.role, now, cal)
        if rule.severity is not None
        else None
    )
    record = TaskOut(
        id=ids.new_id(),
        version=1,
        code=rule.code,
        status=TaskStatus.REQUESTED,
        priority=_priority(rule, detail),
        patient_id=detail.get("patient_id"),
        patient_name=repo.display_name(world.get("patient")),
        focus=focus,
        role=rule.role,
        due_at=due,
        at_risk_at=risk_from(now, due) if due is not None else None,
        rule_id=rule.id,
        escalation=escalation,
        created_at=now,
        created_by=f"rule:{rule.id}",
        updated_at=now,
    )
    change = sched.Change(system_actor(org), now)
    repo.open_task(
        change, org, record, cause=cause_of(rule, focus, qualifier), seen=f"{detail['event_id']}|{rule.id}"
    )
    try:
        change.commit()
    except Cancelled as cancelled:
        return "duplicate-event" if "seen" in cancelled.failed else "already-open"
    return "opened"


def close_for(rule: Rule, org: str, kind: str, detail: dict[str, Any], now: datetime) -> str:
    focus, qualifier = focus_of(kind, detail)
    cause = cause_of(rule, focus, qualifier)
    task_id = repo.cause_task_id(org, cause) if cause else None
    item = repo.get(org, task_id) if task_id else None
    if item is None or item.record().status not in OPEN:
        return "nothing-open"
    before = item.record()
    change = sched.Change(system_actor(org), now)
    after = repo.save_task(change, org, item, resolved(before, now), SYSTEM, "resolved-by-event")
    change.events.append(repo.event(TaskCancelled, org, after, now, resolved_by_event=True))
    try:
        change.commit()
    except Cancelled:
        return "lost-race"  # someone moved it meanwhile: the redelivery will look again
    return "resolved"


def world_of(org: str, detail: dict[str, Any], rules: list[Rule]) -> dict[str, Any]:
    """What opening tasks needs, in one BatchGetItem."""
    wanted: dict[str, tuple[str, str]] = {"calendar": sched.calendar_key(org)}
    if detail.get("patient_id"):
        wanted["patient"] = sched.patient_key(org, detail["patient_id"])
    if detail.get("appointment_id"):
        wanted["appointment"] = (keys.appointment_pk(org, detail["appointment_id"]), keys.APPOINTMENT_SK)
    elif detail.get("referral_id") or detail.get("subject_kind") == "referral":
        referral_id = detail.get("referral_id") or detail["subject_id"]
        wanted["referral"] = (keys.referral_pk(org, referral_id), keys.REFERRAL_SK)
    elif detail.get("subject_kind") == "appointment":
        wanted["appointment"] = (keys.appointment_pk(org, detail["subject_id"]), keys.APPOINTMENT_SK)
    found = sched.get_many(list(wanted.values()))
    world = {name: found.get(key) for name, key in wanted.items()}
    world["calendar"] = sched.calendar_of(world["calendar"])
    return world


def alert(org: str, detail: dict[str, Any]) -> str:
    """Tell the people of the task's new queue (ids and codes only: they open the task to read it)."""
    message = {k: detail.get(k) for k in ("task_id", "role", "level", "severity", "priority", "code")}
    client("sns").publish(
        TopicArn=os.environ["WORK_ALERT_TOPIC_ARN"],
        Message=json.dumps({"organization_id": org, **message}),
        MessageAttributes={
            "organization_id": {"DataType": "String", "StringValue": org},
            "role": {"DataType": "String", "StringValue": str(detail["role"])},
        },
    )
    return "alerted"


def arm(org: str, task_id: str) -> str:
    """A clock that started (raised, climbed, resumed) gets its timer, here and nowhere else: the
    HTTP function and the timer function never touch Scheduler. A timer left behind by a clock that
    stopped finds nothing to do when it fires."""
    item = repo.get(org, task_id)
    record = item.record() if item is not None else None
    if record is None or record.status is not TaskStatus.REQUESTED or record.escalation is None:
        return "stopped"
    if record.escalation.deadline_at is not None:
        timers.set_timer(TIMER, org, task_id, record.escalation.deadline_at)
    return "armed"


def on_event(kind: str, org: str, detail: dict[str, Any], now: datetime) -> list[str]:
    if kind in CLOCKS:
        return [arm(org, detail["task_id"]), *([alert(org, detail)] if kind in ALERTS else [])]
    policy, _ = repo.policy(org)
    opening, closing = policy.rules_on(kind, detail), policy.rules_closed_by(kind, detail)
    outcomes = [f"{rule.id}:{close_for(rule, org, kind, detail, now)}" for rule in closing]
    if opening:
        world = {**world_of(org, detail, opening), "policy": policy}
        outcomes += [f"{rule.id}:{open_for(rule, org, kind, detail, world, now)}" for rule in opening]
    return outcomes or ["no-rule"]


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, list[str]]:
    bind()
    kind, detail = event["detail-type"], event["detail"]
    outcomes = on_event(kind, detail["organization_id"], detail, clock.now())
    logger.info(
        "escalations event", detail_type=kind, event_id=detail.get("event_id"), outcome=",".join(outcomes)
    )
    return {"outcomes": outcomes}
