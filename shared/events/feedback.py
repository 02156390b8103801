"""Events the feedback area publishes through the outbox: ids, codes and numbers only. Never a
question's words or an answer: free text stays in the response item, in the table."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.domain.feedback import Trigger
from shared.events.models import DomainEvent

SOURCE = "careloop.feedback"


class SurveyEvent(DomainEvent):
    source = SOURCE
    request_id: str
    patient_id: str
    survey_id: str = Field(description="the survey's code")


class SurveySent(SurveyEvent):
    """The patient was asked (``outcome``: by SMS or e-mail, or in the app only when no channel can
    carry it)."""

    detail_type = "SurveySent"
    trigger: Trigger
    outcome: Literal["sent", "app-only", "undeliverable"]


class SurveyAnswered(SurveyEvent):
    detail_type = "SurveyAnswered"
    answered_by: Literal["patient", "caregiver"]
    via: Literal["link", "app"]
    nps_score: int | None = Field(None, description="the answer to the NPS question, 0-10")
    flagged: bool
    task_id: str | None = Field(None, description="the service-recovery task it opened")
