"""Who may call the transitions function's routes, and bad input: staff work episodes, clinicians
record the medication reconciliation, admins read the report; a patient calls none of them. Another
organization finds nothing; a refusal or a bad request writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared import clock
from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, retrying, snapshot
from tests.support.intake import Api
from tests.support.scheduling import Sched, follow_up_provider
from tests.support.transitions import Transitions, coordinator

STAFF_ROUTES = {
    ("POST", "/transitions"),
    ("GET", "/transitions"),
    ("GET", "/transitions/{transition_id}"),
    ("PATCH", "/transitions/{transition_id}"),
    ("POST", "/transitions/{transition_id}/contacts"),
    ("POST", "/transitions/{transition_id}/visit"),
    ("POST", "/transitions/{transition_id}/close"),
    ("GET", "/patients/{patient_id}/transitions"),
}
CLINICIAN = {("POST", "/transitions/{transition_id}/medication-reconciliation")}
ADMIN = {("GET", "/reports/transitions")}
ROUTES = sorted(STAFF_ROUTES | CLINICIAN | ADMIN)
DISCHARGED = "2026-11-20T15:00:00Z"  # the Friday before the frozen clock's Monday


def test_every_transitions_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {
        (r.method, r.path) for r in Template.default().routes if r.function_id == "TransitionsFunction"
    }
    assert set(ROUTES) == declared


@pytest.fixture
def world(aws: dict[str, Any], frozen_clock: clock.FixedClock) -> dict[str, str]:
    register = Api(org="acme").register
    patient = register(query={"allow_duplicate": "true"})["json"]["id"]
    other = register(query={"allow_duplicate": "true"})["json"]["id"]
    episode = coordinator().open(patient, DISCHARGED)
    return {"patient_id": patient, "other_id": other, "transition_id": episode["id"]}


def call(api: Transitions, method: str, path: str, ids: dict[str, str], n: int) -> dict[str, Any]:
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/transitions"): {"patient_id": ids["other_id"], "discharged_at": DISCHARGED},
        ("PATCH", "/transitions/{transition_id}"): {"complexity": "high"},
        ("POST", "/transitions/{transition_id}/contacts"): {"channel": "phone", "reached": False},
        ("POST", "/transitions/{transition_id}/visit"): {"appointment_id": "01JD0000000000000000000000"},
        ("POST", "/transitions/{transition_id}/medication-reconciliation"): {},
        ("POST", "/transitions/{transition_id}/close"): {"reason": "declined"},
    }
    headers = {"idempotency-key": f"k-{n}"}
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    query = {"from": "2026-11-01", "to": "2026-11-30"} if path == "/reports/transitions" else None
    params = {k: ids[k] for k in names}
    return api.req(method, path, bodies.get((method, path)), headers=headers, query=query, **params)


@pytest.mark.parametrize("role", ["coordinator", "nurse", "physician", "admin"])
def test_staff_by_role(aws: dict[str, Any], world: dict[str, str], role: str) -> None:
    api = Transitions(org="acme", roles=(role,), sub=f"{role}-1")
    for n, (method, path) in enumerate(ROUTES):
        allowed = (
            (method, path) in STAFF_ROUTES
            or ((method, path) in ADMIN and role == "admin")
            or ((method, path) in CLINICIAN and role in ("nurse", "physician"))
        )
        if allowed:
            out = call(api, method, path, world, n)
            assert out["statusCode"] != 403 and out["statusCode"] < 500, (role, method, path, out["body"])
        else:
            before = snapshot(aws)
            assert_refused(call(api, method, path, world, n), FORBIDDEN, (role, method, path))
            assert snapshot(aws) == before


def test_a_patient_calls_none_of_them(aws: dict[str, Any], world: dict[str, str]) -> None:
    me = Transitions(org="acme", roles=("patient",), sub="p-1", patient_id=world["patient_id"])
    before = snapshot(aws)
    for n, (method, path) in enumerate(ROUTES):
        assert_refused(call(me, method, path, world, n), FORBIDDEN, (method, path))
    assert snapshot(aws) == before


def test_another_organization_finds_nothing(aws: dict[str, Any], world: dict[str, str]) -> None:
    before = snapshot(aws)
    for role in ("admin", "nurse"):
        other = Transitions(org="globex", roles=(role,), sub=f"g-{role}")
        for n, (method, path) in enumerate(ROUTES):
            if "{transition_id}" not in path and "{patient_id}" not in path:
                continue
            out = call(other, method, path, world, n)
            if out["statusCode"] == 403:
                continue  # the role may not call it at all (tested above)
            assert_refused(out, NOT_FOUND, (role, method, path))
        assert other.req("GET", "/transitions")["json"]["items"] == []
    assert snapshot(aws) == before


def refused(aws: dict[str, Any], response: dict[str, Any], status: int, before: Any) -> dict[str, Any]:
    assert response["statusCode"] == status, response["body"]
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert snapshot(aws) == before
    return dict(response["json"])


def test_bad_input_writes_nothing(aws: dict[str, Any], world: dict[str, str]) -> None:
    staff, episode = coordinator(), world["transition_id"]
    before = snapshot(aws)
    future = staff.req(
        "POST", "/transitions", {"patient_id": world["other_id"], "discharged_at": "2026-11-24T10:00:00Z"}
    )
    assert refused(aws, future, 422, before)["errors"][0]["loc"] == ["body", "discharged_at"]
    again = staff.req(
        "POST", "/transitions", {"patient_id": world["patient_id"], "discharged_at": DISCHARGED}
    )
    assert refused(aws, again, 409, before)["transition_id"] == episode
    old = staff.req(
        "POST", "/transitions", {"patient_id": world["other_id"], "discharged_at": "2026-10-01T10:00:00Z"}
    )
    refused(aws, old, 422, before)  # its 30-day period is over
    theirs = Sched(org="acme").book(world["other_id"], follow_up_provider(), "2026-11-25T15:00:00Z")
    assert theirs["statusCode"] == 201, theirs["body"]
    before = snapshot(aws)
    wrong = staff.req(
        "POST",
        "/transitions/{transition_id}/visit",
        {"appointment_id": theirs["json"]["id"]},
        transition_id=episode,
    )
    assert refused(aws, wrong, 422, before)["errors"][0]["loc"] == ["body", "appointment_id"]
    early = staff.req(
        "POST",
        "/transitions/{transition_id}/contacts",
        {"channel": "phone", "reached": True, "at": "2026-11-19T10:00:00Z"},
        transition_id=episode,
    )
    refused(aws, early, 422, before)  # before the discharge
    unmatched = staff.req(
        "PATCH", "/transitions/{transition_id}", {"complexity": "high"}, transition_id=episode
    )
    refused(aws, unmatched, 428, before)
    closed = staff.req(
        "POST", "/transitions/{transition_id}/close", {"reason": "moved"}, transition_id=episode
    )
    assert closed["statusCode"] == 200, closed["body"]
    assert closed["json"]["eligibility"]["failures"][-1] == "ended-early"
    before = snapshot(aws)
    late = staff.req(
        "POST",
        "/transitions/{transition_id}/contacts",
        {"channel": "phone", "reached": True},
        transition_id=episode,
    )
    assert refused(aws, late, 409, before)["current_status"] == "closed"


def test_eight_deliveries_of_one_discharge_at_once_open_one_episode(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    """EventBridge delivers at least once, and a hospital may send a notice twice: however many arrive
    together, the claims in the opening transaction let one through."""
    from concurrent.futures import ThreadPoolExecutor

    from functions.transitions.events import discharged

    detail = {
        "patient_id": world["other_id"],
        "encounter_id": "01JD00000000000000000ENC01",
        "partner_id": "01JD0000000000000000PARTNR",
        "encounter_class": "IMP",
        "discharged_at": "2026-11-22T15:00:00+00:00",
        "disposition": "home",
    }
    now = clock.now()
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: retrying(discharged, detail, now), range(8)))
    assert sorted(outcomes) == ["duplicate"] * 7 + ["opened"], outcomes
    listed = coordinator().req("GET", "/patients/{patient_id}/transitions", patient_id=world["other_id"])
    assert len(listed["json"]["items"]) == 1


def test_opening_an_episode_and_a_page_of_the_open_list_cost_what_the_readme_says(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    from tests.support.ddb import count_calls

    with count_calls() as opening:
        coordinator().open(world["other_id"], "2026-11-22T15:00:00Z")
    assert opening == {"BatchGetItem": 1, "TransactWriteItems": 1}
    with count_calls() as listing:
        page = coordinator().listing(status="open", limit="1")
    assert listing == {"Query": 1} and len(page["items"]) == 1
