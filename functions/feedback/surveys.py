"""Survey definitions (admins) and the feedback report over HTTP. See :mod:`shared.domain.feedback` for
the rules and :mod:`shared.data.feedback` for the storage."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import clock
from shared.data import feedback as repo
from shared.data import keys
from shared.domain.base import Code
from shared.domain.calendar import Day
from shared.domain.feedback import (
    MAX_REPORT_DAYS,
    FeedbackReport,
    SurveyIn,
    SurveyOut,
    summarize,
)
from shared.errors import NotFound
from shared.http.auth import Role, allow
from shared.http.caller import caller, check_period
from shared.http.contract import IfMatch, etag, require_current, responses
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
SurveyCode = Annotated[Code, Path(description="the survey's code, e.g. after-visit")]
SurveyPage = Page[SurveyOut]


@router.put(
    "/surveys/<code>",
    summary="Define a survey, or replace it (If-Match once it exists): questions, languages, when to send",
    tags=["feedback"],
    operation_id="putSurvey",
    responses=responses(
        headers=["ETag"], errors={409: "If-Match is stale (`current_version`)", 428: "Send If-Match"}
    ),
)
@allow(Role.ADMIN)
def put_survey(code: SurveyCode, body: SurveyIn, if_match: IfMatch = None) -> Response[SurveyOut]:
    """Requests already sent keep the questions they asked; the next ones ask these."""
    principal, _ = caller(router)
    org = principal.organization_id
    stored = repo.get_survey(org, code)
    if stored is not None:
        require_current(if_match, stored.version, "survey")
    record = repo.save_survey(org, code, body, stored, clock.now())
    return Response(200, "application/json", record, headers=etag(record.version))


@router.get(
    "/surveys",
    summary="The organization's surveys, by code",
    tags=["feedback"],
    operation_id="listSurveys",
)
@allow(Role.ADMIN)
def list_surveys(limit: Limit = 25, cursor: Cursor = None) -> SurveyPage:
    org = caller(router)[0].organization_id
    list_id = "surveys"
    start = decode_cursor(
        cursor, list_id, {"GSI1PK": keys.surveys_pk(org)}, ("PK", "SK", "GSI1PK", "GSI1SK"), tenant=org
    )
    records, last = repo.surveys_page(org, limit, start)
    return SurveyPage(items=records, next_cursor=encode_cursor(list_id, last, tenant=org))


@router.get(
    "/surveys/<code>",
    summary="A survey",
    tags=["feedback"],
    operation_id="getSurvey",
    responses=responses(headers=["ETag"]),
)
@allow(Role.ADMIN)
def get_survey(code: SurveyCode) -> Response[SurveyOut]:
    item = repo.get_survey(caller(router)[0].organization_id, code)
    if item is None:
        raise NotFound("No survey with this code.")
    return Response(200, "application/json", item.record(), headers=etag(item.version))


@router.get(
    "/reports/feedback",
    summary="Surveys sent in the period: response rate, NPS and mean scores by provider and visit type, "
    "service-recovery tasks opened and closed",
    tags=["feedback"],
    operation_id="feedbackReport",
)
@allow(Role.ADMIN)
def report(
    from_: Annotated[Day, Query(alias="from", description="first day (UTC) a survey was sent")],
    to: Annotated[Day, Query(description=f"last day (UTC), at most {MAX_REPORT_DAYS} days after `from`")],
) -> FeedbackReport:
    check_period(from_, to, MAX_REPORT_DAYS)
    org = caller(router)[0].organization_id
    opened, closed = repo.recovery_counts(org, from_, to)
    return summarize(from_, to, repo.report_rows(org, from_, to), opened, closed)
