"""Standard Webhooks (https://www.standardwebhooks.com), both ways: the signature partners put on
what they send us, and the one we put on what we send them.

A secret is ``whsec_`` + base64 of at least 24 random bytes. The signature is
``v1,`` + base64(HMAC-SHA256(secret bytes, ``{webhook-id}.{webhook-timestamp}.{raw body}``)), and the
``webhook-signature`` header may carry several, space-separated: one per secret while a secret is
being rotated. A timestamp more than five minutes off is refused, so a captured delivery cannot be
replayed later; the receiver remembers ids for longer than the sender retries (functions/webhooks).

Checked against the specification's known answer and the reference ``standardwebhooks`` library
(tests/unit/test_webhook_signing.py); comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
MAX_HEADER = 4096  # more than enough for a handful of signatures


class Unverified(Exception):
    """Why a delivery is refused, as a short code (never the header's content)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,`` signature."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a delivery, signed with every secret given (rotation: the receiver may
    know only the old one or only the new one)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
    }


def verify(
    secrets_: Iterable[str],
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
) -> int:
    """The index of the first secret whose signature is among ``signature``'s, or :class:`Unverified`.

    Refused: a missing header (``missing-header``), a timestamp that is not an integer
    (``bad-timestamp``) or more than five minutes from ``now`` (``stale-timestamp``), no matching
    ``v1`` signature (``bad-signature``)."""
    if not msg_id or not timestamp or not signature or len(signature) > MAX_HEADER or len(msg_id) > 256:
        raise Unverified("missing-header")
    try:
        sent = int(timestamp)
    except ValueError:
        raise Unverified("bad-timestamp") from None
    if abs(now.timestamp() - sent) > TOLERANCE_SECONDS:
        raise Unverified("stale-timestamp")
    offered = [part.encode() for part in signature.split(" ") if part.startswith("v1,")]
    for index, secret in enumerate(secrets_):
        expected = sign(secret, msg_id, sent, body).encode()
        # every candidate is compared in full (no early exit on a partial match)
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return index
    raise Unverified("bad-signature")
