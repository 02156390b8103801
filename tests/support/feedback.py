"""Clients for the feedback function's HTTP handler and the survey links, and what feedback tests share."""

from __future__ import annotations

import re
from typing import Any

from tests.support.intake import Api

SURVEY: dict[str, Any] = {
    "title": {"en": "Your visit", "es": "Su visita"},
    "trigger": "visit-fulfilled",
    "delay_hours": 2,
    "expires_after_days": 14,
    "questions": [
        {
            "id": "recommend",
            "type": "scale",
            "nps": True,
            "text": {"en": "How likely are you to recommend us?", "es": "¿Nos recomendaría?"},
        },
        {
            "id": "on-time",
            "type": "choice",
            "required": False,
            "text": {"en": "Were you seen on time?", "es": "¿Le atendieron a tiempo?"},
            "choices": [
                {"code": "yes", "label": {"en": "Yes", "es": "Sí"}},
                {"code": "no", "label": {"en": "No", "es": "No"}},
            ],
            "flag_choices": ["no"],
        },
        {
            "id": "comments",
            "type": "text",
            "required": False,
            "text": {"en": "Anything else?", "es": "¿Algo más?"},
        },
    ],
}


class Feedback(Api):
    function = "FeedbackFunction"

    @staticmethod
    def target(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from functions.feedback.app import handler

        return handler(event, context)  # type: ignore[no-any-return]

    def ok(self, method: str, route: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        out = self.req(method, route, body, **kw)
        assert out["statusCode"] == status, out["body"]
        return out["json"]

    def define(self, code: str = "after-visit", **changes: Any) -> dict[str, Any]:
        """Create the survey ``code`` (or replace it with the ETag read)."""
        read = self.req("GET", "/surveys/{code}", code=code)
        headers = {"if-match": read["headers"]["ETag"]} if read["statusCode"] == 200 else None
        return dict(self.ok("PUT", "/surveys/{code}", {**SURVEY, **changes}, code=code, headers=headers))

    def pending(self, patient_id: str) -> list[dict[str, Any]]:
        return list(self.ok("GET", "/patients/{patient_id}/surveys", patient_id=patient_id)["items"])

    def answer(self, patient_id: str, request_id: str, answers: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return self.req(
            "POST",
            "/patients/{patient_id}/surveys/{request_id}/response",
            {"answers": answers},
            patient_id=patient_id,
            request_id=request_id,
            **kw,
        )


def admin(org: str = "acme", sub: str = "admin-1") -> Feedback:
    return Feedback(org=org, roles=("admin",), sub=sub)


def coordinator(org: str = "acme", sub: str = "coord-1") -> Feedback:
    return Feedback(org=org, roles=("coordinator",), sub=sub)


def patient(patient_id: str, org: str = "acme") -> Feedback:
    return Feedback(org=org, roles=("patient",), sub=f"patient-{patient_id}", patient_id=patient_id)


def token_in(text: str) -> str:
    match = re.search(r"/r/([A-Za-z0-9_-]+)", text)
    assert match, "the message carries the survey's link"
    return match.group(1)


def link(cloud: Any, method: str, token: str, body: Any = None) -> dict[str, Any]:
    """``/r/{token}`` as API Gateway calls it (no JWT), through the links function with its template
    environment."""
    import json

    from local.apigw import http_event

    event = http_event(method, f"/r/{token}", route="/r/{token}", body=body, path_parameters={"token": token})
    out = cloud.pools["ReminderLinksFunction"].invoke(event, 0).value
    out["json"] = json.loads(out["body"]) if out.get("body") else None
    return dict(out)
