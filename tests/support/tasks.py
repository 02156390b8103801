"""A client for the escalations function's HTTP handler, and what task tests share: a New York
clinic (business hours Monday to Friday 08:00-17:00) whose events the in-process dispatcher
(tests/support/cloud.py) turns into tasks."""

from __future__ import annotations

from typing import Any

from tests.support.intake import NEGATIVE_SCREEN, Api


class Tasks(Api):
    function = "EscalationsFunction"

    @staticmethod
    def target(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from functions.escalations.app import handler

        return handler(event, context)  # type: ignore[no-any-return]

    def task(self, task_id: str) -> dict[str, Any]:
        out = self.req("GET", "/tasks/{task_id}", task_id=task_id)
        assert out["statusCode"] == 200, out["body"]
        return dict(out["json"])

    def act(self, task_id: str, action: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        return self.req("POST", "/tasks/{task_id}/{action}", body, task_id=task_id, action=action, **kwargs)

    def worklist(self, **query: str) -> dict[str, Any]:
        out = self.req("GET", "/worklist", query=query or None)
        assert out["statusCode"] == 200, out["body"]
        return dict(out["json"])

    def patient_tasks(self, patient_id: str) -> list[dict[str, Any]]:
        out = self.req("GET", "/patients/{patient_id}/tasks", patient_id=patient_id)
        assert out["statusCode"] == 200, out["body"]
        return list(out["json"]["items"])


def coordinator(org: str = "acme", sub: str = "coord-1") -> Tasks:
    return Tasks(org=org, roles=("coordinator",), sub=sub)


def nurse(org: str = "acme", sub: str = "nurse-1") -> Tasks:
    return Tasks(org=org, roles=("nurse",), sub=sub)


def physician(org: str = "acme", sub: str = "doc-1") -> Tasks:
    return Tasks(org=org, roles=("physician",), sub=sub)


def admin(org: str = "acme", sub: str = "admin-1") -> Tasks:
    return Tasks(org=org, roles=("admin",), sub=sub)


SAFETY_POSITIVE: dict[str, Any] = {
    **NEGATIVE_SCREEN,
    "interpersonal_safety": {
        "physically_hurt": "sometimes",
        "insulted": "fairly_often",
        "threatened": "rarely",
        "screamed_at": "sometimes",
    },
}
