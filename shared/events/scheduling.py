"""Events the scheduling area publishes through the outbox (ids and codes only).

No appointment times: a date of service tied to a patient id is PHI. A consumer that needs the time
reads the appointment by its id.
"""

from __future__ import annotations

from shared.domain.referrals import ReferralStatus
from shared.domain.scheduling import AppointmentStatus, CancelReason
from shared.events.models import DomainEvent

SOURCE = "careloop.scheduling"


class AppointmentEvent(DomainEvent):
    """``source_partner_id``: the partner whose message made this change (its EHR booked, moved or
    cancelled the appointment), so that what we send partners never echoes a change back to the one
    that told us; ``None`` for a change made here."""

    source = SOURCE
    appointment_id: str
    patient_id: str
    provider_id: str
    status: AppointmentStatus
    source_partner_id: str | None = None


class AppointmentBooked(AppointmentEvent):
    detail_type = "AppointmentBooked"
    overbooked: bool = False
    referral_id: str | None = None
    offer_id: str | None = None


class AppointmentConfirmed(AppointmentEvent):
    detail_type = "AppointmentConfirmed"


class AppointmentArrived(AppointmentEvent):
    detail_type = "AppointmentArrived"


class AppointmentCheckedIn(AppointmentEvent):
    detail_type = "AppointmentCheckedIn"


class AppointmentFulfilled(AppointmentEvent):
    detail_type = "AppointmentFulfilled"


class AppointmentNoShow(AppointmentEvent):
    detail_type = "AppointmentNoShow"
    automatic: bool = False


class AppointmentCancelled(AppointmentEvent):
    detail_type = "AppointmentCancelled"
    reason: CancelReason
    by_patient: bool


class AppointmentRescheduled(AppointmentEvent):
    """``version``: the appointment's version this move created (its entry in ``reschedules`` says
    which time was freed, even if it has been moved again since)."""

    detail_type = "AppointmentRescheduled"
    version: int


APPOINTMENT_EVENTS: dict[str, type[AppointmentEvent]] = {
    "confirm": AppointmentConfirmed,
    "arrive": AppointmentArrived,
    "check-in": AppointmentCheckedIn,
    "complete": AppointmentFulfilled,
    "no-show": AppointmentNoShow,
    "cancel": AppointmentCancelled,
}


class ReferralEvent(DomainEvent):
    source = SOURCE
    referral_id: str
    patient_id: str
    status: ReferralStatus
    appointment_id: str | None = None


class ReferralCreated(ReferralEvent):
    detail_type = "ReferralCreated"


class ReferralSent(ReferralEvent):
    detail_type = "ReferralSent"


class ReferralAccepted(ReferralEvent):
    detail_type = "ReferralAccepted"


class ReferralRejected(ReferralEvent):
    detail_type = "ReferralRejected"


class ReferralScheduled(ReferralEvent):
    detail_type = "ReferralScheduled"


class ReferralUnscheduled(ReferralEvent):
    """Its appointment was cancelled or missed: the referral needs a new one."""

    detail_type = "ReferralUnscheduled"


class ReferralCompleted(ReferralEvent):
    detail_type = "ReferralCompleted"


class ReferralClosed(ReferralEvent):
    detail_type = "ReferralClosed"


class ReferralCancelled(ReferralEvent):
    detail_type = "ReferralCancelled"


class ReferralOverdue(ReferralEvent):
    detail_type = "ReferralOverdue"


REFERRAL_EVENTS: dict[str, type[ReferralEvent]] = {
    "send": ReferralSent,
    "accept": ReferralAccepted,
    "reject": ReferralRejected,
    "schedule": ReferralScheduled,
    "unschedule": ReferralUnscheduled,
    "complete": ReferralCompleted,
    "close": ReferralClosed,
    "cancel": ReferralCancelled,
}


class WaitlistEvent(DomainEvent):
    source = SOURCE
    entry_id: str
    patient_id: str


class PatientWaitlisted(WaitlistEvent):
    detail_type = "PatientWaitlisted"


class WaitlistEntryRemoved(WaitlistEvent):
    detail_type = "WaitlistEntryRemoved"


class OfferEvent(WaitlistEvent):
    offer_id: str
    provider_id: str


class SlotOffered(OfferEvent):
    detail_type = "SlotOffered"


class SlotOfferAccepted(OfferEvent):
    detail_type = "SlotOfferAccepted"
    appointment_id: str


class SlotOfferDeclined(OfferEvent):
    detail_type = "SlotOfferDeclined"


class SlotOfferExpired(OfferEvent):
    detail_type = "SlotOfferExpired"
