"""Bad input on every route that takes a body: a 4xx problem that writes nothing and echoes nothing.

Found from outside: a body nested ~1,000 deep was a 500 (RecursionError) on every such route; a 422 for
an unknown key inside a dict repeated the key (a name and a phone number) in ``detail`` and ``loc``;
names held NUL, ANSI escapes and bidi overrides."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest

from local.template import routes
from shared import clock
from tests.support.ddb import count_calls
from tests.support.events import LambdaContext, claims, http_event
from tests.support.intake import Api, patient
from tests.support.scheduling import CARDIOLOGIST, Clinic, open_clinic

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
ULID = "01KAPZ8Q1V0000000000000000"
BODY_ROUTES = [r for r in routes() if r.method in ("POST", "PUT", "PATCH") and not r.public]
COORD = Api()


def call(route: Any, body: str, roles: tuple[str, ...] = ("admin",)) -> dict[str, Any]:
    """``route`` with ids filled in, as an admin (who may call every staff route)."""
    from local.template import Template

    function = next(f for f in Template.default().functions if f.logical_id == route.function_id)
    handler = getattr(importlib.import_module(function.module), function.attribute)
    params = {
        name: "follow-up" if name == "code" else "accept" if name == "action" else ULID
        for name in re.findall(r"{(\w+)}", route.path)
    }
    event = http_event(
        route.method,
        route.path.format(**params),
        route=route.path,
        claims=claims(roles=roles, sub="admin-1"),
        body=body,
        headers={"content-type": "application/json"},
        path_parameters=params or None,
    )
    response = handler(event, LambdaContext(function.logical_id))
    response["json"] = json.loads(response["body"]) if response.get("body") else None
    return response


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.key)
def test_a_body_nested_too_deep_is_400_on_every_route_and_writes_nothing(aws: dict, route: Any) -> None:
    for depth in (33, 1_000, 100_000):
        with count_calls() as ddb:
            response = call(route, nested(depth))
        assert response["statusCode"] == 400, (route.key, depth, response["body"][:200])
        assert response["headers"]["Content-Type"] == "application/problem+json"
        assert response["json"]["type"].endswith("/malformed-request")
        assert not set(ddb) & WRITES


def test_an_ordinary_nesting_is_not_refused_for_its_depth(aws: dict, frozen_clock: clock.FixedClock) -> None:
    """A registration is 4 deep (consent.sms.granted): it passes the depth check and is validated."""
    response = COORD.register(patient())
    assert response["statusCode"] == 201, response["body"]


def test_a_validation_error_never_repeats_a_dict_key_or_unknown_field_the_caller_sent(aws: dict) -> None:
    canary_key, canary_field = "Jane Doe +13125559876", "jane_doe_hiv_positive"
    body = patient(consent={canary_key: {"granted": True, "at": "2026-11-20T15:00:00Z", "method": "verbal"}})
    body[canary_field] = True
    with count_calls() as ddb:
        response = COORD.register(body)
    assert response["statusCode"] == 422
    assert canary_key not in response["body"] and "+13125559876" not in response["body"]
    assert canary_field not in response["body"]
    locs = [e["loc"] for e in response["json"]["errors"]]
    assert ["body", "consent", "[key]"] in locs and ["body", "[unknown]"] in locs
    assert not set(ddb) & WRITES


@pytest.mark.parametrize(
    "family",
    [
        *("Ro\x00e", "Ro\x1b[31me", "Roe\u202egnp.exe", "Ro\u2066e", "Roe\nSmith", "Ro\te", "Ro\x7fe"),
        *("Ro\x85e", "R\u200boe"),
    ],
    ids=["nul", "ansi", "rlo", "isolate", "newline", "tab", "del", "c1", "zero-width-space"],
)
def test_a_name_with_a_control_or_bidi_character_is_422_and_not_stored(
    aws: dict, frozen_clock: clock.FixedClock, family: str
) -> None:
    with count_calls() as ddb:
        response = COORD.register(patient(name={"given": ["Jane"], "family": family}))
    assert response["statusCode"] == 422, response["body"]
    assert family not in response["body"]
    assert response["json"]["errors"][0]["type"] == "control_character"
    assert "family" in response["json"]["errors"][0]["msg"]
    assert not set(ddb) & WRITES


def test_accented_and_non_latin_names_and_a_zwnj_are_names(aws: dict, frozen_clock: clock.FixedClock) -> None:
    for n, family in enumerate(["Müller-Lüdenscheidt", "O'Brien", "خانم\u200cزاده", "李"]):  # noqa: RUF001
        body = patient(name={"given": ["Ana"], "family": family}, contact={"phone": f"+1555557{n:04d}"})
        response = COORD.register(body, query={"allow_duplicate": "true"})
        assert response["statusCode"] == 201, (family, response["body"])


@pytest.fixture
def clinic(aws: dict, frozen_clock: clock.FixedClock) -> Clinic:
    return open_clinic(patients=1)


def test_free_text_keeps_its_line_breaks_but_not_control_characters(clinic: Clinic) -> None:
    referral = {
        "patient_id": clinic.patients[0],
        "specialty": "cardiology",
        "reason": "Chest pain\non exertion",
        "due_date": "2026-12-15",
    }
    assert clinic.staff.req("POST", "/referrals", referral)["statusCode"] == 201
    with count_calls() as ddb:
        refused = clinic.staff.req("POST", "/referrals", {**referral, "reason": "Chest pain\x1b[2J"})
    assert refused["statusCode"] == 422 and "\x1b" not in refused["body"]
    assert not set(ddb) & WRITES


def test_a_provider_with_too_much_time_off_is_a_422_not_a_500(clinic: Clinic) -> None:
    def off(n: int) -> list[dict[str, str]]:
        return [
            {
                "first": f"2027-{1 + i // 28:02d}-{1 + i % 28:02d}",
                "last": f"2027-{1 + i // 28:02d}-{1 + i % 28:02d}",
            }
            for i in range(n)
        ]

    assert clinic.admin.req("POST", "/providers", {**CARDIOLOGIST, "time_off": off(200)})["statusCode"] == 201
    for n in (201, 400, 5_000):
        with count_calls() as ddb:
            response = clinic.admin.req("POST", "/providers", {**CARDIOLOGIST, "time_off": off(n)})
        assert response["statusCode"] == 422, n
        assert response["json"]["errors"][0]["loc"] == ["body", "time_off"]
        assert not set(ddb) & WRITES


def test_a_coverage_date_outside_what_a_calendar_holds_is_a_422(
    aws: dict, frozen_clock: clock.FixedClock
) -> None:
    pid = COORD.register()["json"]["id"]
    response = COORD.on("GET", pid, "/coverage", query={"on": "9999-12-31"})
    assert response["statusCode"] == 422
    assert response["json"]["errors"][0]["loc"] == ["query", "on"]
