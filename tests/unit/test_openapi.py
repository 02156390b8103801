"""The generated OpenAPI document, read as a client generator and a validator read it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from local.openapi import document

OPERATION_ID = re.compile(r"^[a-z][a-zA-Z]{2,29}$")
GATEWAY = {"401", "429"}  # answered by API Gateway itself: {"message": ...}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_the_document_is_valid_openapi(doc: dict[str, Any]) -> None:
    validate(doc)  # raises on a dangling $ref, a bad schema, a duplicate operationId...


def test_every_operation_has_a_short_unique_operation_id(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not OPERATION_ID.fullmatch(i)] == []
    assert {"bookAppointment", "registerPatient", "getAvailability"} <= set(ids)


def test_every_failure_is_a_problem_or_api_gateways_message(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        for status, response in op["responses"].items():
            if status.startswith("2"):
                continue
            content = response.get("content", {})
            public = op.get("security") == []  # no JWT: its 401 is ours (a webhook's bad signature)
            if status in GATEWAY and not (public and status == "401"):
                assert content == {
                    "application/json": {"schema": {"$ref": "#/components/schemas/GatewayMessage"}}
                }, (method, path, status)
            else:
                assert content == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, (method, path, status)


def test_the_409s_a_client_acts_on_are_typed_problems(doc: dict[str, Any]) -> None:
    problem = doc["components"]["schemas"]["Problem"]["properties"]
    assert {"conflict", "current_status", "current_version", "existing_patient_id"} <= set(problem)
    for method, path in (("post", "/patients"), ("post", "/appointments")):
        conflict = doc["paths"][path][method]["responses"]["409"]
        assert "application/problem+json" in conflict["content"]


def test_creates_declare_idempotency_key_location_and_replays(doc: dict[str, Any]) -> None:
    # a partner secret is shown once and stored nowhere but Secrets Manager: a replayed answer would
    # have to keep it, so that create takes no Idempotency-Key (functions/webhooks/app.py)
    shown_once = {("post", "/partners/{partner_id}/secrets")}
    creates = [
        (m, p, op) for m, p, op in operations(doc) if "201" in op["responses"] and (m, p) not in shown_once
    ]
    assert len(creates) >= 8
    for method, path, op in creates:
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert "idempotency-key" in headers, (method, path)
        returned = op["responses"]["201"].get("headers", {})
        assert "Idempotent-Replayed" in returned, (method, path)
        assert {"409", "422"} <= set(op["responses"]), (method, path)
    with_location = [p for _, p, op in creates if "Location" in op["responses"]["201"].get("headers", {})]
    assert "/patients" in with_location and "/appointments" in with_location


def test_versioned_resources_declare_etag_and_edits_take_if_match(doc: dict[str, Any]) -> None:
    edits = [
        ("patch", "/patients/{patient_id}"),
        ("put", "/providers/{provider_id}"),
        ("put", "/organization/calendar"),
        ("put", "/patients/{patient_id}/care-team"),
        ("post", "/appointments/{appointment_id}/cancel"),
    ]
    for method, path in edits:
        op = doc["paths"][path][method]
        assert "if-match" in {p["name"] for p in op["parameters"] if p["in"] == "header"}, path
        assert "ETag" in op["responses"]["200"]["headers"], path
        assert "409" in op["responses"], path
    assert "ETag" in doc["paths"]["/appointments/{appointment_id}"]["get"]["responses"]["200"]["headers"]


def test_links_name_real_operations_and_their_path_parameters(doc: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(doc)}
    links = [
        link
        for _, _, op in operations(doc)
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 40
    for link in links:
        target = by_id[link["operationId"]]
        in_path = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
        assert set(link["parameters"]) == in_path, link
    book = doc["paths"]["/appointments"]["post"]["responses"]["201"]["links"]
    assert book["cancelAppointment"]["parameters"] == {"appointment_id": "$response.body#/id"}
    assert book["listPatientAppointments"]["parameters"] == {"patient_id": "$response.body#/patient_id"}


def test_no_schema_is_split_in_two_for_input_and_output(doc: dict[str, Any]) -> None:
    """``Foo-Input``/``Foo-Output`` pairs share a title, and a generated client drops one of them."""
    assert [name for name in doc["components"]["schemas"] if "-" in name] == []


def test_no_two_models_share_a_schema_name(doc: dict[str, Any]) -> None:
    """Schemas are named after their class: two models or enums of one name (a webhook delivery's
    ``Attempt`` and a transition's contact attempt, once; a patient's ``Channel`` and a contact's)
    become one schema, and one of them documents the other. Every class of ``shared`` whose name is a
    schema must be the only model or enum of that name."""
    import enum
    import importlib
    import inspect
    import pkgutil

    from pydantic import BaseModel

    import shared

    named: dict[str, set[str]] = {}
    for info in pkgutil.walk_packages(shared.__path__, "shared."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if (
                inspect.isclass(cls)
                and cls.__module__ == module.__name__
                and issubclass(cls, BaseModel | enum.Enum)
            ):
                named.setdefault(cls.__name__, set()).add(module.__name__)
    shared_names = {n: m for n, m in named.items() if n in doc["components"]["schemas"] and len(m) > 1}
    assert shared_names == {}
