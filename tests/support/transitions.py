"""A client for the transitions function's HTTP handler, and what transition tests share."""

from __future__ import annotations

from typing import Any

from tests.support.intake import Api


class Transitions(Api):
    function = "TransitionsFunction"

    @staticmethod
    def target(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from functions.transitions.app import handler

        return handler(event, context)  # type: ignore[no-any-return]

    def open(self, patient_id: str, discharged_at: str, **extra: Any) -> dict[str, Any]:
        out = self.req(
            "POST", "/transitions", {"patient_id": patient_id, "discharged_at": discharged_at, **extra}
        )
        assert out["statusCode"] == 201, out["body"]
        return dict(out["json"])

    def get(self, transition_id: str) -> dict[str, Any]:
        out = self.req("GET", "/transitions/{transition_id}", transition_id=transition_id)
        assert out["statusCode"] == 200, out["body"]
        return dict(out["json"])

    def do(self, transition_id: str, what: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        """``POST /transitions/{id}/<what>`` (contacts, visit, medication-reconciliation, close)."""
        return self.req(
            "POST", f"/transitions/{{transition_id}}/{what}", body, transition_id=transition_id, **kwargs
        )

    def listing(self, **query: str) -> dict[str, Any]:
        out = self.req("GET", "/transitions", query=query or None)
        assert out["statusCode"] == 200, out["body"]
        return dict(out["json"])


def coordinator(org: str = "acme", sub: str = "coord-1") -> Transitions:
    return Transitions(org=org, roles=("coordinator",), sub=sub)


def nurse(org: str = "acme", sub: str = "nurse-1") -> Transitions:
    return Transitions(org=org, roles=("nurse",), sub=sub)


def admin(org: str = "acme", sub: str = "admin-1") -> Transitions:
    return Transitions(org=org, roles=("admin",), sub=sub)
