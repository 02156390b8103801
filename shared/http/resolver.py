"""The resolver factory and the Lambda entry point every HTTP function uses."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths

from shared.data.table import bind
from shared.http import problems
from shared.http.auth import authorize
from shared.logs import get_logger

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

# No model of this API nests deeper than a few levels; a body nested deeper is a 400 before the resolver
MAX_DEPTH = 32
_JSON_TYPE = re.compile(r"application/json\s*(?:;.*)?", re.IGNORECASE)


def make_resolver(*routers: APIGatewayHttpRouter) -> APIGatewayHttpResolver:
    """An HTTP API v2 resolver with request validation, the problem+json error map and
    deny-by-default authorization, serving ``routers``."""
    # A response that does not match its declared model is our bug: 500, never a 422 blaming the caller
    app = APIGatewayHttpResolver(enable_validation=True, response_validation_error_http_code=500)
    problems.register(app)
    _authorize_before_validation(app)
    for router in routers:
        app.include_router(router)
    return app


def _authorize_before_validation(app: APIGatewayHttpResolver) -> None:
    """Run :func:`authorize` ahead of request validation, which Powertools always puts first in the
    middleware stack: a caller who may not use a route learns nothing about its schema (403, not 422),
    and an undeclared route is a 404 whatever the body. Powertools keeps the validation middleware in
    ``_request_validation_middleware`` (3.x); tests/integration/test_http_edges.py fails if that moves."""
    validate = app._request_validation_middleware

    def authorize_then_validate(app: Any, next_middleware: Any) -> Any:
        return authorize(app, lambda a: validate(refuse_unknown_query(a), next_middleware))

    app._request_validation_middleware = authorize_then_validate  # type: ignore[assignment]


def refuse_unknown_query(app: Any) -> Any:
    """A query parameter the route does not declare is a 400: a misspelt filter (``?stauts=open``)
    would otherwise be ignored and answer with everything. The name is not echoed."""
    from shared.errors import BadRequest

    route = app.context.get("_route")
    given = app.current_event.query_string_parameters or {}
    if route is not None and given:
        declared = {param.alias for param in route.dependant.query_params}
        if any(name not in declared for name in given):
            raise BadRequest("A query parameter this route does not take; see the OpenAPI document.")
    return app


def unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The one place a body's format is checked. The API speaks JSON: a body is accepted with
    ``Content-Type: application/json`` (any case, with parameters) or none, and must be UTF-8; anything
    else is a 400 before any parsing. The header is normalized in ``event`` for Powertools, whose own
    check is case-sensitive and would otherwise try form or multipart parsing."""
    body = event.get("body")
    if not body:
        return None
    headers = event.get("headers") or {}
    name = next((k for k in headers if k.lower() == "content-type"), None)
    content_type = headers.get(name) if name else None
    if content_type is not None:
        if not _JSON_TYPE.fullmatch(content_type):
            return _unreadable(event, "This API accepts JSON only: send 'Content-Type: application/json'.")
        headers[name] = content_type.lower()
    text = body
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except ValueError:
            return _unreadable(event, "The body is not UTF-8 JSON.")
    if _too_deep(text):
        return _unreadable(event, f"The body nests objects or arrays more than {MAX_DEPTH} deep.")
    return None


def _too_deep(text: str) -> bool:
    """Is the JSON in ``text`` nested deeper than :data:`MAX_DEPTH`? (Python's parser, and pydantic
    after it, would raise ``RecursionError`` at about 1,000.) Text that is not JSON is left to the
    resolver, which answers it with its own 400."""
    try:
        value = json.loads(text)
    except RecursionError:
        return True
    except ValueError:
        return False
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth >= MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _unreadable(event: dict[str, Any], detail: str) -> dict[str, Any]:
    request_id = (event.get("requestContext") or {}).get("requestId")
    return problems.raw_problem(400, "malformed-request", "Malformed request", detail, request_id=request_id)


def make_handler(app: APIGatewayHttpResolver) -> LambdaHandler:
    """The Lambda entry point for ``app``: binds the table from the environment, refuses unreadable
    bodies, adds the request id to every log line (the correlation id), resolves, and logs the
    answer's status."""
    logger = get_logger()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        bind()
        response = unreadable_body(event) or app.resolve(event, context)
        # one line per request: the route's template (never the path, which holds ids a client chose)
        # and the status; with the correlation id, what a client's report of a failure is found by
        logger.info("request answered", route=event.get("routeKey"), status=response.get("statusCode"))
        return response

    return handler
