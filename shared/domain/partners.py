"""Partners (hospitals, labs, EHRs) and what passes between us: their signing secrets, the patient
identifiers they know our patients by, the deliveries they send us and the subscriptions we deliver
to. Pure models and rules; the webhooks area (functions/webhooks) stores and moves them.

A partner belongs to one organization and only ever touches that organization's patients. It is
identified on its webhook URL by an opaque id; its secrets live in Secrets Manager (never in the table
or a log), the table keeps only their ids and dates.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from shared.domain.base import Model, Strict

MAX_BODY = 256 * 1024  # bytes: a bigger delivery is a 413
DEDUPE_DAYS = 8  # a webhook-id is remembered this long (senders retry for about 3 days; we promise 7)
MAX_SECRETS = 5  # live secrets of one use: enough overlap for any rotation
MAX_SUBSCRIPTIONS = 10
# Standard Webhooks' retry schedule: the wait before each attempt after the first
RETRY_AFTER: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = 1 + len(RETRY_AFTER)

ResourceType = Literal["Encounter", "Observation", "DiagnosticReport", "Appointment"]
# an identifier system is a URI (Patient.identifier.system); an identifier value has no spaces
System = Annotated[
    str,
    Field(
        min_length=3,
        max_length=255,
        pattern=r"^(https?://|urn:)[^\s|]+$",
        examples=["urn:oid:2.16.840.1.113883.3.42"],
    ),
]
IdentifierValue = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[^\s|]+$", examples=["MRN-0042"])
]


class PartnerKind(StrEnum):
    HOSPITAL = "hospital"
    LAB = "lab"
    EHR = "ehr"
    DEVICE = "device"  # remote monitoring: its Observations are a patient's readings, not lab results


class PartnerIn(Strict):
    """``POST /partners``."""

    name: str = Field(min_length=1, max_length=120, examples=["St. Mary's Hospital"])
    kind: PartnerKind
    resource_types: list[ResourceType] = Field(
        min_length=1, max_length=4, description="the FHIR resources it may send us"
    )
    identifier_system: System = Field(description="the Patient.identifier.system it names patients by")
    active: bool = True

    @field_validator("resource_types")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("resource types must be distinct")
        return value


class PartnerPatch(Strict):
    """``PATCH /partners/{id}``: what is given changes (``If-Match``)."""

    name: str | None = Field(None, min_length=1, max_length=120)
    resource_types: list[ResourceType] | None = Field(None, min_length=1, max_length=4)
    identifier_system: System | None = None
    active: bool | None = None

    _distinct = field_validator("resource_types")(PartnerIn._distinct.__func__)  # type: ignore[attr-defined]


class SecretUse(StrEnum):
    INBOUND = "inbound"  # the partner signs what it sends us
    OUTBOUND = "outbound"  # we sign what we send the partner


class SecretIn(Strict):
    use: SecretUse = SecretUse.INBOUND


class SecretMeta(Model):
    """A live secret, without its value (shown once, when made)."""

    id: str
    use: SecretUse
    created_at: datetime
    created_by: str


class SecretCreated(SecretMeta):
    secret: str = Field(description="whsec_…: shown once, never again; store it in the partner's system")


class PartnerOut(Model):
    id: str
    version: int
    name: str
    kind: PartnerKind
    resource_types: list[ResourceType]
    identifier_system: str
    active: bool
    secrets: list[SecretMeta] = Field(default_factory=list, description="live secrets, newest first")
    webhook_path: str = Field(description="where it POSTs: /webhooks/{id}")
    created_at: datetime
    updated_at: datetime


def patched(record: PartnerOut, patch: PartnerPatch, now: datetime) -> PartnerOut:
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    return record.model_copy(update={**changes, "version": record.version + 1, "updated_at": now})


# ---------------------------------------------------------------- patient identifiers


class Identifier(Strict):
    system: System
    value: IdentifierValue

    @property
    def token(self) -> str:
        return f"{self.system}|{self.value}"


class IdentifiersIn(Strict):
    """``PUT /patients/{id}/identifiers``: the whole list (one per system)."""

    identifiers: list[Identifier] = Field(max_length=20)

    @model_validator(mode="after")
    def _one_per_system(self) -> IdentifiersIn:
        systems = [i.system for i in self.identifiers]
        if len(set(systems)) != len(systems):
            raise ValueError("one identifier per system")
        return self


class IdentifiersOut(Model):
    patient_id: str
    version: int
    identifiers: list[Identifier]


# ---------------------------------------------------------------- deliveries


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"  # acknowledged, waiting for the processor (or, outbound, for its next attempt)
    PROCESSED = "processed"  # every resource applied (or recorded as stale or repeated)
    PARKED = "parked"  # some resource names a patient we could not match: see the partner inbox
    FAILED = "failed"  # malformed or not allowed: recorded with its code and FHIR path, never retried
    DEAD_LETTERED = "dead-lettered"  # failed every retry: replay it once the cause is fixed
    DELIVERED = "delivered"  # outbound: the subscriber answered 2xx
    GAVE_UP = "gave-up"  # outbound: every attempt of the schedule failed, or the subscriber said 410


class Attempt(Model):
    at: datetime
    status_code: int | None = Field(None, description="the subscriber's HTTP status, if it answered")
    error: str | None = Field(
        None, description="a code when it did not answer: timeout, connect, tls, unsafe-url"
    )


class DeliveryOut(Model):
    """A delivery, either way. Inbound: ``webhook_id`` is the partner's; outbound: ours."""

    id: str
    direction: Direction
    webhook_id: str
    status: DeliveryStatus
    received_at: datetime = Field(description="when we acknowledged it (inbound) or made it (outbound)")
    error_code: str | None = None
    error_path: str | None = Field(None, description="the FHIR path of the problem, for a malformed body")
    resources: int = Field(0, description="resources applied")
    parked: int = Field(0, description="resources waiting in the partner inbox")
    stale: int = Field(0, description="resources older than what we hold, recorded and ignored")
    replays: int = 0
    processed_at: datetime | None = None
    subscription_id: str | None = None
    event_type: str | None = None
    attempts: list[Attempt] = Field(default_factory=list, description="outbound: one per attempt")
    next_attempt_at: datetime | None = None


# ---------------------------------------------------------------- the partner inbox


class InboxStatus(StrEnum):
    OPEN = "open"
    MATCHED = "matched"


class InboxItemOut(Model):
    """A resource naming a patient we could not match by identifier. Never guessed: staff match it."""

    id: str
    reason: Literal["unmatched-patient", "appointment-conflict"] = Field(
        description="unmatched-patient: match it to a patient; appointment-conflict: free the time, retry"
    )
    partner_id: str
    delivery_id: str
    resource_type: ResourceType
    identifiers: list[Identifier] = Field(description="what the partner named the patient by")
    status: InboxStatus
    received_at: datetime
    matched_patient_id: str | None = None
    matched_at: datetime | None = None
    matched_by: str | None = None


class EncounterOut(Model):
    """A hospital stay (or visit) a partner told us about (FHIR Encounter, flattened)."""

    id: str
    version: int
    patient_id: str
    partner_id: str
    source_id: str
    status: str
    class_code: str = Field(description="v3 ActCode: IMP inpatient, EMER emergency, OBSENC observation…")
    period_start: datetime | None = None
    period_end: datetime | None = None
    location: str | None = None
    discharge_disposition: str | None = None
    admitted_notified: bool = False
    discharged_notified: bool = False
    received_at: datetime
    updated_at: datetime


class MatchIn(Strict):
    patient_id: Annotated[str, Field(min_length=26, max_length=26, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]


# ---------------------------------------------------------------- outbound subscriptions

EventType = Literal[
    "appointment.booked",
    "appointment.cancelled",
    "appointment.rescheduled",
    "appointment.noshow",
    "referral.status",
    "task.completed",
    "result.acknowledged",
]
# our event → what a subscriber subscribes to
EVENT_TYPES: dict[str, EventType] = {
    "AppointmentBooked": "appointment.booked",
    "AppointmentCancelled": "appointment.cancelled",
    "AppointmentRescheduled": "appointment.rescheduled",
    "AppointmentNoShow": "appointment.noshow",
    "ReferralSent": "referral.status",
    "ReferralAccepted": "referral.status",
    "ReferralRejected": "referral.status",
    "ReferralScheduled": "referral.status",
    "ReferralUnscheduled": "referral.status",
    "ReferralCompleted": "referral.status",
    "ReferralClosed": "referral.status",
    "ReferralCancelled": "referral.status",
    "ReferralOverdue": "referral.status",
    "TaskCompleted": "task.completed",
    "ResultAcknowledged": "result.acknowledged",
}


class SubscriptionIn(Strict):
    url: str = Field(min_length=9, max_length=2048, description="https only; public addresses only")
    event_types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))

    @field_validator("event_types")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("event types must be distinct")
        return value


class SubscriptionOut(Model):
    id: str
    url: str
    event_types: list[EventType]
    active: bool
    disabled_reason: Literal["gone", "by-admin"] | None = Field(
        None, description="gone: the subscriber answered 410"
    )
    created_at: datetime


def retry_at(attempts: int, last: datetime) -> datetime | None:
    """When the next attempt is due after ``attempts`` failed ones (the last at ``last``); ``None``
    when the schedule is spent."""
    if attempts < 1 or attempts >= MAX_ATTEMPTS:
        return None
    return last + RETRY_AFTER[attempts - 1]


def answered_ok(status: int) -> bool:
    return 200 <= status < 300
