"""Events the records area publishes through the outbox: ids and codes only (never a note, a summary,
a message's text or a measured value: a consumer that needs them reads the record, with an audit
entry)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.domain.documentation import ContactDirection, DocStatus, Medium, NoteType, Party, Source
from shared.domain.messages import Author
from shared.domain.monitoring import Interpretation, Measure
from shared.events.models import DomainEvent

SOURCE = "careloop.records"


class RecordsEvent(DomainEvent):
    source = SOURCE
    patient_id: str


class InteractionLogged(RecordsEvent):
    detail_type = "InteractionLogged"
    interaction_id: str
    channel: Medium
    direction: ContactDirection
    party: Party
    reached: bool
    by_source: Source


class NoteEvent(RecordsEvent):
    note_id: str
    type: NoteType
    doc_status: DocStatus
    revision: int


class NoteSigned(NoteEvent):
    detail_type = "NoteSigned"


class NoteAmended(NoteEvent):
    detail_type = "NoteAmended"


class NoteEnteredInError(NoteEvent):
    detail_type = "NoteEnteredInError"


class MessageEvent(RecordsEvent):
    message_id: str


class MessageSent(MessageEvent):
    """A message in the patient's conversation, from either side; ``answers`` counts the patient
    messages a staff message answered (each also gets ``MessageAnswered``)."""

    detail_type = "MessageSent"
    author: Author
    urgent: bool = False
    attachments: int = 0


class MessageAnswered(MessageEvent):
    """A patient message (``message_id``) got its answer (``answer_id``): its tasks close."""

    detail_type = "MessageAnswered"
    answer_id: str


class MessageUrgent(MessageEvent):
    """A patient message held an urgent word: to the nurses at once."""

    detail_type = "MessageUrgent"
    priority: Literal["urgent"] = "urgent"


class MessageUnanswered(MessageEvent):
    """The oldest patient message still waiting passed the organization's response time."""

    detail_type = "MessageUnanswered"


class ObservationEvent(RecordsEvent):
    observation_id: str
    code: Measure


class ObservationRecorded(ObservationEvent):
    detail_type = "ObservationRecorded"
    device: bool = False


class ObservationOutOfRange(ObservationEvent):
    """``component``: the code out of range (a blood pressure's systolic); no value travels."""

    detail_type = "ObservationOutOfRange"
    component: Measure
    interpretation: Interpretation
    priority: Literal["routine", "urgent"] = Field(description="urgent beyond a critical bound")


class TrendDetected(ObservationEvent):
    detail_type = "TrendDetected"
    rule_id: str


class MeasurementMissed(RecordsEvent):
    """A measurement a live care plan expects (``care_plan_id``) was not sent in time."""

    detail_type = "MeasurementMissed"
    care_plan_id: str
    code: Measure
