"""A patient's surveys in the app: the ones they may still answer, and their answers (the same rules and
storage as the message's link, :func:`shared.data.feedback.answer`)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import clock
from shared.data import core
from shared.data import feedback as repo
from shared.data.patients import Patient
from shared.domain.feedback import (
    FlagView,
    PendingSurvey,
    PendingSurveys,
    RequestStatus,
    ResponseIn,
    SurveyAnswerReceipt,
    SurveyResponseStaffView,
    SurveyResponseView,
    answered_view,
    flags,
    localize,
)
from shared.errors import NotFound
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audited_read, caller
from shared.http.contract import UlidPath, responses
from shared.http.idempotency import idempotent

router = APIGatewayHttpRouter()


def _patient(org: str, patient_id: str) -> Patient:
    item = core.get_item(Patient, core.patient_key(org, patient_id))
    if item is None:
        raise NotFound("No patient with this id.")
    return item


@router.get(
    "/patients/<patient_id>/surveys",
    summary="The surveys the patient may still answer, newest first, in their language",
    tags=["feedback"],
    operation_id="listPatientSurveys",
)
@allow(STAFF, Role.PATIENT)
def pending(patient_id: UlidPath) -> PendingSurveys:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org, now = principal.organization_id, clock.now()
    language = str(_patient(org, patient_id).record().preferred_language)
    out = []
    for item in repo.patient_requests(org, patient_id):
        record = item.record()
        if record.status is not RequestStatus.SENT or record.sent_at is None or record.expires_at is None:
            continue
        if now >= record.expires_at:
            continue
        survey = repo.survey_version(org, record.survey_code, record.survey_version)
        if survey is None:
            continue
        out.append(
            PendingSurvey(
                request_id=record.id,
                survey_code=record.survey_code,
                sent_at=record.sent_at,
                expires_at=record.expires_at,
                survey=localize(survey, language),
            )
        )
    audited_read(router, [patient_id], "survey.read")
    return PendingSurveys(items=out)


@router.get(
    "/patients/<patient_id>/surveys/<request_id>",
    summary="A survey asked of the patient and what they answered (staff: what flagged it, its task)",
    tags=["feedback"],
    operation_id="getPatientSurvey",
)
@allow(STAFF, Role.PATIENT)
def read(patient_id: UlidPath, request_id: UlidPath) -> SurveyResponseStaffView | SurveyResponseView:
    """Where a service-recovery task's focus (``survey-response``, the request's id) leads: the answers
    with their questions' words, in the reader's language (staff: the organization's first of the
    survey's; the patient: theirs)."""
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    record = repo.find_request(org, patient_id, request_id).record()
    survey = repo.survey_version(org, record.survey_code, record.survey_version)
    response = repo.get_response(org, request_id)
    language = (
        str(_patient(org, patient_id).record().preferred_language)
        if principal.is_patient
        else (survey.languages[0] if survey is not None else "en")
    )
    answers = response.answers if response is not None else {}
    common = {
        "request_id": record.id,
        "survey_code": record.survey_code,
        "status": record.status,
        "sent_at": record.sent_at,
        "expires_at": record.expires_at,
        "answered_at": record.answered_at,
        "answered_by": response.answered_by if response is not None else None,
        "answers": answered_view(survey, answers, language) if survey is not None else [],
    }
    audited_read(router, [patient_id], "survey.read")
    if principal.is_patient:
        return SurveyResponseView(**common)
    found = flags(survey, answers) if survey is not None else []
    return SurveyResponseStaffView(
        **common,
        trigger=record.trigger,
        subject_id=record.subject_id,
        flags=[FlagView(question_id=f.question_id, reason=f.reason) for f in found],
        task_id=record.task_id,
    )


@router.post(
    "/patients/<patient_id>/surveys/<request_id>/response",
    summary="Answer a survey (the patient, or their caregiver in the patient's app), once",
    tags=["feedback"],
    operation_id="answerSurvey",
    responses=responses(
        201, "Stored: thank you", errors={409: "Answered already", 410: "No longer open (expired)"}
    ),
)
@allow(Role.PATIENT)
@idempotent(router)
def answer(patient_id: UlidPath, request_id: UlidPath, body: ResponseIn) -> Response[SurveyAnswerReceipt]:
    """Scale answers are whole numbers 0-10, choice answers a choice's code, text at most 2,000
    characters; every required question answered. A bad answer is a 422 naming the question, and
    nothing is stored."""
    principal, actor = caller(router)
    principal.require_patient(patient_id)
    org, now = principal.organization_id, clock.now()
    item = repo.find_request(org, patient_id, request_id)
    answered = repo.answer(org, item, body, "app", actor, now)
    receipt = SurveyAnswerReceipt(
        request_id=answered.id, survey_code=answered.survey_code, answered_at=answered.answered_at or now
    )
    return Response(201, "application/json", receipt)
