"""Patient education: a catalog of materials, each in several languages, assigned to patients; and
teach-back, which closes the loop.

A material is assigned (from a care plan's education activity or by hand) in the patient's language
(the best of theirs the material has: ``es-MX`` → ``es-MX``, ``es``, then English, then the material's
first), delivered in the app and by message, read by the patient. Staff teach it and record a
**teach-back**: the patient (or their caregiver) says it back in their own words, and staff record
``understood``, ``partially-understood`` or ``not-understood``. Anything short of understood is taught
again: a re-education task due ``reteach_days`` business days later. Understood completes the plan's
activity.

Pure: callers pass the time and ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AnyHttpUrl, Field, UrlConstraints, field_validator, model_validator

from shared.domain.base import MULTILINE, Code, Model, Strict, Ulid
from shared.domain.calendar import Instant
from shared.domain.patients import Language
from shared.domain.tasks import Slug

FALLBACK = "en"
MAX_LANGUAGES = 20
MAX_TEXT = 20_000
MAX_TEACH_BACKS = 20
HttpsUrl = Annotated[AnyHttpUrl, UrlConstraints(allowed_schemes=["https"], max_length=2000)]


class Understanding(StrEnum):
    UNDERSTOOD = "understood"
    PARTIALLY = "partially-understood"
    NOT_UNDERSTOOD = "not-understood"


class Method(StrEnum):
    TEACH_BACK = "teach-back"  # in their own words
    SHOW_ME = "show-me"  # they do it (an inhaler, a scale)
    QUESTIONS = "questions"


class Learner(StrEnum):
    PATIENT = "patient"
    CAREGIVER = "caregiver"


class Content(Strict):
    """The material in one language: its text, a link, or both."""

    language: Language
    title: str = Field(min_length=1, max_length=200)
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT, json_schema_extra=MULTILINE)
    url: HttpsUrl | None = None

    @model_validator(mode="after")
    def _something(self) -> Content:
        if self.text is None and self.url is None:
            raise ValueError("give the text, a url, or both")
        return self


class MaterialIn(Strict):
    """``PUT /education/{code}``."""

    topics: list[Slug] = Field(min_length=1, max_length=10, examples=[["heart-failure", "daily-weight"]])
    reading_level: int = Field(6, ge=1, le=16, description="US school grade")
    reteach_days: int = Field(
        2, ge=1, le=30, description="not understood: taught again in this many business days"
    )
    contents: list[Content] = Field(min_length=1, max_length=MAX_LANGUAGES)

    @field_validator("contents")
    @classmethod
    def _one_per_language(cls, value: list[Content]) -> list[Content]:
        languages = [c.language.lower() for c in value]
        if len(languages) != len(set(languages)):
            raise ValueError("each language once")
        return value


class MaterialOut(MaterialIn):
    code: str
    version: int
    built_in: bool = Field(False, description="shipped with Careloop; an admin's PUT replaces it")
    updated_at: datetime | None = None

    @property
    def languages(self) -> list[str]:
        return [c.language for c in self.contents]


def best_language(available: Sequence[str], language: str) -> str:
    """Of ``available`` (not empty), the best for ``language``: the tag, its shorter forms, English,
    then the first. Any content in several languages (a material, a survey) is picked by it."""
    by_tag = {tag.lower(): tag for tag in available}
    parts = language.split("-")
    for n in range(len(parts), 0, -1):
        found = by_tag.get("-".join(parts[:n]).lower())
        if found is not None:
            return found
    return by_tag.get(FALLBACK) or available[0]


def content_for(material: MaterialOut, language: str) -> Content:
    """The material in the best language for ``language`` (:func:`best_language`)."""
    best = best_language(material.languages, language)
    return next(c for c in material.contents if c.language == best)


class AssignIn(Strict):
    """``POST /patients/{id}/education``: by hand (a plan's activity assigns its own)."""

    material: Code
    care_plan_id: Ulid | None = Field(None, description="with activity_id: the plan activity it serves")
    activity_id: str | None = Field(None, max_length=64)

    @model_validator(mode="after")
    def _together(self) -> AssignIn:
        if (self.care_plan_id is None) != (self.activity_id is None):
            raise ValueError("care_plan_id and activity_id go together")
        return self


class TeachBackIn(Strict):
    outcome: Understanding
    method: Method = Method.TEACH_BACK
    learner: Learner = Learner.PATIENT
    at: Instant | None = Field(None, description="default now")
    note: str | None = Field(
        None, max_length=2000, description="staff only: what was unclear", json_schema_extra=MULTILINE
    )


class TeachBack(Model):
    outcome: Understanding
    method: Method
    learner: Learner
    at: datetime
    by_id: str
    note: str | None = None


class AssignmentOut(Model):
    id: str
    version: int
    patient_id: str
    material: str
    material_version: int
    language: str = Field(description="the language it was given in")
    title: str
    care_plan_id: str | None = None
    activity_id: str | None = None
    assigned_at: datetime
    assigned_by: str
    delivered_at: datetime | None = None
    channel: str | None = Field(None, description="how it was delivered besides the app: sms, email")
    read_at: datetime | None = None
    teach_backs: list[TeachBack] = Field(default_factory=list)
    outcome: Understanding | None = Field(None, description="the last teach-back's")
    understood_at: datetime | None = None
    teach_task_id: str | None = Field(None, description="staff's task to teach it and check understanding")
    reteach_task_id: str | None = None
    updated_at: datetime


class AssignmentPatientView(Model):
    """What the patient reads: the material in their language, when it was given and read, and
    whether they showed they understood (never staff's notes or who taught it)."""

    id: str
    material: str
    language: str
    title: str
    text: str | None = None
    url: str | None = None
    assigned_at: datetime
    read_at: datetime | None = None
    outcome: Understanding | None = None

    @classmethod
    def of(cls, assignment: AssignmentOut, content: Content | None) -> AssignmentPatientView:
        return cls(
            id=assignment.id,
            material=assignment.material,
            language=assignment.language,
            title=assignment.title,
            text=content.text if content else None,
            url=str(content.url) if content and content.url else None,
            assigned_at=assignment.assigned_at,
            read_at=assignment.read_at,
            outcome=assignment.outcome,
        )


def assign(
    material: MaterialOut,
    *,
    assignment_id: str,
    patient_id: str,
    language: str,
    by: str,
    now: datetime,
    care_plan_id: str | None = None,
    activity_id: str | None = None,
) -> AssignmentOut:
    content = content_for(material, language)
    return AssignmentOut(
        id=assignment_id,
        version=1,
        patient_id=patient_id,
        material=material.code,
        material_version=material.version,
        language=content.language,
        title=content.title,
        care_plan_id=care_plan_id,
        activity_id=activity_id,
        assigned_at=now,
        assigned_by=by,
        updated_at=now,
    )


def read(assignment: AssignmentOut, now: datetime) -> AssignmentOut:
    """Marked read by the patient (the first time counts)."""
    if assignment.read_at is not None:
        return assignment
    return assignment.model_copy(update={"read_at": now, "updated_at": now})


def assess(assignment: AssignmentOut, body: TeachBackIn, by: str, now: datetime) -> AssignmentOut:
    """The assignment with this teach-back; the first understood one is when it was understood."""
    entry = TeachBack(
        outcome=body.outcome,
        method=body.method,
        learner=body.learner,
        at=body.at or now,
        by_id=by,
        note=body.note,
    )
    understood = body.outcome is Understanding.UNDERSTOOD
    return assignment.model_copy(
        update={
            "teach_backs": [*assignment.teach_backs, entry][-MAX_TEACH_BACKS:],
            "outcome": body.outcome,
            "understood_at": assignment.understood_at or (entry.at if understood else None),
            "updated_at": now,
        }
    )
