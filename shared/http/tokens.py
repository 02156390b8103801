"""One-tap links: a signed, expiring token naming one item by its ULID (a reminder's touch, a survey
request), short enough for an SMS. Whoever makes or checks links uses this module: the link routes
find what the id is by its route (``ROUTE#TOUCH#<id>`` or ``ROUTE#SURVEY#<id>``).

``token = base64url(id (16 bytes, its ULID) ‖ expiry (4 bytes, epoch seconds) ‖ tag)`` where
``tag`` is the first 12 bytes of HMAC-SHA256 over the rest, keyed by the Secrets Manager secret named
by ``LINK_SECRET_ARN``: 43 characters. Not a guessable id: without the secret no token verifies, and
one token cannot be turned into another touch's or a later expiry. Verified with the current secret,
then the previous one (a rotation does not break links already sent); a token that verifies with
neither makes the container read the secret again, at most every five minutes (a link made after a
rotation it has not seen yet).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from datetime import UTC, datetime

from ulid import ULID

from shared import aws

SECRET_ENV = "LINK_SECRET_ARN"  # noqa: S105 - the name of a variable holding an ARN
_TAG = 12
_LENGTH = 16 + 4 + _TAG
_lock = threading.Lock()
_cache: dict[str, list[bytes]] = {}
_refreshed: dict[str, float] = {}
REFRESH_AFTER = 300.0


class BadToken(ValueError):
    """Not a token this API issued (malformed or tampered)."""


def _keys(previous: bool = False) -> list[bytes]:
    arn = os.environ.get(SECRET_ENV)
    if not arn:
        raise RuntimeError(f"{SECRET_ENV} is not set: this function's template entry must pass it")
    with _lock:
        if arn not in _cache:
            _cache[arn] = [(aws.secret_value(arn) or "").encode()]
        if previous and len(_cache[arn]) == 1:
            old = aws.secret_value(arn, "AWSPREVIOUS")
            _cache[arn].append(old.encode() if old else _cache[arn][0])
        return _cache[arn] if previous else _cache[arn][:1]


def reset() -> None:
    with _lock:
        _cache.clear()
        _refreshed.clear()


def _refresh() -> bool:
    """Forget the cached keys if they were fetched over :data:`REFRESH_AFTER` ago (a forged token
    must not make every request read Secrets Manager); whether it did."""
    now = time.monotonic()
    with _lock:
        if now - _refreshed.get("at", 0.0) < REFRESH_AFTER:
            return False
        _refreshed["at"] = now
        _cache.clear()
        return True


def _tag(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, b"careloop link v1" + body, hashlib.sha256).digest()[:_TAG]


def make(item_id: str, expires: datetime) -> str:
    body = ULID.from_str(item_id).bytes + int(expires.timestamp()).to_bytes(4, "big")
    return base64.urlsafe_b64encode(body + _tag(_keys()[0], body)).rstrip(b"=").decode()


def read(token: str) -> tuple[str, datetime]:
    """The id and expiry of a token this API issued; :class:`BadToken` otherwise. Expiry is
    the caller's to check (an expired link is a different answer from a forged one)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise BadToken from None
    if len(raw) != _LENGTH or len(token) > 64:
        raise BadToken
    body, tag = raw[:-_TAG], raw[-_TAG:]

    def verifies() -> bool:
        return any(hmac.compare_digest(_tag(key, body), tag) for key in _keys(previous=True))

    # made after a rotation this container has not seen? read the secret again, at most every 5 min
    if not verifies() and not (_refresh() and verifies()):
        raise BadToken
    return str(ULID.from_bytes(body[:16])), datetime.fromtimestamp(int.from_bytes(body[16:20], "big"), UTC)


def link_url(token: str) -> str:
    """The link a message carries: ``<base>/r/<token>``, on the deployment's short link domain
    (``LINK_BASE_URL``) or the API's own URL."""
    base = (os.environ.get("LINK_BASE_URL") or os.environ.get("API_URL") or "").rstrip("/")
    return f"{base}/r/{token}"
