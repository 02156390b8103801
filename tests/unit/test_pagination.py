from __future__ import annotations

import base64
import json

import pytest

from shared.errors import BadRequest
from shared.http.pagination import decode_cursor, encode_cursor

LEK = {"PK": {"S": "ORG#acme#PANEL#u1"}, "SK": {"S": "PATIENT#01KAPZ"}}
PARTITION = {"PK": "ORG#acme#PANEL#u1"}
KEYS = ("PK", "SK")


def forge(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_and_is_opaque() -> None:
    cursor = encode_cursor("panel", LEK)
    assert cursor and "ORG" not in cursor
    assert decode_cursor(cursor, "panel", PARTITION, KEYS) == LEK


def test_no_more_pages_is_no_cursor() -> None:
    assert encode_cursor("panel", None) is None
    assert decode_cursor(None, "panel", PARTITION, KEYS) is None


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor(
            "panel", {"PK": {"S": "ORG#globex#PANEL#u9"}, "SK": {"S": "PATIENT#1"}}
        ),  # another tenant
        encode_cursor("search", LEK),  # another list over the same partition
        forge({"list": "panel", "key": {"PK": {"S": "ORG#acme#PANEL#u1"}}}),  # a key attribute missing
        forge({"list": "panel", "key": {**LEK, "GSI1PK": {"S": "x"}}}),  # an extra one
        forge({"list": "panel", "key": {"PK": {"S": "ORG#acme#PANEL#u1"}, "SK": {"N": "1"}}}),  # wrong type
        "not base64!!",
        forge(None),
        forge([]),
        forge({"list": "panel"}),
    ],
)
def test_a_cursor_this_list_did_not_issue_is_a_400_not_a_500(cursor: str) -> None:
    with pytest.raises(BadRequest):
        decode_cursor(cursor, "panel", PARTITION, KEYS)


def test_a_start_key_outside_the_querys_range_is_refused() -> None:
    """DynamoDB answers a ValidationException (a 500 here) for a start key outside the key condition."""
    from shared.http.pagination import cursor_list

    cursor = encode_cursor("upcoming:2026-11-24", LEK)
    assert cursor_list(cursor) == "upcoming:2026-11-24" and cursor_list("%%%") is None
    assert decode_cursor(cursor, "upcoming:2026-11-24", PARTITION, KEYS, within=lambda k: True) == LEK
    with pytest.raises(BadRequest):
        decode_cursor(cursor, "upcoming:2026-11-24", PARTITION, KEYS, within=lambda k: k["SK"]["S"] >= "Q")
