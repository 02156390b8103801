"""Transitions, asynchronous: episodes open on discharge notices, pause on readmissions, follow the
patient's appointments, and miss deadlines on their timer.

- ``PatientDischarged`` (a partner's Encounter) opens an episode for a stay TCM covers (inpatient,
  observation, short stay; not an emergency visit) discharged to the community (not to another
  facility, not deceased), unless its 30-day period is already over. A second notice for the same
  encounter, or the same patient and discharge date, opens nothing (the claims in the transaction).
  A discharge while an episode is open or paused closes it as readmitted and links the two.
- ``PatientAdmitted`` during an episode records the readmission and pauses it.
- The patient's appointments: a booking (from any route: staff, the patient, a partner's EHR) is the
  visit when it is the best candidate (inside the window); a move re-checks it; a cancellation or a
  no-show frees the step; the visit fulfilled completes it.
- ``TransitionOpened`` and ``TransitionUpdated``: the episode's timer (``tcm-<id>``, this function is
  its target) is set at its next deadline; firing, it marks what is missed (``TransitionStepMissed``:
  the escalation rules take it from there), closes the episode on day 30, and sets itself again.

Work per appointment event: one GetItem (the patient's current episode, usually none); when there is
one, one BatchGetItem (episode, appointment, calendar) and one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.transitions.common import SYSTEM, TIMER, calendar, open_context, opening, system_actor, write
from shared import clock, ids, timers
from shared.data import keys
from shared.data import scheduling as sched
from shared.data import tasks as task_repo
from shared.data import transitions as repo
from shared.data.table import bind
from shared.data.tx import Cancelled
from shared.domain.scheduling import AppointmentOut, AppointmentStatus
from shared.domain.transitions import (
    Closed,
    CloseReason,
    Complexity,
    EpisodeStatus,
    WarningCode,
    book_visit,
    close,
    hold_visit,
    next_check,
    open_episode,
    readmit,
    sweep,
    unbook_visit,
)
from shared.logs import entry_point, get_logger

logger = get_logger()
ATTEMPTS = 3  # a lost race on the episode (staff wrote it meanwhile): read again and apply again
# v3 ActCode classes of a stay TCM follows (an emergency visit or a pre-admission is not one)
TCM_CLASSES = frozenset({"IMP", "ACUTE", "NONAC", "OBSENC", "SS"})
# discharge-disposition codes that are not the community: another facility, or death
NOT_HOME = frozenset({"other-hcf", "hosp", "long", "psy", "rehab", "snf", "exp"})
_self: dict[str, str] = {}


def discharged(org: str, detail: dict[str, Any], now: datetime) -> str:
    if detail.get("encounter_class") not in TCM_CLASSES:
        return "not-a-tcm-stay"
    if detail.get("disposition") in NOT_HOME:
        return "not-to-the-community"
    at = datetime.fromisoformat(detail["discharged_at"])
    if at > now:
        return "in-the-future"
    patient_id = detail["patient_id"]
    cal, patient, previous = open_context(org, patient_id)
    if patient is None:
        return "no-patient"
    if previous is not None and previous.record().discharged_at >= at:
        held = previous.record()
        same = held.discharged_at == at or held.encounter_id == detail.get("encounter_id")
        return "duplicate" if same else "older-than-current"
    record = open_episode(
        episode_id=ids.new_id(),
        patient_id=patient_id,
        discharged_at=at,
        complexity=Complexity(detail.get("complexity") or Complexity.MODERATE),
        calendar=cal,
        now=now,
        opened_by=f"partner:{detail['partner_id']}",
        patient_name=task_repo.display_name(patient),
        encounter_id=detail.get("encounter_id"),
        partner_id=detail.get("partner_id"),
        encounter_class=detail.get("encounter_class"),
        disposition=detail.get("disposition"),
        previous_id=previous.transition_id if previous else None,
    )
    if now >= record.close.due_at:
        return "period-over"
    change, _ = opening(org, record, system_actor(org), now, cal, previous)
    try:
        change.commit()
    except Cancelled as cancelled:
        if "claim" in cancelled.failed:
            return "duplicate"
        raise  # the previous episode moved meanwhile: the retry reads it again
    return "opened"


def _apply(org: str, transition_id: str, now: datetime, how: Any, action: str) -> str:
    """Read the episode, ``how(record, calendar)`` → the new record (or a str outcome), write it with
    what it means for its tasks and events; a lost race is read and applied again."""
    for _ in range(ATTEMPTS):
        item = repo.get(org, transition_id)
        if item is None:
            return "gone"
        before = item.record()
        cal = calendar(org)
        try:
            result = how(before, cal)
        except Closed:
            return "closed"
        if isinstance(result, str):
            return result
        after, missed = result if isinstance(result, tuple) else (result, None)
        if after == before:
            return "unchanged"
        change = sched.Change(system_actor(org), now)
        write(change, org, item, before, after, SYSTEM, action, cal, missed)
        try:
            change.commit()
        except Cancelled:
            continue
        return action
    raise RuntimeError("lost the race on the episode three times")


def admitted(org: str, detail: dict[str, Any], now: datetime) -> str:
    if detail.get("encounter_class") not in TCM_CLASSES:
        return "not-a-stay"  # an emergency visit is not a readmission
    transition_id = repo.current_id(org, detail["patient_id"])
    if transition_id is None:
        return "no-episode"
    at = datetime.fromisoformat(detail["admitted_at"]) if detail.get("admitted_at") else now

    def how(record: Any, cal: Any) -> Any:
        if record.status is not EpisodeStatus.OPEN:
            return "not-open"
        if at <= record.discharged_at:
            return "before-discharge"  # the stay that opened it, told again
        return readmit(record, at, detail.get("encounter_id"))

    return _apply(org, transition_id, now, how, "readmitted")


def appointment(kind: str, org: str, detail: dict[str, Any], now: datetime) -> str:
    transition_id = repo.current_id(org, detail["patient_id"])
    if transition_id is None:
        return "no-episode"
    appointment_id = detail["appointment_id"]
    item = sched.get_item(sched.Appointment, (keys.appointment_pk(org, appointment_id), keys.APPOINTMENT_SK))
    if item is None:
        return "no-appointment"
    appt: AppointmentOut = item.record()

    def how(record: Any, cal: Any) -> Any:
        if record.patient_id != appt.patient_id:
            return "another-patient"
        if record.status is not EpisodeStatus.OPEN:
            return "not-open"
        if appt.start < record.discharged_at:
            return "before-discharge"
        # what the appointment is now decides, not the event's kind (events may come out of order)
        if kind in ("AppointmentBooked", "AppointmentRescheduled"):
            if appt.status not in (AppointmentStatus.PENDING, AppointmentStatus.BOOKED):
                return "not-booked-now"
            return book_visit(record, appointment_id, appt.start, now, cal)[0]
        if kind == "AppointmentFulfilled":
            linked = record.visit.appointment_id
            if appt.status is not AppointmentStatus.FULFILLED or linked not in (None, appointment_id):
                return "not-the-visit"
            return hold_visit(record, appointment_id, min(appt.start, now), None, cal)
        code = WarningCode.VISIT_NO_SHOW if kind == "AppointmentNoShow" else WarningCode.VISIT_CANCELLED
        return unbook_visit(record, appointment_id, code, now, cal)

    return _apply(org, transition_id, now, how, "visit")


def fire(org: str, transition_id: str, now: datetime) -> str:
    """The timer: mark the deadlines passed, close on day 30 (as readmitted if the patient is still
    back in hospital), then set the timer at the next deadline."""

    def how(record: Any, cal: Any) -> Any:
        if record.status is EpisodeStatus.CLOSED:
            return "closed"
        swept, missed = sweep(record, now)
        if now >= record.close.due_at:
            reason = (
                CloseReason.READMITTED if record.status is EpisodeStatus.PAUSED else CloseReason.PERIOD_ENDED
            )
            return close(swept, reason, now, SYSTEM, cal), missed
        return swept, missed

    outcome = _apply(org, transition_id, now, how, "swept")
    arm(org, transition_id, now)
    return outcome


def arm(org: str, transition_id: str, now: datetime) -> str:
    """The episode's one timer, at its next deadline; one already due fires now."""
    item = repo.get(org, transition_id)
    at = next_check(item.record()) if item is not None else None
    if at is None:
        return "stopped"
    if at <= now:
        return fire(org, transition_id, now)
    timers.set_timer(TIMER, org, transition_id, at, target_arn=_self.get("arn"))
    return "armed"


APPOINTMENTS = (
    "AppointmentBooked",
    "AppointmentRescheduled",
    "AppointmentCancelled",
    "AppointmentNoShow",
    "AppointmentFulfilled",
)


def on_event(kind: str, org: str, detail: dict[str, Any], now: datetime) -> str:
    if kind == "PatientDischarged":
        return discharged(org, detail, now)
    if kind == "PatientAdmitted":
        return admitted(org, detail, now)
    if kind in APPOINTMENTS:
        return appointment(kind, org, detail, now)
    if kind in ("TransitionOpened", "TransitionUpdated"):
        return arm(org, detail["transition_id"], now)
    return "ignored"


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    # unqualified: a timer must reach whatever version is live when it fires
    _self["arn"] = ":".join(str(context.invoked_function_arn).split(":")[:7])
    now = clock.now()
    if event.get("kind") == TIMER:
        outcome = fire(event["organization_id"], event["id"], now)
        logger.info("transition timer", transition_id=event["id"], outcome=outcome)
        return {"outcome": outcome}
    kind, detail = event["detail-type"], event["detail"]
    outcome = on_event(kind, detail["organization_id"], detail, now)
    logger.info("transitions event", detail_type=kind, event_id=detail.get("event_id"), outcome=outcome)
    return {"outcome": outcome}
