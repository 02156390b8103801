"""``Idempotency-Key`` for creates, on Powertools idempotency, stored in the single table.

- same key, same body → the first response again (status, body, headers), marked
  ``Idempotent-Replayed: true``; nothing runs twice;
- same key, another body → 422; same key while the first request still runs → 409;
- keys are scoped to the caller (organization, user) and the request's method, path and query, so
  two tenants, two users or two resources can't collide; records live under
  ``ORG#<org>#IDEMPOTENCY`` for 24 hours (``ttl``).

Powertools' idempotency import costs ~280 ms, so it happens on the first keyed request, not at cold
start; requests without a key never pay it.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.encoders import jsonable_encoder
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.aws import client
from shared.data import keys
from shared.errors import BadRequest, Conflict, Unprocessable
from shared.http.auth import principal_of
from shared.settings import settings

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
EXPIRES_AFTER_SECONDS = 24 * 3600
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Declared on every keyed route so the OpenAPI document (and a client generated from it) shows it; the
# wrapper reads and checks it itself (400 for a malformed key), the route function never sees it.
_KEY_PARAM = inspect.Parameter(
    "idempotency_key",
    inspect.Parameter.KEYWORD_ONLY,
    default=None,
    annotation=Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Any unique string (a UUID) of 1 to 255 visible ASCII characters: a retry with the "
            "same key and body returns the first response (Idempotent-Replayed: true) and runs nothing; "
            "kept 24 h",
        ),
    ],
)

F = TypeVar("F", bound=Callable[..., Any])


def _as_record(result: Any) -> dict[str, Any]:
    response = result if isinstance(result, Response) else Response(200, "application/json", result)
    return {
        "status_code": response.status_code,
        "content_type": response.headers.get("Content-Type", "application/json"),
        "body": jsonable_encoder(response.body, by_alias=True),
        "headers": {k: v for k, v in response.headers.items() if k != "Content-Type"},
    }


def _as_response(record: dict[str, Any], *, replayed: bool) -> Response:
    headers = dict(record["headers"])
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(record["status_code"], record["content_type"], record["body"], headers=headers)


def idempotent(
    router: APIGatewayHttpRouter, on_replay: Callable[[Any], None] | None = None
) -> Callable[[F], F]:
    """Make a create route honour ``Idempotency-Key``. Stack it under ``@allow``. ``on_replay`` is
    called with the stored body when a response is replayed (a replay of a create that returns PHI
    is a read, and is audited like one)."""

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop(_KEY_PARAM.name, None)
            event = router.current_event
            key = (event.headers or {}).get(HEADER)
            if key is None:
                return fn(*args, **kwargs)
            if not _KEY.fullmatch(key):
                raise BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters.")
            principal = principal_of(router)

            from aws_lambda_powertools.utilities.idempotency import (
                DynamoDBPersistenceLayer,
                IdempotencyConfig,
                idempotent_function,
            )
            from aws_lambda_powertools.utilities.idempotency.exceptions import (
                IdempotencyAlreadyInProgressError,
                IdempotencyValidationError,
            )

            persistence = DynamoDBPersistenceLayer(
                table_name=settings().table_name,
                key_attr="PK",
                sort_key_attr="SK",
                static_pk_value=keys.idempotency_pk(principal.organization_id),
                expiry_attr="ttl",
                boto3_client=client("dynamodb"),
            )
            config = IdempotencyConfig(
                event_key_jmespath="[subject, target, key]",
                payload_validation_jmespath="body",
                expires_after_seconds=EXPIRES_AFTER_SECONDS,
                raise_on_no_idempotency_key=True,
            )
            if router.lambda_context is not None:
                config.register_lambda_context(router.lambda_context)
            executed = False

            @idempotent_function(
                data_keyword_argument="request", persistence_store=persistence, config=config
            )
            def run(request: dict[str, Any]) -> dict[str, Any]:
                nonlocal executed
                executed = True
                return _as_record(fn(*args, **kwargs))

            try:
                body = event.json_body if event.body else None
            except ValueError:  # not JSON, or not UTF-8
                raise BadRequest(
                    "The body could not be read: send JSON with 'Content-Type: application/json'."
                ) from None
            query = event.raw_event.get("rawQueryString")
            request = {
                "subject": principal.subject,
                # the path itself, not the route template: /patients/A and /patients/B are two requests
                "target": f"{event.http_method} {event.raw_event.get('rawPath') or event.path}"
                + (f"?{query}" if query else ""),
                "key": key,
                "body": body,
            }
            try:
                record = run(request=request)
            except IdempotencyValidationError:
                raise Unprocessable(
                    "This Idempotency-Key was already used with a different body; use a new key."
                ) from None
            except IdempotencyAlreadyInProgressError:
                raise Conflict(
                    "A request with this Idempotency-Key is still being processed; retry shortly."
                ) from None
            if not executed and on_replay is not None:
                on_replay(record["body"])
            return _as_response(record, replayed=not executed)

        # Powertools reads the route's parameters from its signature and resolves string annotations
        # in the function's module: give it the wrapped function's, already resolved.
        signature = inspect.signature(fn, eval_str=True)
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), _KEY_PARAM]
        )
        return wrapper  # type: ignore[return-value]

    return decorator
