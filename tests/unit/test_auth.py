"""Claims → principal, and what a principal may touch. Pure: no moto."""

from __future__ import annotations

import pytest

from shared.errors import Forbidden, NotFound
from shared.http.auth import Role, allow, parse_roles, principal_from_claims


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[coordinator nurse]", {Role.COORDINATOR, Role.NURSE}),  # API Gateway's flattened list
        (["admin"], {Role.ADMIN}),
        ("physician,admin", {Role.PHYSICIAN, Role.ADMIN}),
        ("[]", set()),
        ("[superuser coordinator]", {Role.COORDINATOR}),  # unknown groups grant nothing
        (None, set()),
        (42, set()),
    ],
)
def test_roles_are_read_from_every_shape_the_claim_takes(value: object, expected: set[Role]) -> None:
    assert parse_roles(value) == expected


def test_staff_principal() -> None:
    p = principal_from_claims(
        {"sub": "u1", "custom:org": "acme", "cognito:groups": "[nurse]", "custom:patient_id": "x"}
    )
    assert (p.subject, p.organization_id, p.roles) == ("u1", "acme", {Role.NURSE})
    assert p.patient_id is None  # a staff token never acts as a patient
    assert p.is_staff and not p.is_patient
    assert p.can_see_patient("anyone-in-my-org")


def test_a_patient_sees_only_their_own_record() -> None:
    p = principal_from_claims(
        {"sub": "u2", "custom:org": "acme", "cognito:groups": "[patient]", "custom:patient_id": "P1"}
    )
    assert p.is_patient and not p.is_staff
    p.require_patient("P1")
    with pytest.raises(NotFound):  # 404, not 403: existence is not revealed
        p.require_patient("P2")


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"sub": "u1", "cognito:groups": "[admin]"},
        {"sub": "u1", "custom:org": "", "cognito:groups": "[admin]"},
        {"sub": "u1", "custom:org": "a#b", "cognito:groups": "[admin]"},
        {"sub": "u1", "custom:org": "a b", "cognito:groups": "[admin]"},
        {"sub": "u1", "custom:org": "acme", "cognito:groups": "[patient]"},
        {"sub": "u1", "custom:org": "acme", "cognito:groups": "[patient]", "custom:patient_id": "P#1"},
        {
            "sub": "u1",
            "custom:org": "acme",
            "cognito:groups": "[patient coordinator]",
            "custom:patient_id": "P1",
        },
    ],
)
def test_claims_that_do_not_add_up_are_forbidden(claims: dict) -> None:
    with pytest.raises(Forbidden):
        principal_from_claims(claims)


def test_allow_needs_a_role() -> None:
    with pytest.raises(ValueError, match="public"):
        allow()
