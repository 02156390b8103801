"""Who may call the partners function's routes: admins manage partners, secrets, subscriptions and
deliveries; staff match identifiers and read what partners sent; clinicians acknowledge results; a
patient reads their own results (the patient's view) and nothing else. Another organization finds
nothing, and a refusal writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared import clock
from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, snapshot
from tests.support.intake import Api
from tests.support.webhooks import MRN_SYSTEM, Partners, partners_environment

ADMIN = {
    ("POST", "/partners"),
    ("GET", "/partners"),
    ("GET", "/partners/{partner_id}"),
    ("PATCH", "/partners/{partner_id}"),
    ("POST", "/partners/{partner_id}/secrets"),
    ("DELETE", "/partners/{partner_id}/secrets/{secret_id}"),
    ("GET", "/partners/{partner_id}/deliveries"),
    ("POST", "/partners/{partner_id}/deliveries/{delivery_id}/replay"),
    ("POST", "/partners/{partner_id}/subscriptions"),
    ("GET", "/partners/{partner_id}/subscriptions"),
    ("DELETE", "/partners/{partner_id}/subscriptions/{subscription_id}"),
}
STAFF_ROUTES = {
    ("GET", "/patients/{patient_id}/identifiers"),
    ("PUT", "/patients/{patient_id}/identifiers"),
    ("GET", "/partner-inbox"),
    ("POST", "/partner-inbox/{item_id}/match"),
    ("POST", "/partner-inbox/{item_id}/retry"),
    ("GET", "/patients/{patient_id}/results"),
    ("GET", "/patients/{patient_id}/encounters"),
}
CLINICIAN = {("POST", "/patients/{patient_id}/results/{result_id}/acknowledge")}
ROUTES = sorted(ADMIN | STAFF_ROUTES | CLINICIAN)
UNKNOWN = "01JD0000000000000000000000"


def test_every_partners_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {(r.method, r.path) for r in Template.default().routes if r.function_id == "PartnersFunction"}
    assert set(ROUTES) == declared


@pytest.fixture
def world(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, frozen_clock: clock.FixedClock
) -> dict[str, str]:
    partners_environment(aws, monkeypatch)
    patient = Api(org="acme").register(query={"allow_duplicate": "true"})["json"]["id"]
    adm = Partners(None, org="acme", roles=("admin",), sub="admin-1")
    body = {"name": "Lab", "kind": "lab", "resource_types": ["Observation"], "identifier_system": MRN_SYSTEM}
    partner = adm.req("POST", "/partners", body, headers={"idempotency-key": "p-1"})["json"]["id"]
    return {"patient_id": patient, "partner_id": partner}


def call(api: Partners, method: str, path: str, ids: dict[str, str], n: int) -> dict[str, Any]:
    params = {
        "partner_id": ids["partner_id"],
        "patient_id": ids["patient_id"],
        "secret_id": UNKNOWN,
        "delivery_id": UNKNOWN,
        "subscription_id": UNKNOWN,
        "item_id": UNKNOWN,
        "result_id": UNKNOWN,
    }
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/partners"): {
            "name": f"Lab {n}", "kind": "lab", "resource_types": ["Observation"],
            "identifier_system": MRN_SYSTEM,
        },
        ("PATCH", "/partners/{partner_id}"): {"name": "Renamed"},
        ("POST", "/partners/{partner_id}/secrets"): {},
        ("POST", "/partners/{partner_id}/subscriptions"): {
            "url": "https://hooks.example.com/x", "event_types": ["appointment.booked"],
        },
        ("PUT", "/patients/{patient_id}/identifiers"): {
            "identifiers": [{"system": MRN_SYSTEM, "value": f"M{n}"}],
        },
        ("POST", "/partner-inbox/{item_id}/match"): {"patient_id": ids["patient_id"]},
    }  # fmt: skip
    headers = {"idempotency-key": f"k-{n}", "if-match": '"1"'}
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    return api.req(method, path, bodies.get((method, path)), headers=headers, **{k: params[k] for k in names})


@pytest.mark.parametrize("role", ["coordinator", "nurse", "physician", "admin"])
def test_staff_by_role(aws: dict[str, Any], world: dict[str, str], role: str) -> None:
    api = Partners(None, org="acme", roles=(role,), sub=f"{role}-1")
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


def test_a_patient_reads_their_own_results_and_nothing_else(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    me = Partners(None, org="acme", roles=("patient",), sub="p-1", patient_id=world["patient_id"])
    before = snapshot(aws)
    for n, (method, path) in enumerate(ROUTES):
        if (method, path) == ("GET", "/patients/{patient_id}/results"):
            out = call(me, method, path, world, n)
            assert (out["statusCode"], out["json"]["items"]) == (200, []), out["body"]
            other = call(me, method, path, {**world, "patient_id": UNKNOWN}, n)
            assert_refused(other, NOT_FOUND, "another patient's results")
        else:
            assert_refused(call(me, method, path, world, n), FORBIDDEN, (method, path))
    assert snapshot(aws) == before


def test_another_organization_finds_nothing(aws: dict[str, Any], world: dict[str, str]) -> None:
    before = snapshot(aws)
    for role in ("admin", "physician"):
        other = Partners(None, org="globex", roles=(role,), sub=f"g-{role}")
        for n, (method, path) in enumerate(ROUTES):
            if "{partner_id}" not in path and "{patient_id}" not in path:
                continue
            out = call(other, method, path, world, n)
            if out["statusCode"] == 403:
                continue  # the role may not call it at all (tested above)
            assert_refused(out, NOT_FOUND, (role, method, path))
    assert snapshot(aws) == before
    listed = Partners(None, org="globex", roles=("admin",), sub="g-admin").req("GET", "/partners")
    assert listed["json"]["items"] == []
