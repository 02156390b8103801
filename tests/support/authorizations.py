"""A client for the authorizations function's HTTP handler, and what authorization tests share."""

from __future__ import annotations

from typing import Any

from tests.support.intake import Api

MRI = {"system": "http://www.ama-assn.org/go/cpt", "code": "70551"}  # MRI brain without contrast
PHYSICAL_THERAPY = {"system": "http://www.ama-assn.org/go/cpt", "code": "97110"}
HEADACHE = {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R51.9"}


class Auths(Api):
    function = "AuthorizationsFunction"

    @staticmethod
    def target(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from functions.authorizations.app import handler

        return handler(event, context)  # type: ignore[no-any-return]

    def ok(self, method: str, route: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        out = self.req(method, route, body, **kw)
        assert out["statusCode"] == status, out["body"]
        return out["json"]

    def request(self, patient_id: str, **body: Any) -> dict[str, Any]:
        return self.req("POST", "/patients/{patient_id}/authorizations", body, patient_id=patient_id)

    def draft(self, patient_id: str, coverage_id: str, provider_id: str, **extra: Any) -> dict[str, Any]:
        body = {
            "coverage_id": coverage_id,
            "service": MRI,
            "ordering_provider_id": provider_id,
            "diagnoses": [HEADACHE],
            "service_date": "2026-12-15",
            **extra,
        }
        out = self.request(patient_id, **body)
        assert out["statusCode"] == 201, out["body"]
        return dict(out["json"])

    def get(self, authorization_id: str) -> dict[str, Any]:
        return dict(self.ok("GET", "/authorizations/{authorization_id}", authorization_id=authorization_id))

    def move(self, auth: dict[str, Any], action: str, **details: Any) -> dict[str, Any]:
        """``POST /authorizations/{id}/actions`` on the version ``auth`` is."""
        return self.req(
            "POST",
            "/authorizations/{authorization_id}/actions",
            {"action": action, **details},
            authorization_id=auth["id"],
            headers={"if-match": f'"{auth["version"]}"'},
        )

    def moved(self, auth: dict[str, Any], action: str, **details: Any) -> dict[str, Any]:
        out = self.move(auth, action, **details)
        assert out["statusCode"] == 200, out["body"]
        return dict(out["json"])

    def listing(self, **query: str) -> dict[str, Any]:
        return dict(self.ok("GET", "/authorizations", query=query or None))


def coordinator(org: str = "acme", sub: str = "coord-1") -> Auths:
    return Auths(org=org, roles=("coordinator",), sub=sub)


def nurse(org: str = "acme", sub: str = "nurse-1") -> Auths:
    return Auths(org=org, roles=("nurse",), sub=sub)


def admin(org: str = "acme", sub: str = "admin-1") -> Auths:
    return Auths(org=org, roles=("admin",), sub=sub)


def patient(patient_id: str, org: str = "acme") -> Auths:
    return Auths(org=org, roles=("patient",), sub=f"patient-{patient_id}", patient_id=patient_id)


def add_coverage(patient_id: str, payer: str = "Blue Plan", start: str = "2026-01-01", **extra: Any) -> str:
    """Coverage on file for the patient (intake's route); its id."""
    body = {"payer": payer, "member_id": "B2", "effective_start": start, **extra}
    out = Api(org="acme").on("POST", patient_id, "/coverage", body=body)
    assert out["statusCode"] == 201, out["body"]
    return str(out["json"]["id"])
