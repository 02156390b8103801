"""Patient education over HTTP: the catalog (admins), assigning material to a patient, what a patient was
given (the patient reads their own, in their language, and marks it read), and teach-back."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.careplans.common import (
    World,
    calendar_and_patient,
    commit,
    give,
    new_task,
    write,
)
from functions.careplans.library import get_library, put_library
from shared import clock
from shared.data import careplans as repo
from shared.data import core, keys
from shared.data import tasks as task_repo
from shared.data.patients import Patient
from shared.domain.base import Code
from shared.domain.careplans import (
    DONE,
    LIVE,
    ActivityStatus,
    on_education,
    replace_activities,
    task_due,
    with_history,
)
from shared.domain.education import (
    AssignIn,
    AssignmentOut,
    AssignmentPatientView,
    MaterialIn,
    MaterialOut,
    TeachBackIn,
    Understanding,
    assess,
    content_for,
    read,
)
from shared.domain.tasks import Action, Focus, FocusType, Outcome, QueueRole, TaskActionIn, TaskCode
from shared.errors import NotFound
from shared.events.careplans import EducationAssessed
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audited_read, caller, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, require_current, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
MaterialCode = Annotated[Code, Path(description="the material's code, e.g. hf-daily-weights")]
MaterialList = Page[MaterialOut]
AssignmentPage = Page[AssignmentOut]
AssignmentPatientPage = Page[AssignmentPatientView]


# ---------------------------------------------------------------- the catalog


@router.put(
    "/education/<code>",
    summary="Define education material: topics, reading level, re-teach delay, its text or link per language",
    tags=["education"],
    operation_id="putEducation",
    responses=responses(headers=["ETag"], errors={409: "If-Match is stale (`current_version`)"}),
)
@allow(Role.ADMIN)
def put_material(code: MaterialCode, body: MaterialIn, if_match: IfMatch = None) -> Response[MaterialOut]:
    """Replaces a built-in material of the same code for this organization. What was assigned before
    keeps the version it was given in."""
    return put_library(repo.MATERIALS, router, code, body, if_match)


@router.get(
    "/education",
    summary="The education catalog: the organization's materials and the built-in ones it has not replaced",
    tags=["education"],
    operation_id="listEducation",
)
@allow(STAFF)
def list_materials() -> MaterialList:
    principal, _ = caller(router)
    return MaterialList(items=repo.MATERIALS.all(principal.organization_id), next_cursor=None)


@router.get(
    "/education/<code>",
    summary="Education material",
    tags=["education"],
    operation_id="getEducation",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def get_material(code: MaterialCode) -> Response[MaterialOut]:
    return get_library(repo.MATERIALS, router, code)


# ---------------------------------------------------------------- a patient's education


def _assignment(org: str, patient_id: str, assignment_id: str) -> repo.AssignmentItem:
    item = repo.get_assignment(org, assignment_id)
    if item is None or item.patient_id != patient_id:
        raise NotFound("No education with this id for this patient.")
    return item


@router.post(
    "/patients/<patient_id>/education",
    summary="Give a patient education material, in their language; it is delivered in the app and by message",
    tags=["education"],
    operation_id="assignEducation",
    responses=responses(201, "Assigned", headers=["Location", "ETag"]),
)
@allow(STAFF)
@idempotent(router)
def assign_(patient_id: UlidPath, body: AssignIn) -> Response[AssignmentOut]:
    """A teach-back task goes to the coordinators' queue, due in 2 business days. Naming a plan's
    education activity waiting for this material (one on hold when the plan became active) links it:
    the activity then follows its teach-back, and its task has the activity's role and date."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    cal, patient = calendar_and_patient(org, patient_id)
    if patient is None:
        raise NotFound("No patient with this id.")
    if patient.status != "active":
        raise invalid("patient_id", "the patient is inactive", where="path")
    material = repo.get_material(org, body.material)
    if material is None:
        raise invalid("material", "no material with this code")
    world = World(org, cal, patient, now)
    plan_item, plan, activity = None, None, None
    if body.care_plan_id is not None:
        plan_item = repo.get_plan(org, body.care_plan_id)
        plan = plan_item.record() if plan_item is not None else None
        if plan is None or plan.patient_id != patient_id or plan.status not in LIVE:
            raise invalid("care_plan_id", "no active care plan of this patient with this id")
        activity = plan.activity(body.activity_id or "")
        if (
            activity is None
            or activity.material != body.material
            or activity.assignment_id
            or activity.status in DONE
        ):
            raise invalid("activity_id", "no education activity of the plan waiting for this material")
    change = core.Change(actor, now)
    core.active_patient(change, org, patient_id)
    assignment, task = give(change, material, patient_id, world, principal.subject, plan, activity)
    if plan_item is not None and plan is not None and activity is not None:
        linked = activity.model_copy(
            update={"assignment_id": assignment.id, "task_id": task.id, "status": ActivityStatus.SCHEDULED}
        )
        after = with_history(
            replace_activities(plan, {activity.id: linked}), principal.subject, "education", now
        )
        write(change, org, plan_item, plan, after, world, principal.subject, "education")
    commit(change)
    headers = {"Location": f"/patients/{patient_id}/education/{assignment.id}", **etag(assignment.version)}
    return Response(201, "application/json", assignment, headers=headers)


@router.get(
    "/patients/<patient_id>/education",
    summary="What a patient was given: when, in which language, read or not, understood or not",
    tags=["education"],
    operation_id="listPatientEducation",
)
@allow(STAFF, Role.PATIENT)
def patient_education(
    patient_id: UlidPath, limit: Limit = 25, cursor: Cursor = None
) -> AssignmentPage | AssignmentPatientPage:
    """Newest first. A patient reads their own (without the text: open one to read it)."""
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    partition = keys.patient_education_pk(org, patient_id)
    list_id = "patient-education"
    start = decode_cursor(
        cursor, list_id, {"GSI2PK": partition}, ("GSI2PK", "GSI2SK", "PK", "SK"), tenant=org
    )
    items, last = repo.patient_assignments(org, patient_id, limit, start)
    if principal.is_staff:
        require_parent(bool(items), cursor, Patient, core.patient_key(org, patient_id), "patient")
    if items:
        audited_read(router, [patient_id], "education.read")
    next_cursor = encode_cursor(list_id, last, tenant=org)
    if principal.is_patient:
        views = [AssignmentPatientView.of(i.record(), None) for i in items]
        return AssignmentPatientPage(items=views, next_cursor=next_cursor)
    return AssignmentPage(items=[i.record() for i in items], next_cursor=next_cursor)


@router.get(
    "/patients/<patient_id>/education/<assignment_id>",
    summary="One piece of education given; a patient reads its text or link in their language",
    tags=["education"],
    operation_id="getPatientEducation",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF, Role.PATIENT)
def get_assignment(
    patient_id: UlidPath, assignment_id: UlidPath
) -> Response[AssignmentOut | AssignmentPatientView]:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    record = _assignment(org, patient_id, assignment_id).record()
    audited_read(router, [patient_id], "education.read")
    headers = etag(record.version)
    if not principal.is_patient:
        return Response(200, "application/json", record, headers=headers)
    material = repo.get_material(org, record.material)
    content = content_for(material, record.language) if material is not None else None
    return Response(200, "application/json", AssignmentPatientView.of(record, content), headers=headers)


@router.post(
    "/patients/<patient_id>/education/<assignment_id>/read",
    summary="The patient marks education as read",
    tags=["education"],
    operation_id="markEducationRead",
)
@allow(Role.PATIENT)
def mark_read(patient_id: UlidPath, assignment_id: UlidPath) -> AssignmentPatientView:
    """The first time counts; again changes nothing."""
    principal, actor = caller(router)
    principal.require_patient(patient_id)
    org, now = principal.organization_id, clock.now()
    item = _assignment(org, patient_id, assignment_id)
    before = item.record()
    after = read(before, now)
    if after is not before:
        change = core.Change(actor, now)
        after = repo.put_assignment(change, org, after, item, "read")
        commit(change)
    return AssignmentPatientView.of(after, None)


@router.post(
    "/patients/<patient_id>/education/<assignment_id>/teach-back",
    summary="Record a teach-back: understood closes the loop; anything short of it is taught again",
    tags=["education"],
    operation_id="recordTeachBack",
    responses=responses(headers=["ETag"], errors={409: "If-Match is stale (`current_version`)"}),
)
@allow(STAFF)
@idempotent(router)
def teach_back(
    patient_id: UlidPath, assignment_id: UlidPath, body: TeachBackIn, if_match: IfMatch = None
) -> Response[AssignmentOut]:
    """Its teaching (or re-teaching) task completes with the outcome. Partially or not understood: a
    re-education task, due in the material's ``reteach_days`` business days. Understood: the plan's
    activity completes."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    item = _assignment(org, patient_id, assignment_id)
    before = item.record()
    if if_match is not None:
        require_current(if_match, before.version, "education")
    if body.at is not None and (body.at > now or body.at < before.assigned_at):
        raise invalid("at", "must be between the assignment and now")
    cal, patient = calendar_and_patient(org, patient_id)
    world = World(org, cal, patient, now)
    after = assess(before, body, principal.subject, now)
    change = core.Change(actor, now)
    outcome = TaskActionIn(outcome=Outcome(code=body.outcome.value))
    for task_id in dict.fromkeys(t for t in (before.reteach_task_id, before.teach_task_id) if t):
        task = task_repo.get(org, task_id)
        if task is not None:
            task_repo.close_task(change, org, task, Action.COMPLETE, outcome, principal.subject, cal)
    understood = body.outcome is Understanding.UNDERSTOOD
    reteach = None
    if not understood:
        material = repo.get_material(org, before.material)
        days = material.reteach_days if material is not None else 2
        due = task_due(cal.add_business_days(world.today, days), world.today, cal, now)
        reteach = new_task(
            patient_id,
            TaskCode.RE_EDUCATE,
            QueueRole.COORDINATOR,
            due,
            Focus(type=FocusType.EDUCATION, id=assignment_id),
            f"Teach again ({body.outcome.value}): {before.title}",
            world,
            principal.subject,
        )
        task_repo.open_task(change, org, reteach, cause=f"re-educate|{assignment_id}|{before.version + 1}")
    after = after.model_copy(update={"reteach_task_id": reteach.id if reteach else None})
    written = repo.put_assignment(change, org, after, item, "teach-back")
    change.events.append(
        EducationAssessed(
            organization_id=org,
            occurred_at=now,
            assignment_id=assignment_id,
            patient_id=patient_id,
            material_id=before.material,
            care_plan_id=before.care_plan_id,
            outcome=body.outcome,
        )
    )
    if before.care_plan_id is not None:
        plan_item = repo.get_plan(org, before.care_plan_id)
        plan = plan_item.record() if plan_item is not None else None
        if plan_item is not None and plan is not None and plan.status in LIVE:
            moved = on_education(plan, assignment_id, understood, now)
            if moved != plan:
                after_plan = with_history(moved, principal.subject, "teach-back", now)
                write(change, org, plan_item, plan, after_plan, world, principal.subject, "teach-back")
    commit(change)
    return Response(200, "application/json", written, headers=etag(written.version))
