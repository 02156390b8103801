"""Events the reminders area publishes (ids and codes only: never the text, the address or the time).

Escalations turn ``ReminderUndeliverable``, ``AppointmentUnconfirmed`` and ``RescheduleRequested``
into call tasks; ``PatientReplied`` tells staff a reply waits for them.
"""

from __future__ import annotations

from shared.domain.patients import Channel
from shared.domain.reminders import Intent, SubjectKind
from shared.events.models import DomainEvent

SOURCE = "careloop.reminders"


class TouchEvent(DomainEvent):
    source = SOURCE
    touch_id: str
    patient_id: str
    subject_kind: SubjectKind
    subject_id: str


class ReminderSent(TouchEvent):
    detail_type = "ReminderSent"
    channel: Channel


class ReminderFailed(TouchEvent):
    """Retries ran out on a provider error: the touch is ``failed`` for staff to work."""

    detail_type = "ReminderFailed"


class ReminderUndeliverable(TouchEvent):
    """No channel is left: no consent, no address, or every one refused for good."""

    detail_type = "ReminderUndeliverable"


class AppointmentUnconfirmed(TouchEvent):
    """Still unconfirmed after the last-but-one touch that asks for confirmation."""

    detail_type = "AppointmentUnconfirmed"
    appointment_id: str


class RescheduleRequested(DomainEvent):
    source = SOURCE
    detail_type = "RescheduleRequested"
    reply_id: str
    patient_id: str
    appointment_id: str


class PatientReplied(DomainEvent):
    """A reply kept for staff (anything that is not a keyword, or a number we could not match)."""

    source = SOURCE
    detail_type = "PatientReplied"
    reply_id: str
    patient_id: str | None = None
    intent: Intent
