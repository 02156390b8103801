"""Opaque cursors over DynamoDB's ``LastEvaluatedKey``.

A cursor is the list it belongs to and the key, base64url-encoded. On the way back in it is checked
against that list, the partition the query is about to read and the key schema of the table or index,
so a cursor from another list, a hand-made one or one for another tenant is a 400: it can neither
read another partition nor make DynamoDB fail with a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
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


def encode_cursor(list_id: str, last_evaluated_key: Mapping[str, Any] | None) -> str | None:
    """The cursor for the page after ``last_evaluated_key`` of the list ``list_id`` (e.g.
    ``"panel"``, ``"patients-by-name"``); ``None`` when there are no more pages."""
    if not last_evaluated_key:
        return None
    raw = json.dumps({"list": list_id, "key": last_evaluated_key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _body(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        return None


def cursor_list(cursor: str | None) -> str | None:
    """The list a cursor says it was issued for, unchecked (:func:`decode_cursor` checks it): for a
    list whose id carries the bound of its first page, so later pages keep that bound."""
    body = _body(cursor) if cursor else None
    value = body.get("list") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def decode_cursor(
    cursor: str | None,
    list_id: str,
    partition: Mapping[str, str],
    key_attributes: Iterable[str],
    within: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` for ``cursor``. It must have been issued for ``list_id``, name the
    ``partition`` the query reads (e.g. ``{"PK": "ORG#acme#PANEL#u1"}``), hold exactly the
    ``key_attributes`` of the table or index queried, all strings, and, for a query with a key
    condition, lie ``within`` it (DynamoDB refuses a start key outside its range); anything else is
    a 400."""
    if not cursor:
        return None
    refused = BadRequest("The cursor is not one this API issued for this list; start again without it.")
    body = _body(cursor)
    key = body.get("key") if isinstance(body, dict) else None
    if (
        not isinstance(body, dict)
        or body.get("list") != list_id
        or not isinstance(key, dict)
        or set(key) != set(key_attributes)
        or not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
        or any(key[attr]["S"] != value for attr, value in partition.items())
        or (within is not None and not within(key))
    ):
        raise refused
    return key
