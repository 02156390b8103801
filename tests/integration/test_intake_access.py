"""Who may do what: every intake route, every role, own patient / another patient / another
organization. Deny by default; another organization's or another patient's record is a 404."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, snapshot
from tests.support.intake import NEGATIVE_SCREEN, PHI, Api

STAFF = ("coordinator", "nurse", "physician", "admin")
COVERAGE = {"payer": "Blue Plan", "member_id": "B2", "effective_start": "2026-01-01"}

# (method, suffix, body, staff roles allowed, may a patient use it on their own record, success status)
PATIENT_ROUTES: list[tuple[str, str, Any, tuple[str, ...], bool, int]] = [
    ("GET", "", None, STAFF, True, 200),
    ("PATCH", "", {"preferred_language": "es"}, STAFF, True, 200),
    ("POST", "/assessments", {"screening": NEGATIVE_SCREEN}, STAFF, False, 201),
    ("GET", "/assessments", None, STAFF, False, 200),
    ("POST", "/coverage", COVERAGE, STAFF, False, 201),
    ("GET", "/coverage", None, STAFF, False, 200),
    ("PUT", "/care-team", {"coordinator_id": "coord-1"}, ("coordinator", "admin"), False, 200),
    ("GET", "/audit", None, ("admin",), False, 200),
]


@pytest.fixture(autouse=True)
def _phi(phi) -> None:
    phi.register(*PHI)


def call(api: Api, route: tuple, patient_id: str) -> dict[str, Any]:
    method, suffix, body = route[:3]
    headers = {"If-Match": '"1"'} if method == "PATCH" else None
    return api.on(method, patient_id, suffix, body=body, headers=headers)


def refused(aws: dict, api: Api, route: tuple, patient_id: str, expected: dict[str, Any]) -> None:
    """The call is refused with ``expected``'s problem, and the table is as it was."""
    before = snapshot(aws)
    assert_refused(call(api, route, patient_id), expected, route[:2])
    assert snapshot(aws) == before, route[:2]


@pytest.mark.parametrize("route", PATIENT_ROUTES, ids=lambda r: f"{r[0]} {r[1] or '/'}")
@pytest.mark.parametrize("role", STAFF)
def test_staff_by_role_in_their_organization(aws: dict, route: tuple, role: str) -> None:
    pid = Api().register()["json"]["id"]
    api = Api(roles=(role,), sub=f"{role}-1")
    if role in route[3]:
        response = call(api, route, pid)
        assert response["statusCode"] == route[5], response["body"]
    else:
        refused(aws, api, route, pid, FORBIDDEN)


@pytest.mark.parametrize("route", PATIENT_ROUTES, ids=lambda r: f"{r[0]} {r[1] or '/'}")
def test_another_organization_cannot_find_the_patient(aws: dict, route: tuple) -> None:
    pid = Api().register()["json"]["id"]
    role = route[3][-1]  # a role allowed on the route
    refused(aws, Api(org="globex", roles=(role,), sub="outsider"), route, pid, NOT_FOUND)


@pytest.mark.parametrize("route", PATIENT_ROUTES, ids=lambda r: f"{r[0]} {r[1] or '/'}")
def test_a_patient_on_their_own_record_and_on_anothers(aws: dict, route: tuple) -> None:
    mine = Api().register()["json"]["id"]
    other_id = Api().register(query={"allow_duplicate": "true"})["json"]["id"]
    me = Api(roles=("patient",), sub="pat-1", patient_id=mine)
    if route[4]:
        refused(aws, me, route, other_id, NOT_FOUND)
        response = call(me, route, mine)
        assert response["statusCode"] == route[5], response["body"]
    else:
        refused(aws, me, route, mine, FORBIDDEN)
        refused(aws, me, route, other_id, FORBIDDEN)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "ok"),
    [
        ("POST", "/patients", {"body": None}, 201),
        ("GET", "/patients", {"query": {"name": "roe"}}, 200),
        ("GET", "/panel", {}, 200),
    ],
)
def test_collection_routes_are_for_staff_only(
    aws: dict, method: str, path: str, kwargs: dict, ok: int
) -> None:
    from tests.support.intake import patient

    if method == "POST":
        kwargs = {"body": patient(), "query": {"allow_duplicate": "true"}}
    for role in STAFF:
        response = Api(roles=(role,), sub=f"{role}-1").call(method, path, **kwargs)
        assert response["statusCode"] == ok, (role, response["body"])
    pid = Api().register(query={"allow_duplicate": "true"})["json"]["id"]
    before = snapshot(aws)
    assert_refused(
        Api(roles=("patient",), sub="p", patient_id=pid).call(method, path, **kwargs), FORBIDDEN, path
    )
    assert snapshot(aws) == before


def test_search_never_crosses_organizations(aws: dict) -> None:
    Api().register()
    outsider = Api(org="globex", sub="outsider")
    assert outsider.call("GET", "/patients", query={"name": "roe"})["json"]["items"] == []
    assert outsider.call("GET", "/patients", query={"phone": "+15555550123"})["json"]["items"] == []
