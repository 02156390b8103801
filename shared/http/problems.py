"""One error map: every failure leaves as ``application/problem+json`` (RFC 9457).

Bodies never quote input (validation errors keep ``loc``, ``msg`` and ``type``, not ``input``), so
a problem can't leak PHI back into a proxy log or a browser console.
"""

from __future__ import annotations

import json
import re
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
    # Extension members some problems carry (RFC 9457 section 3.2), declared so a typed client reads them
    conflict: str | None = Field(
        None,
        description="On a 409, what was taken or changed: slot, patient, appointment, referral, offer...",
    )
    current_status: str | None = Field(None, description="On a 409 for a status move: the status now")
    current_version: int | None = Field(None, description="On a 409 for a stale If-Match: the version now")
    existing_patient_id: str | None = Field(
        None, description="On a 409 for a probable duplicate (staff only): the record it duplicates"
    )


class GatewayMessage(BaseModel):
    """What API Gateway itself answers before any function runs: no or an invalid token (401), an
    unknown route (404), a body over 10 MB (413), throttling (429)."""

    message: str = Field(examples=["Unauthorized"])


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


# A location step the API itself names: a field, parameter or enum value ("body", "consent", "sms",
# "if-match"). Anything else in a location came from the caller (a dict key, an unknown field's name).
_OUR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
KEY, UNKNOWN = "[key]", "[unknown]"


def _safe_loc(loc: Iterable[Any], error_type: str, bad_keys: set[tuple[Any, ...]]) -> list[str | int]:
    """``loc`` without caller-supplied text: an invalid dict key (and the path under it) becomes
    ``[key]``, an unknown field's name, or any other step that is not one of our names, ``[unknown]``."""
    steps = list(loc)
    out: list[str | int] = []
    for i, step in enumerate(steps):
        if step == KEY or tuple(steps[: i + 1]) in bad_keys:
            if step != KEY or not out or out[-1] != KEY:
                out.append(KEY)
        elif isinstance(step, int):
            out.append(step)
        elif (i == len(steps) - 1 and error_type == "extra_forbidden") or not _OUR_NAME.fullmatch(str(step)):
            out.append(UNKNOWN)
        else:
            out.append(str(step))
    return out


def validation_errors(raw: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Powertools/pydantic errors as ``{loc, msg, type}``: no ``input``, no ``ctx``, and no step of
    ``loc`` the caller wrote (a body ``{"consent": {"<a name and phone>": ...}}`` is reported at
    ``["body", "consent", "[key]"]``)."""
    errors = list(raw)
    # pydantic reports a bad key at (..., key, "[key]") and its value's errors at (..., key, field)
    bad_keys = {
        tuple(loc[:i])
        for loc in (list(e.get("loc", ())) for e in errors)
        for i, step in enumerate(loc)
        if step == KEY
    }
    out = []
    for err in errors:
        error_type = str(err.get("type", "invalid"))
        msg = err.get("msg") or error_type.replace("_", " ")
        if error_type == "union_tag_invalid":  # pydantic's message quotes the caller's tag
            expected = (err.get("ctx") or {}).get("expected_tags", "")
            msg = f"Input tag does not match any of the expected tags: {expected}"
        loc = _safe_loc(err.get("loc", ()), error_type, bad_keys)
        out.append({"loc": loc, "msg": msg, "type": error_type})
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
