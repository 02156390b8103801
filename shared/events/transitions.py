"""Events the transitions area publishes through the outbox: ids and codes only (no discharge date,
no visit time, no note: a consumer that needs them reads the episode by its id)."""

from __future__ import annotations

from shared.domain.transitions import CloseReason, Complexity, Failure, Milestone, TcmCode
from shared.events.models import DomainEvent

SOURCE = "careloop.transitions"


class TransitionEvent(DomainEvent):
    source = SOURCE
    transition_id: str
    patient_id: str


class TransitionOpened(TransitionEvent):
    detail_type = "TransitionOpened"
    complexity: Complexity
    encounter_id: str | None = None
    previous_transition_id: str | None = None


class TransitionUpdated(TransitionEvent):
    """Its deadlines moved (complexity, a visit booked or freed, a readmission): its timer follows."""

    detail_type = "TransitionUpdated"


class TransitionStepCompleted(TransitionEvent):
    detail_type = "TransitionStepCompleted"
    step: Milestone
    on_time: bool


class TransitionStepMissed(TransitionEvent):
    """A deadline passed with the step undone: the escalation rules take it from here."""

    detail_type = "TransitionStepMissed"
    step: Milestone


class TransitionPaused(TransitionEvent):
    """A readmission: the patient is back in hospital."""

    detail_type = "TransitionPaused"
    encounter_id: str | None = None


class TransitionClosed(TransitionEvent):
    detail_type = "TransitionClosed"
    reason: CloseReason
    qualifies: bool
    tcm_code: TcmCode | None = None
    failures: list[Failure]
