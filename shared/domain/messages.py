"""Secure messages between a patient and their care team.

- A conversation per patient. The patient writes from the app (as themselves, or as the caregiver
  they named, ``author: caregiver``); staff answer. A staff message answers every patient message
  before it that is still unanswered.
- **Response time**: a patient message unanswered after the organization's response time (default 1
  business day: Friday 16:55 is due Monday 16:55) raises ``MessageUnanswered``, which the escalation
  rules turn into a task; the answer closes it.
- **Urgent words**: a portal message is not an emergency channel. A patient message holding one of
  the organization's urgent words (data, per organization, with a safe default list in English and
  Spanish; matched in any language, without case or accents, as whole words) is routed urgent to the
  nurses at once (``MessageUrgent``) and answered at once with what to do now, in the patient's
  language. The match errs on the side of the nurse: "no chest pain" still matches "chest pain".
- An attachment is uploaded first (a pre-signed S3 POST: one object, a content type, a size limit,
  minutes to use it), then named by the message.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Literal

from pydantic import Field, field_validator

from shared.domain.base import MULTILINE, Model, Strict, Ulid
from shared.domain.tasks import DueIn

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5
MAX_UNANSWERED = 50  # answered together by the next staff message (one event each, in its transaction)
ContentType = Literal["image/jpeg", "image/png", "image/heic", "application/pdf"]
Word = Annotated[str, Field(min_length=2, max_length=60)]


class Author(StrEnum):
    PATIENT = "patient"
    CAREGIVER = "caregiver"
    STAFF = "staff"
    SYSTEM = "system"  # Careloop's own answer to an urgent message


def _default_words() -> dict[str, list[str]]:
    return {
        "en": [
            "chest pain",
            "heart attack",
            "can't breathe",
            "cannot breathe",
            "cant breathe",
            "short of breath",
            "trouble breathing",
            "difficulty breathing",
            "choking",
            "stroke",
            "face drooping",
            "slurred speech",
            "unconscious",
            "passed out",
            "fainted",
            "seizure",
            "severe bleeding",
            "bleeding heavily",
            "suicide",
            "suicidal",
            "kill myself",
            "end my life",
            "overdose",
            "emergency",
            "911",
        ],
        "es": [
            "dolor de pecho",
            "ataque al corazon",
            "no puedo respirar",
            "falta de aire",
            "me ahogo",
            "derrame",
            "convulsion",
            "desmayo",
            "me desmaye",
            "inconsciente",
            "sangrado fuerte",
            "suicidio",
            "suicidarme",
            "matarme",
            "quitarme la vida",
            "sobredosis",
            "emergencia",
        ],
    }


def _default_reply() -> dict[str, str]:
    return {
        "en": (
            "Your message may be about something urgent. If this is an emergency, call 911 now or go to "
            "the nearest emergency room. If you are thinking about harming yourself, call or text 988. "
            "A nurse has been told about your message."
        ),
        "es": (
            "Su mensaje podría tratar de algo urgente. Si es una emergencia, llame al 911 ahora o vaya a "
            "la sala de emergencias más cercana. Si piensa en hacerse daño, llame o envíe un texto al "
            "988. Una enfermera ya sabe de su mensaje."
        ),
    }


def _default_response() -> DueIn:
    return DueIn(amount=1, unit="business-days")


class MessagePolicy(Strict):
    """``PUT /message-policy``: how soon a patient message is answered, and what is urgent."""

    response_time: DueIn = Field(
        default_factory=_default_response, description="a patient message unanswered this long raises a task"
    )
    urgent_words: dict[Annotated[str, Field(pattern=r"^[a-z]{2}$")], list[Word]] = Field(
        default_factory=_default_words,
        max_length=20,
        description="per language; every language's words are matched in every message",
    )
    emergency_reply: dict[
        Annotated[str, Field(pattern=r"^[a-z]{2}$")], Annotated[str, Field(min_length=20, max_length=1000)]
    ] = Field(
        default_factory=_default_reply,
        max_length=20,
        description="the answer an urgent message gets at once, per language; English is the fallback",
    )

    @field_validator("urgent_words")
    @classmethod
    def _bounded(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if sum(len(words) for words in value.values()) > 500:
            raise ValueError("at most 500 urgent words in all")
        return value

    @field_validator("emergency_reply")
    @classmethod
    def _english(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value:
            raise ValueError("the emergency reply has an English text (the fallback)")
        return value

    def reply_in(self, language: str) -> str:
        return self.emergency_reply.get(language.split("-")[0].lower(), self.emergency_reply["en"])


class MessagePolicyOut(MessagePolicy):
    version: int = 0


_STROKES = str.maketrans({"đ": "d", "ø": "o", "ł": "l", "ħ": "h"})  # letters NFKD does not decompose


def fold(text: str) -> str:
    """Lower case, without accents, apostrophes kept as typed by phones folded to one."""
    text = text.replace("\u2019", "'").casefold().translate(_STROKES)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted(
        {r"\s+".join(map(re.escape, fold(w).split())) for w in words}, key=len, reverse=True
    )
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


def is_urgent(text: str, policy: MessagePolicy) -> bool:
    words = tuple(w for listed in policy.urgent_words.values() for w in listed)
    return bool(words) and _pattern(words).search(fold(text)) is not None


# ---------------------------------------------------------------- messages


class MessageIn(Strict):
    """``POST /patients/{id}/messages``."""

    text: str = Field(min_length=1, max_length=4000, json_schema_extra=MULTILINE)
    attachment_ids: list[Ulid] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    author: Literal[Author.PATIENT, Author.CAREGIVER] | None = Field(
        None, description="the patient's app only: caregiver when the caregiver the patient named writes"
    )


class AttachmentIn(Strict):
    """``POST /patients/{id}/attachments``: what will be uploaded."""

    content_type: ContentType
    size: int = Field(ge=1, le=MAX_ATTACHMENT_BYTES, description="bytes; the upload must not exceed it")


class Upload(Model):
    url: str
    fields: dict[str, str] = Field(description="form fields to send, in this order, before the file")
    expires_at: datetime


class AttachmentOut(Model):
    id: str
    content_type: ContentType
    size: int
    status: Literal["pending", "attached"]
    message_id: str | None = None
    authorization_id: str | None = Field(None, description="sent to a payer with this prior authorization")
    created_at: datetime
    upload: Upload | None = Field(None, description="when created: a POST of a form to this URL, once")
    download_url: str | None = Field(None, description="when read with its message: a GET, minutes only")


class MessageOut(Model):
    id: str
    patient_id: str
    author: Author
    author_id: str = Field(description="who wrote it (the subject of their token), or system")
    text: str
    attachments: list[AttachmentOut] = Field(default_factory=list)
    urgent: bool = False
    sent_at: datetime
    read_at: datetime | None = Field(None, description="read by the other side")
    answers: list[str] = Field(
        default_factory=list, description="the patient messages a staff message answered"
    )


class MessagePatientView(Model):
    """What the patient reads: no staff identity, no triage bookkeeping."""

    id: str
    author: Author
    text: str
    attachments: list[AttachmentOut] = Field(default_factory=list)
    sent_at: datetime
    read_at: datetime | None = None

    @classmethod
    def of(cls, message: MessageOut) -> MessagePatientView:
        return cls(**message.model_dump(include=set(cls.model_fields)))


class Conversation(Model):
    """The patient's messages not yet answered, oldest first."""

    unanswered: list[str] = Field(default_factory=list)
    first_unanswered_at: datetime | None = None
    last_at: datetime | None = None
    escalated_id: str | None = Field(None, description="the waiting message already raised as unanswered")


def received(conversation: Conversation, message: MessageOut) -> Conversation:
    """A patient's message waits for an answer (the oldest waiting sets the clock)."""
    unanswered = [*conversation.unanswered, message.id]
    if len(unanswered) > MAX_UNANSWERED:  # the oldest holds the clock: drop from the middle
        unanswered = [unanswered[0], *unanswered[-(MAX_UNANSWERED - 1) :]]
    first = conversation.first_unanswered_at or message.sent_at
    return conversation.model_copy(
        update={"unanswered": unanswered, "first_unanswered_at": first, "last_at": message.sent_at}
    )


def answered(conversation: Conversation, at: datetime) -> tuple[Conversation, list[str]]:
    """A staff message answers every message waiting."""
    return Conversation(last_at=at), list(conversation.unanswered)


def is_patient_side(author: Author) -> bool:
    return author in (Author.PATIENT, Author.CAREGIVER)


def overdue(conversation: Conversation, due: datetime, now: datetime) -> str | None:
    """The oldest waiting message, when it passed its response time (``due``) and was not raised yet."""
    if not conversation.unanswered or conversation.first_unanswered_at is None or now < due:
        return None
    oldest = conversation.unanswered[0]
    return None if conversation.escalated_id == oldest else oldest
