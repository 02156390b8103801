"""Reminders' event consumer: plans follow what happens to appointments and referrals.

- booked or rescheduled → a new plan from the organization's policy (a reschedule replaces the old
  one: its open touches are skipped as ``moved`` and their timers deleted);
- confirmed → the open touches that ask for confirmation are skipped, and the last touch sent
  before the confirmation is credited with it (the report's "confirmed after");
- cancelled, missed, arrived, checked in, done → the plan ends; a miss is marked on the touches sent;
- referral created → follow-ups until it is scheduled; scheduled, cancelled or closed → they end.

At-least-once safe: a plan records the appointment version it was made for, so a second delivery of
one event makes no second plan; timers are set by name; touches move on conditions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.reminders.common import TIMER
from shared import clock
from shared.data import keys
from shared.data import reminders as repo
from shared.data import scheduling as sched
from shared.data.patients import Patient
from shared.data.table import bind
from shared.domain.referrals import OPEN
from shared.domain.reminders import (
    DONE_TOUCH,
    OPEN_TOUCH,
    ReminderPolicyOut,
    SkipReason,
    SubjectKind,
    TouchOut,
    TouchStatus,
)
from shared.domain.scheduling import AppointmentStatus
from shared.logs import entry_point, get_logger
from shared.notify.plans import PlannedTouch, follow_ups, plan
from shared.timers import cancel_timer, set_timer

logger = get_logger()
WAITING = {AppointmentStatus.PENDING, AppointmentStatus.BOOKED}
ENDS = {
    "AppointmentCancelled": SkipReason.ENDED,
    "AppointmentNoShow": SkipReason.ENDED,
    "AppointmentArrived": SkipReason.ENDED,
    "AppointmentCheckedIn": SkipReason.ENDED,
    "AppointmentFulfilled": SkipReason.ENDED,
    "ReferralScheduled": SkipReason.SCHEDULED,
    "ReferralCancelled": SkipReason.ENDED,
    "ReferralClosed": SkipReason.ENDED,
    "ReferralCompleted": SkipReason.ENDED,
}


def rearm(org: str, head: repo.PlanHead) -> str:
    """The plan exists: set its planned touches' timers again (setting moves a timer, so this is
    harmless when they are set, and it finishes the job when the delivery that made the plan failed
    between writing it and setting them)."""
    for item in repo.touches(org, head.current):
        record = item.record()
        if record.status is TouchStatus.PLANNED and record.send_at is not None:
            set_timer(TIMER, org, record.id, record.send_at)
    return "duplicate"


def _start_plan(
    org: str,
    kind: SubjectKind,
    subject_id: str,
    patient_id: str,
    planned: list[PlannedTouch],
    now: datetime,
    planned_for: datetime | None = None,
) -> str:
    old = repo.head(org, kind, subject_id)
    try:
        records, superseded = repo.new_plan(org, kind, subject_id, patient_id, planned, now, old, planned_for)
    except repo.Lost:  # another delivery of this event planned it a moment ago
        return "raced"
    for touch_id in superseded:
        cancel_timer(TIMER, touch_id)
    for record in records:
        if record.status is TouchStatus.PLANNED and record.send_at is not None:
            set_timer(TIMER, org, record.id, record.send_at)
    return "planned"


def plan_appointment(org: str, appointment_id: str, now: datetime) -> str:
    item = sched.get_item(sched.Appointment, (keys.appointment_pk(org, appointment_id), keys.APPOINTMENT_SK))
    if item is None:
        return "gone"
    appointment = item.record()
    if appointment.status not in WAITING or appointment.start <= now:
        return "not-waiting"
    head = repo.head(org, SubjectKind.APPOINTMENT, appointment_id)
    if head is not None and head.planned_for == clock.isoformat(appointment.start):
        return rearm(org, head)  # a second delivery (or a late one, after a confirmation): same plan
    found = sched.get_many(
        [
            sched.patient_key(org, appointment.patient_id),
            sched.calendar_key(org),
            (keys.org_pk(org), keys.REMINDER_POLICY_SK),
        ]
    )
    patient = found.get(sched.patient_key(org, appointment.patient_id))
    if patient is None:
        return "gone"
    record = patient.record()
    policy_item = found.get((keys.org_pk(org), keys.REMINDER_POLICY_SK))
    policy = policy_item.record() if policy_item is not None else ReminderPolicyOut()
    rules = policy.touches_for(appointment.appointment_type)
    if appointment.status is AppointmentStatus.BOOKED:  # booked by the patient: remind, never ask
        rules = [r.model_copy(update={"asks_confirmation": False}) for r in rules]
    planned = plan(
        rules,
        appointment.start,
        now,
        sched.calendar_of(found.get(sched.calendar_key(org))),
        visit_zone=appointment.time_zone,
        quiet=(record.quiet_hours.start, record.quiet_hours.end),
        patient_zone=record.time_zone,
        key=f"{appointment.id}#{appointment.version}",
    )
    return _start_plan(
        org,
        SubjectKind.APPOINTMENT,
        appointment.id,
        appointment.patient_id,
        planned,
        now,
        appointment.start,
    )


def plan_referral(org: str, referral_id: str, now: datetime) -> str:
    key = (keys.referral_pk(org, referral_id), keys.REFERRAL_SK)
    found = sched.get_many([key, sched.calendar_key(org), (keys.org_pk(org), keys.REMINDER_POLICY_SK)])
    item = found.get(key)
    if item is None:
        return "gone"
    referral = item.record()
    if referral.status not in OPEN or referral.appointment_id is not None:
        return "not-open"
    head = repo.head(org, SubjectKind.REFERRAL, referral_id)
    if head is not None:
        return rearm(org, head)
    patient = sched.get_item(Patient, sched.patient_key(org, referral.patient_id))
    if patient is None:
        return "gone"
    record = patient.record()
    policy_item = found.get((keys.org_pk(org), keys.REMINDER_POLICY_SK))
    policy = policy_item.record() if policy_item is not None else ReminderPolicyOut()
    times = follow_ups(
        policy.referral_follow_up_days,
        referral.created_at,
        now,
        sched.calendar_of(found.get(sched.calendar_key(org))),
        quiet=(record.quiet_hours.start, record.quiet_hours.end),
        patient_zone=record.time_zone,
        key=referral.id,
    )
    planned = [
        PlannedTouch(
            index=i,
            offset=f"+{(at - referral.created_at).days}d",
            asks_confirmation=False,
            channels=tuple(policy.touches[0].channels),
            planned_at=at,
            send_at=at,
            skip_reason=None,
        )
        for i, at in enumerate(times)
    ]
    return _start_plan(org, SubjectKind.REFERRAL, referral.id, referral.patient_id, planned, now)


def _current(org: str, kind: SubjectKind, subject_id: str) -> list[repo.Touch]:
    head = repo.head(org, kind, subject_id)
    return repo.touches(org, head.current) if head else []


def stop(
    org: str, kind: SubjectKind, subject_id: str, reason: SkipReason, now: datetime, *, ask_only: bool
) -> int:
    """Skip the plan's open touches (only those asking for confirmation when ``ask_only``)."""
    stopped = 0
    for item in _current(org, kind, subject_id):
        record = item.record()
        if record.status not in OPEN_TOUCH or (ask_only and not record.asks_confirmation):
            continue
        try:
            repo.move(org, item, OPEN_TOUCH, status=TouchStatus.SKIPPED, skip_reason=reason, updated_at=now)
        except repo.Lost:  # it is being sent right now: the sender re-reads the appointment
            continue
        cancel_timer(TIMER, record.id)
        stopped += 1
    return stopped


def _mark_last_sent(org: str, appointment_id: str, now: datetime, **flag: Any) -> None:
    """Mark the touches sent (for a miss: all of them; for a confirmation: the last one before it)."""
    sent = [
        i for i in _current(org, SubjectKind.APPOINTMENT, appointment_id) if i.record().status in DONE_TOUCH
    ]
    sent.sort(key=lambda i: _sent_at(i.record()))
    for item in sent if "no_show" in flag else sent[-1:]:
        try:
            repo.move(org, item, DONE_TOUCH, updated_at=now, **flag)
        except repo.Lost:
            continue


def _sent_at(record: TouchOut) -> datetime:
    return record.sent_at or record.updated_at


def on_event(kind: str, org: str, detail: dict[str, Any], now: datetime) -> str:
    if kind in ("AppointmentBooked", "AppointmentRescheduled"):
        return plan_appointment(org, detail["appointment_id"], now)
    if kind == "AppointmentConfirmed":
        _mark_last_sent(org, detail["appointment_id"], now, confirmed_after=True)
        stop(org, SubjectKind.APPOINTMENT, detail["appointment_id"], SkipReason.CONFIRMED, now, ask_only=True)
        return "confirmed"
    if kind == "ReferralCreated":
        return plan_referral(org, detail["referral_id"], now)
    if kind in ENDS:
        if kind == "AppointmentNoShow":
            _mark_last_sent(org, detail["appointment_id"], now, no_show=True)
        subject = (
            (SubjectKind.APPOINTMENT, detail["appointment_id"])
            if kind.startswith("Appointment")
            else (SubjectKind.REFERRAL, detail["referral_id"])
        )
        stop(org, *subject, ENDS[kind], now, ask_only=False)
        return "ended"
    return "ignored"


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    kind, detail = event["detail-type"], event["detail"]
    outcome = on_event(kind, detail["organization_id"], detail, clock.now())
    logger.info("reminders event", detail_type=kind, event_id=detail.get("event_id"), outcome=outcome)
    return {"outcome": outcome}
