"""Who may call the authorizations function's routes, and bad input: staff request, move, document and
list authorizations and read the policy; admins set the policy and read the report; a patient calls
none of them (they read "awaiting insurance approval" on their appointment). Another organization
finds nothing; a refusal or a bad request writes nothing and echoes nothing; every read is audited."""

from __future__ import annotations

from typing import Any

import pytest

from shared import clock
from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, snapshot
from tests.support.authorizations import HEADACHE, MRI, Auths, add_coverage, admin, coordinator, patient
from tests.support.scheduling import open_clinic

AUTH = "/authorizations/{authorization_id}"
ADMIN = {("PUT", "/authorization-policy"), ("GET", "/reports/authorizations")}
STAFF_ROUTES = {
    ("POST", "/patients/{patient_id}/authorizations"),
    ("GET", "/patients/{patient_id}/authorizations"),
    ("GET", "/authorizations"),
    ("GET", AUTH),
    ("POST", AUTH + "/actions"),
    ("POST", AUTH + "/documents"),
    ("GET", "/authorization-policy"),
}
ROUTES = sorted(STAFF_ROUTES | ADMIN)
STAFF_ROLES = ("coordinator", "nurse", "physician", "admin")
QUERIES = {("GET", "/reports/authorizations"): {"from": "2026-11-01", "to": "2026-11-30"}}


def test_every_authorizations_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {
        (r.method, r.path) for r in Template.default().routes if r.function_id == "AuthorizationsFunction"
    }
    assert set(ROUTES) == declared


@pytest.fixture
def world(aws: dict[str, Any], frozen_clock: clock.FixedClock) -> dict[str, Any]:
    clinic = open_clinic(patients=2)
    pid, other = clinic.patients
    coverage = add_coverage(pid)
    auth = coordinator().draft(pid, coverage, clinic.provider_id, service_date="2026-11-30")
    return {
        "patient_id": pid,
        "other_id": other,
        "coverage_id": coverage,
        "provider_id": clinic.provider_id,
        "authorization_id": auth["id"],
        "version": auth["version"],
    }


def body_for(method: str, path: str, ids: dict[str, Any]) -> Any:
    if path.endswith("/authorizations") and method == "POST":
        return {
            "coverage_id": ids["coverage_id"],
            "service": MRI,
            "ordering_provider_id": ids["provider_id"],
            "diagnoses": [HEADACHE],
            "service_date": "2026-11-30",
        }
    if path.endswith("/actions"):
        return {"action": "submit"}
    if path.endswith("/documents"):
        return {"attachment_ids": ["01JD0000000000000000000000"]}  # none uploaded: a 422 for staff
    if path == "/authorization-policy":
        return {"unapproved_booking": "warn"}
    return None


def call(api: Auths, method: str, path: str, ids: dict[str, Any], n: int) -> dict[str, Any]:
    headers = {"idempotency-key": f"k-{n}"}
    if path.startswith(AUTH) and method == "POST":
        headers["if-match"] = f'"{ids["version"]}"'
    if path == "/authorization-policy" and method == "PUT":
        current = admin().req("GET", path)
        if current["json"]["version"]:
            headers["if-match"] = current["headers"]["ETag"]
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    return api.req(
        method,
        path,
        body_for(method, path, ids),
        headers=headers,
        query=QUERIES.get((method, path)),
        **{k: ids[k] for k in names},
    )


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_by_role(aws: dict[str, Any], world: dict[str, Any], role: str) -> None:
    api = Auths(org="acme", roles=(role,), sub=f"{role}-1")
    for n, (method, path) in enumerate(ROUTES):
        allowed = (method, path) in STAFF_ROUTES or ((method, path) in ADMIN and role == "admin")
        if not allowed:
            before = snapshot(aws)
            assert_refused(call(api, method, path, world, n), FORBIDDEN, (role, method, path))
            assert snapshot(aws) == before
            continue
        out = call(api, method, path, world, n)
        expected = 200
        if path.endswith("/documents"):
            expected = 422  # allowed: it names an attachment never uploaded
        elif (method, path) == ("POST", "/patients/{patient_id}/authorizations"):
            expected = 201
        assert out["statusCode"] == expected, (role, method, path, out["body"])
        if path.endswith("/actions"):
            world["version"] = out["json"]["version"]


def test_a_patient_calls_none_of_them(aws: dict[str, Any], world: dict[str, Any]) -> None:
    me = patient(world["patient_id"])
    before = snapshot(aws)
    for n, (method, path) in enumerate(ROUTES):
        assert_refused(call(me, method, path, world, n), FORBIDDEN, (method, path))
    assert snapshot(aws) == before


def test_another_organization_finds_nothing(aws: dict[str, Any], world: dict[str, Any]) -> None:
    assert call(admin(), "PUT", "/authorization-policy", world, 0)["statusCode"] == 200
    before = snapshot(aws)
    for role in STAFF_ROLES:
        theirs = Auths(org="globex", roles=(role,), sub=f"g-{role}")
        for n, (method, path) in enumerate(ROUTES):
            if "{" not in path:
                continue
            assert_refused(call(theirs, method, path, world, n), NOT_FOUND, (role, method, path))
        listed = theirs.req("GET", "/authorizations", query={"status": "draft"})
        assert listed["json"]["items"] == [], role
        assert theirs.req("GET", "/authorization-policy")["headers"]["ETag"] == '"0"', role
    assert snapshot(aws) == before


def test_another_patients_things_are_not_named_in_a_request(
    aws: dict[str, Any], world: dict[str, Any]
) -> None:
    """A coverage of another patient, an appointment or a care plan of another patient: 422s."""
    theirs = add_coverage(world["other_id"])
    before = snapshot(aws)
    body = body_for("POST", "/patients/{patient_id}/authorizations", world)
    for changed in (
        {"coverage_id": theirs},
        {"purpose": {"type": "referral", "id": "01JD0000000000000000000000"}},
        {"purpose": {"type": "care-plan-activity", "id": "01JD0000000000000000000000", "activity_id": "a1"}},
    ):
        out = coordinator().request(world["patient_id"], **{**body, **changed})
        assert out["statusCode"] == 422, (changed, out["body"])
    assert snapshot(aws) == before


def test_bad_input_writes_nothing_and_echoes_nothing(aws: dict[str, Any], world: dict[str, Any]) -> None:
    pid = world["patient_id"]
    good = body_for("POST", "/patients/{patient_id}/authorizations", world)
    cases: list[tuple[str, Any, str]] = [
        ("units", {**good, "units_requested": 4321}, "4321"),
        ("cpt", {**good, "service": {"system": MRI["system"], "code": "ABCDE"}}, "ABCDE"),
        ("system", {**good, "service": {"system": "urn:made-up", "code": "70551"}}, "made-up"),
        ("icd", {**good, "diagnoses": [{"system": HEADACHE["system"], "code": "QQQ.Q"}]}, "QQQ"),
        ("no diagnosis", {**good, "diagnoses": []}, "diagnoses"),
        ("twice", {**good, "diagnoses": [HEADACHE, HEADACHE]}, "R51.9"),
        ("urgency", {**good, "urgency": "yesterday-please"}, "yesterday"),
        ("unknown field", {**good, "status": "approved"}, "approved"),
        ("purpose kind", {**good, "purpose": {"type": "whim", "id": "x"}}, "whim"),
    ]
    before = snapshot(aws)
    for what, body, secret in cases:
        out = coordinator().request(pid, **body)
        assert out["statusCode"] == 422, (what, out["body"])
        assert out["headers"]["Content-Type"] == "application/problem+json", what
        assert secret not in out["body"] or secret == "diagnoses", (what, out["body"])
    moves: list[tuple[str, dict[str, Any], str]] = [
        ("action", {"action": "bribe"}, "bribe"),
        ("detail for another", {"action": "submit", "number": "N-4242"}, "N-4242"),
        (
            "window reversed",
            {"action": "approve", "number": "N1", "valid_from": "2026-12-31", "valid_to": "2026-12-01"},
            "2026-12-31",
        ),
        (
            "window too long",
            {"action": "approve", "number": "N1", "valid_from": "2026-01-01", "valid_to": "2027-06-01"},
            "2027-06-01",
        ),
        ("future", {"action": "submit", "at": "2031-01-01T00:00:00Z"}, "2031"),
        ("reference", {"action": "submit", "reference": "<script>"}, "script"),
    ]
    for what, body, secret in moves:
        out = coordinator().req(
            "POST",
            AUTH + "/actions",
            body,
            authorization_id=world["authorization_id"],
            headers={"if-match": '"1"'},
        )
        assert out["statusCode"] == 422, (what, out["body"])
        assert secret not in out["body"], (what, out["body"])
    listing = coordinator().req("GET", "/authorizations", query={"status": "everything"})
    assert listing["statusCode"] == 422 and "everything" not in listing["body"]
    long = admin().req("GET", "/reports/authorizations", query={"from": "2025-01-01", "to": "2026-06-01"})
    assert long["statusCode"] == 422
    assert snapshot(aws) == before


def test_a_malformed_id_in_a_path_is_refused_without_a_500(
    aws: dict[str, Any], world: dict[str, Any]
) -> None:
    bad = [
        "not-a-ulid",
        "01JD000000000000000000000",
        "..",
        "%2e%2e",
        "x" * 300,
        "' OR '1'='1",
        "ORG#globex#X",
    ]
    before = snapshot(aws)
    for n, (method, path) in enumerate(ROUTES):
        for name in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
            for value in bad:
                out = call(coordinator(), method, path, {**world, name: value}, n)
                assert out["statusCode"] in (404, 422), (method, path, value, out["body"])
                assert value not in out["body"], (method, path, value)
    assert snapshot(aws) == before


def test_the_chase_list_is_one_query_a_page_soonest_due_first(aws: dict[str, Any], frozen_clock: Any) -> None:
    from bench.authorizations import _seed
    from tests.support.ddb import count_calls, items_read

    _seed("acme", 120)
    with count_calls() as calls, items_read() as read:
        page = coordinator().listing(status="pending", limit="50")
    assert (dict(calls), sum(read.values())) == ({"Query": 1}, 50)
    due = [a["due_at"] for a in page["items"]]
    assert due == sorted(due) and len(due) == 50
    rest = coordinator().listing(status="pending", limit="100", cursor=page["next_cursor"])
    assert len(rest["items"]) == 70 and rest["next_cursor"] is None
    assert rest["items"][0]["due_at"] >= due[-1]
    soon = coordinator().listing(status="pending", due_before="2026-11-26T10:00:00Z", limit="100")
    assert soon["items"] and all(a["due_at"] < "2026-11-26T10:00:00Z" for a in soon["items"])
    assert len(soon["items"]) == sum(
        a["due_at"] < "2026-11-26T10:00:00Z" for a in page["items"] + rest["items"]
    )
    # a cursor is for its own list: not another status's, nor another due_before
    other = coordinator().req(
        "GET",
        "/authorizations",
        query={"status": "pending", "due_before": "2026-12-01T00:00:00Z", "cursor": page["next_cursor"]},
    )
    assert other["statusCode"] in (400, 422), other["body"]
