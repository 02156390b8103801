"""One-tap links from reminders: confirm or cancel without logging in.

``GET /r/{token}`` says what the link is for (the appointment's time and place, what it can do);
``POST /r/{token}`` does it. The token is signed and expires when the visit starts
(:mod:`functions.reminders.tokens`); it is good for one action. A forged or malformed token is a 404,
an expired one a 410, a used one a 409: each changes nothing. The action is the app's own transition,
audited as the patient's, through the link. The page shows no name, no diagnosis, no provider: only
what the message that carried the link already said.

A survey's link (the feedback area sends it) is the same kind of token naming a survey request: ``GET``
shows the survey in the patient's language (its questions, nothing about the patient), ``POST`` with
``{"action": "answer", "answers": {...}}`` stores the answers once
(:func:`shared.data.feedback.answer`): a second answer is a 409, after it expires a 410, answers
that do not fit the survey a 422 that stores nothing and repeats none of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from shared import clock, metrics
from shared.data import keys, moves
from shared.data import reminders as repo
from shared.data import scheduling as sched
from shared.data.patients import Actor
from shared.data.tx import Cancelled
from shared.domain.base import Strict
from shared.domain.feedback import Answer, ResponseIn, SurveyView
from shared.domain.reminders import SubjectKind, TouchOut
from shared.domain.scheduling import AppointmentStatus, Cancellation, CancelReason
from shared.domain.tasks import Slug
from shared.errors import Conflict, Gone, NotFound
from shared.http import tokens
from shared.http.auth import Principal, Role, public
from shared.http.contract import responses
from shared.http.resolver import make_handler, make_resolver

router = APIGatewayHttpRouter()
Token = Annotated[str, Path(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
FORGED = "This link is not valid. Use the latest message we sent you, or call the clinic."


class LinkView(BaseModel):
    """What a one-tap link is for."""

    kind: Literal["appointment"] = "appointment"
    appointment_start: datetime
    time_zone: str = Field(description="the provider's zone: show the time in it")
    clinic_name: str
    status: AppointmentStatus
    can: list[Literal["confirm", "cancel"]] = Field(description="what the link can still do")
    expires_at: datetime


class SurveyLinkView(BaseModel):
    """A survey's link: the survey in the patient's language, and whether it can still be answered."""

    kind: Literal["survey"] = "survey"
    survey: SurveyView
    can: list[Literal["answer"]] = Field(description="empty once answered")
    expires_at: datetime


class LinkAction(Strict):
    action: Literal["confirm", "cancel"]


class SurveyLinkAnswer(Strict):
    """Answer the survey the link names: by question id, a whole number 0-10 for a scale, a choice's
    code, or text (at most 2,000 characters)."""

    action: Literal["answer"]
    answers: dict[Slug, Answer] = Field(max_length=20)
    answered_by: Literal["patient", "caregiver"] = "patient"


LinkBody = Annotated[LinkAction | SurveyLinkAnswer, Body(discriminator="action")]


def _id_of(token: str) -> tuple[str, datetime]:
    try:
        return tokens.read(token)
    except tokens.BadToken:
        raise NotFound(FORGED) from None


def _survey(item_id: str, expires: datetime) -> tuple[str, Any, datetime] | None:
    """The survey request a token names (its organization, item, and when the link expires), or None
    when the id is not a survey request's."""
    from shared.data import feedback

    route = feedback.route(item_id)
    if route is None:
        return None
    org = route.organization_id
    item = feedback.get_request(org, item_id)
    closes = item.record().expires_at if item is not None else None
    if item is None or closes is None:
        raise NotFound(FORGED)
    expires = min(expires, closes)
    if clock.now() >= expires:
        raise Gone("This survey has closed. Thank you all the same.")
    return org, item, expires


def _survey_view(org: str, item: Any, expires: datetime) -> SurveyLinkView:
    from shared.data import feedback
    from shared.data.core import get_item, patient_key
    from shared.data.patients import Patient
    from shared.domain.feedback import RequestStatus, localize

    record = item.record()
    survey = feedback.survey_version(org, record.survey_code, record.survey_version)
    patient = get_item(Patient, patient_key(org, record.patient_id))
    if survey is None or patient is None:
        raise NotFound(FORGED)
    view = localize(survey, str(patient.record().preferred_language))
    can: list[Literal["answer"]] = ["answer"] if record.status is RequestStatus.SENT else []
    return SurveyLinkView(survey=view, can=can, expires_at=expires)


def _open(
    route: repo.Route | None, touch_id: str, expires: datetime
) -> tuple[str, repo.Touch, TouchOut, sched.Appointment, datetime]:
    if route is None:
        raise NotFound(FORGED)
    org = route.organization_id
    item = repo.touch(org, touch_id)
    touch = item.record() if item else None
    if item is None or touch is None or touch.subject_kind is not SubjectKind.APPOINTMENT:
        raise NotFound(FORGED)
    key = (keys.appointment_pk(org, touch.subject_id), keys.APPOINTMENT_SK)
    found = sched.get_many([key, (keys.plan_pk(org, touch.subject_kind, touch.subject_id), keys.PLAN_SK)])
    appointment, head = (
        found.get(key),
        found.get((keys.plan_pk(org, touch.subject_kind, touch.subject_id), keys.PLAN_SK)),
    )
    if appointment is None:
        raise NotFound(FORGED)
    # a link lasts until the visit starts: the one it named, and the current one if it moved earlier
    expires = min(expires, appointment.record().start)
    if clock.now() >= expires:
        raise Gone("This link has expired. Call the clinic or use the app.")
    if head is None or touch.id not in head.current:
        raise Gone(
            "This appointment has moved since this message; use the latest one, the app, or call the clinic."
        )
    return org, item, touch, appointment, expires


def _can(touch: TouchOut, appointment: sched.Appointment) -> list[Literal["confirm", "cancel"]]:
    if touch.link_used_at is not None:
        return []
    status = appointment.record().status
    if status is AppointmentStatus.PENDING:
        return ["confirm", "cancel"]
    return ["cancel"] if status is AppointmentStatus.BOOKED else []


def _view(org: str, touch: TouchOut, appointment: sched.Appointment, expires: datetime) -> LinkView:
    policy, _ = repo.policy(org)
    record = appointment.record()
    return LinkView(
        appointment_start=record.start,
        time_zone=record.time_zone,
        clinic_name=policy.clinic_name,
        status=record.status,
        can=_can(touch, appointment),
        expires_at=expires,
    )


@router.get(
    "/r/<token>",
    summary="What a reminder's one-tap link will do (no login: the link is the credential)",
    tags=["reminders"],
    operation_id="readLink",
    responses=responses(
        errors={404: "Not a link this API issued (forged or mistyped)", 410: "The link has expired"}
    ),
)
@public
def read(token: Token) -> LinkView | SurveyLinkView:
    item_id, expires = _id_of(token)
    route = repo.route("TOUCH", item_id)
    survey = _survey(item_id, expires) if route is None else None
    if survey is not None:
        return _survey_view(*survey)
    org, _item, touch, appointment, expires = _open(route, item_id, expires)
    return _view(org, touch, appointment, expires)


@router.post(
    "/r/<token>",
    summary="Confirm or cancel the appointment a reminder's link names, or answer the survey a "
    "feedback link names (once)",
    tags=["reminders"],
    operation_id="useLink",
    responses=responses(
        errors={
            404: "Not a link this API issued (forged or mistyped)",
            409: "The link was used already (a survey answered already), or the appointment cannot move",
            410: "Expired",
        }
    ),
)
@public
def use(token: Token, body: LinkBody) -> LinkView | SurveyLinkView:
    item_id, expires = _id_of(token)
    route = repo.route("TOUCH", item_id)
    survey = _survey(item_id, expires) if route is None else None
    if survey is not None:
        if not isinstance(body, SurveyLinkAnswer):
            raise Conflict("This link is for a survey: answer it.")
        return _answer(*survey, body)
    if isinstance(body, SurveyLinkAnswer):
        raise Conflict("This link is for an appointment: confirm or cancel it.")
    return _use(route, item_id, expires, body)


def _answer(org: str, item: Any, expires: datetime, body: SurveyLinkAnswer) -> SurveyLinkView:
    from shared.data import feedback

    patient_id = item.patient_id
    actor = Actor(org, f"patient-link:{patient_id}", None, None)
    response = ResponseIn(answers=body.answers, answered_by=body.answered_by)
    answered = feedback.answer(org, item, response, "link", actor, clock.now())
    stored = feedback.get_request(org, answered.id) or item
    return _survey_view(org, stored, expires)


def _use(route: repo.Route | None, item_id: str, expires: datetime, body: LinkAction) -> LinkView:
    org, item, touch, appointment, expires = _open(route, item_id, expires)
    if body.action not in _can(touch, appointment):
        if touch.link_used_at is not None:
            raise Conflict("This link was used already.")
        raise Conflict(
            f"The appointment is {appointment.record().status.value}: it cannot be {body.action}ed now."
        )
    now = clock.now()
    patient_id = appointment.patient_id
    principal = Principal(
        subject=f"patient-link:{patient_id}",
        organization_id=org,
        roles=frozenset({Role.PATIENT}),
        patient_id=patient_id,
    )
    extra: dict[str, Any] = {"confirmed_at": now}
    if body.action == "cancel":
        extra = {
            "cancellation": Cancellation(
                by=principal.subject, by_role="patient", reason=CancelReason.PATIENT, at=now
            )
        }
    # the link is good once: marked used in the move's own transaction, on the version read
    used = repo.touch_item(org, touch.model_copy(update={"link_used_at": now, "updated_at": now}))
    used.version = item.version
    try:
        moves.move(
            principal,
            Actor(org, principal.subject, None, None),
            appointment,
            body.action,
            now,
            also=[("link", used, None)],
            **extra,
        )
    except (Cancelled, Conflict):
        raise Conflict(
            "The link was used, or the appointment changed, a moment ago; open the app or call the clinic."
        ) from None
    if body.action == "confirm":
        metrics.count("Reminders", "confirmed")
    fresh = sched.get_item(
        sched.Appointment, (keys.appointment_pk(org, touch.subject_id), keys.APPOINTMENT_SK)
    )
    return _view(org, touch.model_copy(update={"link_used_at": now}), fresh or appointment, expires)


app = make_resolver(router)
handler = make_handler(app)
