"""Booking, shared by ``POST /appointments`` and accepting a waitlist offer.

Reads what a booking is checked against in one BatchGetItem (calendar, provider, appointment type,
patient, referral), checks it with the pure rules in ``shared.domain.scheduling``, and writes one
transaction (:func:`shared.data.moves.booking_change`, which a partner's mirrored booking writes
too): the appointment, one item per unit of the provider's time it holds (each on condition that
nobody holds it), a check that the patient is still active, the referral it schedules, its audit
entry and its events. Two requests for one slot: DynamoDB lets exactly one transaction in.

Scheduling's event classes (~50 ms of pydantic class building) are imported by the writes that raise
them, here and across ``functions/scheduling``, so reads such as ``GET /availability`` never pay it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import ids
from shared.data import moves
from shared.data import scheduling as repo
from shared.data.patients import Actor
from shared.domain.calendar import Calendar
from shared.domain.codes import ServiceCode
from shared.domain.scheduling import (
    AppointmentOut,
    AppointmentStatus,
    Insurance,
    ProviderOut,
    duration_problem,
    units_for,
    within_booking_horizon,
)
from shared.domain.tasks import TaskOut
from shared.errors import Conflict, NotFound
from shared.events.models import DomainEvent
from shared.http.auth import Principal
from shared.http.caller import invalid


@dataclass
class Context:
    org: str
    calendar: Calendar
    provider: ProviderOut
    duration: timedelta
    patient_id: str
    referral: repo.Referral | None
    needs: ServiceCode | None = None  # the type's service a payer must approve first


def load(
    principal: Principal,
    patient_id: str,
    provider_id: str,
    appointment_type: str,
    referral_id: str | None = None,
) -> Context:
    """Everything a booking is checked against, in one call; a 422 naming the field otherwise."""
    org = principal.organization_id
    if principal.is_patient and patient_id != principal.patient_id:
        raise NotFound("No patient with this id.")
    wanted = [
        repo.calendar_key(org),
        repo.provider_key(org, provider_id),
        repo.type_key(org, appointment_type),
        repo.patient_key(org, patient_id),
    ]
    if referral_id:
        wanted.append((repo.keys.referral_pk(org, referral_id), repo.keys.REFERRAL_SK))
    found = repo.get_many(wanted)
    provider, atype = found.get(wanted[1]), found.get(wanted[2])
    patient = found.get(wanted[3])
    if patient is None:
        raise invalid("patient_id", "no patient with this id in your organization")
    if patient.status != "active":
        raise invalid("patient_id", "the patient is inactive: reactivate the record before booking")
    if provider is None:
        raise invalid("provider_id", "no provider with this id in your organization")
    record = provider.record()
    if not record.active:
        raise invalid("provider_id", "this provider is not taking appointments")
    if atype is None:
        raise invalid("appointment_type", "no appointment type with this code")
    if appointment_type not in record.appointment_types:
        raise invalid("appointment_type", "this provider does not offer this appointment type")
    referral = found.get(wanted[4]) if referral_id else None
    if referral_id and (referral is None or referral.patient_id != patient_id):
        raise invalid("referral_id", "no referral with this id for this patient")
    if referral is not None:
        wanted_to = referral.record()
        if (wanted_to.provider_id and wanted_to.provider_id != provider_id) or (
            wanted_to.specialty and wanted_to.specialty != record.specialty
        ):
            raise invalid("referral_id", "this referral is to another provider or specialty")
    return Context(
        org,
        repo.calendar_of(found.get(wanted[0])),
        record,
        atype.duration,
        patient_id,
        referral,
        atype.record().authorization,
    )


def units(ctx: Context, start: datetime, end: datetime | None, now: datetime) -> list[datetime]:
    """The provider units a visit at ``start`` holds, or a 422 naming what is wrong with the time."""
    problem = within_booking_horizon(start, now) or duration_problem(start, end, ctx.duration)
    if problem:
        raise invalid("end" if "end must" in problem else "start", problem)
    held = units_for(ctx.provider, ctx.calendar, start, ctx.duration)
    if isinstance(held, str):
        raise invalid("start", held)
    return held


def new_appointment(
    ctx: Context, principal: Principal, type_code: str, start: datetime, now: datetime, **extra: Any
) -> AppointmentOut:
    """A patient who books their own visit has confirmed it (``booked``); one booked for them by staff
    waits for their confirmation (``pending``)."""
    return AppointmentOut(
        id=ids.new_id(now),
        version=1,
        status=AppointmentStatus.BOOKED if principal.is_patient else AppointmentStatus.PENDING,
        patient_id=ctx.patient_id,
        provider_id=ctx.provider.id,
        appointment_type=type_code,
        start=start,
        end=start + ctx.duration,
        time_zone=ctx.provider.time_zone,
        referral_id=ctx.referral.referral_id if ctx.referral else None,
        booked_by=principal.subject,
        created_at=now,
        updated_at=now,
        confirmed_at=now if principal.is_patient else None,
        **extra,
    )


@dataclass
class Gate:
    """What :func:`gate` decided: the visit as it books, the task to obtain an approval, or the
    approval whose unit it takes (written on its version in the booking's transaction, so two bookings
    cannot take one last unit)."""

    record: AppointmentOut
    task: TaskOut | None = None
    approval: Any = None  # the approval's item
    was_waiting: bool = False  # a rescheduled visit that awaited approval


def gate(ctx: Context, record: AppointmentOut, now: datetime, moving: str | None = None) -> Gate:
    """A visit whose type needs the payer's prior authorization: covered by one of the patient's
    approvals (in force, for the type's service, its window holding the visit's date, a unit left) it
    is ``approved`` and linked to it; otherwise the organization's policy refuses it (409
    ``authorization-required``) or books it ``awaiting-insurance-approval`` with a task for the
    coordinator to obtain one. A unit a visit not yet held is linked to (booked, arrived, checked in)
    is not there to cover another. Gated types only: a Query of the patient's authorizations, a Query
    of their visits since the approvals' windows open (when one is in force), a GetItem of the policy
    (when none covers it). ``moving``: a visit being rescheduled, whose own unit is not counted as
    taken."""
    if ctx.needs is None:
        return Gate(record)
    from shared.data import authorizations as auth_repo
    from shared.data import tasks as task_repo
    from shared.domain.authorizations import IN_FORCE, UnapprovedBooking, covering, window
    from shared.domain.tasks import Focus, FocusType, TaskCode

    day = record.start.astimezone(ctx.calendar.zone).date()
    items = {i.authorization_id: i for i in auth_repo.of_patient(ctx.org, ctx.patient_id)}
    starts = [
        days[0]
        for i in items.values()
        if (a := i.record()).status in IN_FORCE and (days := window(a)) is not None
    ]
    found = None
    if starts:
        since = datetime.combine(min(starts), datetime.min.time(), ctx.calendar.zone)
        booked = Counter(
            appt.authorization_id
            for appt in (i.record() for i in repo.visits_since(ctx.org, ctx.patient_id, since))
            if appt.authorization_id and appt.status in repo.VISITS_NOT_YET_HELD and appt.id != moving
        )
        auths = [
            a.model_copy(update={"units_used": a.units_used + booked[a.id]})
            for a in (i.record() for i in items.values())
        ]
        found = covering(auths, day, 1, ctx.needs)
    if found is not None:
        approved = record.model_copy(update={"insurance": Insurance.APPROVED, "authorization_id": found.id})
        return Gate(approved, approval=items[found.id])
    policy, _ = auth_repo.POLICY.get(ctx.org)
    if policy.unapproved_booking is UnapprovedBooking.REFUSE:
        raise Conflict(
            "This visit needs the payer's prior authorization: no approval covers its date with a unit left.",
            conflict="authorization-required",
        )
    patient = repo.get_item(repo.Patient, repo.patient_key(ctx.org, ctx.patient_id))
    team = patient.record().care_team if patient is not None else None
    task = task_repo.new_task(
        code=TaskCode.OBTAIN_AUTHORIZATION,
        description="Prior authorization: this visit needs the payer's approval, and none covers it yet",
        patient_id=ctx.patient_id,
        patient=patient,
        focus=Focus(type=FocusType.APPOINTMENT, id=record.id),
        due=record.start,
        by=record.booked_by,
        now=now,
        business_status="prior-authorization",
        owner_id=team.coordinator_id if team is not None else None,
    )
    return Gate(record.model_copy(update={"insurance": Insurance.AWAITING}), task=task)


def regate(ctx: Context, current: AppointmentOut, moved: AppointmentOut, now: datetime) -> Gate:
    """:func:`gate` for a visit moved to another time: approved by what covers its new date (its own
    unit not counted as taken), or awaiting approval again (the task it had is kept, or one is opened),
    or refused where the policy says so. A visit that awaited approval and is covered now has its task
    completed by :func:`gated`."""
    if ctx.needs is None:
        return Gate(moved)
    decided = gate(
        ctx, moved.model_copy(update={"insurance": None, "authorization_id": None}), now, current.id
    )
    if decided.task is not None and current.insurance is Insurance.AWAITING:
        decided.task = None  # its task is open already
    decided.was_waiting = current.insurance is Insurance.AWAITING
    return decided


def gated(change: repo.Change, ctx: Context, decided: Gate) -> repo.Change:
    """``change`` with what :func:`gate` decided: the task (one per visit), or the approval written
    again on its version (label ``authorization``: another booking took a unit meanwhile)."""
    if decided.task is None and decided.approval is None:
        return change
    from shared.data import authorizations as auth_repo

    if decided.task is not None:
        from shared.data import tasks as task_repo

        task_repo.open_task(change, ctx.org, decided.task, cause=auth_repo.obtain_cause(decided.record.id))
    if decided.approval is not None:
        auth_repo.put(change, ctx.org, decided.approval.record(), ctx.calendar, decided.approval, "book")
        if decided.was_waiting:  # moved into an approval's window: nothing left to obtain
            from shared.data import tasks as task_repo
            from shared.domain.tasks import Action, Outcome, TaskActionIn

            done = TaskActionIn(outcome=Outcome(code="approved"))
            cause = auth_repo.obtain_cause(decided.record.id)
            task_repo.close_caused(
                change, ctx.org, cause, Action.COMPLETE, done, change.actor.subject, ctx.calendar
            )
    return change


def booking_change(
    ctx: Context,
    record: AppointmentOut,
    held: list[datetime],
    actor: Actor,
    now: datetime,
    *,
    unit_condition: Any = None,
    audit_action: str = "appointment.book",
    events: list[DomainEvent] | None = None,
) -> repo.Change:
    """The transaction that books ``record`` holding ``held`` (empty for an overbooking):
    :func:`shared.data.moves.booking_change`, with the referral it schedules."""
    return moves.booking_change(
        ctx.org,
        ctx.calendar.zone,
        record,
        held,
        actor,
        now,
        referral=ctx.referral,
        unit_condition=unit_condition,
        audit_action=audit_action,
        events=events or (),
    )
