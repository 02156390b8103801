"""Records, asynchronous: the timeline of what other areas did, interactions Careloop logs itself,
messages that wait too long, and measurements that stop coming.

- **Timeline**: every other area's event about a patient (the rule in template.yaml names them; the
  shapes are :data:`shared.domain.timeline.ENTRIES`) is put as its entry, on its key: a redelivery
  writes the same item again.
- **Interactions logged by Careloop**: a reminder sent (or found undeliverable) and a patient's
  reply are interactions with the patient, and a partner's notice (an admission, a discharge, an
  abnormal or critical result) one with a provider. The interaction's id is the event's: a
  redelivery writes nothing new.
- **MessageSent** from the patient arms the conversation's response timer (``mur-<patient>``, at the
  oldest waiting message's response time in the organization's business hours). Firing, a message
  still waiting raises ``MessageUnanswered`` once (the escalation rules make it a task; the answer
  closes it); a message not due yet arms it again. From staff: the patient is told there is a new
  message (never its text), outside their quiet hours (``mgn-<patient>.<message>`` holds it).
- **Measurements**: a live care plan's measurement activity expects a reading of its code every so
  often (the monitoring policy's ``missed_after_days`` for its frequency). Each reading, and each
  plan change, arms ``mms-<patient>.<code>`` at the last reading (or now) plus that time; firing with
  no reading since, it raises ``MeasurementMissed`` once (its task stays open until someone acts; the
  next reading arms the timer again).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared import clock, timers
from shared.data import core, keys
from shared.data import records as repo
from shared.data.patients import Patient
from shared.data.table import bind
from shared.data.tx import Cancelled
from shared.domain.documentation import ContactDirection, InteractionOut, Medium, Party, Source, Topic
from shared.domain.messages import MessageOut, overdue
from shared.domain.monitoring import Measure, missed_after
from shared.domain.observations import MonitorState
from shared.domain.tasks import due_at
from shared.domain.timeline import entry_of
from shared.events.records import MeasurementMissed, MessageUnanswered
from shared.logs import entry_point, get_logger

logger = get_logger()
UNANSWERED = "mur"
NOTICE_LATER = "mgn"
MISSED = "mms"
_self: dict[str, str] = {}

# Careloop's own interactions: event → (channel, direction, party, reached, source, topics)
_REMINDER_CHANNELS = {"sms": Medium.SMS, "email": Medium.EMAIL, "voice": Medium.PHONE}
LOGGED: dict[str, tuple[ContactDirection, Party, bool, Source, list[Topic]]] = {
    "ReminderSent": (ContactDirection.OUTBOUND, Party.PATIENT, True, Source.REMINDER, [Topic.APPOINTMENT]),
    "ReminderUndeliverable": (
        ContactDirection.OUTBOUND,
        Party.PATIENT,
        False,
        Source.REMINDER,
        [Topic.APPOINTMENT],
    ),
    "PatientReplied": (ContactDirection.INBOUND, Party.PATIENT, True, Source.REPLY, [Topic.APPOINTMENT]),
    "PatientAdmitted": (ContactDirection.INBOUND, Party.PROVIDER, True, Source.PARTNER, [Topic.TRANSITION]),
    "PatientDischarged": (ContactDirection.INBOUND, Party.PROVIDER, True, Source.PARTNER, [Topic.TRANSITION]),
    "ResultAbnormal": (ContactDirection.INBOUND, Party.PROVIDER, True, Source.PARTNER, [Topic.RESULTS]),
    "ResultCritical": (ContactDirection.INBOUND, Party.PROVIDER, True, Source.PARTNER, [Topic.RESULTS]),
}


def _channel(kind: str, detail: dict[str, Any]) -> Medium:
    if kind.startswith("Reminder"):
        return _REMINDER_CHANNELS.get(str(detail.get("channel")), Medium.SMS)
    return Medium.SMS if kind == "PatientReplied" else Medium.INTERFACE


def log_interaction(org: str, kind: str, detail: dict[str, Any]) -> str:
    """The interaction an event is, with the event's timeline entry, once (its id is the event's)."""
    direction, party, reached, source, topics = LOGGED[kind]
    if detail.get("subject_kind") == "referral":  # a reminder of a referral, not a visit
        topics = [Topic.REFERRAL]
    at = datetime.fromisoformat(detail["occurred_at"])
    record = InteractionOut(
        id=detail["event_id"],
        patient_id=detail["patient_id"],
        channel=_channel(kind, detail),
        direction=direction,
        party=party,
        reached=reached,
        status="completed" if reached else "not-done",
        topics=topics,
        occurred_at=at,
        source=source,
        recorded_by=f"system:{source.value}",
        recorded_at=clock.now(),
    )
    change = core.Change(repo.system_actor(org), record.recorded_at)
    repo.put_interaction(change, org, record)
    # the interaction's entry (a reminder, a reply), or the encounter's, the result's
    entry = entry_of(kind, detail)
    if entry is not None:
        change.put("timeline", repo.timeline_item(org, record.patient_id, entry))
    try:
        change.commit()
    except Cancelled:
        return "logged-already"
    return "logged"


# ---------------------------------------------------------------- messages


def _response_due(org: str, first: datetime) -> datetime:
    """The response time, counted from the message or, outside business hours, from the next opening
    (a message at 03:12 on Tuesday is due a business day after Tuesday's opening, not at 03:12)."""
    policy, _ = repo.MESSAGE_POLICY.get(org)
    calendar = core.organization_calendar(org)
    start = calendar.add_business_minutes(first, 1) - timedelta(minutes=1)
    return due_at(policy.response_time, start, calendar, None)


def arm_unanswered(org: str, patient_id: str, now: datetime) -> str:
    conversation, _ = repo.conversation(org, patient_id)
    if not conversation.unanswered or conversation.first_unanswered_at is None:
        return "answered"
    due = _response_due(org, conversation.first_unanswered_at)
    timers.set_timer(UNANSWERED, org, patient_id, max(due, now), target_arn=_self.get("arn"))
    return "armed"


def fire_unanswered(org: str, patient_id: str, now: datetime) -> str:
    conversation, item = repo.conversation(org, patient_id)
    if not conversation.unanswered or conversation.first_unanswered_at is None:
        return "answered"
    due = _response_due(org, conversation.first_unanswered_at)
    oldest = overdue(conversation, due, now)
    if oldest is None:
        if now < due:
            timers.set_timer(UNANSWERED, org, patient_id, due, target_arn=_self.get("arn"))
            return "not-due"
        return "raised-already"
    change = core.Change(repo.system_actor(org), now)
    repo.put_conversation(
        change, org, patient_id, conversation.model_copy(update={"escalated_id": oldest}), item
    )
    repo.record_event(
        change, MessageUnanswered(organization_id=org, patient_id=patient_id, message_id=oldest)
    )
    try:
        change.commit()
    except Cancelled:
        return "moved"  # answered or written to meanwhile: the next message's event arms it again
    return "unanswered"


def notify(org: str, patient_id: str, message_id: str, now: datetime) -> str:
    """Tell the patient of a staff message, without its text, once per message."""
    from shared.notify.send import Message, tell

    item = repo.get_message(org, patient_id, message_id)
    patient_item = core.get_item(Patient, core.patient_key(org, patient_id))
    if item is None or patient_item is None:
        return "gone"
    if item.load(MessageOut).read_at is not None:
        return "read-already"
    patient = patient_item.record()
    subject, text = _notice(str(patient.preferred_language))
    outcome, later = tell(org, patient, Message(subject=subject, text=text), f"message:{message_id}", now)
    if later is not None:
        timers.set_timer(NOTICE_LATER, org, f"{patient_id}.{message_id}", later, target_arn=_self.get("arn"))
    return outcome


NOTICE = {  # (subject, text): never the message itself
    "en": (
        "A new message from your care team",
        "You have a new message from your care team. Read it in the Careloop app.",
    ),
    "es": (
        "Un mensaje nuevo de su equipo de atención",
        "Tiene un mensaje nuevo de su equipo de atención. Léalo en la app Careloop.",
    ),
}


def _notice(language: str) -> tuple[str, str]:
    return NOTICE.get(language.split("-")[0].lower(), NOTICE["en"])


def message_sent(org: str, detail: dict[str, Any], now: datetime) -> str:
    if detail["author"] in ("patient", "caregiver"):
        return arm_unanswered(org, detail["patient_id"], now)
    if detail["author"] == "staff":
        return notify(org, detail["patient_id"], detail["message_id"], now)
    return "ignored"


# ---------------------------------------------------------------- measurements


def arm_missed(org: str, patient_id: str, code: str | None, now: datetime) -> str:
    """Arm the missed-measurement timer of each code a live plan expects: after a reading of ``code``,
    a period from the reading; after a plan changed (``code`` None), a full period from now or the
    last reading, whichever is later (a new plan gives the patient time to start)."""
    from shared.data import observations as obs  # here: it loads the care-plans model

    ctx = obs.context(org, patient_id)
    states = {c: item.load(MonitorState) for c, item in repo.monitors(org, patient_id).items()}
    armed = 0
    for expected, (_, frequency) in ctx.expected.items():
        if code is not None and expected != code:
            continue
        last = states[expected].latest_at if expected in states else now
        start = last if code is not None else max(last, now)
        at = max(start + missed_after(ctx.policy, frequency), now)
        timers.set_timer(MISSED, org, f"{patient_id}.{expected}", at, target_arn=_self.get("arn"))
        armed += 1
    return f"armed {armed}"


def fire_missed(org: str, timer_id: str, now: datetime) -> str:
    from shared.data import observations as obs

    patient_id, _, code = timer_id.partition(".")
    ctx = obs.context(org, patient_id)
    if code not in ctx.expected:
        return "not-expected"
    plan_id, frequency = ctx.expected[code]
    period = missed_after(ctx.policy, frequency)
    state_item = core.get_item(repo.MonitorItem, (keys.monitor_pk(org, patient_id), code))
    last = state_item.load(MonitorState).latest_at if state_item is not None else None
    if last is not None and last + period > now:
        timers.set_timer(MISSED, org, timer_id, last + period, target_arn=_self.get("arn"))
        return "measured"
    change = core.Change(repo.system_actor(org), now)
    # once per gap: a timer delivered twice finds the gap's marker
    marker = repo.MissedItem(
        keys.monitor_pk(org, patient_id), keys.missed_sk(code, last), ttl=now + timedelta(days=90)
    )
    change.put("missed", marker, repo.MissedItem.PK.does_not_exist())
    event = MeasurementMissed(
        organization_id=org, patient_id=patient_id, care_plan_id=plan_id, code=Measure(code)
    )
    repo.record_event(change, event)
    try:
        change.commit()
    except Cancelled:
        return "raised-already"
    return "missed"  # once: the next reading arms the timer again


# ---------------------------------------------------------------- dispatch


def on_event(kind: str, org: str, detail: dict[str, Any], now: datetime) -> str:
    if kind == "MessageSent":
        return message_sent(org, detail, now)
    if kind == "ObservationRecorded":
        return arm_missed(org, detail["patient_id"], detail["code"], now)
    if kind in ("CarePlanCreated", "CarePlanUpdated"):
        repo.project(org, kind, detail)  # a new plan is on the timeline (an update makes no entry)
        return arm_missed(org, detail["patient_id"], None, now)
    if kind in LOGGED:
        return log_interaction(org, kind, detail)
    return "projected" if repo.project(org, kind, detail) is not None else "ignored"


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    # unqualified: a timer must reach whatever version is live when it fires
    _self["arn"] = ":".join(str(context.invoked_function_arn).split(":")[:7])
    now = clock.now()
    if event.get("kind") in (UNANSWERED, NOTICE_LATER, MISSED):
        org, item_id = event["organization_id"], event["id"]
        if event["kind"] == UNANSWERED:
            outcome = fire_unanswered(org, item_id, now)
        elif event["kind"] == MISSED:
            outcome = fire_missed(org, item_id, now)
        else:
            patient_id, _, message_id = item_id.partition(".")
            outcome = notify(org, patient_id, message_id, now)
        logger.info("records timer", kind=event["kind"], outcome=outcome)
        return {"outcome": outcome}
    kind, detail = event["detail-type"], event["detail"]
    outcome = on_event(kind, detail["organization_id"], detail, now)
    logger.info("records event", detail_type=kind, event_id=detail.get("event_id"), outcome=outcome)
    return {"outcome": outcome}
