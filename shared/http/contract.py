"""What a route promises a client beyond its models, declared once beside the route.

- :func:`responses` gives a route decorator its success response with the headers it sets (``ETag``,
  ``Location``) and the problems particular to it (a probable duplicate, a taken slot), each typed as
  ``application/problem+json``. Declaring a problem status without content would make Powertools
  document it with the *success* model, and a generated client would parse the error as one.
- :data:`IfMatch`, :func:`etag` and :func:`matches` are the optimistic-locking conversation every
  versioned resource has.

What every route shares (401, 403, 400/422 for bad input, 404 for an id in the path, 409/422 for an
``Idempotency-Key``, 409 for a stale ``If-Match``) is derived from the route's shape when the OpenAPI
document is built (``local/openapi.py``), so no route repeats it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header, Path

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"

HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": 'The version returned, e.g. `"3"`: send it back as If-Match to change it',
        "schema": {"type": "string"},
    },
    "Location": {"description": "Where the created resource is read", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response to an earlier request with the same "
        "Idempotency-Key: nothing ran again",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

# an id in a path: a ULID, refused before any read when it is not one
UlidPath = Annotated[str, Path(min_length=26, max_length=26, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]

IfMatch = Annotated[
    str | None,
    Header(alias="if-match", max_length=64, description='The ETag you read, e.g. "3"'),
]


def problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}}}


def responses(
    status: int = 200,
    description: str = "OK",
    *,
    headers: Iterable[str] = (),
    errors: Mapping[int, str] | None = None,
) -> dict[int, Any]:
    """``responses=`` for a route decorator: ``status`` with the route's return model (Powertools fills
    it in) and ``headers``, and each of ``errors`` as a problem."""
    success: dict[str, Any] = {"description": description}
    if headers:
        success["headers"] = {name: HEADERS[name] for name in headers}
    out: dict[int, Any] = {status: success}
    for code, text in (errors or {}).items():
        out[code] = problem_response(text)
    return out


def etag(version: int | None) -> dict[str, str]:
    return {"ETag": f'"{version or 0}"'}


def matches(if_match: str | None, version: int | None) -> bool:
    """Does ``If-Match`` name ``version``? (``"3"``, ``W/"3"`` and ``3`` all do.)"""
    return if_match is not None and if_match.strip().removeprefix("W/").strip('"') == str(version or 0)


def require_current(if_match: str | None, version: int | None, what: str) -> None:
    """An edit of a versioned resource that exists: 428 without ``If-Match``, 409 (with
    ``current_version``) when it names another version than ``version``."""
    from shared.errors import Conflict, PreconditionRequired

    if if_match is None:
        raise PreconditionRequired(f"Send If-Match with the ETag of the {what} you read.")
    if not matches(if_match, version):
        raise Conflict(f"The {what} changed since you read it; read it again.", current_version=version)


def status_move() -> dict[int, Any]:
    """``responses=`` of an action that moves a resource along its statuses (a new dict each call:
    Powertools writes the route's model into it)."""
    return responses(
        headers=["ETag"],
        errors={409: "Not allowed from the current status (`current_status`), or If-Match is stale"},
    )
