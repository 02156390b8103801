"""Opaque cursors over DynamoDB's ``LastEvaluatedKey``.

A cursor is the key, base64url-encoded. On the way back in it is checked against the partition the
query is about to read, so a hand-made cursor can neither read another tenant's partition nor make
DynamoDB fail with a 500: it is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Annotated, Any, Generic, TypeVar

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from shared.errors import BadRequest

DEFAULT_LIMIT = 25
MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_evaluated_key: Mapping[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, partition: Mapping[str, str]) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` for ``cursor``, which must belong to ``partition``
    (e.g. ``{"PK": "ORG#acme#PANEL#u1"}``)."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise BadRequest("The cursor is not one this API issued; start again without it.") from None
    valid = (
        isinstance(key, dict)
        and all(
            isinstance(v, dict) and len(v) == 1 and isinstance(next(iter(v.values())), str)
            for v in key.values()
        )
        and all(key.get(attr) == {"S": value} for attr, value in partition.items())
    )
    if not valid:
        raise BadRequest("The cursor is not one this API issued for this list; start again without it.")
    return key
