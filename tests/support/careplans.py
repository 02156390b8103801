"""A client for the care-plans function's HTTP handler, and what care-plan tests share."""

from __future__ import annotations

from typing import Any

from tests.support.intake import Api


class CarePlans(Api):
    function = "CarePlansFunction"

    @staticmethod
    def target(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from functions.careplans.app import handler

        return handler(event, context)  # type: ignore[no-any-return]

    def create(self, patient_id: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        out = self.req("POST", "/patients/{patient_id}/care-plans", body, patient_id=patient_id, **kwargs)
        assert out["statusCode"] == 201, out["body"]
        return dict(out["json"])

    def get(self, plan_id: str) -> dict[str, Any]:
        out = self.req("GET", "/care-plans/{care_plan_id}", care_plan_id=plan_id)
        assert out["statusCode"] == 200, out["body"]
        return dict(out["json"])

    def plans(self, patient_id: str) -> list[dict[str, Any]]:
        out = self.req("GET", "/patients/{patient_id}/care-plans", patient_id=patient_id)
        assert out["statusCode"] == 200, out["body"]
        return list(out["json"]["items"])

    def edit(
        self, plan_id: str, what: str, body: Any, version: int, method: str = "PATCH", **kw: Any
    ) -> dict[str, Any]:
        """``PATCH /care-plans/{id}<what>`` (or POST) with If-Match."""
        return self.req(
            method,
            f"/care-plans/{{care_plan_id}}{what}",
            body,
            care_plan_id=plan_id,
            headers={"if-match": f'"{version}"'},
            **kw,
        )

    def assign(self, patient_id: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self.req("POST", "/patients/{patient_id}/education", body, patient_id=patient_id, **kwargs)

    def education(self, patient_id: str) -> list[dict[str, Any]]:
        out = self.req("GET", "/patients/{patient_id}/education", patient_id=patient_id)
        assert out["statusCode"] == 200, out["body"]
        return list(out["json"]["items"])

    def teach_back(
        self, patient_id: str, assignment_id: str, body: dict[str, Any], **kw: Any
    ) -> dict[str, Any]:
        return self.req(
            "POST",
            "/patients/{patient_id}/education/{assignment_id}/teach-back",
            body,
            patient_id=patient_id,
            assignment_id=assignment_id,
            **kw,
        )


def coordinator(org: str = "acme", sub: str = "coord-1") -> CarePlans:
    return CarePlans(org=org, roles=("coordinator",), sub=sub)


def nurse(org: str = "acme", sub: str = "nurse-1") -> CarePlans:
    return CarePlans(org=org, roles=("nurse",), sub=sub)


def admin(org: str = "acme", sub: str = "admin-1") -> CarePlans:
    return CarePlans(org=org, roles=("admin",), sub=sub)


def patient(patient_id: str, org: str = "acme") -> CarePlans:
    return CarePlans(org=org, roles=("patient",), sub=f"patient-{patient_id}", patient_id=patient_id)
