"""Cursors: sealed (nothing readable in a URL), bound to their list, their tenant and a day, and a 400
for anything else. The key comes from the secret template.yaml declares, created in moto like every
other resource (the ``aws`` fixture)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from shared import clock
from shared.errors import BadRequest
from shared.http import pagination
from shared.http.pagination import CURSOR_TTL, cursor_list, decode_cursor, encode_cursor

LEK = {"PK": {"S": "ORG#acme#PANEL#u1"}, "SK": {"S": "PATIENT#01KAPZ"}}
PARTITION = {"PK": "ORG#acme#PANEL#u1"}
KEYS = ("PK", "SK")
# what a patient search's LastEvaluatedKey looks like: a normalized name, ids
SEARCH_LEK = {
    "GSI1PK": {"S": "ORG#acme#PATIENTS"},
    "GSI1SK": {"S": "NAME#brannigan yusuf#1961-04-12#01KAPZ6Q3M2V8W7X9Y0Z1A2B3C"},
    "PK": {"S": "ORG#acme#PATIENT#01KAPZ6Q3M2V8W7X9Y0Z1A2B3C"},
    "SK": {"S": "PATIENT"},
}


@pytest.fixture(autouse=True)
def _keyed(aws: dict[str, Any], frozen_clock: clock.FixedClock) -> None:
    """moto with the template's resources (the cursor key's secret among them), a frozen clock."""


def seal(body: object, tenant: str = "acme") -> str:
    """A cursor sealed with the real key around any body: what only a bug of ours could issue."""
    return pagination._seal(body, tenant)  # type: ignore[arg-type]


def flip(cursor: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[at % len(raw)] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_a_cursor_round_trips() -> None:
    cursor = encode_cursor("panel", LEK, tenant="acme")
    assert decode_cursor(cursor, "panel", PARTITION, KEYS, tenant="acme") == LEK


def test_a_cursor_shows_nothing_of_the_key_it_carries() -> None:
    """Given a patient search's key (a name, a birth date, ids), when it becomes a cursor, then
    neither the cursor nor its base64 decoding shows any of it; and it stays short."""
    cursor = encode_cursor("search:bran::", SEARCH_LEK, tenant="acme")
    assert cursor is not None and len(cursor) < 300
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    for text in (cursor.encode(), decoded, decoded.lower()):
        for secret in (b"NAME#", b"brannigan", b"1961", b"01KAPZ", b"ORG#", b"acme", b"search"):
            assert secret.lower() not in text.lower()
    # the same key twice gives two different cursors (a fresh nonce each time)
    assert encode_cursor("search:bran::", SEARCH_LEK, tenant="acme") != cursor


def test_no_more_pages_is_no_cursor() -> None:
    assert encode_cursor("panel", None, tenant="acme") is None
    assert decode_cursor(None, "panel", PARTITION, KEYS, tenant="acme") is None


def test_another_tenants_cursor_is_a_400_even_for_the_same_list_and_key() -> None:
    cursor = encode_cursor("panel", LEK, tenant="globex")
    with pytest.raises(BadRequest):
        decode_cursor(cursor, "panel", PARTITION, KEYS, tenant="acme")
    assert cursor_list(cursor, tenant="acme") is None


@pytest.mark.parametrize("at", [0, 1, 5, 13, 20, -1, -17])  # version, nonce, ciphertext, tag
def test_a_tampered_cursor_is_a_400(at: int) -> None:
    cursor = encode_cursor("panel", LEK, tenant="acme")
    assert cursor is not None
    with pytest.raises(BadRequest):
        decode_cursor(flip(cursor, at), "panel", PARTITION, KEYS, tenant="acme")


def test_an_expired_cursor_is_a_400_that_says_start_again(frozen_clock: clock.FixedClock) -> None:
    cursor = encode_cursor("panel", LEK, tenant="acme")
    frozen_clock.advance(CURSOR_TTL - timedelta(seconds=1))
    assert decode_cursor(cursor, "panel", PARTITION, KEYS, tenant="acme") == LEK
    frozen_clock.advance(timedelta(seconds=1))
    with pytest.raises(BadRequest) as refused:
        decode_cursor(cursor, "panel", PARTITION, KEYS, tenant="acme")
    assert "expired" in refused.value.detail and "start" in refused.value.detail


@pytest.mark.parametrize(
    "cursor",
    [
        # another partition of the same tenant
        lambda: encode_cursor("panel", {"PK": {"S": "ORG#acme#PANEL#u9"}, "SK": {"S": "P#1"}}, tenant="acme"),
        lambda: encode_cursor("search", LEK, tenant="acme"),  # another list over the same partition
        lambda: seal({"l": "panel", "k": {"PK": "ORG#acme#PANEL#u1"}, "e": 2**40}),  # a key attribute missing
        lambda: seal(
            {"l": "panel", "k": {**PARTITION, "SK": "x", "GSI1PK": "x"}, "e": 2**40}
        ),  # an extra one
        lambda: seal({"l": "panel", "k": {**PARTITION, "SK": 1}, "e": 2**40}),  # not a string
        lambda: seal({"l": "panel", "k": {**PARTITION, "SK": "x"}}),  # no expiry
        lambda: seal({"l": "panel"}),
        lambda: seal([]),
        lambda: "not base64!!",
        lambda: "",
        lambda: "AQ",
        lambda: base64.urlsafe_b64encode(b'{"list": "panel", "key": {}}').decode(),  # the old, readable kind
    ],
)
def test_a_cursor_this_list_did_not_issue_is_a_400_not_a_500(cursor: Any) -> None:
    made = cursor()
    if not made:
        assert decode_cursor(made, "panel", PARTITION, KEYS, tenant="acme") is None
        return
    with pytest.raises(BadRequest):
        decode_cursor(made, "panel", PARTITION, KEYS, tenant="acme")


def test_a_start_key_outside_the_querys_range_is_refused() -> None:
    """DynamoDB answers a ValidationException (a 500 here) for a start key outside the key condition."""
    cursor = encode_cursor("upcoming:2026-11-24", LEK, tenant="acme")
    assert cursor_list(cursor, tenant="acme") == "upcoming:2026-11-24"
    assert cursor_list("%%%", tenant="acme") is None
    assert decode_cursor(cursor, "upcoming:2026-11-24", PARTITION, KEYS, lambda k: True, tenant="acme") == LEK
    with pytest.raises(BadRequest):
        decode_cursor(
            cursor, "upcoming:2026-11-24", PARTITION, KEYS, lambda k: k["SK"]["S"] >= "Q", tenant="acme"
        )


def test_the_key_is_fetched_once_per_container_and_survives_a_rotation(
    aws: dict[str, Any], frozen_clock: clock.FixedClock
) -> None:
    """Given cursors sealed before a rotation of the secret, when the secret rotates, then a
    container that started before it and one that starts after it both accept them, and cursors
    sealed after it, while a cursor from two keys ago is a 400."""
    import boto3

    secrets = boto3.client("secretsmanager")
    arn = aws["names"]["CursorKeySecret"]
    calls: list[str] = []
    original = pagination._secret

    def counted(arn: str, stage: str) -> str | None:
        calls.append(stage)
        return original(arn, stage)

    pagination._secret = counted  # type: ignore[assignment]
    try:
        old = encode_cursor("panel", LEK, tenant="acme")
        for _ in range(3):
            encode_cursor("panel", LEK, tenant="acme")
        assert calls == ["AWSCURRENT"]  # one fetch, cached

        secrets.put_secret_value(SecretId=arn, SecretString="a new key, after a rotation")
        # a container from before the rotation still seals with the old key and opens the old cursors
        assert decode_cursor(old, "panel", PARTITION, KEYS, tenant="acme") == LEK
        before = pagination._cache.copy()
        pagination.reset_keys()  # a container started after the rotation
        new = encode_cursor("panel", LEK, tenant="acme")
        assert decode_cursor(old, "panel", PARTITION, KEYS, tenant="acme") == LEK  # AWSPREVIOUS
        assert decode_cursor(new, "panel", PARTITION, KEYS, tenant="acme") == LEK
        # the old container opens the new cursors once its keys are REFRESH_AFTER old: it fetches again
        pagination._cache.clear()
        pagination._cache.update(before)
        with pytest.raises(BadRequest):
            decode_cursor(new, "panel", PARTITION, KEYS, tenant="acme")
        frozen_clock.advance(pagination.REFRESH_AFTER)
        assert decode_cursor(new, "panel", PARTITION, KEYS, tenant="acme") == LEK

        secrets.put_secret_value(SecretId=arn, SecretString="another rotation")
        pagination.reset_keys()
        with pytest.raises(BadRequest):
            decode_cursor(old, "panel", PARTITION, KEYS, tenant="acme")
    finally:
        pagination._secret = original  # type: ignore[assignment]
