"""What webhook tests share: clients for the partners and ingest functions that run with the
template's environment (through the in-process dispatcher's pools: their queue and secret names), a
partner set up with a secret, Standard Webhooks signing by the reference library (the partner's side),
and FHIR bodies a hospital or lab would send."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from local.apigw import http_event
from shared import clock, ids
from tests.support.cloud import Cloud
from tests.support.intake import Api

MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777"
DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
LOINC = "http://loinc.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


class Partners(Api):
    """The partners function (HTTP) as a given caller, run in the cloud's pool."""

    function = "PartnersFunction"
    cloud: Cloud | None

    def __init__(self, c: Cloud | None, **kwargs: Any) -> None:
        """``c``: run in the cloud's pool (with the template's environment); ``None``: call the handler
        directly (the test has set the function's environment, see :func:`partners_environment`)."""
        super().__init__(**kwargs)
        self.cloud = c

    def target(self, event: dict[str, Any], context: Any) -> dict[str, Any]:  # type: ignore[override]
        if self.cloud is None:
            from functions.webhooks.app import handler

            return dict(handler(event, context))
        result = self.cloud.pools[self.function].invoke(event, 0)
        assert result.ok, self.cloud.pools[self.function].failures[-1:]
        return dict(result.value)


def partners_environment(stack: dict[str, Any], monkeypatch: Any) -> None:
    """The partners function's environment from the template, for tests that call it directly."""
    from local.stack import function_environment
    from local.template import Template

    env = function_environment(Template.default(), "PartnersFunction", stack["stack"].names)
    for name in ("PARTNER_SECRET_PREFIX", "WEBHOOK_QUEUE_URL"):
        monkeypatch.setenv(name, env[name])


def admin(c: Cloud | None, org: str = "acme") -> Partners:
    return Partners(c, org=org, roles=("admin",), sub="admin-1")


def staff(c: Cloud | None, role: str = "coordinator", org: str = "acme", sub: str = "coord-1") -> Partners:
    return Partners(c, org=org, roles=(role,), sub=sub)


def deliver(
    c: Cloud,
    partner_id: str,
    body: bytes | dict[str, Any],
    secret: str | None,
    *,
    msg_id: str | None = None,
    at: datetime | None = None,
    headers: dict[str, str] | None = None,
    threaded: bool = False,
) -> dict[str, Any]:
    """POST /webhooks/{partner_id} as the partner: signed by the reference library with ``secret``.
    ``threaded``: call the handler directly (the pool swaps ``os.environ`` per call, which concurrent
    threads would race on): the caller has set the function's environment for the whole test."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    msg_id = msg_id or f"msg_{ids.new_id()}"
    when = at or clock.now()
    signed = {}
    if secret is not None:
        signed = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, raw.decode()),
        }
    event = http_event(
        "POST",
        f"/webhooks/{partner_id}",
        route="/webhooks/{partner_id}",
        body=raw.decode(),
        headers={"content-type": "application/fhir+json", **signed, **(headers or {})},
        path_parameters={"partner_id": partner_id},
    )
    if threaded:
        from functions.webhooks.ingest import handler
        from local.context import LambdaContext

        out = dict(handler(event, LambdaContext("WebhookIngestFunction")))
    else:
        result = c.pools["WebhookIngestFunction"].invoke(event, 0)
        assert result.ok, c.pools["WebhookIngestFunction"].failures[-1:]
        out = dict(result.value)
    out["json"] = json.loads(out["body"]) if out.get("body") else None
    return out


@dataclass
class Partner:
    id: str
    secret: str
    admin: Partners
    patients: dict[str, str] = field(default_factory=dict)  # MRN -> patient id


def add_partner(
    c: Cloud,
    org: str = "acme",
    kind: str = "lab",
    resource_types: tuple[str, ...] = ("Observation", "DiagnosticReport", "Encounter", "Appointment"),
) -> Partner:
    adm = admin(c, org)
    made = adm.req(
        "POST",
        "/partners",
        {
            "name": "Quest Lab",
            "kind": kind,
            "resource_types": list(resource_types),
            "identifier_system": MRN_SYSTEM,
        },
        headers={"idempotency-key": ids.new_id()},
    )
    assert made["statusCode"] == 201, made["body"]
    partner_id = made["json"]["id"]
    secret = adm.req("POST", "/partners/{partner_id}/secrets", {"use": "inbound"}, partner_id=partner_id)
    assert secret["statusCode"] == 201, secret["body"]
    return Partner(partner_id, secret["json"]["secret"], adm)


def give_mrn(c: Cloud, patient_id: str, mrn: str, org: str = "acme") -> None:
    out = staff(c, org=org).req(
        "PUT",
        "/patients/{patient_id}/identifiers",
        {"identifiers": [{"system": MRN_SYSTEM, "value": mrn}]},
        patient_id=patient_id,
    )
    assert out["statusCode"] == 200, out["body"]


def observation(
    mrn: str,
    *,
    source_id: str = "obs-1",
    code: str = "2823-3",
    value: float = 6.8,
    unit: str = "mmol/L",
    interpretation: str | None = "HH",
    status: str = "final",
    version: str = "1",
    last_updated: str = "2026-12-03T16:55:00Z",
) -> dict[str, Any]:
    """A lab result: potassium 6.8 mmol/L (critical) by default."""
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "id": source_id,
        "meta": {"versionId": version, "lastUpdated": last_updated},
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": "Potassium"}]},
        "subject": {"identifier": {"system": MRN_SYSTEM, "value": mrn}},
        "issued": "2026-12-03T16:50:00Z",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        "referenceRange": [{"low": {"value": 3.5, "unit": unit}, "high": {"value": 5.1, "unit": unit}}],
    }
    if interpretation:
        body["interpretation"] = [{"coding": [{"system": V3, "code": interpretation}]}]
    return body


def discharge(
    mrn: str,
    *,
    source_id: str = "enc-1",
    end: str = "2026-12-03T15:00:00Z",
    start: str = "2026-11-29T10:00:00Z",
    disposition: str = "home",
    complexity: str | None = None,
) -> dict[str, Any]:
    """A hospital discharge (FHIR Encounter, finished, inpatient) in a transaction bundle; with the
    TCM complexity the hospital judged, as our extension."""
    encounter = {
        "resourceType": "Encounter",
        "id": source_id,
        "meta": {"versionId": "2", "lastUpdated": end},
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"identifier": {"system": MRN_SYSTEM, "value": mrn}},
        "period": {"start": start, "end": end},
        "hospitalization": {
            "dischargeDisposition": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/discharge-disposition",
                        "code": disposition,
                    }
                ]
            }
        },
        "location": [{"location": {"display": "Ward 5"}}],
    }
    if complexity is not None:
        from shared.fhir.systems import TCM_COMPLEXITY_URL

        encounter["extension"] = [{"url": TCM_COMPLEXITY_URL, "valueCode": complexity}]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{source_id}",
                "resource": encounter,
                "request": {"method": "PUT", "url": f"Encounter/{source_id}"},
            }
        ],
    }


class Receiver:
    """A partner's endpoint: answers each request with the next scripted status (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.got: list[tuple[datetime, dict[str, str], bytes]] = []
        self.clock: Any = None  # what stamps each request (the test's clock); wall time without one
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                at = receiver.clock.now() if receiver.clock else datetime.now(UTC)
                receiver.got.append((at, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fhir-hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
