"""Referrals (FHIR ServiceRequest) and their closed loop, and waitlist entries and slot offers.

A referral's local lifecycle is ``draft → sent → accepted → scheduled → completed → closed`` (and
``rejected``, ``cancelled``); ``fhir_status`` maps it onto ServiceRequest.status. The loop is
*open* until the patient has been seen: that is the coordinator's chase list, and it is *overdue*
once its due date has passed.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field, model_validator

from shared.domain.base import MULTILINE, Model, Strict
from shared.domain.calendar import Day
from shared.domain.scheduling import Code, Ulid


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


R = ReferralStatus
OPEN = frozenset({R.DRAFT, R.SENT, R.ACCEPTED, R.SCHEDULED})  # the patient has not been seen yet
FHIR_STATUS = {
    R.DRAFT: "draft",
    R.SENT: "active",
    R.ACCEPTED: "active",
    R.SCHEDULED: "active",
    R.COMPLETED: "completed",
    R.CLOSED: "completed",
    R.REJECTED: "revoked",
    R.CANCELLED: "revoked",
}
# action -> (from, to). ``schedule`` and ``unschedule`` are taken by booking and by cancelling the
# appointment that fulfils the referral, not called directly; ``complete`` also happens when it is
# fulfilled.
TRANSITIONS: dict[str, tuple[frozenset[ReferralStatus], ReferralStatus]] = {
    "send": (frozenset({R.DRAFT}), R.SENT),
    "accept": (frozenset({R.SENT}), R.ACCEPTED),
    "reject": (frozenset({R.SENT}), R.REJECTED),
    "schedule": (frozenset({R.SENT, R.ACCEPTED}), R.SCHEDULED),
    "unschedule": (frozenset({R.SCHEDULED}), R.ACCEPTED),
    "complete": (frozenset({R.ACCEPTED, R.SCHEDULED}), R.COMPLETED),
    "close": (frozenset({R.COMPLETED}), R.CLOSED),
    "cancel": (frozenset({R.DRAFT, R.SENT, R.ACCEPTED, R.SCHEDULED}), R.CANCELLED),
}
MANUAL_ACTIONS = ("send", "accept", "reject", "complete", "close", "cancel")


def next_referral_status(current: ReferralStatus, action: str) -> ReferralStatus | str:
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        return f"a referral that is {current.value} cannot take the action '{action}'"
    return target


class Urgency(StrEnum):
    """FHIR request priority."""

    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class ReferralIn(Strict):
    """``POST /referrals``: to a specialty or to a named provider of the organization."""

    patient_id: Ulid
    specialty: Code | None = None
    provider_id: Ulid | None = None
    reason: str = Field(
        min_length=1,
        max_length=1000,
        description="clinical reason (PHI: never in events)",
        json_schema_extra=MULTILINE,
    )
    urgency: Urgency = Urgency.ROUTINE
    due_date: Day = Field(description="the date by which the patient should have been seen")
    send: bool = Field(False, description="send at once instead of saving a draft")

    @model_validator(mode="after")
    def _target(self) -> ReferralIn:
        if self.specialty is None and self.provider_id is None:
            raise ValueError("name a specialty or a provider_id")
        return self


class ReferralActionIn(Strict):
    reason: str | None = Field(
        None, max_length=500, description="why (rejections, cancellations)", json_schema_extra=MULTILINE
    )


class _Referral(Model):
    """What staff and the patient both read of a referral."""

    id: str
    status: ReferralStatus
    fhir_status: str
    patient_id: str
    specialty: str | None = None
    provider_id: str | None = None
    reason: str
    urgency: Urgency
    due_date: date
    overdue: bool = False
    appointment_id: str | None = None
    created_at: datetime
    updated_at: datetime


class ReferralOut(_Referral):
    version: int
    overdue_since: date | None = Field(None, description="when ReferralOverdue was raised")
    status_reason: str | None = None
    created_by: str


class ReferralPatientView(_Referral):
    """What a patient reads of their own referral: where to, why (their own clinical reason), how
    urgent, by when, where it stands and the appointment that fulfils it. Not who on staff wrote it
    (``created_by``), not ``status_reason`` (free text staff wrote for staff when rejecting or
    cancelling: the patient sees the status and asks their care team), not the escalation bookkeeping
    (``overdue_since``). Drafts are not shown to patients at all: a draft is staff's work in progress,
    not yet a referral."""

    @classmethod
    def of(cls, record: ReferralOut) -> ReferralPatientView:
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


# ---------------------------------------------------------------- waitlist


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # holding an offer now
    BOOKED = "booked"
    REMOVED = "removed"


class WaitlistIn(Strict):
    """``POST /waitlist``: wait for an earlier slot with a provider, or anyone of a specialty."""

    patient_id: Ulid
    provider_id: Ulid | None = None
    specialty: Code | None = None
    appointment_type: Code
    earliest: Day
    latest: Day

    @model_validator(mode="after")
    def _valid(self) -> WaitlistIn:
        if (self.provider_id is None) == (self.specialty is None):
            raise ValueError("name either a provider_id or a specialty")
        if self.latest < self.earliest:
            raise ValueError("latest must not be before earliest")
        return self


class WaitlistOut(Model):
    id: str
    version: int
    status: WaitlistStatus
    patient_id: str
    provider_id: str | None = None
    specialty: str | None = None
    appointment_type: str
    earliest: date
    latest: date
    offer_id: str | None = None
    created_at: datetime


class OfferStatus(StrEnum):
    HELD = "held"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


class OfferOut(Model):
    id: str
    status: OfferStatus
    entry_id: str
    patient_id: str
    provider_id: str
    appointment_type: str
    start: AwareDatetime
    end: AwareDatetime
    expires_at: AwareDatetime
    appointment_id: str | None = None
