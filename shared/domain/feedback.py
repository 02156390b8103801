"""Patient feedback: surveys an admin defines, sent after a visit, a transition of care or a care plan
review, answered once by the patient, and what the answers say.

- A **survey** (``PUT /surveys/{code}``) has a title and 1-20 questions, every one in each of the
  survey's languages (the title's): a ``scale`` of 0 to 10, a ``choice`` among codes, or ``text``. At
  most one scale is the ``nps`` question ("how likely are you to recommend us"); a scale answer at or
  under its ``low_at`` (the NPS question's: 6, a detractor) and a choice in ``flag_choices`` are
  **flags**: one service-recovery task for the coordinator per response.
- It is sent ``delay_hours`` after its trigger, in the patient's best language of the survey's
  (:func:`shared.domain.education.best_language`), and can be answered for ``expires_after_days``.
- **Answers** (:func:`check_answers`) are checked against the survey: an unknown question, a score
  off the scale, a code not offered, a missing required answer are refused, naming the question and
  never echoing the value.
- **Report** (:func:`summarize`): sent and answered (the response rate), the Net Promoter Score
  (% promoters 9-10 minus % detractors 0-6) and each scale question's mean, overall, by provider and
  by appointment type.

Pure: no I/O, no clock; callers pass the time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StrictInt, model_validator

from shared.domain.base import MULTILINE, Code, Model, Strict
from shared.domain.education import best_language
from shared.domain.patients import Language
from shared.domain.tasks import Slug

MAX_QUESTIONS = 20
MAX_CHOICES = 10
MAX_LANGUAGES = 10
MAX_ANSWER = 2000
SCALE_MIN, SCALE_MAX = 0, 10
NPS_LOW = 6  # 0-6: a detractor
PROMOTER = 9  # 9-10: a promoter
MAX_REPORT_DAYS = 366

Label = Annotated[str, Field(min_length=1, max_length=300)]
Words = Annotated[str, Field(min_length=1, max_length=500)]
Score = Annotated[int, Field(ge=SCALE_MIN, le=SCALE_MAX)]
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")


class QuestionType(StrEnum):
    SCALE = "scale"
    CHOICE = "choice"
    TEXT = "text"


class Trigger(StrEnum):
    VISIT_FULFILLED = "visit-fulfilled"
    TRANSITION_CLOSED = "transition-closed"
    CARE_PLAN_REVIEWED = "care-plan-reviewed"


class ChoiceIn(Strict):
    code: Slug
    label: dict[Language, Label] = Field(min_length=1, max_length=MAX_LANGUAGES)


class QuestionIn(Strict):
    id: Slug
    type: QuestionType
    text: dict[Language, Words] = Field(min_length=1, max_length=MAX_LANGUAGES)
    choices: list[ChoiceIn] | None = Field(None, description="`choice` questions only: 2 to 10")
    required: bool = True
    nps: bool = Field(False, description='the "how likely to recommend" scale (one per survey)')
    low_at: Score | None = Field(
        None, description="`scale` only: a score at or under it flags the response (the NPS question: 6)"
    )
    flag_choices: list[Slug] = Field(
        default_factory=list, max_length=MAX_CHOICES, description="`choice` only: codes that flag"
    )

    @model_validator(mode="after")
    def _fits_its_type(self) -> QuestionIn:
        scale, choice = self.type is QuestionType.SCALE, self.type is QuestionType.CHOICE
        if self.nps and not scale:
            raise ValueError("nps: only a scale question is the NPS question")
        if self.low_at is not None and not scale:
            raise ValueError("low_at: only for a scale question")
        if choice != (self.choices is not None):
            raise ValueError("choices: a choice question has them, and only it")
        if self.choices is not None:
            codes = [c.code for c in self.choices]
            if not 2 <= len(codes) <= MAX_CHOICES:
                raise ValueError(f"choices: 2 to {MAX_CHOICES}")
            if len(set(codes)) != len(codes):
                raise ValueError("choices: each code once")
            if not set(self.flag_choices) <= set(codes):
                raise ValueError("flag_choices: only codes among the choices")
        elif self.flag_choices:
            raise ValueError("flag_choices: only for a choice question")
        return self

    def low(self) -> int | None:
        """The score at or under which an answer flags (the NPS question's default: 6)."""
        if self.low_at is not None:
            return self.low_at
        return NPS_LOW if self.nps else None


class SurveyIn(Strict):
    """``PUT /surveys/{code}``: what to ask, in which languages, and when to send it."""

    title: dict[Language, Label] = Field(
        min_length=1, max_length=MAX_LANGUAGES, description="per language: the survey's languages"
    )
    questions: list[QuestionIn] = Field(min_length=1, max_length=MAX_QUESTIONS)
    trigger: Trigger
    appointment_types: list[Code] | None = Field(
        None, min_length=1, max_length=50, description="`visit-fulfilled` only: these types (default every)"
    )
    delay_hours: int = Field(2, ge=0, le=168, description="after the trigger (then quiet hours apply)")
    expires_after_days: int = Field(14, ge=1, le=90, description="from when it is sent")
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> SurveyIn:
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("questions: each id once")
        if sum(q.nps for q in self.questions) > 1:
            raise ValueError("questions: at most one NPS question")
        if self.appointment_types is not None and self.trigger is not Trigger.VISIT_FULFILLED:
            raise ValueError("appointment_types: only for the visit-fulfilled trigger")
        wanted = set(self.title)  # BCP 47 tags here are in their one canonical case
        for q in self.questions:
            texts = [q.text] + [c.label for c in q.choices or []]
            if any(set(t) != wanted for t in texts):
                raise ValueError(
                    f"questions.{q.id}: its text and choices in exactly the survey's languages (the title's)"
                )
        return self

    @property
    def languages(self) -> list[str]:
        return list(self.title)

    def question(self, question_id: str) -> QuestionIn | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def wants(self, appointment_type: str | None) -> bool:
        """Whether a fulfilled visit of ``appointment_type`` is one this survey follows."""
        return self.appointment_types is None or appointment_type in self.appointment_types


class SurveyOut(SurveyIn):
    code: str
    version: int
    updated_at: datetime


def _pick(texts: Mapping[str, str], language: str) -> str:
    return texts[best_language(list(texts), language)]


class ChoiceView(Model):
    code: str
    label: str


class QuestionView(Model):
    id: str
    type: QuestionType
    text: str
    required: bool
    choices: list[ChoiceView] | None = None
    min: int | None = Field(None, description="scale questions: 0")
    max: int | None = Field(None, description="scale questions: 10")


class SurveyView(Model):
    """A survey as the patient reads it: in one language, nothing about how answers are judged."""

    title: str
    language: str
    questions: list[QuestionView]


def localize(survey: SurveyIn, language: str) -> SurveyView:
    """The survey in its best language for ``language``."""
    best = best_language(survey.languages, language)
    questions = []
    for q in survey.questions:
        scale = q.type is QuestionType.SCALE
        questions.append(
            QuestionView(
                id=q.id,
                type=q.type,
                text=_pick(q.text, best),
                required=q.required,
                choices=[ChoiceView(code=c.code, label=_pick(c.label, best)) for c in q.choices]
                if q.choices is not None
                else None,
                min=SCALE_MIN if scale else None,
                max=SCALE_MAX if scale else None,
            )
        )
    return SurveyView(title=_pick(survey.title, best), language=best, questions=questions)


# ---------------------------------------------------------------- requests


class RequestStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its delay, or for the patient's quiet hours to end
    SENT = "sent"  # the patient was asked: answerable until it expires
    ANSWERED = "answered"
    SKIPPED = "skipped"  # not sent: the patient opted out, is inactive, or quiet hours outlasted it


class SurveyRequestOut(Model):
    """One survey asked of one patient after one event. Holds ids, codes and numbers only: the
    answers themselves (free text among them) are kept beside it, never here."""

    id: str
    version: int = 0
    survey_code: str
    survey_version: int
    patient_id: str
    trigger: Trigger
    subject_id: str = Field(description="the visit, episode or plan review that prompted it")
    provider_id: str | None = None
    appointment_type: str | None = None
    status: RequestStatus
    created_at: datetime
    send_at: datetime
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    outcome: Literal["sent", "app-only", "undeliverable"] | None = None
    skipped_reason: Literal["opted-out", "inactive", "expired-unsent"] | None = None
    answered_at: datetime | None = None
    scores: dict[str, int] = Field(default_factory=dict)
    nps: int | None = None
    flagged: bool = False
    task_id: str | None = None


class SurveyResponseOut(Model):
    """What the patient answered (free text included: it stays in the table)."""

    request_id: str
    survey_code: str
    survey_version: int
    patient_id: str
    answers: dict[str, int | str]
    answered_by: Literal["patient", "caregiver"]
    via: Literal["link", "app"]
    answered_at: datetime


class PendingSurvey(Model):
    """A survey the patient may still answer, as they read it."""

    request_id: str
    survey_code: str
    sent_at: datetime
    expires_at: datetime
    survey: SurveyView


class PendingSurveys(Model):
    items: list[PendingSurvey]


class SurveyAnswerReceipt(Model):
    """A response was stored: thank you."""

    request_id: str
    survey_code: str
    answered_at: datetime


class AnswerView(Model):
    question_id: str
    question: str = Field(description="the question's words, in the reader's language")
    answer: int | str = Field(description="the score, the choice's label, or the text")


class SurveyResponseView(Model):
    """One request and what was answered, as the patient reads it."""

    request_id: str
    survey_code: str
    status: RequestStatus
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    answered_at: datetime | None = None
    answered_by: Literal["patient", "caregiver"] | None = None
    answers: list[AnswerView] = Field(default_factory=list, description="in the survey's order")


class FlagView(Model):
    question_id: str
    reason: Literal["low-score", "flagged-choice"]


class SurveyResponseStaffView(SurveyResponseView):
    """What staff read (the service-recovery call starts here): also what flagged it and its task."""

    trigger: Trigger
    subject_id: str
    flags: list[FlagView] = Field(default_factory=list)
    task_id: str | None = None


# ---------------------------------------------------------------- answers

Answer = StrictInt | Annotated[str, Field(max_length=MAX_ANSWER, json_schema_extra=MULTILINE)]


class ResponseIn(Strict):
    """The answers, by question id: a whole number 0-10 for a scale, a choice's code, or text."""

    answers: dict[Slug, Answer] = Field(max_length=MAX_QUESTIONS)
    answered_by: Literal["patient", "caregiver"] = Field(
        "patient", description="a caregiver answering for the patient says so"
    )


class AnswerError(ValueError):
    """Answers that do not fit the survey: ``problems`` is (question id, what is wrong), no values."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("answers do not fit the survey")
        self.problems = problems


def _problem(question: QuestionIn, value: int | str) -> str | None:
    if question.type is QuestionType.SCALE:
        if not isinstance(value, int) or not SCALE_MIN <= value <= SCALE_MAX:
            return f"a whole number from {SCALE_MIN} to {SCALE_MAX}"
        return None
    if not isinstance(value, str):
        return "a code among the choices" if question.type is QuestionType.CHOICE else "text"
    if question.type is QuestionType.CHOICE:
        if value not in {c.code for c in question.choices or []}:
            return "a code among the choices"
        return None
    if len(value) > MAX_ANSWER:
        return f"at most {MAX_ANSWER} characters"
    if _CONTROL.search(value):
        return "text without control or bidirectional formatting characters"
    return None


def check_answers(survey: SurveyIn, answers: Mapping[str, int | str]) -> dict[str, int | str]:
    """The answers as kept (text trimmed, empty text left out), or :class:`AnswerError`."""
    problems: list[tuple[str, str]] = []
    kept: dict[str, int | str] = {}
    for question_id, value in answers.items():
        question = survey.question(question_id)
        if question is None:
            problems.append((question_id, "no such question in this survey"))
            continue
        wrong = _problem(question, value)
        if wrong is not None:
            problems.append((question_id, f"must be {wrong}"))
            continue
        if isinstance(value, str) and question.type is QuestionType.TEXT:
            value = value.strip()
            if not value:
                continue
        kept[question_id] = value
    named = {question_id for question_id, _ in problems}
    for question in survey.questions:
        if question.required and question.id not in kept and question.id not in named:
            problems.append((question.id, "is required"))
    if not problems and not kept:
        problems.append(("answers", "answer at least one question"))
    if problems:
        raise AnswerError(problems)
    return kept


@dataclass(frozen=True)
class Flag:
    question_id: str
    reason: Literal["low-score", "flagged-choice"]


def flags(survey: SurveyIn, answers: Mapping[str, int | str]) -> list[Flag]:
    """The answers that call for a service-recovery call, in the survey's order."""
    out = []
    for question in survey.questions:
        value = answers.get(question.id)
        if value is None:
            continue
        low = question.low()
        if (
            question.type is QuestionType.SCALE
            and low is not None
            and isinstance(value, int)
            and value <= low
        ):
            out.append(Flag(question.id, "low-score"))
        elif question.type is QuestionType.CHOICE and value in question.flag_choices:
            out.append(Flag(question.id, "flagged-choice"))
    return out


def scores(survey: SurveyIn, answers: Mapping[str, int | str]) -> dict[str, int]:
    """The scale answers (numbers only: what a report may read)."""
    return {
        q.id: value
        for q in survey.questions
        if q.type is QuestionType.SCALE and isinstance(value := answers.get(q.id), int)
    }


def nps_answer(survey: SurveyIn, answers: Mapping[str, int | str]) -> int | None:
    """The answer to the NPS question, if the survey has one and it was answered."""
    question = next((q for q in survey.questions if q.nps), None)
    value = answers.get(question.id) if question is not None else None
    return value if isinstance(value, int) else None


# ---------------------------------------------------------------- report


def months(start: date, end: date) -> list[str]:
    """The calendar months (``YYYY-MM``) the period touches, in order."""
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


class ReportRow(Model):
    """One survey sent (what the report reads of a request: ids, codes and numbers)."""

    survey_code: str
    provider_id: str | None = None
    appointment_type: str | None = None
    answered: bool = False
    scores: dict[str, int] = Field(default_factory=dict)
    nps: int | None = None


class QuestionMean(Model):
    survey_code: str
    question_id: str
    mean: float
    responses: int


class Figures(Model):
    sent: int
    answered: int
    response_rate: float | None = Field(None, description="answered / sent, 0-1 (none sent: null)")
    nps: float | None = Field(None, description="% promoters (9-10) minus % detractors (0-6), -100 to 100")
    nps_responses: int = 0
    means: list[QuestionMean] = Field(default_factory=list, description="each scale question's mean")


def net_promoter_score(answers: Sequence[int]) -> float | None:
    """% promoters (9-10) minus % detractors (0-6), one decimal; None without answers."""
    if not answers:
        return None
    promoters = sum(1 for a in answers if a >= PROMOTER)
    detractors = sum(1 for a in answers if a <= NPS_LOW)
    return round(100 * (promoters - detractors) / len(answers), 1)


def figures(rows: Iterable[ReportRow]) -> Figures:
    rows = list(rows)
    answered = [r for r in rows if r.answered]
    nps = [r.nps for r in answered if r.nps is not None]
    by_question: dict[tuple[str, str], list[int]] = {}
    for row in answered:
        for question_id, score in row.scores.items():
            by_question.setdefault((row.survey_code, question_id), []).append(score)
    return Figures(
        sent=len(rows),
        answered=len(answered),
        response_rate=round(len(answered) / len(rows), 3) if rows else None,
        nps=net_promoter_score(nps),
        nps_responses=len(nps),
        means=[
            QuestionMean(survey_code=s, question_id=q, mean=round(sum(v) / len(v), 2), responses=len(v))
            for (s, q), v in sorted(by_question.items())
        ],
    )


class ProviderFigures(Figures):
    provider_id: str


class AppointmentTypeFigures(Figures):
    appointment_type: str


class RecoveryFigures(Model):
    opened: int = Field(description="service-recovery tasks opened in the period")
    closed: int = Field(description="service-recovery tasks completed or cancelled in the period")


class FeedbackReport(Model):
    start: date = Field(description="`from`: surveys sent from this day (UTC)")
    end: date = Field(description="`to`: to this day, included")
    overall: Figures
    by_provider: list[ProviderFigures] = Field(description="visits' surveys, by the visit's provider")
    by_appointment_type: list[AppointmentTypeFigures]
    recovery: RecoveryFigures


def summarize(start: date, end: date, rows: Iterable[ReportRow], opened: int, closed: int) -> FeedbackReport:
    rows = list(rows)
    providers: dict[str, list[ReportRow]] = {}
    types: dict[str, list[ReportRow]] = {}
    for row in rows:
        if row.provider_id is not None:
            providers.setdefault(row.provider_id, []).append(row)
        if row.appointment_type is not None:
            types.setdefault(row.appointment_type, []).append(row)
    return FeedbackReport(
        start=start,
        end=end,
        overall=figures(rows),
        by_provider=[
            ProviderFigures(provider_id=p, **figures(r).model_dump()) for p, r in sorted(providers.items())
        ],
        by_appointment_type=[
            AppointmentTypeFigures(appointment_type=t, **figures(r).model_dump())
            for t, r in sorted(types.items())
        ],
        recovery=RecoveryFigures(opened=opened, closed=closed),
    )


def answered_view(
    survey: SurveyIn,
    answers: Mapping[str, int | str],
    language: str,
) -> list[AnswerView]:
    """The answers in the survey's order, each with its question's words (and a choice's label) in the
    best language for ``language``."""
    best = best_language(survey.languages, language)
    out = []
    for q in survey.questions:
        if q.id not in answers:
            continue
        value = answers[q.id]
        labels = {c.code: _pick(c.label, best) for c in q.choices or []}
        shown = labels.get(value, value) if isinstance(value, str) else value
        out.append(AnswerView(question_id=q.id, question=_pick(q.text, best), answer=shown))
    return out
