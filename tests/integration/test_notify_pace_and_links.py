"""The sending identity's pace (shared/notify/pace.py) and one-tap link tokens
(functions/reminders/tokens.py), on moto's DynamoDB and Secrets Manager."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from shared.notify import pace

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
WAIT = timedelta(seconds=20)


def test_a_burst_is_spaced_at_the_identitys_parts_per_second(aws: dict[str, Any]) -> None:
    slots = [pace.reserve("sms", parts, 1.0, T0, WAIT) for parts in (1, 1, 3, 1)]
    # one part a second: the 3-part message holds the identity for 3 seconds
    assert [(s - T0).total_seconds() for s in slots] == [0, 1, 2, 5]
    # a toll-free number (3 parts/s) elsewhere is not held up by this one
    assert pace.reserve("email", 1, 3.0, T0, WAIT) == T0
    assert pace.reserve("email", 1, 3.0, T0, WAIT) == T0 + timedelta(milliseconds=333)
    # later, the identity is free again
    assert pace.reserve("sms", 1, 1.0, T0 + timedelta(minutes=1), WAIT) == T0 + timedelta(minutes=1)


def test_a_sender_that_would_wait_too_long_reserves_nothing(aws: dict[str, Any]) -> None:
    for _ in range(20):
        pace.reserve("sms", 1, 1.0, T0, WAIT)
    with pytest.raises(pace.Busy):
        pace.reserve("sms", 1, 1.0, T0, timedelta(seconds=5))
    assert pace.reserve("sms", 1, 1.0, T0, WAIT) == T0 + timedelta(seconds=20)  # the slot was not taken


def test_racing_senders_never_share_a_slot(aws: dict[str, Any]) -> None:
    with ThreadPoolExecutor(4) as pool:
        slots = list(pool.map(lambda _: pace.reserve("sms", 1, 10.0, T0, WAIT), range(12)))
    assert sorted((s - T0).total_seconds() for s in slots) == [i / 10 for i in range(12)]


# ---------------------------------------------------------------- link tokens


@pytest.fixture
def secret(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from functions.reminders import tokens

    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="link-key", SecretString="first-secret-value"
    )["ARN"]
    monkeypatch.setenv(tokens.SECRET_ENV, arn)
    tokens.reset()
    yield arn
    tokens.reset()


def test_a_token_names_its_touch_and_expiry_and_fits_an_sms(secret: str) -> None:
    from functions.reminders import tokens

    touch = "01KAB7V8J3Q0WZ9X5Y4T2R1N6M"
    token = tokens.make(touch, T0)
    assert len(token) == 43 and token.replace("-", "").replace("_", "").isalnum()
    assert tokens.read(token) == (touch, T0)
    assert tokens.make(touch, T0) == token  # deterministic: no state to keep
    assert tokens.make(touch, T0 + timedelta(seconds=1)) != token


@pytest.mark.parametrize("change", ["flip", "truncate", "extend", "garbage", "other-touch"])
def test_a_tampered_token_is_refused(secret: str, change: str) -> None:
    from functions.reminders import tokens

    token = tokens.make("01KAB7V8J3Q0WZ9X5Y4T2R1N6M", T0)
    bad = {
        "flip": token[:10] + ("A" if token[10] != "A" else "B") + token[11:],
        "truncate": token[:-1],
        "extend": token + "AAAA",
        "garbage": "%%%notbase64%%%",
        # a later expiry with the same tag
        "other-touch": tokens.make("01KAB7V8J3Q0WZ9X5Y4T2R1N6N", T0)[:27] + token[27:],
    }[change]
    with pytest.raises(tokens.BadToken):
        tokens.read(bad)


def test_links_sent_before_a_rotation_still_work(secret: str) -> None:
    from functions.reminders import tokens

    sent = tokens.make("01KAB7V8J3Q0WZ9X5Y4T2R1N6M", T0)
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.put_secret_value(SecretId=secret, SecretString="second-secret-value")  # old -> AWSPREVIOUS
    tokens.reset()
    assert tokens.read(sent)[0] == "01KAB7V8J3Q0WZ9X5Y4T2R1N6M"
    fresh = tokens.make("01KAB7V8J3Q0WZ9X5Y4T2R1N6M", T0)
    assert fresh != sent and tokens.read(fresh)[1] == T0
