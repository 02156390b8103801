"""Care plans, asynchronous: activities follow what carries them out, screens add social needs, reviews
come due, education is delivered.

- ``SocialNeedIdentified`` (intake: a positive AHC domain but safety) adds the need's problem (its
  ICD-10-CM Z code) and a community-resource referral activity to the patient's social-needs plan,
  making the plan when they have none (its pointer is put on condition: two needs of one screening at
  once make one plan). The activity's task is the escalation rule ``social-need``'s own: opened under
  the same cause, it is one task whichever of the two comes first. Never twice for one screening's
  need (the problem remembers its source).
- The patient's ``Appointment*``, ``Task*`` and ``Referral*`` events move the activities linked to
  them (see :mod:`shared.domain.careplans`).
- ``CarePlanCreated`` / ``CarePlanUpdated``: the plan's review timer (``cpr-<id>``, this function is
  its target) is set at its review date's opening hour; firing, it opens the review task and
  publishes ``CarePlanReviewDue``.
- ``EducationAssigned``: the material goes to the patient by message (SMS or e-mail, by consent and
  preference, outside quiet hours: a message due in them waits on a timer, ``edu-<id>``), once.

Work per appointment, task or referral event: one Query (the patient's live plans, usually none or
one; an appointment event first reads the appointment); a plan that moves: one BatchGetItem
(calendar, patient) and one transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from functions.careplans.common import SYSTEM, World, calendar_and_patient, new_task, system_actor, write
from shared import clock, ids, timers
from shared.data import careplans as repo
from shared.data import core, keys
from shared.data import tasks as task_repo
from shared.data.patients import Patient
from shared.data.table import bind
from shared.data.tx import Cancelled
from shared.domain.careplans import (
    LIVE,
    MAX_ACTIVITIES,
    SOCIAL_NEEDS,
    Activity,
    ActivityKind,
    ActivityStatus,
    CarePlanOut,
    PlanStatus,
    add_social_need,
    on_appointment,
    on_referral,
    on_task,
    replace_activities,
    review_due,
    social_plan,
    task_due,
    with_history,
)
from shared.domain.education import content_for
from shared.domain.monitoring import Frequency
from shared.domain.screening import Domain
from shared.domain.tasks import OPEN, Focus, FocusType, QueueRole, TaskCode, rule_cause
from shared.events.careplans import CarePlanReviewDue
from shared.logs import entry_point, get_logger

logger = get_logger()
ATTEMPTS = 3  # a lost race on the plan: read again and apply again
REVIEW_TIMER = "cpr"
EDUCATION_TIMER = "edu"
MEASURE = "msr"  # a measurement's recurring reminder, ``msr-<plan>.<activity>``
MEASURE_LATER = "msq"  # one held by the patient's quiet hours, sent when they end
# when a measurement's reminder goes out, in the patient's wall clock (AWS cron: minute hour day month
# weekday year): after the default quiet hours (21:00-09:00), the evening one before they start
MEASURE_CRON = {
    Frequency.DAILY: "30 9 * * ? *",
    Frequency.TWICE_DAILY: "30 9,19 * * ? *",
    Frequency.WEEKLY: "30 9 ? * MON *",
}
SOCIAL_RULE = "social-need"  # the escalation rule whose task a social need's activity shares
SOCIAL_DUE_BUSINESS_DAYS = 3  # as the rule's
_self: dict[str, str] = {}


def _save(
    org: str,
    item: repo.CarePlanItem | None,
    before: CarePlanOut | None,
    after: CarePlanOut,
    now: datetime,
    action: str,
) -> str:
    cal, patient = calendar_and_patient(org, after.patient_id)
    world = World(org, cal, patient, now)
    change = core.Change(system_actor(org), now)
    try:
        write(change, org, item, before, with_history(after, SYSTEM, action, now), world, SYSTEM, action)
    except ValueError:
        return "unworkable"  # an education item whose material left the catalog: staff see it not started
    change.commit()
    return action


def follow(org: str, patient_id: str, now: datetime, how: Any, action: str) -> str:
    """Apply ``how(plan) → plan`` to each of the patient's live plans that it moves; a lost race is
    read and applied again."""
    outcome = "no-plan"
    for _ in range(ATTEMPTS):
        moved = []
        for item in repo.live_plans(org, patient_id):
            before = item.record()
            after = how(before)
            if after != before:
                moved.append((item, before, after))
        if not moved:
            return outcome
        try:
            for item, before, after in moved:
                outcome = _save(org, item, before, after, now, action)
        except Cancelled:
            continue
        return outcome
    raise RuntimeError("lost the race on the plan three times")


def appointment(org: str, detail: dict[str, Any], now: datetime) -> str:
    key = (keys.appointment_pk(org, detail["appointment_id"]), keys.APPOINTMENT_SK)
    from shared.data.scheduling import Appointment  # only here: the scheduling models are heavy

    item = core.get_item(Appointment, key)
    if item is None:
        return "no-appointment"
    appt = item.record()
    day = appt.start.astimezone(ZoneInfo(appt.time_zone)).date()  # the visit's own day, where it is

    def how(plan: CarePlanOut) -> CarePlanOut:
        return on_appointment(plan, appt.id, appt.status.value, appt.appointment_type, day, now)[0]

    return follow(org, appt.patient_id, now, how, "appointment")


def social_need(org: str, detail: dict[str, Any], now: datetime) -> str:
    domain = Domain(detail["domain"])
    if domain not in SOCIAL_NEEDS:
        return "not-a-social-need"
    patient_id, assessment_id = detail["patient_id"], detail["assessment_id"]
    focus = Focus(type=FocusType.ASSESSMENT, id=assessment_id)
    cause = rule_cause(SOCIAL_RULE, focus, domain.value)
    for _ in range(ATTEMPTS):
        plan_id = repo.social_plan_id(org, patient_id)
        item = repo.get_plan(org, plan_id) if plan_id else None
        cal, patient = calendar_and_patient(org, patient_id)
        if patient is None:
            return "no-patient"
        world = World(org, cal, patient, now)
        before = item.record() if item is not None else None
        if before is not None and before.status not in LIVE:
            return "plan-ended"  # never: a plan frees its place in the transaction that ends it
        plan = before or social_plan(patient_id, ids.new_id(now), world.today, now, SYSTEM)
        if len(plan.activities) >= MAX_ACTIVITIES:
            return "plan-full"
        due = cal.add_business_days(world.today, SOCIAL_DUE_BUSINESS_DAYS)
        added = add_social_need(plan, assessment_id, domain, due, ids.new_id)
        if added is None:
            return "already-on-plan"
        after, activity = added
        change = core.Change(system_actor(org), now)
        seen = f"{detail['event_id']}|{SOCIAL_RULE}"  # what the rule notes when this event opens its task
        task_id = task_repo.seen_task_id(org, seen) or task_repo.cause_task_id(org, cause)
        rule_status = None
        if task_id is None:  # the rule has not opened it (yet): the plan does, as the rule would
            deadline = task_due(activity.due_date, world.today, cal, now)
            text = f"Care plan: {activity.title}"
            role = QueueRole.COORDINATOR
            task = new_task(patient_id, TaskCode.CONNECT_RESOURCE, role, deadline, focus, text, world, SYSTEM)
            task_repo.open_task(change, org, task, cause=cause, seen=seen)
            task_id = task.id
        else:  # the rule's: closed already if staff were quick, and the activity says so
            rules = task_repo.get(org, task_id)
            rule_status = rules.record().status.value if rules is not None else None
        after = replace_activities(after, {activity.id: activity.model_copy(update={"task_id": task_id})})
        if rule_status is not None:
            after = on_task(after, task_id, rule_status, now)
        write(
            change,
            org,
            item,
            before,
            with_history(after, SYSTEM, "social-need", now),
            world,
            SYSTEM,
            "social-need",
        )
        try:
            change.commit()
        except Cancelled:
            continue  # another need of the screen made the plan, or the rule opened the task: again
        return "added" if before is not None else "plan-made"
    raise RuntimeError("lost the race on the social-needs plan three times")


def task(kind: str, org: str, detail: dict[str, Any], now: datetime) -> str:
    patient_id = detail.get("patient_id")
    if not patient_id:
        return "no-patient"
    status = "completed" if kind == "TaskCompleted" else "cancelled"
    return follow(org, patient_id, now, lambda plan: on_task(plan, detail["task_id"], status, now), "task")


REFERRALS = {
    "ReferralScheduled": "scheduled",
    "ReferralUnscheduled": "unscheduled",
    "ReferralCompleted": "completed",
    "ReferralCancelled": "cancelled",
    "ReferralClosed": "closed",
}


def referral(kind: str, org: str, detail: dict[str, Any], now: datetime) -> str:
    status = REFERRALS[kind]
    return follow(
        org,
        detail["patient_id"],
        now,
        lambda plan: on_referral(plan, detail["referral_id"], status, now),
        "referral",
    )


# ---------------------------------------------------------------- reviews


def review_at(plan: CarePlanOut, org: str) -> datetime:
    """The review date's opening hour in the organization's zone (its midnight when it is closed)."""
    cal = core.organization_calendar(org)
    spans = cal.open_intervals(plan.review_date)
    if spans:
        return spans[0][0]
    return datetime.combine(plan.review_date, datetime.min.time(), cal.zone)


def arm_review(org: str, plan_id: str, now: datetime) -> str:
    item = repo.get_plan(org, plan_id)
    plan = item.record() if item is not None else None
    if plan is None or plan.status not in LIVE:
        return "stopped"
    at = review_at(plan, org)
    if at <= now:
        return fire_review(org, plan_id, now)
    timers.set_timer(REVIEW_TIMER, org, plan_id, at, target_arn=_self.get("arn"))
    return "armed"


def fire_review(org: str, plan_id: str, now: datetime) -> str:
    """The review date came: the review task (once per review date), due at its close of business,
    and ``CarePlanReviewDue``."""
    for _ in range(ATTEMPTS):
        item = repo.get_plan(org, plan_id)
        if item is None:
            return "gone"
        before = item.record()
        cal, patient = calendar_and_patient(org, before.patient_id)
        world = World(org, cal, patient, now)
        if not review_due(before, world.today):
            return "not-due"
        if before.review_task_id is not None:
            open_task = task_repo.get(org, before.review_task_id)
            if open_task is not None and open_task.record().status in OPEN:
                return "task-open"  # staff closed it from their list: this review date opens another
        task = new_task(
            before.patient_id,
            TaskCode.REVIEW_CARE_PLAN,
            QueueRole.COORDINATOR,
            task_due(before.review_date, world.today, cal, now),
            Focus(type=FocusType.CARE_PLAN, id=plan_id),
            f"Review the care plan: {before.title}",
            world,
            SYSTEM,
        )
        change = core.Change(system_actor(org), now)
        task_repo.open_task(
            change, org, task, cause=f"careplan-review|{plan_id}|{before.review_date.isoformat()}"
        )
        after = before.model_copy(update={"review_task_id": task.id})
        write(
            change,
            org,
            item,
            before,
            with_history(after, SYSTEM, "review-due", now),
            world,
            SYSTEM,
            "review-due",
        )
        change.events.append(
            CarePlanReviewDue(
                organization_id=org,
                occurred_at=now,
                care_plan_id=plan_id,
                patient_id=before.patient_id,
                task_id=task.id,
            )
        )
        try:
            change.commit()
        except Cancelled as cancelled:
            if "cause" in cancelled.failed:
                return "task-open"
            continue
        return "review-due"
    raise RuntimeError("lost the race on the plan three times")


# ---------------------------------------------------------------- measurement reminders


def _measuring(plan: CarePlanOut | None, activity_id: str) -> Activity | None:
    """The measurement activity whose reminder should run: an active plan's, under way."""
    activity = plan.activity(activity_id) if plan is not None else None
    if plan is None or plan.status is not PlanStatus.ACTIVE or activity is None:
        return None
    if activity.kind is not ActivityKind.MEASUREMENT or activity.status is not ActivityStatus.IN_PROGRESS:
        return None
    return activity


def sync_measurements(org: str, plan_id: str) -> str:
    """Each measurement of the plan has its recurring reminder while it is under way in an active plan,
    in the patient's zone, until the plan's end; none otherwise (on hold, ended, done by hand)."""
    item = repo.get_plan(org, plan_id)
    plan = item.record() if item is not None else None
    if plan is None:
        return "gone"
    measures = [a for a in plan.activities if a.kind is ActivityKind.MEASUREMENT]
    if not measures:
        return "none"
    patient = core.get_item(Patient, core.patient_key(org, plan.patient_id))
    zone = patient.record().time_zone if patient is not None else core.organization_calendar(org).time_zone
    end = None
    if plan.end is not None:
        end = datetime.combine(plan.end + timedelta(days=1), datetime.min.time(), ZoneInfo(zone))
    for activity in measures:
        timer_id = f"{plan.id}.{activity.id}"
        if _measuring(plan, activity.id) is not None and activity.frequency is not None:
            cron = MEASURE_CRON[activity.frequency]
            timers.set_recurring(MEASURE, org, timer_id, cron, zone, target_arn=_self.get("arn"), end=end)
        else:
            timers.cancel_timer(MEASURE, timer_id)
    return "synced"


def remind_to_measure(org: str, timer_id: str, now: datetime) -> str:
    """One reminder: once per measurement and slot (morning, evening) of the patient's day, outside
    their quiet hours (held until they end, never dropped)."""
    from shared.notify.send import Message, tell

    plan_id, _, activity_id = timer_id.partition(".")
    item = repo.get_plan(org, plan_id)
    activity = _measuring(item.record() if item is not None else None, activity_id)
    if item is None or activity is None:
        timers.cancel_timer(MEASURE, timer_id)
        return "stopped"
    patient_item = core.get_item(Patient, core.patient_key(org, item.patient_id))
    if patient_item is None:
        return "no-patient"
    patient = patient_item.record()
    local = now.astimezone(ZoneInfo(patient.time_zone))
    slot = f"{local.date().isoformat()}-{'am' if local.hour < 14 else 'pm'}"
    text = f"Reminder from your care team: {activity.title}. Record it in the Careloop app."
    message = Message(subject="A reminder from your care team", text=text)
    outcome, later = tell(org, patient, message, f"measure:{activity.id}:{slot}", now)
    if later is not None:
        timers.set_timer(MEASURE_LATER, org, timer_id, later, target_arn=_self.get("arn"))
    return outcome


# ---------------------------------------------------------------- delivering education


def deliver(org: str, assignment_id: str, now: datetime) -> str:
    """Send the material to the patient once (dedupe key ``education:<id>``), outside quiet hours."""
    from shared.notify import choose_channel, next_send_time
    from shared.notify.send import Message, Undeliverable, send

    item = repo.get_assignment(org, assignment_id)
    if item is None:
        return "gone"
    record = item.record()
    if record.delivered_at is not None:
        return "delivered-already"
    if record.care_plan_id is not None and record.activity_id is not None:
        plan = repo.get_plan(org, record.care_plan_id)
        activity = plan.record().activity(record.activity_id) if plan is not None else None
        if activity is None or activity.status is ActivityStatus.CANCELLED:
            return "activity-cancelled"  # the plan ended or staff dropped it before it went out
    patient_item = core.get_item(Patient, core.patient_key(org, record.patient_id))
    if patient_item is None:
        return "no-patient"
    patient = patient_item.record()
    channel = choose_channel(patient)
    if channel is None:
        return "app-only"
    at = next_send_time(patient, now)
    if at > now:
        timers.set_timer(EDUCATION_TIMER, org, assignment_id, at, target_arn=_self.get("arn"))
        return "quiet-hours"
    material = repo.get_material(org, record.material)
    content = content_for(material, record.language) if material is not None else None
    body = content.text if content is not None and content.text else ""
    link = str(content.url) if content is not None and content.url else ""
    sms = channel.value == "sms"
    text = "\n\n".join(
        part
        for part in (
            f"From your care team: {record.title}",
            link if sms else body,
            "" if sms or not link else link,
            "Read it in the Careloop app, and tell your care team if anything is unclear.",
        )
        if part
    )
    try:
        delivery = send(
            org, patient, channel, Message(subject=record.title, text=text), f"education:{assignment_id}"
        )
    except Undeliverable:
        return "undeliverable"
    change = core.Change(system_actor(org), now)
    updated = record.model_copy(
        update={"delivered_at": now, "channel": delivery.channel.value, "updated_at": now}
    )
    repo.put_assignment(change, org, updated, item, "deliver")
    try:
        change.commit()
    except Cancelled:
        return "sent"  # staff recorded a teach-back meanwhile: the send is what counts (deduped)
    return "sent"


# ---------------------------------------------------------------- dispatch


APPOINTMENTS = (
    "AppointmentBooked",
    "AppointmentRescheduled",
    "AppointmentCancelled",
    "AppointmentNoShow",
    "AppointmentFulfilled",
)


def on_event(kind: str, org: str, detail: dict[str, Any], now: datetime) -> str:
    if kind == "SocialNeedIdentified":
        return social_need(org, detail, now)
    if kind in APPOINTMENTS:
        return appointment(org, detail, now)
    if kind in ("TaskCompleted", "TaskCancelled"):
        return task(kind, org, detail, now)
    if kind in REFERRALS:
        return referral(kind, org, detail, now)
    if kind in ("CarePlanCreated", "CarePlanUpdated"):
        measured = sync_measurements(org, detail["care_plan_id"])
        return f"{arm_review(org, detail['care_plan_id'], now)}, measurements {measured}"
    if kind == "EducationAssigned":
        return deliver(org, detail["assignment_id"], now)
    return "ignored"


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    # unqualified: a timer must reach whatever version is live when it fires
    _self["arn"] = ":".join(str(context.invoked_function_arn).split(":")[:7])
    now = clock.now()
    timed = {
        REVIEW_TIMER: fire_review,
        EDUCATION_TIMER: deliver,
        MEASURE: remind_to_measure,
        MEASURE_LATER: remind_to_measure,
    }
    if event.get("kind") in timed:
        org, item_id = event["organization_id"], event["id"]
        fire = timed[event["kind"]]
        outcome = fire(org, item_id, now)
        logger.info("care plan timer", kind=event["kind"], item_id=item_id, outcome=outcome)
        return {"outcome": outcome}
    kind, detail = event["detail-type"], event["detail"]
    outcome = on_event(kind, detail["organization_id"], detail, now)
    logger.info("care plans event", detail_type=kind, event_id=detail.get("event_id"), outcome=outcome)
    return {"outcome": outcome}
