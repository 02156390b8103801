"""Local stand-in for Cognito + API Gateway's JWT authorizer.

``issue`` signs tokens carrying the same claims Cognito would (``sub``, ``custom:org``,
``cognito:groups``, ``custom:patient_id``); ``verify`` checks what the authorizer checks (signature,
issuer, audience, expiry) and returns the claims as API Gateway hands them to a function: every
value a string, lists flattened to ``"[a b]"``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import jwt

from shared.http.auth import CLAIM_ORG, CLAIM_PATIENT, CLAIM_ROLES, Role

ISSUER = "https://careloop.local/_local"
AUDIENCE = "careloop-local"
ALGORITHM = "HS256"
LIFETIME_SECONDS = 12 * 3600


class InvalidToken(Exception):
    pass


class TokenIssuer:
    def __init__(self, key: str | None = None) -> None:
        self.key = key or secrets.token_urlsafe(32)

    def issue(
        self,
        org: str,
        roles: list[str],
        sub: str | None = None,
        patient_id: str | None = None,
        now: float | None = None,
        lifetime: int = LIFETIME_SECONDS,
    ) -> str:
        unknown = set(roles) - {r.value for r in Role}
        if unknown:
            raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "sub": sub or str(uuid.uuid4()),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": issued,
            "exp": issued + lifetime,
            "token_use": "id",
            CLAIM_ORG: org,
            CLAIM_ROLES: list(roles),
        }
        if patient_id:
            claims[CLAIM_PATIENT] = patient_id
        return jwt.encode(claims, self.key, algorithm=ALGORITHM)

    def verify(self, authorization: str | None) -> dict[str, str]:
        if not authorization:
            raise InvalidToken("missing")
        token = authorization.removeprefix("Bearer ").removeprefix("bearer ").strip()
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        return {k: _as_api_gateway_value(v) for k, v in claims.items()}


def _as_api_gateway_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return str(value)
