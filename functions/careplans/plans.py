"""Care plans over HTTP: make one (by hand or from a template), read, edit it and its parts, review it;
a patient's plans (the patient reads their own active ones in plain words); the plans due a review;
the templates (protocols) admins define."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.careplans.common import World, calendar_and_patient, commit, write
from functions.careplans.library import get_library, put_library
from shared import clock, ids
from shared.data import careplans as repo
from shared.data import core, keys
from shared.data.patients import Patient
from shared.domain.base import Code
from shared.domain.careplans import (
    BOOKED,
    HELD,
    ActivityIn,
    ActivityPatch,
    CarePlanIn,
    CarePlanOut,
    CarePlanPatch,
    CarePlanPatientView,
    CarePlanTemplateIn,
    CarePlanTemplateOut,
    Category,
    GoalIn,
    GoalPatch,
    IllegalChange,
    PlanProblemIn,
    PlanProblemPatch,
    PlanStatus,
    ReviewIn,
    add_parts,
    edit_activity,
    edit_goal,
    edit_problem,
    link_appointment,
    move,
    new_plan,
    on_appointment,
    reviewed,
    with_history,
)
from shared.errors import Conflict, NotFound
from shared.events.careplans import CarePlanReviewed
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audited_read, caller, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, require_current, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
CarePlanPage = Page[CarePlanOut]
CarePlanPatientPage = Page[CarePlanPatientView]
PartId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]
TemplateCode = Annotated[Code, Path(description="the template's code, e.g. heart-failure-discharge")]
EDIT_PROBLEMS = {
    409: "The plan or its part cannot make this change (`detail`)",
    428: "Send If-Match",
}


def _plan(org: str, plan_id: str) -> repo.CarePlanItem:
    item = repo.get_plan(org, plan_id)
    if item is None:
        raise NotFound("No care plan with this id.")
    return item


def _same(before: CarePlanOut, after: CarePlanOut) -> bool:
    ignored = {"history", "updated_at", "version"}
    return before.model_dump(exclude=ignored) == after.model_dump(exclude=ignored)


def _refused(exc: ValueError) -> Exception:
    """A domain ValueError ("field: message") as the 422 naming the field."""
    field, _, message = str(exc).partition(": ")
    return invalid(field if message else "body", message or field)


def _edit(
    plan_id: str,
    if_match: str | None,
    how: Callable[[CarePlanOut, World], tuple[CarePlanOut, list[str]]],
    action: str,
) -> Response[CarePlanOut]:
    """Read the plan, check If-Match, ``how(plan, world)`` → the new plan and the goals it achieved,
    write it with its work, tasks and events."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    item = _plan(org, plan_id)
    before = item.record()
    require_current(if_match, before.version, "care-plan")
    cal, patient = calendar_and_patient(org, before.patient_id)
    world = World(org, cal, patient, now)
    try:
        after, achieved = how(before, world)
    except IllegalChange as exc:
        raise Conflict(
            f"The care plan cannot make this change: {exc}.", current_status=before.status.value
        ) from None
    except LookupError:
        raise NotFound("No part of this care plan with this id.") from None
    except ValueError as exc:
        raise _refused(exc) from None
    if _same(before, after):  # nothing changed: no new version, no history entry
        return Response(200, "application/json", before, headers=etag(before.version))
    reviewed_now = action == "review"
    if after.status is not before.status:
        action = after.status.value  # the history says what happened: on-hold, active, completed...
    change = core.Change(actor, now)
    if reviewed_now:  # ids only: the feedback area may ask the patient how the review went
        change.events.append(
            CarePlanReviewed(
                organization_id=org, occurred_at=now, care_plan_id=before.id, patient_id=before.patient_id
            )
        )
    try:
        written = write(
            change,
            org,
            item,
            before,
            with_history(after, principal.subject, action, now),
            world,
            principal.subject,
            action,
            achieved,
        )
    except ValueError as exc:
        raise _refused(exc) from None
    commit(change)
    return Response(200, "application/json", written, headers=etag(written.version))


# ---------------------------------------------------------------- plans


@router.post(
    "/patients/<patient_id>/care-plans",
    summary="Make a care plan: by hand, or from a template with its dates and work made once",
    tags=["care-plans"],
    operation_id="createCarePlan",
    responses=responses(201, "Created", headers=["Location", "ETag"]),
)
@allow(STAFF)
@idempotent(router)
def create(patient_id: UlidPath, body: CarePlanIn) -> Response[CarePlanOut]:
    """Active (the default): each activity's task, referral or education assignment is made now, in
    the same transaction. A social-needs plan becomes the one positive screens add to, if the patient
    has none."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    cal, patient = calendar_and_patient(org, patient_id)
    if patient is None:
        raise NotFound("No patient with this id.")
    if patient.status != "active":
        raise invalid("patient_id", "the patient is inactive", where="path")
    template: CarePlanTemplateOut | None = None
    if body.template is not None:
        template = repo.get_template(org, body.template)
        if template is None:
            raise invalid("template", "no template with this code")
    world = World(org, cal, patient, now)
    try:
        record = new_plan(
            body,
            plan_id=ids.new_id(now),
            patient_id=patient_id,
            today=world.today,
            author_id=principal.subject,
            now=now,
            new_id=ids.new_id,
            template=template,
        )
    except ValueError as exc:
        raise _refused(exc) from None
    if record.category is Category.SOCIAL_NEEDS and repo.social_plan_id(org, patient_id) is None:
        record = record.model_copy(update={"screens_add_here": True})
    change = core.Change(actor, now)
    core.active_patient(change, org, patient_id)
    try:
        written = write(
            change,
            org,
            None,
            None,
            with_history(record, principal.subject, "create", now),
            world,
            principal.subject,
            "create",
        )
    except ValueError as exc:
        raise _refused(exc) from None
    commit(change)
    headers = {"Location": f"/care-plans/{written.id}", **etag(written.version)}
    return Response(201, "application/json", written, headers=headers)


@router.get(
    "/patients/<patient_id>/care-plans",
    summary="A patient's care plans, active first; a patient reads their own active plans in plain words",
    tags=["care-plans"],
    operation_id="listPatientCarePlans",
)
@allow(STAFF, Role.PATIENT)
def patient_plans(
    patient_id: UlidPath, limit: Limit = 25, cursor: Cursor = None
) -> CarePlanPage | CarePlanPatientPage:
    """One Query. A patient who is not the caller's (missing, another organization's or another
    patient's) is a 404."""
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    own = principal.is_patient
    partition = keys.patient_careplans_pk(org, patient_id)
    list_id = "patient-care-plans:own" if own else "patient-care-plans"
    start = decode_cursor(
        cursor, list_id, {"GSI2PK": partition}, ("GSI2PK", "GSI2SK", "PK", "SK"), tenant=org
    )
    items, last = repo.patient_plans(org, patient_id, limit, start, active_only=own)
    if not own:
        require_parent(bool(items), cursor, Patient, core.patient_key(org, patient_id), "patient")
    if items:
        audited_read(router, [patient_id], "careplan.read")
    next_cursor = encode_cursor(list_id, last, tenant=org)
    if own:
        return CarePlanPatientPage(
            items=[CarePlanPatientView.of(i.record()) for i in items], next_cursor=next_cursor
        )
    return CarePlanPage(items=[i.record() for i in items], next_cursor=next_cursor)


@router.get(
    "/care-plans",
    summary="Active and on-hold care plans whose review is due (review date today or before), oldest first",
    tags=["care-plans"],
    operation_id="listCarePlansToReview",
)
@allow(STAFF)
def to_review(
    review: Annotated[Literal["due"], Query(description="`due`: the plans to review")],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CarePlanPage:
    """One Query per page, whatever the number of plans."""
    principal, _ = caller(router)
    org = principal.organization_id
    today = core.organization_calendar(org).local_date(clock.now()).isoformat()
    list_id = f"care-plans:review:{today}"
    start = decode_cursor(
        cursor,
        list_id,
        {"GSI1PK": keys.careplans_review_pk(org)},
        ("GSI1PK", "GSI1SK", "PK", "SK"),
        tenant=org,
    )
    items, last = repo.review_page(org, today, limit, start)
    records = [i.record() for i in items]
    if records:
        audited_read(router, [r.patient_id for r in records], "careplan.read")
    return CarePlanPage(items=records, next_cursor=encode_cursor(list_id, last, tenant=org))


@router.get(
    "/care-plans/<care_plan_id>",
    summary="A care plan: problems, goals, activities and what carries them out, its history",
    tags=["care-plans"],
    operation_id="getCarePlan",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read(care_plan_id: UlidPath) -> Response[CarePlanOut]:
    principal, _ = caller(router)
    record = _plan(principal.organization_id, care_plan_id).record()
    audited_read(router, [record.patient_id], "careplan.read")
    return Response(200, "application/json", record, headers=etag(record.version))


@router.patch(
    "/care-plans/<care_plan_id>",
    summary="Edit a care plan: title, status (draft → active ⇄ on-hold → completed | revoked), end, review",
    tags=["care-plans"],
    operation_id="updateCarePlan",
    responses=responses(headers=["ETag"], errors=EDIT_PROBLEMS),
)
@allow(STAFF)
def edit(care_plan_id: UlidPath, body: CarePlanPatch, if_match: IfMatch = None) -> Response[CarePlanOut]:
    """Activating makes the work its activities need; ending it cancels what is not done."""
    fields = body.model_fields_set

    def how(plan: CarePlanOut, world: World) -> tuple[CarePlanOut, list[str]]:
        for name in ("title", "status", "review_date", "care_team"):
            if name in fields and getattr(body, name) is None:
                raise ValueError(f"{name}: may not be null")
        update = {n: getattr(body, n) for n in fields if n != "status"}
        if plan.status not in (PlanStatus.DRAFT, PlanStatus.ACTIVE, PlanStatus.ON_HOLD) and update:
            raise IllegalChange(f"the plan is {plan.status.value}")
        plan = plan.model_copy(update=update)
        if plan.end is not None and plan.end < plan.start:
            raise ValueError("end: must not be before the start")
        if body.status is not None:
            plan = move(plan, body.status, world.now)
        return plan, []

    return _edit(care_plan_id, if_match, how, "edit")


@router.post(
    "/care-plans/<care_plan_id>/review",
    summary="Record the plan's review: the next review date (default 90 days); its review task completes",
    tags=["care-plans"],
    operation_id="reviewCarePlan",
    responses=responses(headers=["ETag"], errors=EDIT_PROBLEMS),
)
@allow(STAFF)
def review(care_plan_id: UlidPath, body: ReviewIn, if_match: IfMatch = None) -> Response[CarePlanOut]:
    def how(plan: CarePlanOut, world: World) -> tuple[CarePlanOut, list[str]]:
        after = reviewed(plan, body.next_review_date, world.today, world.now)
        note = {"note": body.note} if body.note is not None else {}
        return after.model_copy(update={"review_task_id": None, **note}), []

    return _edit(care_plan_id, if_match, how, "review")


# ---------------------------------------------------------------- parts


def _add(care_plan_id: str, if_match: str | None, **parts: list[object]) -> Response[CarePlanOut]:
    def how(plan: CarePlanOut, world: World) -> tuple[CarePlanOut, list[str]]:
        return add_parts(plan, ids.new_id, **parts), []  # type: ignore[arg-type]

    return _edit(care_plan_id, if_match, how, "add")


@router.post(
    "/care-plans/<care_plan_id>/problems",
    summary="Add a problem (SNOMED CT or ICD-10-CM)",
    tags=["care-plans"],
    operation_id="addCarePlanProblem",
    responses=responses(headers=["ETag"], errors=EDIT_PROBLEMS),
)
@allow(STAFF)
def add_problem(
    care_plan_id: UlidPath, body: PlanProblemIn, if_match: IfMatch = None
) -> Response[CarePlanOut]:
    return _add(care_plan_id, if_match, problems=[body])


@router.post(
    "/care-plans/<care_plan_id>/goals",
    summary="Add a goal: what, its measure and target, by when",
    tags=["care-plans"],
    operation_id="addCarePlanGoal",
    responses=responses(headers=["ETag"], errors=EDIT_PROBLEMS),
)
@allow(STAFF)
def add_goal(care_plan_id: UlidPath, body: GoalIn, if_match: IfMatch = None) -> Response[CarePlanOut]:
    return _add(care_plan_id, if_match, goals=[body])


@router.post(
    "/care-plans/<care_plan_id>/activities",
    summary="Add an activity; an active plan makes its task, referral or assignment at once",
    tags=["care-plans"],
    operation_id="addCarePlanActivity",
    responses=responses(headers=["ETag"], errors=EDIT_PROBLEMS),
)
@allow(STAFF)
def add_activity(care_plan_id: UlidPath, body: ActivityIn, if_match: IfMatch = None) -> Response[CarePlanOut]:
    return _add(care_plan_id, if_match, activities=[body])


@router.patch(
    "/care-plans/<care_plan_id>/problems/<problem_id>",
    summary="Edit a problem: its clinical status (active, resolved...) or staff note",
    tags=["care-plans"],
    operation_id="updateCarePlanProblem",
    responses=responses(headers=["ETag"], errors=EDIT_PROBLEMS),
)
@allow(STAFF)
def edit_problem_(
    care_plan_id: UlidPath, problem_id: PartId, body: PlanProblemPatch, if_match: IfMatch = None
) -> Response[CarePlanOut]:
    def how(plan: CarePlanOut, world: World) -> tuple[CarePlanOut, list[str]]:
        return edit_problem(plan, problem_id, body), []

    return _edit(care_plan_id, if_match, how, "problem")


@router.patch(
    "/care-plans/<care_plan_id>/goals/<goal_id>",
    summary="Edit a goal: its achievement (achieved raises GoalAchieved), lifecycle, target or due date",
    tags=["care-plans"],
    operation_id="updateCarePlanGoal",
    responses=responses(headers=["ETag"], errors=EDIT_PROBLEMS),
)
@allow(STAFF)
def edit_goal_(
    care_plan_id: UlidPath, goal_id: PartId, body: GoalPatch, if_match: IfMatch = None
) -> Response[CarePlanOut]:
    def how(plan: CarePlanOut, world: World) -> tuple[CarePlanOut, list[str]]:
        edited, achieved = edit_goal(plan, goal_id, body, world.now)
        return edited, [goal_id] if achieved else []

    return _edit(care_plan_id, if_match, how, "goal")


@router.patch(
    "/care-plans/<care_plan_id>/activities/<activity_id>",
    summary="Edit an activity: hold, resume, complete or cancel it, its due date, or link the booking for it",
    tags=["care-plans"],
    operation_id="updateCarePlanActivity",
    responses=responses(headers=["ETag"], errors=EDIT_PROBLEMS),
)
@allow(STAFF)
def edit_activity_(
    care_plan_id: UlidPath, activity_id: PartId, body: ActivityPatch, if_match: IfMatch = None
) -> Response[CarePlanOut]:
    """An appointment linked must be this patient's (another patient's is a 422); the activity's
    status then follows the appointment's."""

    def how(plan: CarePlanOut, world: World) -> tuple[CarePlanOut, list[str]]:
        plan = edit_activity(plan, activity_id, body, world.now)
        if body.appointment_id is not None:
            key = (keys.appointment_pk(world.org, body.appointment_id), keys.APPOINTMENT_SK)
            from shared.data.scheduling import Appointment  # only here: the scheduling models are heavy

            found = core.get_item(Appointment, key)
            appt = found.record() if found is not None else None
            if appt is None or appt.patient_id != plan.patient_id:
                raise ValueError("appointment_id: no appointment of this patient with this id")
            if appt.status.value not in (*BOOKED, *HELD):
                raise ValueError("appointment_id: not a booking that is booked or held")
            plan = link_appointment(plan, activity_id, appt.id)
            day = appt.start.astimezone(ZoneInfo(appt.time_zone)).date()
            plan, _ = on_appointment(plan, appt.id, appt.status.value, appt.appointment_type, day, world.now)
        return plan, []

    return _edit(care_plan_id, if_match, how, "activity")


# ---------------------------------------------------------------- templates


TemplateList = Page[CarePlanTemplateOut]


@router.put(
    "/care-plan-templates/<code>",
    summary="Define a care-plan template (a protocol): problems, goals, activities timed from the start",
    tags=["care-plans"],
    operation_id="putCarePlanTemplate",
    responses=responses(headers=["ETag"], errors={409: "If-Match is stale (`current_version`)"}),
)
@allow(Role.ADMIN)
def put_template(
    code: TemplateCode, body: CarePlanTemplateIn, if_match: IfMatch = None
) -> Response[CarePlanTemplateOut]:
    """Replaces a built-in template of the same code for this organization. Plans made from it
    before keep what they were made with."""
    return put_library(repo.TEMPLATES, router, code, body, if_match)


@router.get(
    "/care-plan-templates",
    summary="The organization's care-plan templates and the built-in ones it has not replaced",
    tags=["care-plans"],
    operation_id="listCarePlanTemplates",
)
@allow(STAFF)
def list_templates() -> TemplateList:
    principal, _ = caller(router)
    return TemplateList(items=repo.TEMPLATES.all(principal.organization_id), next_cursor=None)


@router.get(
    "/care-plan-templates/<code>",
    summary="A care-plan template",
    tags=["care-plans"],
    operation_id="getCarePlanTemplate",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def get_template(code: TemplateCode) -> Response[CarePlanTemplateOut]:
    return get_library(repo.TEMPLATES, router, code)
