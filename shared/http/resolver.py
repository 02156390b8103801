"""The resolver factory and the Lambda entry point every HTTP function uses."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths

from shared.data.table import bind
from shared.http import problems
from shared.http.auth import authorize
from shared.logs import get_logger

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]*\+)?json\s*(?:;.*)?$", re.IGNORECASE)


def make_resolver(*routers: APIGatewayHttpRouter) -> APIGatewayHttpResolver:
    """An HTTP API v2 resolver with request validation, the problem+json error map and
    deny-by-default authorization, serving ``routers``."""
    app = APIGatewayHttpResolver(enable_validation=True)
    problems.register(app)
    app.use([authorize])
    for router in routers:
        app.include_router(router)
    return app


def unreadable_body(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The API speaks JSON only. A body sent as anything else is a 400 before any parsing (Powertools
    would try multipart or form parsing, and a multipart type without a boundary raises)."""
    if not event.get("body"):
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type")
    if content_type is None or _JSON_TYPE.match(content_type):
        return None
    return problems.raw_problem(
        400,
        "malformed-request",
        "Malformed request",
        "This API accepts JSON only: send 'Content-Type: application/json'.",
        request_id=(event.get("requestContext") or {}).get("requestId"),
    )


def make_handler(app: APIGatewayHttpResolver) -> LambdaHandler:
    """The Lambda entry point for ``app``: binds the table from the environment, refuses unreadable
    bodies, adds the request id to every log line, and resolves."""
    logger = get_logger()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        bind()
        rejected = unreadable_body(event)
        if rejected is not None:
            return rejected
        return app.resolve(event, context)

    return handler
