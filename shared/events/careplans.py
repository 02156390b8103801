"""Events the care-plans area publishes through the outbox: ids and codes only (never a title, a goal's
words, a note or a material's text: a consumer that needs them reads the plan or the assignment)."""

from __future__ import annotations

from pydantic import Field

from shared.domain.careplans import Category, PlanStatus
from shared.domain.education import Understanding
from shared.events.models import DomainEvent

SOURCE = "careloop.careplans"


class CarePlanEvent(DomainEvent):
    source = SOURCE
    care_plan_id: str
    patient_id: str


class CarePlanCreated(CarePlanEvent):
    detail_type = "CarePlanCreated"
    category: Category
    status: PlanStatus
    template_id: str | None = Field(None, description="the template's code")


class CarePlanActivated(CarePlanEvent):
    detail_type = "CarePlanActivated"


class CarePlanStatusChanged(CarePlanEvent):
    """On hold, resumed, completed or revoked."""

    detail_type = "CarePlanStatusChanged"
    status: PlanStatus


class CarePlanReviewDue(CarePlanEvent):
    """Its review date came: a review task is open (``task_id``)."""

    detail_type = "CarePlanReviewDue"
    task_id: str


class CarePlanReviewed(CarePlanEvent):
    """Staff recorded the plan's review (the patient may be asked how it went)."""

    detail_type = "CarePlanReviewed"


class CarePlanUpdated(CarePlanEvent):
    """Its review date moved, it started or ended, or a measurement started or stopped: its review timer
    and its measurement reminders follow."""

    detail_type = "CarePlanUpdated"


class GoalAchieved(CarePlanEvent):
    detail_type = "GoalAchieved"
    goal_id: str


class EducationEvent(DomainEvent):
    source = SOURCE
    assignment_id: str
    patient_id: str
    material_id: str = Field(description="the material's code")
    care_plan_id: str | None = None


class EducationAssigned(EducationEvent):
    detail_type = "EducationAssigned"


class EducationAssessed(EducationEvent):
    detail_type = "EducationAssessed"
    outcome: Understanding
