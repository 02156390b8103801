"""The one set of errors domain code raises; :mod:`shared.http.problems` maps them to HTTP.

Each error says what a caller can do about it in ``detail``; ``detail`` must never quote PHI.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CareloopError(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    slug: ClassVar[str] = "internal"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class BadRequest(CareloopError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(CareloopError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(CareloopError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(CareloopError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(CareloopError):
    status, title, slug = 409, "Conflict", "conflict"


class Gone(CareloopError):
    status, title, slug = 410, "Gone", "gone"


class Unprocessable(CareloopError):
    status, title, slug = 422, "Invalid request", "validation"


class PreconditionRequired(CareloopError):
    status, title, slug = 428, "Precondition required", "precondition-required"


class ServiceUnavailable(CareloopError):
    status, title, slug = 503, "Service unavailable", "unavailable"
