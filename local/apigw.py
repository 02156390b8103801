"""API Gateway HTTP API (payload v2) events and JWT claims, built by hand: for tests, the seed and
benchmarks. (The runtime builds its events from real HTTP requests, in local/http.py.)"""

from __future__ import annotations

import json
import uuid
from typing import Any

from shared.http.auth import CLAIM_ORG, CLAIM_PATIENT, CLAIM_ROLES


def claims(
    org: str = "acme",
    roles: tuple[str, ...] = ("coordinator",),
    sub: str | None = None,
    patient_id: str | None = None,
) -> dict[str, str]:
    """JWT claims as API Gateway's JWT authorizer passes them (lists flattened to ``"[a b]"``)."""
    out = {
        "sub": sub or str(uuid.uuid4()),
        CLAIM_ORG: org,
        CLAIM_ROLES: "[" + " ".join(roles) + "]",
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local",
        "token_use": "id",
    }
    if patient_id:
        out[CLAIM_PATIENT] = patient_id
    return out


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    claims: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event. ``body`` that is not a str is sent as JSON."""
    hdrs = {"host": "api.careloop.test", "user-agent": "pytest"}
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
        hdrs["content-type"] = "application/json"
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": "api.careloop.test",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": "pytest",
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": f"{method} {route or path}",
        "stage": "$default",
        "time": "22/Nov/2026:06:00:00 +0000",
        "timeEpoch": 1795327200000,
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": hdrs,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"] = body
    return event
