"""Who may do what: every intake route, every role, own patient / another patient / another
organization. Deny by default; another organization's or another patient's record is a 404."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.intake import NEGATIVE_SCREEN, PHI, Api

STAFF = ("coordinator", "nurse", "physician", "admin")
COVERAGE = {"payer": "Blue Plan", "member_id": "B2", "effective_start": "2026-01-01"}

# (method, suffix, body, staff roles allowed, may a patient use it on their own record)
PATIENT_ROUTES: list[tuple[str, str, Any, tuple[str, ...], bool]] = [
    ("GET", "", None, STAFF, True),
    ("PATCH", "", {"preferred_language": "es"}, STAFF, True),
    ("POST", "/assessments", {"screening": NEGATIVE_SCREEN}, STAFF, False),
    ("GET", "/assessments", None, STAFF, False),
    ("POST", "/coverage", COVERAGE, STAFF, False),
    ("GET", "/coverage", None, STAFF, False),
    ("PUT", "/care-team", {"coordinator_id": "coord-1"}, ("coordinator", "admin"), False),
    ("GET", "/audit", None, ("admin",), False),
]


@pytest.fixture(autouse=True)
def _phi(phi) -> None:
    phi.register(*PHI)


def call(api: Api, route: tuple, patient_id: str) -> int:
    method, suffix, body, _, _ = route
    headers = {"If-Match": '"1"'} if method == "PATCH" else None
    return int(api.on(method, patient_id, suffix, body=body, headers=headers)["statusCode"])


@pytest.mark.parametrize("route", PATIENT_ROUTES, ids=lambda r: f"{r[0]} {r[1] or '/'}")
@pytest.mark.parametrize("role", STAFF)
def test_staff_by_role_in_their_organization(aws: dict, route: tuple, role: str) -> None:
    pid = Api().register()["json"]["id"]
    status = call(Api(roles=(role,), sub=f"{role}-1"), route, pid)
    if role in route[3]:
        assert 200 <= status < 300, status
    else:
        assert status == 403


@pytest.mark.parametrize("route", PATIENT_ROUTES, ids=lambda r: f"{r[0]} {r[1] or '/'}")
def test_another_organization_cannot_find_the_patient(aws: dict, route: tuple) -> None:
    pid = Api().register()["json"]["id"]
    role = route[3][-1]  # a role allowed on the route
    assert call(Api(org="globex", roles=(role,), sub="outsider"), route, pid) == 404


@pytest.mark.parametrize("route", PATIENT_ROUTES, ids=lambda r: f"{r[0]} {r[1] or '/'}")
def test_a_patient_on_their_own_record_and_on_anothers(aws: dict, route: tuple) -> None:
    mine = Api().register()["json"]["id"]
    other_id = Api().register(query={"allow_duplicate": "true"})["json"]["id"]
    me = Api(roles=("patient",), sub="pat-1", patient_id=mine)
    own, theirs = call(me, route, mine), call(me, route, other_id)
    if route[4]:
        assert 200 <= own < 300
        assert theirs == 404
    else:
        assert own == theirs == 403


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/patients", {"body": None}),
        ("GET", "/patients", {"query": {"name": "roe"}}),
        ("GET", "/panel", {}),
    ],
)
def test_collection_routes_are_for_staff_only(aws: dict, method: str, path: str, kwargs: dict) -> None:
    from tests.support.intake import patient

    if method == "POST":
        kwargs = {"body": patient(), "query": {"allow_duplicate": "true"}}
    for role in STAFF:
        assert 200 <= Api(roles=(role,), sub=f"{role}-1").call(method, path, **kwargs)["statusCode"] < 300
    pid = Api().register(query={"allow_duplicate": "true"})["json"]["id"]
    assert Api(roles=("patient",), sub="p", patient_id=pid).call(method, path, **kwargs)["statusCode"] == 403


def test_search_never_crosses_organizations(aws: dict) -> None:
    Api().register()
    outsider = Api(org="globex", sub="outsider")
    assert outsider.call("GET", "/patients", query={"name": "roe"})["json"]["items"] == []
    assert outsider.call("GET", "/patients", query={"phone": "+15555550123"})["json"]["items"] == []
