"""Events the intake area publishes (ids and codes only; see shared.events.models)."""

from __future__ import annotations

from typing import Literal

from shared.domain.screening import Domain, Risk
from shared.events.models import DomainEvent

SOURCE = "careloop.intake"


class PatientRegistered(DomainEvent):
    detail_type = "PatientRegistered"
    source = SOURCE
    patient_id: str


class AssessmentRecorded(DomainEvent):
    detail_type = "AssessmentRecorded"
    source = SOURCE
    patient_id: str
    assessment_id: str
    risk: Risk


class SocialNeedIdentified(DomainEvent):
    detail_type = "SocialNeedIdentified"
    source = SOURCE
    patient_id: str
    assessment_id: str
    domain: Domain
    priority: Literal["routine", "urgent"] = "routine"


class SafetyConcernIdentified(DomainEvent):
    detail_type = "SafetyConcernIdentified"
    source = SOURCE
    patient_id: str
    assessment_id: str
    priority: Literal["urgent"] = "urgent"


class PatientRecordAccessed(DomainEvent):
    """A read of patient records, for the audit trail (reads change nothing, so no outbox). Every area
    that reads patients' records publishes it (``shared.audit``), under intake's source."""

    detail_type = "PatientRecordAccessed"
    source = SOURCE
    patient_ids: list[str]
    actor_id: str
    action: Literal[
        "patient.read",
        "patient.match",
        "patient.search",
        "panel.read",
        "assessment.read",
        "coverage.read",
        "audit.read",
        "appointment.read",
        "schedule.read",
        "referral.read",
        "waitlist.read",
        "offer.read",
        "reminders.read",
        "replies.read",
        "task.read",
        "result.read",
        "encounter.read",
        "identifiers.read",
        "inbox.read",
        "transition.read",
        "authorization.read",
        "careplan.read",
        "education.read",
        "interaction.read",
        "note.read",
        "message.read",
        "observation.read",
        "timeline.read",
        "survey.read",
    ]
    request_id: str | None = None
