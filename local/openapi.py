"""The API's OpenAPI document, generated from the code of every HTTP function in template.yaml.

Each HTTP function's handler module exposes its resolver as ``app``; Powertools generates each one's
schema and ``OpenAPIMerge`` joins them. Then the template adds what only it knows: which routes need
the Cognito JWT (all but the public ones) and that every failure is a problem+json body.

``python -m local.openapi`` prints it; ``make openapi`` writes ``docs/openapi.json``.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

from local.template import Template
from shared.http.problems import PROBLEM_CONTENT_TYPE, Problem

SECURITY_SCHEME = "CognitoJwt"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": _PROBLEM_REF}}}


def http_function_modules(tpl: Template | None = None) -> list[str]:
    tpl = tpl or Template.default()
    ids = {r.function_id for r in tpl.routes}
    return sorted({f.module for f in tpl.functions if f.logical_id in ids})


def document(tpl: Template | None = None) -> dict[str, Any]:
    tpl = tpl or Template.default()
    merge = OpenAPIMerge(
        title="Careloop API",
        version="0.1.0",
        description="Patient care coordination. Errors are application/problem+json (RFC 9457).",
        on_conflict="error",
    )
    for module in http_function_modules(tpl):
        merge.add_schema(importlib.import_module(module).app.get_openapi_schema())
    doc = json.loads(merge.get_openapi_json_schema())

    public = {(r.method.lower(), r.path) for r in tpl.routes if r.public}
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # Powertools' 422 shape, replaced below
        schemas.pop(name, None)
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}), Problem=problem)
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
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            if (method, path) in public:
                op["security"] = []
            else:
                op["security"] = [{SECURITY_SCHEME: []}]
                responses["401"] = _problem_response("No valid token")
                responses["403"] = _problem_response("The caller's role may not call this route")
            if op.get("parameters") or op.get("requestBody"):
                responses["400"] = _problem_response(
                    "The request could not be read (malformed JSON, not JSON)"
                )
                responses["422"] = _problem_response("A field is invalid: see `errors`")
            responses["default"] = _problem_response("Any other failure")
    return doc


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
