"""The shared HTTP machinery (errors, validation, access policies, idempotency) through a small
resolver built the way every area builds its own."""

from __future__ import annotations

import json
import threading
from typing import Annotated

import pytest
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from shared.data.models import OrganizationProfile
from shared.errors import Conflict
from shared.http.auth import STAFF, Role, allow, principal_of
from shared.http.idempotency import idempotent
from shared.http.resolver import make_handler, make_resolver
from tests.support.ddb import count_calls
from tests.support.events import LambdaContext, body_of, claims, http_event

router = APIGatewayHttpRouter()


class ProfileIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    time_zone: str = Field(pattern=r"^[A-Za-z_]+/[A-Za-z_]+$")


class ProfileOut(BaseModel):
    name: str
    time_zone: str


calls = {"create": 0}
gate = threading.Event()


@router.post("/profiles")
@allow(Role.ADMIN)
@idempotent(router)
def create_profile(body: ProfileIn) -> Response[ProfileOut]:
    org = principal_of(router).organization_id
    calls["create"] += 1
    if body.name == "slow":
        gate.wait(5)
    if body.name == "taken":
        raise Conflict("That name is taken.")
    OrganizationProfile(
        f"ORG#{org}", f"PROFILE#{calls['create']}", name=body.name, time_zone=body.time_zone
    ).save()
    return Response(
        201,
        "application/json",
        ProfileOut(name=body.name, time_zone=body.time_zone),
        headers={"Location": f"/profiles/{calls['create']}"},
    )


@router.get("/profiles")
@allow(STAFF)
def list_profiles(limit: Annotated[int, Query(ge=1, le=100)] = 25) -> dict:
    return {"limit": limit}


@router.get("/boom")
@allow(STAFF)
def boom() -> dict:
    name, birth_date = "Jane Roe", "1961-04-12"
    raise ValueError(f"patient {name}, {birth_date}, failed")


@router.post("/profiles/<profile_id>/archive")
@allow(Role.ADMIN)
@idempotent(router)
def archive(profile_id: str) -> dict:
    calls["create"] += 1
    return {"archived": profile_id}


@router.get("/broken")
@allow(STAFF)
def broken() -> ProfileOut:
    return {"name": "only a name"}  # type: ignore[return-value]


@router.get("/undeclared")
def undeclared() -> dict:
    return {"secret": True}


handler = make_handler(make_resolver(router))
ADMIN = claims(roles=("admin",), sub="admin-1")
VALID = {"name": "Acme Care", "time_zone": "America/New_York"}


def call(event: dict) -> dict:
    return handler(event, LambdaContext())


def post(body: object, *, key: str | None = None, who: dict = ADMIN, headers: dict | None = None) -> dict:
    hdrs = dict(headers or {})
    if key:
        hdrs["Idempotency-Key"] = key
    return call(http_event("POST", "/profiles", claims=who, body=body, headers=hdrs))


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls["create"] = 0
    gate.clear()


# ---------------------------------------------------------------- errors


def test_malformed_json_is_400_problem_and_writes_nothing(aws: dict) -> None:
    with count_calls() as ddb:
        response = post('{"name": "x",', headers={"content-type": "application/json"})
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert body_of(response)["errors"][0]["type"] == "json_invalid"
    assert sum(ddb.values()) == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
    ],
)
def test_a_body_that_is_not_json_is_400(aws: dict, content_type: str) -> None:
    response = post("name=x", headers={"content-type": content_type})
    assert response["statusCode"] == 400
    assert "JSON" in body_of(response)["detail"]
    assert calls["create"] == 0


def test_json_content_type_is_matched_in_any_case(aws: dict) -> None:
    response = post(json.dumps(VALID), headers={"Content-Type": "Application/JSON; charset=UTF-8"})
    assert response["statusCode"] == 201


def test_a_base64_body_that_is_not_utf8_is_400(aws: dict) -> None:
    import base64

    event = http_event(
        "POST",
        "/profiles",
        claims=ADMIN,
        body=base64.b64encode(b"\xff\xfe{").decode(),
        headers={"content-type": "application/json"},
    )
    event["isBase64Encoded"] = True
    response = call(event)
    assert response["statusCode"] == 400
    assert calls["create"] == 0


def test_invalid_fields_are_422_with_loc_msg_type_and_no_echo(aws: dict, phi) -> None:
    phi.register("Jane Roe Clinic That Is Far Too Long" * 3)
    response = post({"name": "Jane Roe Clinic That Is Far Too Long" * 3, "time_zone": "nowhere"})
    assert response["statusCode"] == 422
    problem = body_of(response)
    assert problem["type"].endswith("/validation")
    assert {tuple(e["loc"]) for e in problem["errors"]} == {("body", "name"), ("body", "time_zone")}
    assert all(set(e) == {"loc", "msg", "type"} and e["msg"] for e in problem["errors"])
    assert "Jane Roe" not in response["body"]
    assert "body.name" in problem["detail"]


def test_bad_query_parameter_is_422_naming_it(aws: dict) -> None:
    response = call(http_event("GET", "/profiles", claims=claims(), query={"limit": "1000"}))
    assert response["statusCode"] == 422
    assert body_of(response)["errors"][0]["loc"] == ["query", "limit"]


def test_a_bug_is_a_500_problem_and_its_message_stays_out_of_the_logs(aws: dict, phi) -> None:
    phi.register("Jane Roe", "1961-04-12")
    response = call(http_event("GET", "/boom", claims=claims()))
    assert response["statusCode"] == 500
    problem = body_of(response)
    assert problem["request_id"]
    assert "Jane" not in response["body"]
    assert any("ValueError" in line for line in phi.lines)  # logged, without its message


# ---------------------------------------------------------------- access


def test_a_route_without_an_access_declaration_is_closed(aws: dict) -> None:
    response = call(http_event("GET", "/undeclared", claims=claims(roles=("admin",))))
    assert response["statusCode"] == 404
    assert "secret" not in response["body"]


def test_a_role_outside_the_declaration_is_403_and_nothing_runs(aws: dict) -> None:
    response = post(VALID, who=claims(roles=("coordinator",)))
    assert response["statusCode"] == 403
    assert calls["create"] == 0


def test_a_patient_cannot_call_a_staff_route(aws: dict) -> None:
    response = call(http_event("GET", "/profiles", claims=claims(roles=("patient",), patient_id="p1")))
    assert response["statusCode"] == 403


# ---------------------------------------------------------------- idempotency


def test_without_a_key_each_post_runs(aws: dict) -> None:
    assert post(VALID)["statusCode"] == 201
    assert post(VALID)["statusCode"] == 201
    assert calls["create"] == 2


def test_a_replayed_key_returns_the_first_response_and_runs_once(aws: dict) -> None:
    first = post(VALID, key="k-1")
    again = post(VALID, key="k-1")
    assert first["statusCode"] == again["statusCode"] == 201
    assert json.loads(first["body"]) == json.loads(again["body"]) == VALID
    assert again["headers"]["Location"] == first["headers"]["Location"] == "/profiles/1"
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first["headers"]
    assert calls["create"] == 1


def test_the_same_key_with_another_body_is_422_and_runs_nothing(aws: dict) -> None:
    post(VALID, key="k-2")
    response = post({**VALID, "name": "Other"}, key="k-2")
    assert response["statusCode"] == 422
    assert "Idempotency-Key" in body_of(response)["detail"]
    assert calls["create"] == 1


def test_key_order_and_whitespace_in_the_body_do_not_matter(aws: dict) -> None:
    post(VALID, key="k-3")
    response = post(
        json.dumps({"time_zone": VALID["time_zone"], "name": VALID["name"]}, indent=2),
        key="k-3",
        headers={"content-type": "application/json"},
    )
    assert response["statusCode"] == 201
    assert calls["create"] == 1


def test_the_same_key_while_the_first_still_runs_is_409(aws: dict) -> None:
    # Two Lambda containers would each have their own resolver; here the first request waits inside
    # the route (past every read of request state) while the second arrives with the same key.
    slow = {**VALID, "name": "slow"}
    results: list[dict] = []
    first = threading.Thread(target=lambda: results.append(post(slow, key="k-4")))
    first.start()
    for _ in range(200):  # wait until the first request holds the key
        if calls["create"]:
            break
        threading.Event().wait(0.01)
    second = post(slow, key="k-4")
    gate.set()
    first.join()
    assert second["statusCode"] == 409
    assert results[0]["statusCode"] == 201
    assert calls["create"] == 1


def test_keys_are_scoped_to_the_caller(aws: dict) -> None:
    other_org = claims(org="globex", roles=("admin",), sub="admin-1")
    assert post(VALID, key="shared-key")["statusCode"] == 201
    response = post({**VALID, "name": "Globex"}, key="shared-key", who=other_org)
    assert response["statusCode"] == 201
    assert json.loads(response["body"])["name"] == "Globex"
    assert calls["create"] == 2


def test_a_failed_request_is_not_remembered(aws: dict) -> None:
    assert post({**VALID, "name": "taken"}, key="k-5")["statusCode"] == 409
    assert post({**VALID, "name": "taken"}, key="k-5")["statusCode"] == 409
    assert calls["create"] == 2


def test_an_unusable_key_is_400(aws: dict) -> None:
    assert post(VALID, key="has space")["statusCode"] == 400
    assert calls["create"] == 0


def test_the_role_check_comes_before_validation(aws: dict) -> None:
    # a coordinator (not admin) sending an invalid body learns nothing about the schema
    response = post({"nonsense": True}, who=claims(roles=("coordinator",)))
    assert response["statusCode"] == 403
    no_token = call(http_event("POST", "/profiles", body={"nonsense": True}))
    assert no_token["statusCode"] == 401


def test_the_same_key_on_another_resource_is_another_request(aws: dict) -> None:
    def archive_call(pid: str, body: str | None = None, headers: dict | None = None) -> dict:
        return call(
            http_event(
                "POST",
                f"/profiles/{pid}/archive",
                route="/profiles/{profile_id}/archive",
                claims=ADMIN,
                path_parameters={"profile_id": pid},
                body=body,
                headers={"Idempotency-Key": "k-6", **(headers or {})},
            )
        )

    assert json.loads(archive_call("A")["body"]) == {"archived": "A"}
    second = archive_call("B")
    assert json.loads(second["body"]) == {"archived": "B"}
    assert "Idempotent-Replayed" not in second["headers"]
    assert calls["create"] == 2


def test_a_keyed_request_with_an_unreadable_body_is_400(aws: dict) -> None:
    response = call(
        http_event(
            "POST",
            "/profiles/A/archive",
            route="/profiles/{profile_id}/archive",
            claims=ADMIN,
            path_parameters={"profile_id": "A"},
            body="{not json",
            headers={"Idempotency-Key": "k-7", "content-type": "application/json"},
        )
    )
    assert response["statusCode"] == 400
    assert calls["create"] == 0


def test_a_response_that_breaks_its_own_model_is_a_500_not_a_422(aws: dict) -> None:
    response = call(http_event("GET", "/broken", claims=claims()))
    assert response["statusCode"] == 500
    assert body_of(response)["type"].endswith("/internal")


@pytest.mark.parametrize("query", [{"nmae": "Roe"}, {"": "null"}, {"name": "Roe", "cursr": "x"}])
def test_an_undeclared_query_parameter_is_a_400_that_names_nothing(aws: dict, query: dict) -> None:
    """A misspelt filter would otherwise be ignored and the list answer with everything."""
    from tests.support.intake import Api

    out = Api().call("GET", "/patients", query=query)
    assert out["statusCode"] == 400, out["body"]
    assert out["headers"]["Content-Type"] == "application/problem+json"
    assert all(k not in out["body"] for k in query if k) and "Roe" not in out["body"]
    assert Api().call("GET", "/patients", query={"name": "Roe", "limit": "5"})["statusCode"] == 200
