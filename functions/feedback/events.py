"""Feedback, asynchronous: ask patients after a visit, a transition of care or a care plan review, and
count the service-recovery tasks for the report.

- **Asking.** ``AppointmentFulfilled`` (the visit's type must be one the survey follows),
  ``TransitionClosed`` (not when the patient died, was readmitted or moved away) and
  ``CarePlanReviewed`` make one request per active survey of that trigger, once per event (a claim in
  the request's transaction: a redelivery, or a second consumer, makes none), never for a patient who
  opted out of surveys or is inactive. Its timer (``svy-<request id>``) fires ``delay_hours`` later.
- **Sending.** The timer re-reads the request and the patient (opted out meanwhile: skipped), and
  tells the patient on their channel, in their language, with the survey's link
  (``<link base>/r/<token>``, signed, expiring with the request) and nothing else: no name, no visit,
  no question. In the patient's quiet hours :func:`shared.notify.send.tell` says when they end and
  the timer ``svq-<request id>`` is set for then. The send's dedupe key is ``survey:<request id>``:
  a timer fired twice sends one message. Then the request is ``sent`` (answerable until it expires)
  with ``SurveySent``.
- **Recovery figures.** ``TaskCreated``, ``TaskCompleted`` and ``TaskCancelled`` of a
  ``service-recovery`` task are marked in the report's month, on their key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from shared import clock, ids, timers
from shared.data import core
from shared.data import feedback as repo
from shared.data.patients import Patient
from shared.data.table import bind
from shared.data.tx import Cancelled
from shared.domain.education import best_language
from shared.domain.feedback import RequestStatus, SurveyRequestOut, Trigger
from shared.events.feedback import SurveySent
from shared.logs import entry_point, get_logger

logger = get_logger()
SEND = "svy"
LATER = "svq"  # the send again when quiet hours end (its own name: the firing timer deletes itself)
NO_SURVEY_AFTER = frozenset({"deceased", "readmitted", "moved"})  # how an episode closed
RECOVERY = "service-recovery"
_self: dict[str, str] = {}

NOTICE = {  # (subject, text): no name, no visit, no question; the link is the survey
    "en": (
        "How did we do?",
        "Your care team would like your feedback. It takes a minute: {link}",
    ),
    "es": (
        "¿Cómo lo hicimos?",
        "Su equipo de atención quiere saber su opinión. Es un minuto: {link}",
    ),
}


def _arm(org: str, request_id: str, at: datetime, kind: str = SEND) -> None:
    timers.set_timer(kind, org, request_id, at, target_arn=_self.get("arn"))


# ---------------------------------------------------------------- asking


def ask(
    org: str,
    trigger: Trigger,
    subject_id: str,
    patient_id: str,
    now: datetime,
    *,
    provider_id: str | None = None,
    appointment_type: str | None = None,
) -> str:
    """A request per active survey of ``trigger`` that follows this event: outcomes, comma-separated."""
    outcomes = []
    for survey in repo.active_surveys(org, trigger.value):
        if not survey.wants(appointment_type):
            outcomes.append("not-this-type")
            continue
        claimed = repo.claim(org, survey.code, subject_id)
        if claimed is not None:  # asked already: a redelivery re-arms a timer a crash may have lost
            item = repo.get_request(org, claimed.request_id)
            if item is not None and item.record().status is RequestStatus.SCHEDULED:
                _arm(org, claimed.request_id, max(item.record().send_at, now))
            outcomes.append("asked-already")
            continue
        patient = core.get_item(Patient, core.patient_key(org, patient_id))
        if patient is None or patient.status != "active":
            outcomes.append("inactive")
            continue
        if not patient.record().surveys:
            outcomes.append("opted-out")
            continue
        record = SurveyRequestOut(
            id=ids.new_id(),
            survey_code=survey.code,
            survey_version=survey.version,
            patient_id=patient_id,
            trigger=trigger,
            subject_id=subject_id,
            provider_id=provider_id,
            appointment_type=appointment_type,
            status=RequestStatus.SCHEDULED,
            created_at=now,
            send_at=now + timedelta(hours=survey.delay_hours),
        )
        change = core.Change(repo.system_actor(org), now)
        repo.open_request(change, org, record)
        try:
            change.commit()
        except Cancelled:
            outcomes.append("asked-already")  # another delivery made it a moment ago
            continue
        _arm(org, record.id, record.send_at)
        outcomes.append("scheduled")
    return ",".join(outcomes) or "no-survey"


def visit_fulfilled(org: str, detail: dict[str, Any], now: datetime) -> str:
    from shared.data import keys
    from shared.data import scheduling as sched  # here: only visits need the scheduling model

    item = core.get_item(
        sched.Appointment, (keys.appointment_pk(org, detail["appointment_id"]), keys.APPOINTMENT_SK)
    )
    if item is None:
        return "no-appointment"
    visit = item.record()
    return ask(
        org,
        Trigger.VISIT_FULFILLED,
        visit.id,
        visit.patient_id,
        now,
        provider_id=visit.provider_id,
        appointment_type=visit.appointment_type,
    )


# ---------------------------------------------------------------- sending


def _skip(org: str, item: repo.SurveyRequestItem, reason: str, now: datetime) -> str:
    record = item.record().model_copy(update={"status": RequestStatus.SKIPPED, "skipped_reason": reason})
    change = core.Change(repo.system_actor(org), now)
    repo.move_request(change, org, item, record)
    try:
        change.commit()
    except Cancelled:
        return "moved"
    return f"skipped:{reason}"


def send(org: str, request_id: str, now: datetime) -> str:
    from shared.http.tokens import link_url, make
    from shared.notify.send import Message, tell

    item = repo.get_request(org, request_id)
    if item is None:
        return "gone"
    record = item.record()
    if record.status is not RequestStatus.SCHEDULED:
        return "done-already"
    if now < record.send_at:
        _arm(org, request_id, record.send_at)
        return "not-due"
    survey = repo.survey_version(org, record.survey_code, record.survey_version)
    patient_item = core.get_item(Patient, core.patient_key(org, record.patient_id))
    if survey is None or patient_item is None or patient_item.status != "active":
        return _skip(org, item, "inactive", now)
    patient = patient_item.record()
    if not patient.surveys:
        return _skip(org, item, "opted-out", now)
    # held by quiet hours past the time it would have been answerable: too late to ask
    if now >= record.send_at + timedelta(days=survey.expires_after_days):
        return _skip(org, item, "expired-unsent", now)
    expires = now + timedelta(days=survey.expires_after_days)
    language = best_language(list(NOTICE), str(patient.preferred_language))
    subject, text = NOTICE[language]
    message = Message(subject=subject, text=text.format(link=link_url(make(record.id, expires))))
    outcome, later = tell(org, patient, message, f"survey:{record.id}", now)
    if later is not None:
        _arm(org, request_id, later, LATER)
        return outcome
    sent = record.model_copy(
        update={"status": RequestStatus.SENT, "sent_at": now, "expires_at": expires, "outcome": outcome}
    )
    change = core.Change(repo.system_actor(org), now)
    repo.move_request(change, org, item, sent)
    change.events.append(
        SurveySent(
            organization_id=org,
            occurred_at=now,
            request_id=record.id,
            patient_id=record.patient_id,
            survey_id=record.survey_code,
            trigger=record.trigger,
            outcome=outcome,
        )
    )
    try:
        change.commit()
    except Cancelled:
        return "moved"
    return outcome


# ---------------------------------------------------------------- dispatch


def on_event(kind: str, org: str, detail: dict[str, Any], now: datetime) -> str:
    if kind == "AppointmentFulfilled":
        return visit_fulfilled(org, detail, now)
    if kind == "TransitionClosed":
        if detail.get("reason") in NO_SURVEY_AFTER:
            return "not-after-this-close"
        return ask(org, Trigger.TRANSITION_CLOSED, detail["transition_id"], detail["patient_id"], now)
    if kind == "CarePlanReviewed":  # each review is its own event: the event's id is the subject
        return ask(org, Trigger.CARE_PLAN_REVIEWED, detail["event_id"], detail["patient_id"], now)
    if kind in ("TaskCreated", "TaskCompleted", "TaskCancelled") and detail.get("code") == RECOVERY:
        what: Literal["opened", "closed"] = "opened" if kind == "TaskCreated" else "closed"
        repo.mark_recovery(org, what, detail["task_id"], datetime.fromisoformat(detail["occurred_at"]))
        return f"recovery-{what}"
    return "ignored"


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    # unqualified: a timer must reach whatever version is live when it fires
    _self["arn"] = ":".join(str(context.invoked_function_arn).split(":")[:7])
    now = clock.now()
    if event.get("kind") in (SEND, LATER):
        outcome = send(event["organization_id"], event["id"], now)
        logger.info("feedback timer", timer=event["kind"], outcome=outcome)
        return {"outcome": outcome}
    kind, detail = event["detail-type"], event["detail"]
    outcome = on_event(kind, detail["organization_id"], detail, now)
    logger.info("feedback event", detail_type=kind, event_id=detail.get("event_id"), outcome=outcome)
    return {"outcome": outcome}
