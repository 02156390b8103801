"""The product's API through the local runtime, over HTTP, as a front end would call it."""

from __future__ import annotations

import time

import jwt
import pytest

from local.tokens import AUDIENCE, ISSUER

from .conftest import Client

pytestmark = pytest.mark.e2e


def test_a_token_from_the_runtime_opens_me(careloop: Client) -> None:
    token = careloop.token(org="acme", roles=("nurse",), sub="nurse-7")
    response = careloop.get("/me", token)
    assert response.status_code == 200
    assert response.json()["subject"] == "nurse-7"
    assert response.json()["roles"] == ["nurse"]
    assert response.headers["X-Careloop-Function"] == "IdentityFunction"


def test_health_needs_no_token(careloop: Client) -> None:
    assert careloop.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "case", ["missing", "garbage", "wrong-key", "expired", "wrong-audience", "wrong-issuer"]
)
def test_protected_routes_refuse_bad_tokens_as_the_authorizer_does(careloop: Client, case: str) -> None:
    now = int(time.time())
    claims = {
        "sub": "u1",
        "custom:org": "acme",
        "cognito:groups": ["coordinator"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    key = careloop.running.token_key
    assert key
    token = {
        "missing": None,
        "garbage": "not-a-jwt",
        "wrong-key": jwt.encode(claims, "another-key-that-is-long-enough-for-hs256", algorithm="HS256"),
        "expired": jwt.encode({**claims, "exp": now - 10}, key, algorithm="HS256"),
        "wrong-audience": jwt.encode({**claims, "aud": "someone-else"}, key, algorithm="HS256"),
        "wrong-issuer": jwt.encode({**claims, "iss": "https://evil.example"}, key, algorithm="HS256"),
    }[case]
    response = careloop.get("/me", token)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_an_undeclared_route_is_404(careloop: Client) -> None:
    response = careloop.get("/no-such-thing", careloop.token())
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_a_payload_over_api_gateways_limit_is_413(careloop: Client) -> None:
    response = careloop.request("GET", "/me", careloop.token(), data=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413


def test_cors_allows_the_configured_front_end_only(careloop: Client) -> None:
    preflight = careloop.request(
        "OPTIONS", "/me", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    other = careloop.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_a_browser_may_send_every_header_a_write_route_declares_and_read_every_one_it_returns(
    careloop: Client,
) -> None:
    """Each write route, preflighted as a browser would with the headers its operation declares
    (If-Match, Idempotency-Key) besides the token and the JSON body; and every response header the
    document declares (ETag, Location, Idempotent-Replayed) exposed to the page's script."""
    origin = "http://localhost:5173"
    doc = careloop.get("/openapi.json").json()
    checked, returned = 0, set()
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            returned |= {h.lower() for r in op["responses"].values() for h in r.get("headers", {})}
            if method not in ("post", "put", "patch", "delete"):
                continue
            declared = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
            asked = ["authorization", "content-type", *declared]
            preflight = careloop.request(
                "OPTIONS",
                path.replace("{", "").replace("}", ""),
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": method.upper(),
                    "Access-Control-Request-Headers": ",".join(asked),
                },
            )
            assert preflight.headers.get("Access-Control-Allow-Origin") == origin, (method, path, asked)
            allowed = {
                h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")
            }
            assert set(asked) <= allowed, (method, path)
            assert method.upper() in preflight.headers["Access-Control-Allow-Methods"].split(",")
            checked += 1
    assert checked >= 20 and {"etag", "location", "idempotent-replayed"} <= returned
    response = careloop.get("/health", headers={"Origin": origin})
    exposed = {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert returned <= exposed


def test_a_preflight_for_a_header_cors_does_not_allow_gets_no_cors_answer(careloop: Client) -> None:
    preflight = careloop.request(
        "OPTIONS",
        "/patients",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-not-allowed",
        },
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_openapi_and_swagger_ui_are_served(careloop: Client) -> None:
    doc = careloop.get("/openapi.json").json()
    assert {"/health", "/me"} <= set(doc["paths"])
    assert doc["servers"][0]["url"] == careloop.url
    page = careloop.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert careloop.get("/docs/swagger-ui-bundle.min.js").status_code == 200


def test_the_token_endpoint_refuses_unknown_roles(careloop: Client) -> None:
    response = careloop.post("/_local/token", json={"org": "acme", "roles": ["superuser"]})
    assert response.status_code == 400
