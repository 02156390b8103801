"""One error map: every failure leaves as ``application/problem+json`` (RFC 9457).

Bodies never quote input (validation errors keep ``loc``, ``msg`` and ``type``, not ``input``), so
a problem can't leak PHI back into a proxy log or a browser console.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestValidationError,
    ResponseValidationError,
)
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import CareloopError
from shared.logs import get_logger

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://careloop.dev/problems/"
# Powertools reports a body that is not JSON as a validation error; it is an unreadable request: 400.
# (Content types and encodings are checked before the resolver: shared.http.resolver.unreadable_body.)
_UNREADABLE = frozenset({"json_invalid"})


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where: e.g. ['body', 'phone'] or ['query', 'limit']")
    msg: str = Field(description="What is wrong, in a sentence")
    type: str = Field(description="A stable code, e.g. 'missing', 'string_too_long', 'json_invalid'")


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every 4xx and 5xx."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str = Field(description="What happened and what to do about it")
    errors: list[ValidationIssue] | None = None
    request_id: str | None = Field(None, description="Quote this when reporting a problem")


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return body


def problem(status: int, slug: str, title: str, detail: str, **kwargs: Any) -> Response:
    return Response(
        status_code=status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=json.dumps(problem_body(status, slug, title, detail, **kwargs)),
    )


def raw_problem(status: int, slug: str, title: str, detail: str, **kwargs: Any) -> dict[str, Any]:
    """The API Gateway v2 response for a problem raised before the resolver runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": PROBLEM_CONTENT_TYPE},
        "body": json.dumps(problem_body(status, slug, title, detail, **kwargs)),
        "isBase64Encoded": False,
    }


def validation_errors(raw: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Powertools/pydantic errors as ``{loc, msg, type}``: no ``input``, no ``ctx``."""
    out = []
    for err in raw:
        msg = err.get("msg") or str(err.get("type", "invalid")).replace("_", " ")
        out.append({"loc": list(err.get("loc", ())), "msg": msg, "type": err.get("type", "invalid")})
    return out


def _where(errors: list[dict[str, Any]]) -> str:
    return ", ".join(".".join(str(p) for p in e["loc"]) or "request" for e in errors)


def register(app: ApiGatewayResolver) -> None:
    """Install the error map on a resolver."""

    def request_id() -> str | None:
        ctx = app.current_event.raw_event.get("requestContext") or {}
        return ctx.get("requestId")

    @app.exception_handler(CareloopError)
    def domain_error(exc: CareloopError) -> Response:
        return problem(
            exc.status,
            exc.slug,
            exc.title,
            exc.detail,
            errors=exc.errors,
            request_id=request_id(),
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response:
        errors = validation_errors(exc.errors())
        if any(e["type"] in _UNREADABLE for e in errors):
            return problem(
                400,
                "malformed-request",
                "Malformed request",
                "The body could not be read: send JSON with 'Content-Type: application/json'.",
                errors=errors,
                request_id=request_id(),
            )
        return problem(
            422,
            "validation",
            "Invalid request",
            f"Fix the invalid field(s) and send again: {_where(errors)}.",
            errors=errors,
            request_id=request_id(),
        )

    @app.exception_handler(ServiceError)
    def service_error(exc: ServiceError) -> Response:
        return problem(
            exc.status_code,
            "http-" + str(exc.status_code),
            "Request failed",
            str(exc.msg),
            request_id=request_id(),
        )

    def internal() -> Response:
        return problem(
            500,
            "internal",
            "Internal error",
            "Something went wrong on our side; it has been logged. Quote the request_id.",
            request_id=request_id(),
        )

    @app.exception_handler(ResponseValidationError)
    def bad_response(exc: ResponseValidationError) -> Response:
        get_logger().error("response does not match its model", error_type="ResponseValidationError")
        return internal()

    @app.exception_handler(Exception)
    def bug(exc: Exception) -> Response:
        get_logger().exception("unhandled error", error_type=type(exc).__name__)
        return internal()
