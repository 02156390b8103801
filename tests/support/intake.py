"""Sample patients and a small client for the intake function, for integration tests."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from functions.intake.app import handler
from tests.support.events import LambdaContext, claims, http_event

JANE: dict[str, Any] = {
    "name": {"given": ["Jane"], "family": "Roe"},
    "birth_date": "1961-04-12",
    "sex": "female",
    "contact": {
        "phone": "+15555550123",
        "email": "jane.roe@example.com",
        "address": {"line": ["1 Main St"], "city": "Springfield", "state": "IL", "postal_code": "62701"},
    },
    "preferred_language": "en",
    "time_zone": "America/Chicago",
    "preferred_channels": ["sms", "email"],
    "consent": {"sms": {"granted": True, "at": "2026-11-20T15:00:00Z", "method": "verbal"}},
}
PHI = ["Jane", "Roe", "1961-04-12", "+15555550123", "jane.roe@example.com", "1 Main St"]

NEGATIVE_SCREEN: dict[str, Any] = {
    "living_situation": {"situation": "steady"},
    "food": {"worried_would_run_out": "never", "ran_out": "never"},
    "transportation": "no",
    "utilities": "no",
    "interpersonal_safety": {
        "physically_hurt": "never",
        "insulted": "never",
        "threatened": "never",
        "screamed_at": "never",
    },
}


GRANTED = {"granted": True, "at": "2026-11-20T15:00:00Z", "method": "verbal"}


def patient_record(**changes: Any) -> Any:
    """JANE as stored (a ``PatientOut``), reachable by SMS and e-mail, with ``changes`` applied."""
    from shared.domain.patients import PatientOut

    body: dict[str, Any] = {
        **copy.deepcopy(JANE),
        "id": "01JD0000000000000000000000",
        "version": 1,
        "status": "active",
        "contact": {"phone": JANE["contact"]["phone"], "email": JANE["contact"]["email"]},
        "consent": {"sms": GRANTED, "email": GRANTED},
        "quiet_hours": {"start": "21:00", "end": "09:00"},
        "created_at": "2026-11-20T15:00:00Z",
        "updated_at": "2026-11-20T15:00:00Z",
    }
    body.update(changes)
    return PatientOut.model_validate(body)


def patient(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(JANE)
    body.update(changes)
    return body


class Api:
    """Calls a function's HTTP handler (intake by default) as API Gateway would, as a given caller."""

    function = "IntakeFunction"

    @staticmethod
    def target(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return handler(event, context)  # type: ignore[no-any-return]

    def __init__(
        self,
        org: str = "acme",
        roles: tuple[str, ...] = ("coordinator",),
        sub: str = "coord-1",
        patient_id: str | None = None,
    ) -> None:
        self.claims = claims(org=org, roles=roles, sub=sub, patient_id=patient_id)

    def call(
        self,
        method: str,
        path: str,
        route: str | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        path_parameters: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        event = http_event(
            method,
            path,
            route=route,
            claims=self.claims,
            body=body,
            query=query,
            headers=headers,
            path_parameters=path_parameters,
        )
        response = self.target(event, LambdaContext(self.function))
        response["json"] = json.loads(response["body"]) if response.get("body") else None
        return response

    def req(self, method: str, route: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        """``route`` with its parameters filled in: ``req("POST", "/appointments/{appointment_id}/cancel",
        appointment_id=...)``; other keyword arguments (query, headers) go to :meth:`call`."""
        names = re.findall(r"{(\w+)}", route)
        params = {n: kwargs.pop(n) for n in names}
        path = route.format(**params)
        return self.call(method, path, route=route, body=body, path_parameters=params or None, **kwargs)

    def register(self, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        return self.call("POST", "/patients", body=body if body is not None else patient(), **kwargs)

    def on(self, method: str, patient_id: str, suffix: str = "", **kwargs: Any) -> dict[str, Any]:
        return self.call(
            method,
            f"/patients/{patient_id}{suffix}",
            route=f"/patients/{{patient_id}}{suffix}",
            path_parameters={"patient_id": patient_id},
            **kwargs,
        )


def calls_per_route() -> dict[str, tuple[int, Counter[str]]]:
    """Every intake route once, on one patient, with the DynamoDB calls each made (moto must be up)."""
    from tests.support.ddb import count_calls

    api, admin = Api(), Api(roles=("admin",), sub="admin-1")
    out: dict[str, tuple[int, Counter[str]]] = {}

    def measure(route: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with count_calls() as calls:
            response = call()
        out[route] = (int(response["statusCode"]), calls)
        return response

    pid = measure("POST /patients", lambda: api.register())["json"]["id"]
    measure("GET /patients/{id}", lambda: api.on("GET", pid))
    measure(
        "PATCH /patients/{id}",
        lambda: api.on("PATCH", pid, body={"preferred_language": "es"}, headers={"If-Match": '"1"'}),
    )
    measure("GET /patients?name=", lambda: api.call("GET", "/patients", query={"name": "roe"}))
    measure("GET /patients?phone=", lambda: api.call("GET", "/patients", query={"phone": "+15555550123"}))
    measure(
        "POST /patients/{id}/assessments",
        lambda: api.on("POST", pid, "/assessments", body={"screening": NEGATIVE_SCREEN}),
    )
    measure("GET /patients/{id}/assessments", lambda: api.on("GET", pid, "/assessments"))
    measure(
        "POST /patients/{id}/coverage",
        lambda: api.on(
            "POST",
            pid,
            "/coverage",
            body={"payer": "Blue Plan", "member_id": "B2", "effective_start": "2026-01-01"},
        ),
    )
    measure("GET /patients/{id}/coverage", lambda: api.on("GET", pid, "/coverage"))
    measure(
        "PUT /patients/{id}/care-team",
        lambda: api.on("PUT", pid, "/care-team", body={"coordinator_id": "coord-1"}),
    )
    measure("GET /panel", lambda: api.call("GET", "/panel"))
    measure("GET /patients/{id}/audit", lambda: admin.on("GET", pid, "/audit"))
    return out
