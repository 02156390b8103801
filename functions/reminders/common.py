"""What the reminders functions share: the system actor, loading a touch's world, and the words of a
message (through :mod:`shared.notify.content`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.data import keys
from shared.data import reminders as repo
from shared.data import scheduling as sched
from shared.data.patients import Actor, Patient
from shared.domain.calendar import Calendar
from shared.domain.patients import Channel, PatientOut
from shared.domain.reminders import SENDABLE, MessageKind, ReminderPolicyOut, SubjectKind, TouchOut
from shared.domain.scheduling import AppointmentOut
from shared.notify.send import Message

SYSTEM = "system:reminders"
TIMER = "reminder"


def system_actor(org: str) -> Actor:
    return Actor(org, SYSTEM, None, None)


@dataclass
class World:
    """A touch and what deciding about it needs, read in one BatchGetItem (strongly consistent reads
    are not offered by BatchGetItem's callers here; the conditional writes that follow are what
    guard against a stale read)."""

    patient: Patient | None
    appointment: sched.Appointment | None
    referral: sched.Referral | None
    policy: ReminderPolicyOut
    suppressed: dict[str, repo.Suppression]  # by channel: addresses that bounced or complained
    head: repo.PlanHead | None  # the plan: is the touch still one of its current touches?
    calendar: Calendar


def load(org: str, touch: TouchOut) -> World:
    wanted = [sched.patient_key(org, touch.patient_id), (keys.org_pk(org), keys.REMINDER_POLICY_SK)]
    suppressions = [(keys.patient_pk(org, touch.patient_id), keys.suppression_sk(c.value)) for c in SENDABLE]
    if touch.subject_kind is SubjectKind.APPOINTMENT:
        subject = (keys.appointment_pk(org, touch.subject_id), keys.APPOINTMENT_SK)
    else:
        subject = (keys.referral_pk(org, touch.subject_id), keys.REFERRAL_SK)
    plan = (keys.plan_pk(org, touch.subject_kind, touch.subject_id), keys.PLAN_SK)
    found = sched.get_many([*wanted, subject, *suppressions, plan, sched.calendar_key(org)])
    policy_item = found.get(wanted[1])
    item = found.get(subject)
    return World(
        patient=found.get(wanted[0]),
        appointment=item if touch.subject_kind is SubjectKind.APPOINTMENT else None,
        referral=item if touch.subject_kind is SubjectKind.REFERRAL else None,
        policy=policy_item.record() if policy_item is not None else ReminderPolicyOut(),
        suppressed={i.channel: i for k in suppressions if (i := found.get(k)) is not None},
        head=found.get(plan),
        calendar=sched.calendar_of(found.get(sched.calendar_key(org))),
    )


def message(
    kind: MessageKind,
    channel: Channel,
    patient: PatientOut,
    policy: ReminderPolicyOut,
    *,
    appointment: AppointmentOut | None = None,
    asks_confirmation: bool = False,
    link: str | None = None,
) -> Message:
    """The words of one message to ``patient``, in their language, with the organization's own
    templates where it has them."""
    from shared.notify import content

    overrides: dict[tuple[str, str, str], Any] = {
        (t.kind.value, t.language, t.channel.value): content.Template(text=t.text, subject=t.subject)
        for t in policy.templates
    }
    facts = content.Facts(
        first_name=patient.name.given[0],
        clinic_name=policy.clinic_name,
        clinic_phone=policy.clinic_phone,
        start=appointment.start if appointment else None,
        end=appointment.end if appointment else None,
        time_zone=patient.time_zone,
        link=link,
        asks_confirmation=asks_confirmation,
        appointment_id=appointment.id if appointment else None,
        sequence=appointment.version if appointment else 0,
        updated_at=appointment.updated_at if appointment else None,
    )
    return content.render(content.Kind(kind.value), channel, patient.preferred_language, facts, overrides)


def expires(appointment: AppointmentOut | None, fallback: datetime) -> datetime:
    """A link lasts until the visit starts (there is nothing to confirm or cancel after it)."""
    return appointment.start if appointment else fallback
