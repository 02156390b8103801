"""Surveys, survey requests and responses in the single table. Keys and access patterns:
:mod:`shared.data.keys` (Feedback).

A survey's head is versioned (If-Match); each version is also kept as it was (``V#<n>``), so a request
is answered against the questions it asked. A request is made once per survey and triggering event
(a claim item, put with ``attribute_not_exists`` in its transaction). Its answers go in a response
item beside it, put with ``attribute_not_exists`` in the transaction that marks it answered, so two
answers (the link twice, the link and the app) store one. Free text lives only in that item; the
request keeps the scores as numbers for the report.

:func:`answer` is the one way a response is stored, whoever takes it (the link routes of the
reminders links function, the feedback app routes): checked against the survey, once, before it
expires, with its service-recovery task when an answer is flagged.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel
from pynamodb.attributes import UnicodeAttribute, VersionAttribute

from shared.clock import isoformat
from shared.data import keys
from shared.data.core import Change, get_item, get_many, organization_calendar, patient_key
from shared.data.patients import Actor
from shared.data.table import CareModel
from shared.data.tx import Cancelled
from shared.domain.feedback import (
    AnswerError,
    ReportRow,
    RequestStatus,
    ResponseIn,
    SurveyIn,
    SurveyOut,
    SurveyRequestOut,
    SurveyResponseOut,
    check_answers,
    flags,
    months,
    nps_answer,
    scores,
)
from shared.errors import Conflict, Gone, NotFound, Unprocessable
from shared.events.feedback import SurveyAnswered

SYSTEM = "system:feedback"
ROUTE_RETENTION = timedelta(days=120)  # past the longest expiry (90 days)
REQUEST_RETENTION = timedelta(days=800)  # two years of reports
RECOVERY_DUE = {"amount": 1, "unit": "business-days"}  # a service-recovery call: the next business day

if TYPE_CHECKING:
    from shared.domain.tasks import TaskOut


def system_actor(org: str) -> Actor:
    return Actor(org, SYSTEM, None, None)


def _json(record: BaseModel, exclude: set[str] | None = None) -> str:
    return json.dumps(record.model_dump(mode="json", exclude=exclude), separators=(",", ":"))


class SurveyItem(CareModel, discriminator="Survey"):
    body = UnicodeAttribute()  # SurveyIn as JSON, with its code and when it was written
    version = VersionAttribute()

    def record(self) -> SurveyOut:
        return SurveyOut.model_validate({**json.loads(self.body), "version": self.version})


class SurveyVersionItem(CareModel, discriminator="SurveyVersion"):
    body = UnicodeAttribute()  # SurveyOut as JSON, never changed

    def record(self) -> SurveyOut:
        return SurveyOut.model_validate_json(self.body)


class SurveyClaim(CareModel, discriminator="SurveyClaim"):
    request_id = UnicodeAttribute()


class SurveyRequestItem(CareModel, discriminator="SurveyRequest"):
    patient_id = UnicodeAttribute()
    status = UnicodeAttribute()
    body = UnicodeAttribute()  # SurveyRequestOut (ids, codes, numbers)
    version = VersionAttribute()

    def record(self) -> SurveyRequestOut:
        return SurveyRequestOut.model_validate({**json.loads(self.body), "version": self.version})


class SurveyResponseItem(CareModel, discriminator="SurveyResponse"):
    patient_id = UnicodeAttribute()
    body = UnicodeAttribute()  # SurveyResponseOut: the answers, free text included (PHI)


class SurveyRoute(CareModel, discriminator="SurveyRoute"):
    """``ROUTE#SURVEY#<request id>``: the organization a survey link's request belongs to."""

    organization_id = UnicodeAttribute()
    request_id = UnicodeAttribute()


class RecoveryMark(CareModel, discriminator="FeedbackRecovery"):
    task_id = UnicodeAttribute()
    what = UnicodeAttribute()  # opened | closed


# ---------------------------------------------------------------- surveys


def get_survey(org: str, code: str) -> SurveyItem | None:
    return get_item(SurveyItem, (keys.survey_pk(org, code), keys.SURVEY_SK))


def survey_version(org: str, code: str, version: int) -> SurveyOut | None:
    item = get_item(SurveyVersionItem, (keys.survey_pk(org, code), keys.survey_version_sk(version)))
    return item.record() if item is not None else None


def save_survey(org: str, code: str, body: SurveyIn, old: SurveyItem | None, now: datetime) -> SurveyOut:
    """``body`` as the survey ``code``: new, or on ``old``'s version (409 when someone wrote first).
    The head and the version as it is now, in one transaction."""
    number = (old.version or 0) + 1 if old is not None else 1
    record = SurveyOut(**body.model_dump(), code=code, version=number, updated_at=now)
    head = SurveyItem(
        keys.survey_pk(org, code),
        keys.SURVEY_SK,
        body=_json(record, exclude={"version"}),
        GSI1PK=keys.surveys_pk(org),
        GSI1SK=code,
    )
    if body.active:  # sparse: the events consumer reads only the active surveys of a trigger
        head.GSI2PK, head.GSI2SK = keys.surveys_pk(org, body.trigger.value), code
    change = Change(system_actor(org), now)
    if old is None:
        change.put("survey", head, SurveyItem.PK.does_not_exist())
    else:
        head.version = old.version
        change.put("survey", head)
    kept = SurveyVersionItem(keys.survey_pk(org, code), keys.survey_version_sk(number), body=_json(record))
    change.put("survey-version", kept, SurveyVersionItem.PK.does_not_exist())
    try:
        change.commit()
    except Cancelled:
        raise Conflict("The survey changed since you read it; read it again.") from None
    return record


def surveys_page(org: str, limit: int, start: dict[str, Any] | None) -> tuple[list[SurveyOut], Any]:
    result = SurveyItem.gsi1.query(keys.surveys_pk(org), limit=limit, last_evaluated_key=start)
    return [i.record() for i in result], result.last_evaluated_key


def active_surveys(org: str, trigger: str) -> list[SurveyOut]:
    """One Query: the organization's active surveys with this trigger (a handful)."""
    return [i.record() for i in SurveyItem.gsi2.query(keys.surveys_pk(org, trigger))]


# ---------------------------------------------------------------- requests


def claim(org: str, code: str, subject_id: str) -> SurveyClaim | None:
    return get_item(SurveyClaim, (keys.survey_claim_pk(org, code, subject_id), keys.SURVEY_CLAIM_SK))


def request_item(org: str, record: SurveyRequestOut, version: int | None = None) -> SurveyRequestItem:
    item = SurveyRequestItem(
        keys.survey_request_pk(org, record.id),
        keys.SURVEY_REQUEST_SK,
        patient_id=record.patient_id,
        status=record.status.value,
        body=_json(record, exclude={"version"}),
        GSI1PK=keys.patient_surveys_pk(org, record.patient_id),
        GSI1SK=keys.timed_sk(isoformat(record.created_at), record.id),
        ttl=record.created_at + REQUEST_RETENTION,
    )
    if record.sent_at is not None:  # the report's months: surveys sent, answered or not
        item.GSI2PK = keys.feedback_sent_pk(org, record.sent_at.strftime("%Y-%m"))
        item.GSI2SK = keys.timed_sk(isoformat(record.sent_at), record.id)
    if version is not None:
        item.version = version
    return item


def open_request(change: Change, org: str, record: SurveyRequestOut) -> None:
    """A new request, once per survey and subject (label ``claim`` when one was made already), with the
    route its link will use."""
    change.put(
        "claim",
        SurveyClaim(
            keys.survey_claim_pk(org, record.survey_code, record.subject_id),
            keys.SURVEY_CLAIM_SK,
            request_id=record.id,
            ttl=record.created_at + REQUEST_RETENTION,
        ),
        SurveyClaim.PK.does_not_exist(),
    )
    change.put("request", request_item(org, record), SurveyRequestItem.PK.does_not_exist())
    change.put(
        "route",
        SurveyRoute(
            keys.route_pk("SURVEY", record.id),
            keys.ROUTE_SK,
            organization_id=org,
            request_id=record.id,
            ttl=record.created_at + ROUTE_RETENTION,
        ),
    )


def get_request(org: str, request_id: str) -> SurveyRequestItem | None:
    return get_item(SurveyRequestItem, (keys.survey_request_pk(org, request_id), keys.SURVEY_REQUEST_SK))


def move_request(change: Change, org: str, item: SurveyRequestItem, record: SurveyRequestOut) -> None:
    """``record`` in place of ``item``, on its version (label ``request``)."""
    change.put("request", request_item(org, record, item.version))


def route(request_id: str) -> SurveyRoute | None:
    return get_item(SurveyRoute, (keys.route_pk("SURVEY", request_id), keys.ROUTE_SK))


def patient_requests(org: str, patient_id: str, limit: int = 50) -> list[SurveyRequestItem]:
    """One Query: the patient's newest requests (a few a year)."""
    return list(
        SurveyRequestItem.gsi1.query(
            keys.patient_surveys_pk(org, patient_id), scan_index_forward=False, limit=limit
        )
    )


# ---------------------------------------------------------------- answers


UNKNOWN = "no such question in this survey"


def _bad_answers(exc: AnswerError) -> Unprocessable:
    """A 422 naming the survey's questions that are wrong; a key the caller made up is ``[key]`` (never
    echoed)."""
    problems = [("[key]" if m == UNKNOWN else q, m) for q, m in exc.problems]
    where = sorted({q for q, _ in problems})
    return Unprocessable(
        f"Fix the answers and send again: {', '.join(where)}.",
        errors=[
            {
                "loc": ["body", "answers", q] if q != "answers" else ["body", "answers"],
                "msg": m,
                "type": "value_error",
            }
            for q, m in problems
        ],
    )


def answerable(record: SurveyRequestOut, now: datetime) -> None:
    """409 once answered, 410 when expired (or never sent)."""
    if record.status is RequestStatus.ANSWERED:
        raise Conflict("This survey was answered already. Thank you!")
    if record.status is not RequestStatus.SENT or record.expires_at is None or now >= record.expires_at:
        raise Gone("This survey can no longer be answered.")


def _recovery_task(
    org: str, record: SurveyRequestOut, patient: Any, coordinator: str | None, now: datetime
) -> TaskOut:
    # here, not at import: only a flagged answer needs the tasks model (a cold start's ~30 ms)
    from shared.data import tasks as task_repo
    from shared.domain.tasks import DueIn, Focus, FocusType, TaskCode, due_at

    due = due_at(DueIn.model_validate(RECOVERY_DUE), now, organization_calendar(org), None)
    return task_repo.new_task(
        code=TaskCode.SERVICE_RECOVERY,
        description="Call the patient about their feedback (a low score or a flagged answer)",
        patient_id=record.patient_id,
        patient=patient,
        focus=Focus(type=FocusType.SURVEY_RESPONSE, id=record.id),
        due=due,
        by=SYSTEM,
        now=now,
        business_status="feedback",
        owner_id=coordinator,
    )


def answer(
    org: str,
    item: SurveyRequestItem,
    body: ResponseIn,
    via: Literal["link", "app"],
    actor: Actor,
    now: datetime,
) -> SurveyRequestOut:
    """Store the answers to the request ``item`` once: the response, the request marked answered with
    its scores, ``SurveyAnswered``, and a service-recovery task when an answer is flagged (one per
    request: its cause). 409 when answered already, 410 when expired, 422 (naming questions, never
    values) when the answers do not fit; nothing is written then."""
    record = item.record()
    answerable(record, now)
    survey = survey_version(org, record.survey_code, record.survey_version)
    if survey is None:
        raise Gone("This survey can no longer be answered.")
    try:
        kept = check_answers(survey, body.answers)
    except AnswerError as exc:
        raise _bad_answers(exc) from None
    flagged = flags(survey, kept)
    nps = nps_answer(survey, kept)
    change = Change(actor, now)
    task = None
    if flagged:
        found = get_many([patient_key(org, record.patient_id)])
        patient = found.get(patient_key(org, record.patient_id))
        team = patient.record().care_team if patient is not None else None
        task = _recovery_task(org, record, patient, team.coordinator_id if team else None, now)
        from shared.data import tasks as task_repo

        task_repo.open_task(change, org, task, cause=f"service-recovery|{record.id}")
    answered = record.model_copy(
        update={
            "status": RequestStatus.ANSWERED,
            "answered_at": now,
            "scores": scores(survey, kept),
            "nps": nps,
            "flagged": bool(flagged),
            "task_id": task.id if task is not None else None,
        }
    )
    move_request(change, org, item, answered)
    response = SurveyResponseOut(
        request_id=record.id,
        survey_code=record.survey_code,
        survey_version=record.survey_version,
        patient_id=record.patient_id,
        answers=kept,
        answered_by=body.answered_by,
        via=via,
        answered_at=now,
    )
    change.put(
        "response",
        SurveyResponseItem(
            keys.survey_request_pk(org, record.id),
            keys.SURVEY_RESPONSE_SK,
            patient_id=record.patient_id,
            body=_json(response),
            ttl=now + REQUEST_RETENTION,
        ),
        SurveyResponseItem.PK.does_not_exist(),
    )
    change.audit.append((record.patient_id, "survey.answer"))
    change.events.append(
        SurveyAnswered(
            organization_id=org,
            occurred_at=now,
            request_id=record.id,
            patient_id=record.patient_id,
            survey_id=record.survey_code,
            answered_by=body.answered_by,
            via=via,
            nps_score=nps,
            flagged=bool(flagged),
            task_id=task.id if task is not None else None,
        )
    )
    try:
        change.commit()
    except Cancelled:
        # answered a moment ago (the other way, or twice at once): the first answer stands
        raise Conflict("This survey was answered already. Thank you!") from None
    return answered.model_copy(update={"version": (item.version or 0) + 1})


def get_response(org: str, request_id: str) -> SurveyResponseOut | None:
    item = get_item(SurveyResponseItem, (keys.survey_request_pk(org, request_id), keys.SURVEY_RESPONSE_SK))
    return SurveyResponseOut.model_validate_json(item.body) if item is not None else None


def find_request(org: str, patient_id: str, request_id: str) -> SurveyRequestItem:
    """The patient's request (404 when it is not theirs, or not the organization's)."""
    item = get_request(org, request_id)
    if item is None or item.patient_id != patient_id:
        raise NotFound("No survey with this id for this patient.")
    return item


# ---------------------------------------------------------------- the report


def _bounds(start: date, end: date) -> tuple[str, str]:
    first = datetime.combine(start, time(0), UTC)
    last = datetime.combine(end + timedelta(days=1), time(0), UTC)
    return isoformat(first), isoformat(last)


def report_rows(org: str, start: date, end: date) -> list[ReportRow]:
    """One Query per month of the period (GSI2, sent between the days), every page read."""
    low, high = _bounds(start, end)
    rows = []
    for month in months(start, end):
        for item in SurveyRequestItem.gsi2.query(
            keys.feedback_sent_pk(org, month), SurveyRequestItem.GSI2SK.between(low, high)
        ):
            r = item.record()
            if r.sent_at is None or not low <= isoformat(r.sent_at) < high:
                continue
            rows.append(
                ReportRow(
                    survey_code=r.survey_code,
                    provider_id=r.provider_id,
                    appointment_type=r.appointment_type,
                    answered=r.status is RequestStatus.ANSWERED,
                    scores=r.scores,
                    nps=r.nps,
                )
            )
    return rows


def mark_recovery(org: str, what: Literal["opened", "closed"], task_id: str, at: datetime) -> None:
    """A service-recovery task opened or closed at ``at`` (put on its key: a redelivery writes it again)."""
    RecoveryMark(
        keys.feedback_recovery_pk(org, at.astimezone(UTC).strftime("%Y-%m")),
        f"{isoformat(at)}#{what}#{keys.part(task_id)}",
        task_id=task_id,
        what=what,
        ttl=at + REQUEST_RETENTION,
    ).save()


def recovery_counts(org: str, start: date, end: date) -> tuple[int, int]:
    """(opened, closed) in the period: one Query per month."""
    low, high = _bounds(start, end)
    opened = closed = 0
    for month in months(start, end):
        for item in RecoveryMark.query(
            keys.feedback_recovery_pk(org, month), RecoveryMark.SK.between(low, high)
        ):
            if item.what == "opened":
                opened += 1
            else:
                closed += 1
    return opened, closed
