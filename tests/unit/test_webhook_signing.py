"""Standard Webhooks signatures, ours against the specification's known answer and the reference
library (``standardwebhooks``) as the partner on the other side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from shared.webhooks import signing

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
AT = datetime.fromtimestamp(TIMESTAMP, UTC)


def test_the_known_answer() -> None:
    assert signing.sign(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED
    assert signing.verify([SECRET], MSG_ID, str(TIMESTAMP), EXPECTED, BODY, AT) == 0


def test_a_delivery_signed_by_the_reference_library_verifies() -> None:
    secret = signing.new_secret()
    signature = Webhook(secret).sign(MSG_ID, AT, BODY.decode())
    assert signing.verify([secret], MSG_ID, str(TIMESTAMP), signature, BODY, AT) == 0


def test_what_we_sign_verifies_with_the_reference_library() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    headers = signing.headers([old, new], MSG_ID, int(datetime.now(UTC).timestamp()), BODY)
    for secret in (old, new):  # a receiver that knows either secret during rotation
        assert Webhook(secret).verify(BODY, headers) == {"test": 2432232314}


@pytest.mark.parametrize(
    ("msg_id", "timestamp", "signature", "body", "code"),
    [
        (MSG_ID, str(TIMESTAMP), EXPECTED, b'{"test": 2432232315}', "bad-signature"),  # one byte flipped
        ("msg_other", str(TIMESTAMP), EXPECTED, BODY, "bad-signature"),
        (MSG_ID, str(TIMESTAMP + 1), EXPECTED, BODY, "bad-signature"),
        (MSG_ID, str(TIMESTAMP), "v2," + EXPECTED[3:], BODY, "bad-signature"),
        (MSG_ID, str(TIMESTAMP), EXPECTED[:-2] + "A=", BODY, "bad-signature"),
        (MSG_ID, str(TIMESTAMP), "", BODY, "missing-header"),
        (None, str(TIMESTAMP), EXPECTED, BODY, "missing-header"),
        (MSG_ID, None, EXPECTED, BODY, "missing-header"),
        (MSG_ID, "yesterday", EXPECTED, BODY, "bad-timestamp"),
    ],
)
def test_refused(msg_id: str | None, timestamp: str | None, signature: str, body: bytes, code: str) -> None:
    with pytest.raises(signing.Unverified) as refused:
        signing.verify([SECRET], msg_id, timestamp, signature, body, AT)
    assert refused.value.code == code
    assert EXPECTED not in str(refused.value)


@pytest.mark.parametrize("skew", [timedelta(minutes=5, seconds=1), -timedelta(minutes=5, seconds=1)])
def test_a_timestamp_more_than_five_minutes_off_is_stale(skew: timedelta) -> None:
    with pytest.raises(signing.Unverified) as refused:
        signing.verify([SECRET], MSG_ID, str(TIMESTAMP), EXPECTED, BODY, AT + skew)
    assert refused.value.code == "stale-timestamp"
    # five minutes exactly is still on time
    assert signing.verify([SECRET], MSG_ID, str(TIMESTAMP), EXPECTED, BODY, AT + timedelta(minutes=5)) == 0


def test_any_of_several_signatures_and_any_of_several_secrets() -> None:
    other = signing.new_secret()
    several = f"v1,bm90IGEgc2lnbmF0dXJl {EXPECTED} v1a,ignored"
    assert signing.verify([other, SECRET], MSG_ID, str(TIMESTAMP), several, BODY, AT) == 1
    with pytest.raises(signing.Unverified):
        signing.verify([other], MSG_ID, str(TIMESTAMP), several, BODY, AT)  # the revoked one is gone
