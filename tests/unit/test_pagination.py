from __future__ import annotations

import pytest

from shared.errors import BadRequest
from shared.http.pagination import decode_cursor, encode_cursor

LEK = {"PK": {"S": "ORG#acme#PANEL#u1"}, "SK": {"S": "PATIENT#01KAPZ"}}


def test_a_cursor_round_trips_and_is_opaque() -> None:
    cursor = encode_cursor(LEK)
    assert cursor and "ORG" not in cursor
    assert decode_cursor(cursor, {"PK": "ORG#acme#PANEL#u1"}) == LEK


def test_no_more_pages_is_no_cursor() -> None:
    assert encode_cursor(None) is None
    assert decode_cursor(None, {"PK": "x"}) is None


def test_a_cursor_for_another_tenant_is_refused() -> None:
    cursor = encode_cursor({"PK": {"S": "ORG#globex#PANEL#u9"}, "SK": {"S": "PATIENT#1"}})
    with pytest.raises(BadRequest):
        decode_cursor(cursor, {"PK": "ORG#acme#PANEL#u1"})


@pytest.mark.parametrize("cursor", ["not base64!!", "bnVsbA", "e30", "eyJQSyI6IDF9", "W10"])
def test_garbage_is_a_400_not_a_500(cursor: str) -> None:
    with pytest.raises(BadRequest):
        decode_cursor(cursor, {"PK": "ORG#acme#PANEL#u1"})
