"""GET /health and GET /me through the real handler, against moto."""

from __future__ import annotations

import pytest

from functions.identity.app import handler
from shared.data.models import OrganizationProfile
from tests.support.events import LambdaContext, body_of, claims, http_event, load_event


def call(event: dict) -> dict:
    return handler(event, LambdaContext())


def test_health_needs_no_token(aws: dict) -> None:
    response = call(load_event("identity/health.json"))
    assert response["statusCode"] == 200
    assert body_of(response) == {"status": "ok"}


def test_me_answers_the_token_principal_with_the_organization_profile(aws: dict) -> None:
    # Given an organization with a profile, and a coordinator's token for it
    OrganizationProfile("ORG#demo", "PROFILE", name="Demo Health", time_zone="America/Chicago").save()
    event = load_event("identity/me.json")
    # When they ask who they are
    response = call(event)
    # Then they get their subject, roles and organization, from the token and the table
    assert response["statusCode"] == 200
    assert body_of(response) == {
        "subject": "7c1e4f2a-93b0-4d5e-8a61-0f3c2b9d4e11",
        "roles": ["coordinator"],
        "organization": {"id": "demo", "name": "Demo Health", "time_zone": "America/Chicago"},
        "patient_id": None,
    }


def test_me_for_a_patient_names_their_patient_record(aws: dict) -> None:
    event = http_event(
        "GET", "/me", claims=claims(roles=("patient",), patient_id="01KAPZ8Q1V0000000000000000")
    )
    body = body_of(call(event))
    assert body["roles"] == ["patient"]
    assert body["patient_id"] == "01KAPZ8Q1V0000000000000000"
    assert body["organization"] == {"id": "acme", "name": None, "time_zone": None}


def test_me_without_a_token_is_401_problem(aws: dict) -> None:
    response = call(http_event("GET", "/me"))
    assert response["statusCode"] == 401
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = body_of(response)
    assert problem["status"] == 401
    assert problem["type"].endswith("/unauthorized")
    assert "Authorization" in problem["detail"]


@pytest.mark.parametrize(
    "bad_claims",
    [
        {"sub": "u1", "cognito:groups": "[coordinator]"},  # no organization
        {"sub": "u1", "custom:org": "acme#PATIENT#x", "cognito:groups": "[coordinator]"},  # key injection
        {"sub": "u1", "custom:org": "acme", "cognito:groups": "[patient]"},  # patient with no record
        {"sub": "u1", "custom:org": "acme", "cognito:groups": "[patient admin]", "custom:patient_id": "p1"},
        {"custom:org": "acme", "cognito:groups": "[coordinator]"},  # no subject
    ],
)
def test_me_with_claims_that_make_no_sense_is_403(aws: dict, bad_claims: dict) -> None:
    """API Gateway accepted the token; only it answers 401, so a client has one 401 shape to handle."""
    response = call(http_event("GET", "/me", claims=bad_claims))
    assert response["statusCode"] == 403
    assert body_of(response)["type"].endswith("/forbidden")


def test_me_with_no_known_role_is_403(aws: dict) -> None:
    response = call(http_event("GET", "/me", claims=claims(roles=("janitor",))))
    assert response["statusCode"] == 403
    assert body_of(response)["type"].endswith("/forbidden")


def test_me_reads_the_table_once(aws: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.ddb import count_calls

    with count_calls() as calls:
        assert call(load_event("identity/me.json"))["statusCode"] == 200
    assert calls == {"GetItem": 1}


def test_unknown_route_is_404_problem(aws: dict) -> None:
    response = call(http_event("GET", "/nope", claims=claims()))
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "application/problem+json"
