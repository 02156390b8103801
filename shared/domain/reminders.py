"""Reminders: the organization's policy (which touches, when, on which channels, in which words), the
touch a plan is made of, and what a patient's SMS reply means.

A **touch** is one message of a plan, an offset before what it reminds about (an appointment's start)
or after it (a referral's creation). Its life: ``planned`` → ``queued`` (the dispatcher found it still
applies) → ``sending`` (one sender holds it) → ``sent`` → ``delivered``; or ``skipped`` (it no longer
applied, with a code saying why), ``failed`` (retries and every channel exhausted: staff work it).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from shared.domain.base import MULTILINE, Model, Strict
from shared.domain.patients import Channel, Language, Phone
from shared.domain.scheduling import Code

MAX_TOUCHES = 8
MAX_TYPE_OVERRIDES = 50
MAX_TEMPLATES = 60
SENDABLE = (Channel.SMS, Channel.EMAIL)


class TouchStatus(StrEnum):
    PLANNED = "planned"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    SKIPPED = "skipped"
    FAILED = "failed"


OPEN_TOUCH = frozenset({TouchStatus.PLANNED, TouchStatus.QUEUED})
DONE_TOUCH = frozenset({TouchStatus.SENT, TouchStatus.DELIVERED})


class SkipReason(StrEnum):
    """Why a touch was not sent (a code staff and reports read)."""

    PAST = "past"  # already due when the plan was made
    NO_ALLOWED_TIME = "no-allowed-time"  # no minute outside quiet hours and holidays before the visit
    MOVED = "moved"  # the appointment was rescheduled: a new plan replaced this one
    ENDED = "ended"  # cancelled, missed or done
    CONFIRMED = "confirmed"  # a touch asking for confirmation, after the patient confirmed
    SCHEDULED = "scheduled"  # a referral follow-up, once the referral has its appointment
    INACTIVE = "inactive"  # the patient's record is inactive
    LATE = "late"  # held back (a backlog, retries) until the visit had started


class SubjectKind(StrEnum):
    """What a plan reminds about: one reminder model, keyed by it."""

    APPOINTMENT = "appointment"
    REFERRAL = "referral"


class TouchRule(Strict):
    """One touch of a policy: how long before the visit, on which channels, asking to confirm or not.

    Either ``business_days`` (counted on the organization's calendar, holidays skipped, at the visit's
    local time) or a duration (``days`` and ``hours``)."""

    days: int = Field(0, ge=0, le=90)
    business_days: int = Field(0, ge=0, le=30)
    hours: int = Field(0, ge=0, le=72)
    channels: list[Channel] = Field(
        default_factory=lambda: [Channel.SMS, Channel.EMAIL],
        min_length=1,
        max_length=2,
        description="the channels this touch may use, in the patient's order of preference; "
        "the next one is the fallback when a send fails for good",
    )
    asks_confirmation: bool = Field(
        True, description="skipped once the appointment is confirmed; false: sent even then"
    )

    @model_validator(mode="after")
    def _one_offset(self) -> TouchRule:
        if self.business_days and (self.days or self.hours):
            raise ValueError("give either business_days or days/hours, not both")
        if not (self.business_days or self.days or self.hours):
            raise ValueError("a touch needs an offset: days, business_days or hours")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("each channel may appear once")
        if any(c not in SENDABLE for c in self.channels):
            raise ValueError("reminders go by sms or email")
        return self

    @property
    def offset(self) -> str:
        """A short code for reports: ``7d``, ``2bd``, ``24h``, ``1d12h``."""
        if self.business_days:
            return f"{self.business_days}bd"
        return (f"{self.days}d" if self.days else "") + (f"{self.hours}h" if self.hours else "")


def default_touches() -> list[TouchRule]:
    """DOMAIN.md's common default: 7 days, 2 business days, 24 hours and 2 hours before."""
    return [TouchRule(days=7), TouchRule(business_days=2), TouchRule(hours=24), TouchRule(hours=2)]


class MessageKind(StrEnum):
    APPOINTMENT = "appointment"
    REFERRAL = "referral"
    ANSWER_CONFIRMED = "answer-confirmed"
    ANSWER_RESCHEDULE = "answer-reschedule"
    ANSWER_STOP = "answer-stop"
    ANSWER_START = "answer-start"
    ANSWER_HELP = "answer-help"
    ANSWER_UNKNOWN = "answer-unknown"
    ANSWER_NOTHING_OPEN = "answer-nothing-open"


class TemplateIn(Strict):
    """An organization's own words for one kind of message, in one language, on one channel.
    Placeholders: ``{first_name}``, ``{clinic_name}``, ``{clinic_phone}``, ``{date}``, ``{time}``,
    ``{link}``, ``{reply}``."""

    kind: MessageKind
    language: Language
    channel: Literal[Channel.SMS, Channel.EMAIL]
    subject: str | None = Field(None, min_length=1, max_length=150, description="e-mail only")
    text: str = Field(min_length=1, max_length=1000, json_schema_extra=MULTILINE)

    @field_validator("subject", "text")
    @classmethod
    def _placeholders(cls, value: str | None) -> str | None:
        from shared.notify.content import check_template

        if value is not None:
            check_template(value)
        return value


class ReminderPolicy(Strict):
    """``PUT /reminder-policy``: the organization's reminders."""

    touches: list[TouchRule] = Field(default_factory=default_touches, min_length=1, max_length=MAX_TOUCHES)
    by_appointment_type: dict[Code, Annotated[list[TouchRule], Field(max_length=MAX_TOUCHES)]] = Field(
        default_factory=dict,
        max_length=MAX_TYPE_OVERRIDES,
        description="an appointment type's own touches instead of the organization's (an empty list: none)",
    )
    referral_follow_up_days: list[int] = Field(
        default_factory=lambda: [3, 7],
        max_length=5,
        description="days after a referral is made on which the patient is reminded to book it, "
        "while it has no appointment",
    )
    clinic_name: str = Field(
        "your care team",
        min_length=1,
        max_length=24,
        description="how messages name the organization (kept short: it goes in every SMS)",
    )
    clinic_phone: Phone | None = Field(None, description="the number a HELP reply gives")
    templates: list[TemplateIn] = Field(default_factory=list, max_length=MAX_TEMPLATES)

    @field_validator("referral_follow_up_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 60 for d in value):
            raise ValueError("each day must be between 1 and 60")
        if value != sorted(set(value)):
            raise ValueError("days must be distinct and ascending")
        return value

    @model_validator(mode="after")
    def _distinct_templates(self) -> ReminderPolicy:
        seen = [(t.kind, t.language, t.channel) for t in self.templates]
        if len(seen) != len(set(seen)):
            raise ValueError("one template per kind, language and channel")
        return self

    def touches_for(self, appointment_type: str | None) -> list[TouchRule]:
        """The appointment type's own touches if it has them, else the organization's."""
        if appointment_type is not None and appointment_type in self.by_appointment_type:
            return self.by_appointment_type[appointment_type]
        return self.touches


class ReminderPolicyOut(ReminderPolicy):
    version: int = Field(0, description="0 until the policy is first written")


class Receipt(Model):
    """What the provider said about a sent message."""

    event: Literal["delivered", "bounced", "complained", "failed"]
    permanent: bool = False
    at: datetime


class TouchOut(Model):
    """One touch, as staff read it."""

    id: str
    subject_kind: SubjectKind
    subject_id: str
    patient_id: str
    generation: int = Field(description="the plan it belongs to: a reschedule makes a new one")
    index: int
    offset: str
    asks_confirmation: bool
    channels: list[Channel] = Field(description="the channels the policy allows it, in no order")
    planned_at: datetime = Field(description="when the policy put it")
    send_at: datetime | None = Field(description="when it goes (moved out of quiet hours and holidays)")
    status: TouchStatus
    skip_reason: SkipReason | None = None
    channel: Channel | None = None
    sent_at: datetime | None = None
    attempts: int = 0
    failure: str | None = Field(None, description="a code: undeliverable, provider-error")
    receipts: list[Receipt] = Field(default_factory=list)
    link_used_at: datetime | None = None
    raises_unconfirmed: bool = Field(
        False,
        description="the last touch asking for confirmation: when it is due and the appointment is still "
        "unconfirmed (after every touch before it), the appointment is raised for a call",
    )
    confirmed_after: bool = Field(
        False, description="the appointment was confirmed after this touch, before the next"
    )
    no_show: bool = Field(False, description="the patient missed the visit this touch reminded of")
    updated_at: datetime


class TouchPatientView(Model):
    """A touch as the patient reads it: when, how, and whether it arrived."""

    id: str
    offset: str
    send_at: datetime | None
    status: TouchStatus
    channel: Channel | None = None
    sent_at: datetime | None = None
    receipts: list[Receipt] = Field(default_factory=list)

    @classmethod
    def of(cls, record: TouchOut) -> TouchPatientView:
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


# ---------------------------------------------------------------- replies

# Carriers' stop and start words (CTIA), the confirm words in English and Spanish.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ALTO", "PARAR"})
START_WORDS = frozenset({"START", "UNSTOP", "YES START"})
CONFIRM_WORDS = frozenset({"C", "YES", "Y", "CONFIRM", "SI", "SÍ", "CONFIRMAR", "CONFIRMO"})
RESCHEDULE_WORDS = frozenset({"R", "RESCHEDULE", "CAMBIAR", "REPROGRAMAR"})
HELP_WORDS = frozenset({"HELP", "INFO", "AYUDA"})


class Intent(StrEnum):
    CONFIRM = "confirm"
    RESCHEDULE = "reschedule"
    STOP = "stop"
    START = "start"
    HELP = "help"
    OTHER = "other"


def intent_of(body: str) -> Intent:
    """What a reply asks for: the whole message, trimmed, any case, trailing punctuation ignored
    ("Yes!", " c ", "Sí.", "¿Ayuda?"). Anything longer is a message for staff, never guessed at."""
    word = re.sub(r"^[\s¡¿]+|[\s.!¡?¿,;:]+$", "", body).upper()
    word = re.sub(r"\s+", " ", word)
    if word in STOP_WORDS:
        return Intent.STOP
    if word in START_WORDS:
        return Intent.START
    if word in CONFIRM_WORDS:
        return Intent.CONFIRM
    if word in RESCHEDULE_WORDS:
        return Intent.RESCHEDULE
    if word in HELP_WORDS:
        return Intent.HELP
    return Intent.OTHER


class ReplyOut(Model):
    """An SMS reply kept for staff: what the patient wrote, and why no keyword handled it."""

    id: str
    patient_id: str | None = Field(None, description="none when the number is shared by several patients")
    touch_id: str | None = None
    intent: Intent
    reason: Literal["message", "reschedule", "shared-number", "unknown-number"]
    text: str
    received_at: datetime
