"""Who may call the care-plans function's routes, and bad input: staff work plans and teach; admins
define templates and the education catalog; a patient reads their own plans and education and marks
it read, nothing else and no one else's. Another organization finds nothing; a refusal or a bad
request writes nothing and echoes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared import clock
from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, retrying, snapshot
from tests.support.careplans import CarePlans, admin, coordinator
from tests.support.intake import Api
from tests.support.scheduling import Sched, follow_up_provider

PATIENT_ROUTES = {
    ("GET", "/patients/{patient_id}/care-plans"),
    ("GET", "/patients/{patient_id}/education"),
    ("GET", "/patients/{patient_id}/education/{assignment_id}"),
}
PATIENT_ONLY = {("POST", "/patients/{patient_id}/education/{assignment_id}/read")}
STAFF_ROUTES = {
    ("POST", "/patients/{patient_id}/care-plans"),
    ("GET", "/care-plans"),
    ("GET", "/care-plans/{care_plan_id}"),
    ("PATCH", "/care-plans/{care_plan_id}"),
    ("POST", "/care-plans/{care_plan_id}/review"),
    ("POST", "/care-plans/{care_plan_id}/problems"),
    ("POST", "/care-plans/{care_plan_id}/goals"),
    ("POST", "/care-plans/{care_plan_id}/activities"),
    ("PATCH", "/care-plans/{care_plan_id}/problems/{problem_id}"),
    ("PATCH", "/care-plans/{care_plan_id}/goals/{goal_id}"),
    ("PATCH", "/care-plans/{care_plan_id}/activities/{activity_id}"),
    ("GET", "/care-plan-templates"),
    ("GET", "/care-plan-templates/{code}"),
    ("GET", "/education"),
    ("GET", "/education/{code}"),
    ("POST", "/patients/{patient_id}/education"),
    ("POST", "/patients/{patient_id}/education/{assignment_id}/teach-back"),
} | PATIENT_ROUTES
ADMIN = {("PUT", "/care-plan-templates/{code}"), ("PUT", "/education/{code}")}
ROUTES = sorted(STAFF_ROUTES | ADMIN | PATIENT_ONLY)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
MATERIAL = {
    "topics": ["copd"],
    "contents": [{"language": "en", "title": "Inhalers", "text": "Shake it first."}],
}
TEMPLATE = {
    "title": "COPD",
    "category": "chronic-condition",
    "activities": [
        {"kind": "education", "title": "Inhaler use", "material": "hf-daily-weights", "within_days": 7}
    ],
}


def test_every_careplans_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {(r.method, r.path) for r in Template.default().routes if r.function_id == "CarePlansFunction"}
    assert set(ROUTES) == declared


@pytest.fixture
def world(aws: dict[str, Any], frozen_clock: clock.FixedClock) -> dict[str, str]:
    register = Api(org="acme").register
    patient = register(query={"allow_duplicate": "true"})["json"]["id"]
    other = register(query={"allow_duplicate": "true"})["json"]["id"]
    plan = coordinator().create(patient, {"template": "heart-failure-discharge"})
    education = next(a for a in plan["activities"] if a["kind"] == "education")
    return {
        "patient_id": patient,
        "other_id": other,
        "care_plan_id": plan["id"],
        "goal_id": plan["goals"][0]["id"],
        "problem_id": plan["problems"][0]["id"],
        "activity_id": next(a["id"] for a in plan["activities"] if a["kind"] == "task"),
        "assignment_id": education["assignment_id"],
        "version": str(plan["version"]),
    }


def call(api: CarePlans, method: str, path: str, ids: dict[str, str], n: int) -> dict[str, Any]:
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/patients/{patient_id}/care-plans"): {"title": "Falls", "category": "preventive"},
        ("PATCH", "/care-plans/{care_plan_id}"): {"title": "Heart plan"},
        ("POST", "/care-plans/{care_plan_id}/review"): {},
        ("POST", "/care-plans/{care_plan_id}/problems"): {"code": {"system": ICD, "code": "E11.9"}},
        ("POST", "/care-plans/{care_plan_id}/goals"): {"description": "Walk"},
        ("POST", "/care-plans/{care_plan_id}/activities"): {
            "kind": "task",
            "title": "Call",
            "task_code": "other",
        },
        ("PATCH", "/care-plans/{care_plan_id}/goals/{goal_id}"): {"achievement_status": "improving"},
        ("PATCH", "/care-plans/{care_plan_id}/problems/{problem_id}"): {"clinical_status": "remission"},
        ("PATCH", "/care-plans/{care_plan_id}/activities/{activity_id}"): {"note": "left a message"},
        ("PUT", "/care-plan-templates/{code}"): TEMPLATE,
        ("PUT", "/education/{code}"): MATERIAL,
        ("POST", "/patients/{patient_id}/education"): {"material": "hf-low-sodium"},
        ("POST", "/patients/{patient_id}/education/{assignment_id}/teach-back"): {"outcome": "understood"},
    }
    headers = {"idempotency-key": f"k-{n}"}
    if "{care_plan_id}" in path:
        headers["if-match"] = f'"{ids["version"]}"'
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    query = {"review": "due"} if path == "/care-plans" else None
    codes = {"code": "heart-failure-discharge" if "template" in path else "hf-low-sodium"}
    params = {k: {**ids, **codes}[k] for k in names}
    return api.req(method, path, bodies.get((method, path)), headers=headers, query=query, **params)


@pytest.mark.parametrize("role", ["coordinator", "nurse", "physician", "admin"])
def test_staff_by_role(aws: dict[str, Any], world: dict[str, str], role: str) -> None:
    api = CarePlans(org="acme", roles=(role,), sub=f"{role}-1")
    for n, (method, path) in enumerate(ROUTES):
        allowed = (method, path) in STAFF_ROUTES or ((method, path) in ADMIN and role == "admin")
        if allowed:
            out = call(api, method, path, world, n)
            assert out["statusCode"] in (200, 201), (role, method, path, out["body"])
            if (
                out["statusCode"] == 200
                and out["json"]
                and out["json"].get("version")
                and "care_plan_id" in path
            ):
                world["version"] = str(out["json"]["version"])
        else:
            before = snapshot(aws)
            assert_refused(call(api, method, path, world, n), FORBIDDEN, (role, method, path))
            assert snapshot(aws) == before


def test_a_patient_reads_their_own_and_nothing_else(aws: dict[str, Any], world: dict[str, str]) -> None:
    me = CarePlans(org="acme", roles=("patient",), sub="p-1", patient_id=world["patient_id"])
    for n, (method, path) in enumerate(ROUTES):
        if (method, path) in PATIENT_ROUTES | PATIENT_ONLY:
            out = call(me, method, path, world, n)
            assert out["statusCode"] == 200, (method, path, out["body"])
            continue
        before = snapshot(aws)
        assert_refused(call(me, method, path, world, n), FORBIDDEN, (method, path))
        assert snapshot(aws) == before
    theirs = {**world, "patient_id": world["other_id"]}
    before = snapshot(aws)
    for n, (method, path) in enumerate(sorted(PATIENT_ROUTES | PATIENT_ONLY)):
        assert_refused(call(me, method, path, theirs, n), NOT_FOUND, (method, path))
    assert snapshot(aws) == before
    staff_only = coordinator().req(
        "POST",
        "/patients/{patient_id}/education/{assignment_id}/read",
        patient_id=world["patient_id"],
        assignment_id=world["assignment_id"],
    )
    assert_refused(staff_only, FORBIDDEN, "staff mark read")


def test_another_patient_s_education_is_not_found_under_this_patient(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    given = coordinator().assign(world["other_id"], {"material": "hf-low-sodium"})
    assert given["statusCode"] == 201, given["body"]
    me = CarePlans(org="acme", roles=("patient",), sub="p-1", patient_id=world["patient_id"])
    before = snapshot(aws)
    for api in (me, coordinator()):
        for method, suffix in (("GET", ""), ("POST", "/read"), ("POST", "/teach-back")):
            out = api.req(
                method,
                "/patients/{patient_id}/education/{assignment_id}" + suffix,
                {"outcome": "understood"} if "teach" in suffix else None,
                patient_id=world["patient_id"],
                assignment_id=given["json"]["id"],
            )
            if out["statusCode"] == 403:
                continue
            assert_refused(out, NOT_FOUND, (method, suffix))
    assert snapshot(aws) == before


def test_another_organization_finds_nothing(aws: dict[str, Any], world: dict[str, str]) -> None:
    before = snapshot(aws)
    for role in ("admin", "nurse"):
        other = CarePlans(org="globex", roles=(role,), sub=f"g-{role}")
        for n, (method, path) in enumerate(ROUTES):
            if not any(k in path for k in ("{care_plan_id}", "{patient_id}")):
                continue
            out = call(other, method, path, world, n)
            if out["statusCode"] == 403:
                continue  # the role may not call it at all (tested above)
            assert_refused(out, NOT_FOUND, (role, method, path))
        assert other.req("GET", "/care-plans", query={"review": "due"})["json"]["items"] == []
    assert snapshot(aws) == before
    put = admin().req("PUT", "/education/{code}", MATERIAL, code="copd-inhaler")
    assert put["statusCode"] == 200, put["body"]
    theirs = CarePlans(org="globex", roles=("admin",), sub="g-admin")
    assert theirs.req("GET", "/education/{code}", code="copd-inhaler")["statusCode"] == 404
    assert "copd-inhaler" not in {m["code"] for m in theirs.req("GET", "/education")["json"]["items"]}


def refused(aws: dict[str, Any], response: dict[str, Any], status: int, before: Any) -> dict[str, Any]:
    assert response["statusCode"] == status, response["body"]
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert snapshot(aws) == before
    return dict(response["json"])


def test_bad_input_writes_nothing_and_echoes_nothing(aws: dict[str, Any], world: dict[str, str]) -> None:
    staff, pid, plan = coordinator(), world["patient_id"], world["care_plan_id"]
    before = snapshot(aws)
    bogus = "84114008"  # a SNOMED CT id whose check digit is wrong
    wrong_code = staff.req(
        "POST",
        "/care-plans/{care_plan_id}/problems",
        {"code": {"system": "http://snomed.info/sct", "code": bogus}},
        care_plan_id=plan,
        headers={"if-match": '"1"'},
    )
    assert bogus not in wrong_code["body"]
    refused(aws, wrong_code, 422, before)
    no_template = staff.req(
        "POST", "/patients/{patient_id}/care-plans", {"template": "no-such-protocol"}, patient_id=pid
    )
    assert refused(aws, no_template, 422, before)["errors"][0]["loc"] == ["body", "template"]
    dangling = staff.req(
        "POST",
        "/patients/{patient_id}/care-plans",
        {"title": "T", "category": "preventive", "goals": [{"description": "g", "addresses": ["x"]}]},
        patient_id=pid,
    )
    assert refused(aws, dangling, 422, before)["errors"][0]["loc"] == ["body", "goals"]
    no_match = staff.req("PATCH", "/care-plans/{care_plan_id}", {"title": "New"}, care_plan_id=plan)
    refused(aws, no_match, 428, before)
    stale = staff.req(
        "PATCH",
        "/care-plans/{care_plan_id}",
        {"title": "New"},
        care_plan_id=plan,
        headers={"if-match": '"7"'},
    )
    refused(aws, stale, 409, before)
    illegal = staff.req(
        "PATCH",
        "/care-plans/{care_plan_id}",
        {"status": "draft"},
        care_plan_id=plan,
        headers={"if-match": '"1"'},
    )
    assert refused(aws, illegal, 409, before)["current_status"] == "active"
    missing_goal = staff.req(
        "PATCH",
        "/care-plans/{care_plan_id}/goals/{goal_id}",
        {"description": "x"},
        care_plan_id=plan,
        goal_id="01JD0000000000000000000000",
        headers={"if-match": '"1"'},
    )
    refused(aws, missing_goal, 404, before)
    no_material = staff.assign(pid, {"material": "no-such-leaflet"})
    assert refused(aws, no_material, 422, before)["errors"][0]["loc"] == ["body", "material"]
    theirs = Sched(org="acme").book(world["other_id"], follow_up_provider(), "2026-11-25T15:00:00Z")
    assert theirs["statusCode"] == 201, theirs["body"]
    visit = next(a["id"] for a in staff.get(plan)["activities"] if a["kind"] == "appointment")
    before = snapshot(aws)
    linked = staff.req(
        "PATCH",
        "/care-plans/{care_plan_id}/activities/{activity_id}",
        {"appointment_id": theirs["json"]["id"]},
        care_plan_id=plan,
        activity_id=visit,
        headers={"if-match": '"1"'},
    )
    assert refused(aws, linked, 422, before)["errors"][0]["loc"] == ["body", "appointment_id"]
    bad_template = admin().req(
        "PUT",
        "/care-plan-templates/{code}",
        {**TEMPLATE, "activities": [{"kind": "task", "title": "x", "task_code": "other", "goals": [3]}]},
        code="copd",
    )
    refused(aws, bad_template, 422, before)
    future = staff.teach_back(
        pid, world["assignment_id"], {"outcome": "understood", "at": "2027-01-01T00:00:00Z"}
    )
    assert refused(aws, future, 422, before)["errors"][0]["loc"] == ["body", "at"]


def test_needs_of_one_screen_delivered_at_once_make_one_plan_and_one_task_each(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    """A screen positive for food and transport publishes two events at once, EventBridge delivers each
    at least once, and the escalation rule opens its task for the same need meanwhile: one plan, one
    problem and one task per need, whatever the order."""
    from concurrent.futures import ThreadPoolExecutor

    from functions.careplans.events import social_need
    from functions.escalations.events import on_event as rules

    pid = world["other_id"]
    common = {"organization_id": "acme", "patient_id": pid, "assessment_id": "01JD0000000000000000ASSESS"}
    food = {**common, "domain": "food", "event_id": "01JD00000000000000000FOOD1"}
    transport = {**common, "domain": "transportation", "event_id": "01JD0000000000000000TRANS1"}
    now = clock.now()
    jobs = [food, transport] * 4

    def deliver(n: int) -> str:
        if n in (1, 4):  # the rule's consumer, on the same need, at the same time
            return str(rules("SocialNeedIdentified", "acme", jobs[n], now))
        return retrying(social_need, jobs[n], now)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(deliver, range(8)))
    assert outcomes.count("plan-made") == 1, outcomes
    (plan,) = coordinator().plans(pid)
    assert sorted(p["code"]["code"] for p in plan["problems"]) == ["Z59.41", "Z59.82"]
    from tests.support import tasks

    work = [t for t in tasks.coordinator().patient_tasks(pid) if t["code"] == "connect-resource"]
    assert len(work) == 2, work
    assert {a["task_id"] for a in plan["activities"]} == {t["id"] for t in work}


def test_applying_a_template_and_reading_the_patient_s_plans_cost_what_the_readme_says(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    from tests.support.careplans import patient
    from tests.support.ddb import count_calls, items_written

    with count_calls() as applying, items_written() as sizes:
        coordinator().create(world["other_id"], {"template": "heart-failure-discharge"})
    # calendar and patient; the social pointer is not read for this category; the template and each
    # material (built in: no item); one transaction
    assert applying == {"BatchGetItem": 1, "GetItem": 3, "TransactWriteItems": 1}, applying
    assert sizes[0] < 100
    with count_calls() as reading:
        mine = patient(world["other_id"]).plans(world["other_id"])
    assert reading == {"Query": 1} and len(mine) == 1


def test_what_a_review_found_stays_mended(aws: dict[str, Any], world: dict[str, str]) -> None:
    """Each of these was a 500 or a lost need once."""
    from functions.careplans.events import social_need
    from functions.escalations.events import on_event as rules
    from tests.support import tasks

    staff, pid, plan = coordinator(), world["patient_id"], world["care_plan_id"]
    # a goal's words or statuses emptied: a 422, and the plan still reads
    before = snapshot(aws)
    nulled = staff.edit(plan, f"/goals/{world['goal_id']}", {"description": None}, 1)
    refused(aws, nulled, 422, before)
    assert staff.get(plan)["goals"][0]["description"]
    # a teaching task put on hold, then the teach-back: it is cancelled as done, and 21 teach-backs
    # short of understood each open their own re-teaching task
    teach = next(
        t for t in tasks.coordinator().patient_tasks(pid) if t["focus"]["id"] == world["assignment_id"]
    )
    assert tasks.coordinator().act(teach["id"], "hold", {"reason": "waiting-for-family"})["statusCode"] == 200
    for n in range(22):
        out = staff.teach_back(pid, world["assignment_id"], {"outcome": "partially-understood"})
        assert out["statusCode"] == 200, (n, out["body"])
    held = tasks.coordinator().task(teach["id"])
    assert (held["status"], held["status_reason"]) == ("cancelled", "done")
    open_reteach = [
        t
        for t in tasks.coordinator().patient_tasks(pid)
        if t["code"] == "re-educate" and t["status"] == "requested"
    ]
    assert len(open_reteach) == 1
    # a cancelled booking cannot be linked to a visit activity
    booking = Sched(org="acme").book(pid, follow_up_provider(), "2026-11-25T15:00:00Z")
    assert booking["statusCode"] == 201, booking["body"]
    assert Sched(org="acme").act(booking["json"]["id"], "cancel", {"reason": "patient"})["statusCode"] == 200
    visit = next(a["id"] for a in staff.get(plan)["activities"] if a["kind"] == "appointment")
    version = staff.get(plan)["version"]
    before = snapshot(aws)
    linked = staff.edit(plan, f"/activities/{visit}", {"appointment_id": booking["json"]["id"]}, version)
    assert refused(aws, linked, 422, before)["errors"][0]["loc"] == ["body", "appointment_id"]
    # completing an activity by hand completes its task
    done = staff.edit(plan, f"/activities/{visit}", {"status": "completed"}, version)
    assert done["statusCode"] == 200, done["body"]
    booking_tasks = [t for t in tasks.coordinator().patient_tasks(pid) if t["code"] == "book-follow-up"]
    assert [t["status"] for t in booking_tasks] == ["completed"]
    # a draft social-needs plan does not stop a screen from adding its need somewhere
    other = world["other_id"]
    staff.create(other, {"title": "Later", "category": "social-needs", "status": "draft"})
    need = {
        "organization_id": "acme",
        "patient_id": other,
        "assessment_id": "01JD0000000000000000ASSES2",
        "domain": "food",
        "event_id": "01JD000000000000000000FD02",
    }
    # the rule was quicker, and staff closed its task before the plan's consumer ran
    assert rules("SocialNeedIdentified", "acme", need, clock.now()) == ["social-need:opened"]
    rule_task = next(t for t in tasks.coordinator().patient_tasks(other) if t["code"] == "connect-resource")
    assert (
        tasks.coordinator().act(rule_task["id"], "complete", {"outcome": {"code": "connected"}})["statusCode"]
        == 200
    )
    assert social_need("acme", need, clock.now()) == "plan-made"
    plans = {p["status"]: p for p in staff.plans(other)}
    assert set(plans) == {"active", "draft"}
    (activity,) = plans["active"]["activities"]
    assert (activity["task_id"], activity["status"]) == (rule_task["id"], "completed")
    assert len([t for t in tasks.coordinator().patient_tasks(other) if t["code"] == "connect-resource"]) == 1


def test_what_a_new_client_tripped_over_stays_mended(aws: dict[str, Any], world: dict[str, str]) -> None:
    staff, pid, plan = coordinator(), world["patient_id"], world["care_plan_id"]
    # an edit that changes nothing makes no version; a status move says what it was in the history
    same = staff.edit(plan, "", {}, 1)
    assert same["statusCode"] == 200 and same["headers"]["ETag"] == '"1"'
    held = staff.edit(plan, "", {"status": "on-hold"}, 1)
    assert held["json"]["version"] == 2 and held["json"]["history"][-1]["action"] == "on-hold"
    assert staff.edit(plan, "", {"status": "on-hold"}, 2)["json"]["version"] == 2
    # a template naming a material in no catalog is refused when it is defined, not when applied
    before = snapshot(aws)
    bad = admin().req(
        "PUT",
        "/care-plan-templates/{code}",
        {**TEMPLATE, "activities": [{**TEMPLATE["activities"][0], "material": "no-such-leaflet"}]},
        code="copd",
    )
    assert refused(aws, bad, 422, before)["errors"][0]["loc"] == ["body", "activities.0.material"]
    # staff read one education item with its ETag, as the document says
    one = staff.req(
        "GET",
        "/patients/{patient_id}/education/{assignment_id}",
        patient_id=pid,
        assignment_id=world["assignment_id"],
    )
    assert one["headers"]["ETag"] == f'"{one["json"]["version"]}"'
