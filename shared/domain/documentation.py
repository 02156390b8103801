"""Documentation: the interactions coordinators log and the clinical notes they sign.

- An **interaction** is a contact with the patient or about them, in FHIR Communication's words: the
  channel (its medium), the direction, the party, reached or not (``completed`` / ``not-done``), how
  long, topic codes, a summary, and what it relates to. Reminder messages and replies, and what
  partners send about the patient, are logged as interactions by themselves (``source``).
- A **note** is signed when it is saved and never edited afterwards (a DocumentReference whose
  ``docStatus`` is ``final``). A correction is an **amendment**: a new signed version with its reason,
  the earlier ones kept (``amended``). A wrong note is marked ``entered-in-error`` with its reason,
  never deleted: it leaves the default timeline, and staff with rights still read every version.

Summaries and notes are PHI: they stay in the table, never in an event, a log or a key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field

from shared.domain.base import MULTILINE, Model, Strict, Ulid

MAX_NOTE_CHARS = 20_000
MAX_VERSIONS = 50  # a note amended more often than this is a new note
MAX_BACKDATE = timedelta(days=30)  # an interaction logged late: up to a month after it happened
Reason = Annotated[str, Field(min_length=1, max_length=500, json_schema_extra=MULTILINE)]


class Medium(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    VIDEO = "video"
    IN_PERSON = "in-person"
    PORTAL = "portal"
    INTERFACE = "interface"  # system to system: a partner's notice about the patient


class ContactDirection(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Party(StrEnum):
    PATIENT = "patient"
    CAREGIVER = "caregiver"
    PROVIDER = "provider"
    PAYER = "payer"
    COMMUNITY_ORGANIZATION = "community-organization"


class Topic(StrEnum):
    APPOINTMENT = "appointment"
    REFERRAL = "referral"
    MEDICATION = "medication"
    SYMPTOMS = "symptoms"
    RESULTS = "results"
    EDUCATION = "education"
    CARE_PLAN = "care-plan"
    TRANSITION = "transition"
    SOCIAL_NEEDS = "social-needs"
    INSURANCE = "insurance"
    OTHER = "other"


class RecordType(StrEnum):
    """What an interaction or a note relates to."""

    APPOINTMENT = "appointment"
    REFERRAL = "referral"
    TASK = "task"
    CARE_PLAN = "care-plan"
    TRANSITION = "transition"


class RelatesTo(Strict):
    type: RecordType
    id: Ulid


class Source(StrEnum):
    """Who logged an interaction: staff, or Careloop from a reminder, a reply or a partner's notice."""

    STAFF = "staff"
    REMINDER = "reminder"
    REPLY = "reply"
    PARTNER = "partner"


class InteractionIn(Strict):
    """``POST /patients/{id}/interactions``."""

    channel: Medium
    direction: ContactDirection
    party: Party = Field(Party.PATIENT, description="with whom")
    reached: bool = Field(description="false: an attempt (no answer, voicemail, wrong number)")
    duration_minutes: int | None = Field(None, ge=0, le=600)
    topics: list[Topic] = Field(default_factory=list, max_length=len(Topic))
    summary: str | None = Field(None, max_length=4000, json_schema_extra=MULTILINE)
    occurred_at: AwareDatetime | None = Field(
        None, description="when it happened; default now, up to 30 days back"
    )
    relates_to: RelatesTo | None = None


class InteractionOut(Model):
    id: str
    patient_id: str
    channel: Medium
    direction: ContactDirection
    party: Party
    reached: bool
    status: str = Field(description="FHIR Communication.status: completed, or not-done for an attempt")
    duration_minutes: int | None = None
    topics: list[Topic] = Field(default_factory=list)
    summary: str | None = None
    occurred_at: datetime
    relates_to: RelatesTo | None = None
    source: Source = Source.STAFF
    recorded_by: str
    recorded_at: datetime


def check_occurred(at: datetime, now: datetime) -> None:
    """An interaction happened, so not in the future (a minute of clock skew aside), and is logged
    within a month."""
    if at > now + timedelta(minutes=1):
        raise ValueError("an interaction cannot happen in the future")
    if at < now - MAX_BACKDATE:
        raise ValueError("an interaction is logged within 30 days of it")


def interaction(
    body: InteractionIn, interaction_id: str, patient_id: str, by: str, now: datetime
) -> InteractionOut:
    at = body.occurred_at or now
    check_occurred(at, now)
    return InteractionOut(
        **body.model_dump(exclude={"occurred_at"}),
        id=interaction_id,
        patient_id=patient_id,
        status="completed" if body.reached else "not-done",
        occurred_at=at,
        recorded_by=by,
        recorded_at=now,
    )


# ---------------------------------------------------------------- notes


class NoteType(StrEnum):
    PROGRESS = "progress"
    PHONE = "phone"
    CARE_PLAN_REVIEW = "care-plan-review"
    TRANSITION = "transition"
    CONSULT = "consult"
    COORDINATION = "coordination"


class DocStatus(StrEnum):
    """FHIR DocumentReference: ``final`` once signed, ``amended`` once corrected, or entered in error."""

    FINAL = "final"
    AMENDED = "amended"
    ENTERED_IN_ERROR = "entered-in-error"


NoteText = Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS, json_schema_extra=MULTILINE)]


class NoteIn(Strict):
    """``POST /patients/{id}/notes``: signed by the caller when saved."""

    type: NoteType
    text: NoteText
    relates_to: RelatesTo | None = None


class AmendmentIn(Strict):
    """The note as it should read, and why: a new signed version; the earlier ones stay."""

    text: NoteText
    reason: Reason


class EnteredInErrorIn(Strict):
    reason: Reason


class NoteVersion(Model):
    number: int = Field(description="1 is the original")
    text: str
    reason: str | None = Field(None, description="an amendment's reason")
    signed_by: str
    signed_at: datetime


class Retraction(Model):
    by: str
    at: datetime
    reason: str


class NoteOut(Model):
    id: str
    patient_id: str
    type: NoteType
    doc_status: DocStatus
    relates_to: RelatesTo | None = None
    created_by: str
    created_at: datetime
    entered_in_error: Retraction | None = None
    versions: list[NoteVersion] = Field(description="every signed version, the current one first")
    version: int = Field(description="the note's ETag: what an amendment or a retraction names in If-Match")


class NoteSummary(Model):
    """A note in a patient's list: what it is now and its current version's text."""

    id: str
    patient_id: str
    type: NoteType
    doc_status: DocStatus
    relates_to: RelatesTo | None = None
    created_by: str
    created_at: datetime
    entered_in_error: Retraction | None = None
    current: NoteVersion
    version: int


class NoteHead(Model):
    """What the note is now, beside its versions (stored apart: a version is never rewritten)."""

    id: str
    patient_id: str
    type: NoteType
    doc_status: DocStatus
    relates_to: RelatesTo | None = None
    created_by: str
    created_at: datetime
    current: int = 1
    entered_in_error: Retraction | None = None


class IllegalChange(ValueError):
    """Not a change the note can take as it is: a 409."""


def sign(body: NoteIn, note_id: str, patient_id: str, by: str, now: datetime) -> tuple[NoteHead, NoteVersion]:
    head = NoteHead(
        id=note_id,
        patient_id=patient_id,
        type=body.type,
        doc_status=DocStatus.FINAL,
        relates_to=body.relates_to,
        created_by=by,
        created_at=now,
    )
    return head, NoteVersion(number=1, text=body.text, signed_by=by, signed_at=now)


def amend(
    head: NoteHead, current_text: str, body: AmendmentIn, by: str, now: datetime
) -> tuple[NoteHead, NoteVersion]:
    if head.doc_status is DocStatus.ENTERED_IN_ERROR:
        raise IllegalChange("A note entered in error cannot be amended: write a new note.")
    if head.current >= MAX_VERSIONS:
        raise IllegalChange(f"A note has at most {MAX_VERSIONS} versions: write a new note.")
    if body.text == current_text:
        raise ValueError("the amendment reads as the note does now")
    number = head.current + 1
    after = head.model_copy(update={"current": number, "doc_status": DocStatus.AMENDED})
    return after, NoteVersion(number=number, text=body.text, reason=body.reason, signed_by=by, signed_at=now)


def retract(head: NoteHead, body: EnteredInErrorIn, by: str, now: datetime) -> NoteHead:
    if head.doc_status is DocStatus.ENTERED_IN_ERROR:
        raise IllegalChange("The note is already marked entered in error.")
    return head.model_copy(
        update={
            "doc_status": DocStatus.ENTERED_IN_ERROR,
            "entered_in_error": Retraction(by=by, at=now, reason=body.reason),
        }
    )


def note_out(head: NoteHead, versions: list[NoteVersion], version: int) -> NoteOut:
    ordered = sorted(versions, key=lambda v: v.number, reverse=True)
    return NoteOut(**head.model_dump(exclude={"current"}), versions=ordered, version=version)
