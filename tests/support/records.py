"""A client for the records function's HTTP handler, and what records tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.intake import Api

WEIGHT = "29463-7"
BLOOD_PRESSURE = "85354-9"


class Records(Api):
    function = "RecordsFunction"

    @staticmethod
    def target(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from functions.records.app import handler

        return handler(event, context)  # type: ignore[no-any-return]

    def ok(self, method: str, route: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        out = self.req(method, route, body, **kw)
        assert out["statusCode"] == status, out["body"]
        return out["json"]

    def note(self, patient_id: str, text: str = "Called about the scale.", **kw: Any) -> dict[str, Any]:
        body = {"type": "phone", "text": text}
        return dict(self.ok("POST", "/patients/{patient_id}/notes", body, 201, patient_id=patient_id, **kw))

    def message(self, patient_id: str, text: str, **kw: Any) -> dict[str, Any]:
        return self.req(
            "POST", "/patients/{patient_id}/messages", {"text": text}, patient_id=patient_id, **kw
        )

    def weigh(
        self, patient_id: str, value: float, unit: str = "[lb_av]", at: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"code": WEIGHT, "value": value, "unit": unit}
        if at:
            body["effective_at"] = at
        return self.req("POST", "/patients/{patient_id}/observations", body, patient_id=patient_id)

    def timeline(self, patient_id: str, **query: str) -> dict[str, Any]:
        return dict(
            self.ok("GET", "/patients/{patient_id}/timeline", patient_id=patient_id, query=query or None)
        )


def coordinator(org: str = "acme", sub: str = "coord-1") -> Records:
    return Records(org=org, roles=("coordinator",), sub=sub)


def nurse(org: str = "acme", sub: str = "nurse-1") -> Records:
    return Records(org=org, roles=("nurse",), sub=sub)


def physician(org: str = "acme", sub: str = "doc-1") -> Records:
    return Records(org=org, roles=("physician",), sub=sub)


def admin(org: str = "acme", sub: str = "admin-1") -> Records:
    return Records(org=org, roles=("admin",), sub=sub)


def patient(patient_id: str, org: str = "acme") -> Records:
    return Records(org=org, roles=("patient",), sub=f"patient-{patient_id}", patient_id=patient_id)


@pytest.fixture
def attachments_bucket(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The attachments bucket the template gives RecordsFunction, in this test's moto."""
    from local.stack import function_environment
    from local.template import Template

    bucket = function_environment(Template.default(), "RecordsFunction", aws["stack"].names)[
        "ATTACHMENTS_BUCKET"
    ]
    monkeypatch.setenv("ATTACHMENTS_BUCKET", bucket)
    yield bucket
