"""The API's OpenAPI document, generated from the code of every HTTP function in template.yaml.

Each HTTP function's handler module exposes its resolver as ``app``; Powertools generates each one's
schema and ``OpenAPIMerge`` joins them; each route declares its own success headers and particular
problems (``shared.http.contract``). Then this adds what follows from the template and from a route's
shape: which routes need the Cognito JWT (all but the public ones) and what API Gateway answers before
them, every failure as a problem+json body (404 for an id in the path, 409 for a stale If-Match, 409 and
422 for an Idempotency-Key), and OpenAPI links from a returned resource to the routes its ids open.

``python -m local.openapi`` prints it; ``make openapi`` writes ``docs/openapi.json``.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

from local.template import Template
from shared.http.contract import HEADERS, problem_response
from shared.http.problems import GatewayMessage, Problem

SECURITY_SCHEME = "CognitoJwt"
# Powertools' own error shapes: every failure here is a Problem instead
_POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
_METHODS = ("get", "put", "post", "delete", "patch")
# An id a response body carries, by the schema it comes in, when the path parameter is not
# "<resource>_id" for a schema named "<Resource>Out" (AppointmentOut.id -> appointment_id)
_ID_PARAMETER = {"WaitlistOut": "entry_id"}


def _gateway_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GatewayMessage"}}},
    }


def _add_problem(responses: dict[str, Any], status: str, description: str) -> None:
    """Declare ``status`` as a problem, or add ``description`` to the one the route declared."""
    if status in responses:
        said = responses[status]["description"].lower()
        if description.split(":")[0].lower() not in said:  # "If-Match is stale" said once is enough
            responses[status]["description"] += f"; {description[0].lower()}{description[1:]}"
    else:
        responses[status] = problem_response(description)


def http_function_modules(tpl: Template | None = None) -> list[str]:
    tpl = tpl or Template.default()
    ids = {r.function_id for r in tpl.routes}
    return sorted({f.module for f in tpl.functions if f.logical_id in ids})


def document(tpl: Template | None = None) -> dict[str, Any]:
    tpl = tpl or Template.default()
    merge = OpenAPIMerge(
        title="Careloop API",
        version="0.1.0",
        description="Patient care coordination. Errors are application/problem+json (RFC 9457); "
        'API Gateway\'s own refusals (no token, unknown route, throttling) are `{"message": ...}`.',
        on_conflict="error",
    )
    for module in http_function_modules(tpl):
        merge.add_schema(importlib.import_module(module).app.get_openapi_schema())
    doc = json.loads(merge.get_openapi_json_schema())

    public = {(r.method.lower(), r.path) for r in tpl.routes if r.public}
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _POWERTOOLS_SCHEMAS:
        schemas.pop(name, None)
    for model in (Problem, GatewayMessage):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Cognito ID token (local runtime: POST /_local/token)",
        }
    }
    for path, operations in doc.get("paths", {}).items():
        for method, op in operations.items():
            _shared_responses(op, public=(method, path) in public)
    _links(doc)
    return doc


def _shared_responses(op: dict[str, Any], *, public: bool) -> None:
    """What every route answers besides its own responses, derived from its shape."""
    responses = op.setdefault("responses", {})
    for status in ("422", "500"):  # Powertools' validation and response-validation shapes
        responses.pop(status, None)
    headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
    in_path = any(p["in"] == "path" for p in op.get("parameters", []))
    if public:
        op["security"] = []
    else:
        op["security"] = [{SECURITY_SCHEME: []}]
        # API Gateway's JWT authorizer answers every 401; a token it accepts without the claims this
        # API needs is a 403 problem (shared.http.auth.principal_from_claims)
        responses["401"] = _gateway_response("No token, or one API Gateway does not accept")
        _add_problem(responses, "403", "The caller's role may not call this route")
        responses["429"] = _gateway_response("Throttled: retry after a moment")
    if op.get("parameters") or op.get("requestBody"):
        _add_problem(responses, "400", "The request could not be read (malformed JSON, not JSON, too deep)")
        _add_problem(responses, "422", "A field is invalid: see `errors`")
    if in_path and not public:
        _add_problem(responses, "404", "Not found in your organization, or not yours to see")
    if "if-match" in headers:
        _add_problem(responses, "409", "If-Match is stale: read again (`current_version`)")
    if "idempotency-key" in headers:
        _add_problem(responses, "409", "A request with this Idempotency-Key is still running")
        _add_problem(responses, "422", "This Idempotency-Key was used with another body")
        for status, response in responses.items():
            if status.startswith("2"):
                response.setdefault("headers", {})["Idempotent-Replayed"] = HEADERS["Idempotent-Replayed"]
    responses["default"] = problem_response("Any other failure (a 5xx is a bug: quote `request_id`)")


def _id_parameter(schema_ref: str) -> str | None:
    name = schema_ref.rsplit("/", 1)[-1]
    if name in _ID_PARAMETER:
        return _ID_PARAMETER[name]
    if not name.endswith("Out"):
        return None
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name.removesuffix("Out")).lower() + "_id"


def _links(doc: dict[str, Any]) -> None:
    """OpenAPI links from every write whose success returns a resource to the operations that
    take its id in their path (``POST /appointments`` -> ``/appointments/{appointment_id}/cancel``,
    and, through ``patient_id`` in the body, to ``/patients/{patient_id}/appointments``): what a
    client does next, and what lets a stateful fuzzer get past 404s."""
    schemas = doc["components"]["schemas"]
    targets = [
        (op["operationId"], [p["name"] for p in op.get("parameters", []) if p["in"] == "path"])
        for operations in doc["paths"].values()
        for method, op in operations.items()
        if method in _METHODS
    ]
    for operations in doc["paths"].values():
        for method, op in operations.items():
            if method not in ("post", "put", "patch"):  # from what a client creates or changes
                continue
            for status, response in op.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                # a route that answers staff and patients their own views: the first is the full one
                ref = schema.get("$ref") or next(
                    (s["$ref"] for s in schema.get("anyOf", []) if "$ref" in s), None
                )
                if not ref:
                    continue
                fields = {_id_parameter(ref): "id"} | {
                    f: f
                    for f in schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
                    if f.endswith("_id")
                }
                links = {
                    target: {
                        "operationId": target,
                        "parameters": {p: f"$response.body#/{fields[p]}" for p in params},
                    }
                    for target, params in targets
                    if params and target != op["operationId"] and all(p in fields for p in params)
                }
                if links:
                    response["links"] = dict(sorted(links.items()))


def main() -> None:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description="Print the OpenAPI document")
    parser.add_argument("--template", type=Path)
    args = parser.parse_args()
    tpl = Template(args.template) if args.template else None
    print(json.dumps(document(tpl), indent=2, sort_keys=True))  # noqa: T201


if __name__ == "__main__":
    main()
