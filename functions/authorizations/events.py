"""Authorizations, asynchronous: the payer's clocks, units used by visits, and bookings that lacked an
approval when one arrives.

- ``AuthorizationRequested`` and ``AuthorizationMoved``: the authorization's timer
  (``pa-<id>.<minute>``, this function is its target) is set at its next alert. Firing, it raises what is due
  (:func:`shared.domain.authorizations.due_alerts`), each once: a **follow-up** task for the
  coordinator before the payer's decision is due; **overdue** (``AuthorizationOverdue``: the
  escalation rule ``authorization-overdue`` acts) when it is late, or when the information the payer
  asked for was not sent by its day; a **renewal** task before the window ends; the **expiry** at its
  end. A decision (or a cancellation) closes the open follow-up task.
- An approval (fully or in part): the patient's visits booked while awaiting it that it covers are
  marked approved, and their ``obtain-authorization`` tasks complete.
- ``AppointmentFulfilled``: a visit of a type that needs an approval (or one linked to an approval)
  uses a unit of the approval that covers its date, once per appointment; at the last unit, a renewal
  task (once per approval window). A visit held with no approval covering it is recorded for the
  report (``VisitWithoutAuthorization``).
- ``AppointmentCancelled``, ``AppointmentNoShow``: the visit's ``obtain-authorization`` task, if open,
  is cancelled.

Work per timer or arming: one BatchGetItem (the authorization, the policy, the calendar) and one
Scheduler call. Per fulfilled visit: two GetItems (appointment, its type) and, for a gated type, one
Query (the patient's authorizations) and one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared import clock, timers
from shared.data import authorizations as repo
from shared.data import core, keys
from shared.data import tasks as task_repo
from shared.data.patients import Actor, Patient
from shared.data.table import bind
from shared.data.tx import Cancelled
from shared.domain.authorizations import (
    AWAITING,
    IN_FORCE,
    AlertKind,
    AuthAction,
    AuthorizationOut,
    AuthStatus,
    MoveIn,
    PayerRules,
    UnitUse,
    WithoutApproval,
    act,
    covering,
    due_alerts,
    expires_at,
    needs_renewal,
    next_alert_at,
    raised,
    renewal_key,
    use_unit,
    window,
)
from shared.domain.calendar import Calendar
from shared.domain.codes import ServiceCode
from shared.domain.tasks import Action, Focus, FocusType, Outcome, Priority, TaskActionIn, TaskCode
from shared.events import authorizations as events
from shared.logs import entry_point, get_logger

if TYPE_CHECKING:
    from shared.domain.scheduling import AppointmentOut

logger = get_logger()
SYSTEM = "system:authorizations"
TIMER = "pa"
ATTEMPTS = 3  # a lost race on the authorization (staff moved it meanwhile): read again, apply again
_self: dict[str, str] = {}


def system_actor(org: str) -> Actor:
    return Actor(org, SYSTEM, None, None)


def _common(org: str, record: AuthorizationOut, now: datetime) -> dict[str, Any]:
    return {
        "organization_id": org,
        "occurred_at": now,
        "authorization_id": record.id,
        "patient_id": record.patient_id,
    }


def _task(
    record: AuthorizationOut,
    patient: Any,
    code: TaskCode,
    description: str,
    due: datetime,
    now: datetime,
    priority: Priority = Priority.ROUTINE,
) -> Any:
    return task_repo.new_task(
        code=code,
        description=description,
        patient_id=record.patient_id,
        patient=patient,
        focus=Focus(type=FocusType.AUTHORIZATION, id=record.id),
        due=max(due, now),
        by=SYSTEM,
        now=now,
        business_status="prior-authorization",
        priority=priority,
        owner_id=_coordinator(patient),
    )


def _coordinator(patient: Any) -> str | None:
    team = patient.record().care_team if patient is not None else None
    return team.coordinator_id if team is not None else None


def _open_once(change: core.Change, org: str, task: Any, cause: str) -> None:
    """Open ``task`` unless one with its cause is open (staff are on it already); the cause's condition
    in the transaction settles a race."""
    if task_repo.cause_task_id(org, cause) is None:
        task_repo.open_task(change, org, task, cause=cause)


def _renewal(change: core.Change, org: str, record: AuthorizationOut, patient: Any, cal: Calendar) -> None:
    days = window(record)
    due = expires_at(days[1], cal) if days else change.at
    description = "Prior authorization: ask the payer to renew it (its window or units are running out)"
    task = _task(record, patient, TaskCode.RENEW_AUTHORIZATION, description, due, change.at)
    _open_once(change, org, task, repo.renewal_cause(record.id))


# ---------------------------------------------------------------- the timer


def _write(
    change: core.Change, org: str, record: AuthorizationOut, cal: Calendar, item: Any, action: str
) -> str:
    repo.put(change, org, record, cal, item, action)
    change.commit()
    return action


def _read(org: str, auth_id: str) -> tuple[Any, Calendar, PayerRules] | None:
    """The authorization, the organization's calendar and its payer's clocks, in one BatchGetItem."""
    wanted = [repo.key(org, auth_id), repo.POLICY.key(org), core.calendar_key(org)]
    found = core.get_many(wanted)
    item = found.get(wanted[0])
    if not isinstance(item, repo.AuthorizationItem):
        return None
    policy = repo.POLICY.of(found.get(wanted[1]))
    return item, core.calendar_of(found.get(wanted[2])), policy.rules_for(item.record().payer)


def fire(org: str, auth_id: str, now: datetime) -> str:
    """Raise what is due, each once; then the timer at the next alert."""
    outcome = "nothing-due"
    for _ in range(ATTEMPTS):
        found = _read(org, auth_id)
        if found is None:
            return "gone"
        item, cal, rules = found
        before = item.record()
        due = due_alerts(before, now, cal, rules)
        if not due:
            break
        patient = core.get_item(Patient, core.patient_key(org, before.patient_id))
        change = core.Change(system_actor(org), now)
        after = before
        for alert in due:
            if alert.kind is AlertKind.FOLLOW_UP:
                description = (
                    "Prior authorization: the payer's decision is nearly due; follow up with the payer"
                )
                task = _task(
                    before, patient, TaskCode.FOLLOW_UP_AUTHORIZATION, description, before.due_at or now, now
                )
                _open_once(change, org, task, repo.follow_up_cause(auth_id))
            elif alert.kind in (AlertKind.OVERDUE, AlertKind.INFO_DUE):
                change.events.append(
                    events.AuthorizationOverdue(
                        **_common(org, before, now), alert=alert.kind, urgency=before.urgency
                    )
                )
            elif alert.kind is AlertKind.RENEWAL:
                _renewal(change, org, before, patient, cal)
            else:  # the window ended
                after = act(after, MoveIn(action=AuthAction.EXPIRE), SYSTEM, now, cal, rules)
                change.events.append(
                    events.AuthorizationMoved(
                        **_common(org, before, now), action=AuthAction.EXPIRE, status=AuthStatus.EXPIRED
                    )
                )
        after = raised(after, [a.key for a in due], now)
        try:
            outcome = _write(change, org, after, cal, item, "alert")
        except Cancelled:
            continue  # moved meanwhile (staff, or this timer delivered twice): read it again
        break
    else:
        raise RuntimeError("lost the race on the authorization three times")  # the timer retries
    arm(org, auth_id, now, fired=True)
    return outcome


def arm(org: str, auth_id: str, now: datetime, *, fired: bool = False) -> str:
    """The authorization's one timer, at its next alert; one due already fires now."""
    found = _read(org, auth_id)
    if found is None:
        return "gone"
    item, cal, rules = found
    at = next_alert_at(item.record(), cal, rules)
    if at is None:
        return "stopped"
    if at <= now and not fired:
        return fire(org, auth_id, now)
    # one timer per alert time (a firing timer deletes itself): shared/timers.timed_id
    timers.set_timer(TIMER, org, timers.timed_id(auth_id, at), max(at, now), target_arn=_self.get("arn"))
    return "armed"


# ---------------------------------------------------------------- moves


def moved(org: str, detail: dict[str, Any], now: datetime) -> str:
    """A decision or a cancellation closes the follow-up task; an approval covers the visits waiting
    for it; then the timer follows."""
    auth_id = detail["authorization_id"]
    item = repo.get(org, auth_id)
    if item is None:
        return "gone"
    record = item.record()
    outcome = "moved"
    if record.status not in AWAITING:
        change = core.Change(system_actor(org), now)
        done = TaskActionIn(outcome=Outcome(code=record.status.value))
        cal = core.organization_calendar(org)
        if task_repo.close_caused(
            change, org, repo.follow_up_cause(auth_id), Action.COMPLETE, done, SYSTEM, cal
        ):
            change.commit()
    if record.status in IN_FORCE:
        outcome = f"approved:{approve_waiting(org, record, now)}"
    arm(org, auth_id, now)
    return outcome


def approve_waiting(org: str, record: AuthorizationOut, now: datetime) -> int:
    """The patient's visits awaiting insurance approval that ``record`` covers (their type needs its
    service, their date is in its window), by date, as far as its units not yet taken go: marked
    approved and linked, their tasks completed, each with the approval written on its version (a
    booking taking a unit meanwhile makes it read again). How many."""
    from shared.data import scheduling as sched  # here: the timer path needs no scheduling models
    from shared.domain.scheduling import Insurance

    days = window(record)
    if days is None:
        return 0
    cal = core.organization_calendar(org)
    since = datetime.combine(days[0], datetime.min.time(), cal.zone)
    items = sched.visits_since(org, record.patient_id, since)
    visits = [i.record() for i in items]
    taken = sum(v.authorization_id == record.id and v.status in sched.VISITS_NOT_YET_HELD for v in visits)
    waiting = [
        (item, v)
        for item, v in zip(items, visits, strict=True)
        if v.insurance is Insurance.AWAITING
        and v.status in sched.VISITS_NOT_YET_HELD
        and days[0] <= v.start.astimezone(cal.zone).date() <= days[1]
    ]
    types = core.get_many(list({sched.type_key(org, v.appointment_type) for _, v in waiting}))
    done = 0
    for appt_item, appt in waiting:
        if record.units_left - taken - done < 1:
            break  # the approval's units are spoken for: the rest wait for another
        atype = types.get(sched.type_key(org, appt.appointment_type))
        needs = atype.record().authorization if atype is not None else None
        if needs is None or (needs.system, needs.code) != (record.service.system, record.service.code):
            continue  # a visit waiting for another service's approval
        auth_item = repo.get(org, record.id)
        if auth_item is None or auth_item.record().status not in IN_FORCE:
            break
        change = core.Change(system_actor(org), now)
        approved = appt.model_copy(
            update={
                "insurance": Insurance.APPROVED,
                "authorization_id": record.id,
                "version": appt.version + 1,
                "updated_at": now,
            }
        )
        day_pk = sched.org_day_pk(org, appt.start, cal.zone)
        change.put("appointment", sched.appointment_item(org, approved, day_pk, appt_item.held_units))
        repo.put(change, org, auth_item.record(), cal, auth_item, "book")
        body = TaskActionIn(outcome=Outcome(code="approved"))
        task_repo.close_caused(change, org, repo.obtain_cause(appt.id), Action.COMPLETE, body, SYSTEM, cal)
        try:
            change.commit()
        except Cancelled:
            continue  # the visit or the approval moved meanwhile: the next booking check sees it
        done += 1
    return done


# ---------------------------------------------------------------- visits held


def fulfilled(org: str, detail: dict[str, Any], now: datetime) -> str:
    from shared.data import scheduling as sched
    from shared.domain.scheduling import AppointmentStatus

    appointment_id = detail["appointment_id"]
    key = (keys.appointment_pk(org, appointment_id), keys.APPOINTMENT_SK)
    appt_item = sched.get_item(sched.Appointment, key)
    if appt_item is None:
        return "no-appointment"
    appt: AppointmentOut = appt_item.record()
    if appt.status is not AppointmentStatus.FULFILLED:
        return "not-fulfilled"
    atype = sched.get_item(sched.AppointmentType, sched.type_key(org, appt.appointment_type))
    service: ServiceCode | None = atype.record().authorization if atype is not None else None
    if service is None and appt.authorization_id is None:
        return "not-gated"
    cal = core.organization_calendar(org)
    day = appt.start.astimezone(cal.zone).date()
    for _ in range(ATTEMPTS):
        items = {i.authorization_id: i for i in repo.of_patient(org, appt.patient_id)}
        auths = [i.record() for i in items.values()]
        if any(appt.id in a.counted for a in auths):
            return UnitUse.ALREADY_COUNTED.value  # a redelivery, whichever approval it used
        counted = None
        for candidate in _candidates(auths, appt, day, service):
            used, how = use_unit(candidate, appt.id, day, now)
            if how is UnitUse.COUNTED:
                counted = used
                break
        change = core.Change(system_actor(org), now)
        if counted is None:
            if service is None:
                return "no-approval"
            visit = WithoutApproval(
                appointment_id=appt.id,
                patient_id=appt.patient_id,
                appointment_type=appt.appointment_type,
                on=day,
            )
            repo.unapproved(change, org, visit)
            latest = max((a for a in auths if _same(a, service)), key=lambda a: a.created_at, default=None)
            change.events.append(
                events.VisitWithoutAuthorization(
                    organization_id=org,
                    occurred_at=now,
                    authorization_id=latest.id if latest else "",
                    patient_id=appt.patient_id,
                    appointment_id=appt.id,
                )
            )
            change.commit()
            return "without-approval"
        used = counted
        change.events.append(
            events.AuthorizationUnitUsed(
                **_common(org, used, now), appointment_id=appt.id, units_left=used.units_left
            )
        )
        if used.status in IN_FORCE and needs_renewal(used.units_used, used.approved_units):
            key_ = renewal_key(used)
            if key_ not in used.alerts:
                patient = core.get_item(Patient, core.patient_key(org, used.patient_id))
                _renewal(change, org, used, patient, cal)
                used = raised(used, [key_], now)
        try:
            return _write(change, org, used, cal, items[used.id], "unit")
        except Cancelled:
            continue
    raise RuntimeError("lost the race on the authorization three times")


def _same(auth: AuthorizationOut, service: ServiceCode | None) -> bool:
    return service is None or (auth.service.system, auth.service.code) == (service.system, service.code)


def _candidates(
    auths: list[AuthorizationOut], appt: AppointmentOut, day: Any, service: ServiceCode | None
) -> list[AuthorizationOut]:
    """The approvals a visit may use, in order: the one it was booked under, then the one covering its
    date for its type's service (in force, else expired since: a visit recorded late). A linked one
    that no longer covers it (cancelled, moved out of its window, its units gone) gives way to the
    next; none: the visit was held without approval."""
    linked = [a for a in auths if a.id == appt.authorization_id and _same(a, service)]
    found = covering(auths, day, 1, service)
    late = [
        a.model_copy(update={"status": AuthStatus.APPROVED})
        for a in auths
        if a.status is AuthStatus.EXPIRED and _same(a, service)
    ]
    hit = covering(late, day, 1, service)
    expired = [a for a in auths if hit is not None and a.id == hit.id]
    return [*linked, *([found] if found is not None else []), *expired]


def called_off(org: str, detail: dict[str, Any], now: datetime) -> str:
    """A visit cancelled or missed needs no approval chased for it: its task is cancelled."""
    change = core.Change(system_actor(org), now)
    cause = repo.obtain_cause(detail["appointment_id"])
    body = TaskActionIn(reason="visit-called-off")
    if not task_repo.close_caused(
        change, org, cause, Action.CANCEL, body, SYSTEM, core.organization_calendar(org)
    ):
        return "no-task"
    change.commit()
    return "task-cancelled"


# ---------------------------------------------------------------- entry


def on_event(kind: str, org: str, detail: dict[str, Any], now: datetime) -> str:
    if kind == "AuthorizationRequested":
        return arm(org, detail["authorization_id"], now)
    if kind == "AuthorizationMoved":
        return moved(org, detail, now)
    if kind == "AppointmentFulfilled":
        return fulfilled(org, detail, now)
    if kind in ("AppointmentCancelled", "AppointmentNoShow"):
        return called_off(org, detail, now)
    return "ignored"


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    # unqualified: a timer must reach whatever version is live when it fires
    _self["arn"] = ":".join(str(context.invoked_function_arn).split(":")[:7])
    now = clock.now()
    if event.get("kind") == TIMER:
        auth_id = timers.item_of(event["id"])
        outcome = fire(event["organization_id"], auth_id, now)
        logger.info("authorization timer", authorization_id=auth_id, outcome=outcome)
        return {"outcome": outcome}
    kind, detail = event["detail-type"], event["detail"]
    outcome = on_event(kind, detail["organization_id"], detail, now)
    logger.info("authorizations event", detail_type=kind, event_id=detail.get("event_id"), outcome=outcome)
    return {"outcome": outcome}
