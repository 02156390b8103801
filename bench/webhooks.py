"""Partner webhooks' figures (``make bench``):

- the acknowledgement through the local runtime (HTTP → API Gateway emulation → worker → moto):
  p50 / p99 of ``POST /webhooks/{partner}`` signed by the reference ``standardwebhooks`` library;
- DynamoDB calls per delivery: acknowledging it, a repeat of its webhook-id, and processing it;
- the processor's throughput: deliveries per second through ``process()`` with FHIR parsing and
  validation (``fhir.resources``), one potassium Observation each, in-process on moto.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

N = int(os.environ.get("N", "300"))
PROCESSED = int(os.environ.get("PROCESSED", "300"))
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777"


def _observation(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{n}",
        "meta": {"versionId": "1", "lastUpdated": "2026-11-23T13:55:00Z"},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}]},
        "subject": {"identifier": {"system": MRN_SYSTEM, "value": "MRN-0001"}},
        "issued": "2026-11-23T13:50:00Z",
        "valueQuantity": {
            "value": 4.2,
            "unit": "mmol/L",
            "system": "http://unitsofmeasure.org",
            "code": "mmol/L",
        },
        "referenceRange": [{"low": {"value": 3.5}, "high": {"value": 5.1}}],
    }


def _signed(secret: str, n: int, body: bytes) -> dict[str, str]:
    from standardwebhooks import Webhook

    from shared import clock

    now = clock.now()  # the receiver's clock: frozen in-process, the runtime's (real) through it
    msg_id = f"msg_bench_{n}"
    return {
        "content-type": "application/fhir+json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
    }


def through_runtime() -> dict[str, float]:
    import requests

    from local.runtime import Runtime

    rt = Runtime(port=0, quiet=True, seed=True)
    rt.start()
    try:
        for pool in rt.pools.values():
            pool.warm()
        admin = {"Authorization": f"Bearer {rt.tokens.issue('demo', ['admin'])}"}
        session = requests.Session()
        body = {
            "name": "Bench Lab",
            "kind": "lab",
            "resource_types": ["Observation"],
            "identifier_system": MRN_SYSTEM,
        }
        made = session.post(f"{rt.url}/partners", json=body, headers={**admin, "Idempotency-Key": "bench"})
        made.raise_for_status()
        partner = made.json()["id"]
        secret = session.post(f"{rt.url}/partners/{partner}/secrets", json={}, headers=admin)
        secret.raise_for_status()
        key = secret.json()["secret"]
        url = f"{rt.url}/webhooks/{partner}"
        latencies = []
        for n in range(N + 20):
            raw = json.dumps(_observation(n)).encode()
            t0 = time.perf_counter()
            answer = session.post(url, data=raw, headers=_signed(key, n, raw))
            if answer.status_code != 202:
                raise SystemExit(f"acknowledgement failed: {answer.status_code} {answer.text}")
            if n >= 20:  # the first ones warm the worker
                latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        rt.stop()
    qs = statistics.quantiles(latencies, n=100)
    return {"p50": qs[49], "p99": qs[98]}


def in_process() -> dict[str, Any]:
    from bench.stack import moto_stack
    from functions.webhooks import process as processor
    from local.context import LambdaContext
    from local.stack import function_environment
    from local.template import Template
    from shared.data import partners as repo
    from tests.support.ddb import count_calls
    from tests.support.intake import Api

    with moto_stack("PartnersFunction") as stack:
        for fn in ("PartnersFunction", "WebhookIngestFunction"):
            os.environ.update(function_environment(Template.default(), fn, stack.names))
        from functions.webhooks import app, ingest
        from local.apigw import http_event

        patient = Api(org="demo").register(query={"allow_duplicate": "true"})["json"]["id"]
        admin = {"org": "demo", "roles": ("admin",), "sub": "admin-1"}
        from tests.support.webhooks import Partners

        staff = Partners(None, org="demo", roles=("coordinator",), sub="c-1")
        adm = Partners(None, **admin)  # type: ignore[arg-type]
        body = {
            "name": "Lab",
            "kind": "lab",
            "resource_types": ["Observation"],
            "identifier_system": MRN_SYSTEM,
        }
        partner = adm.req("POST", "/partners", body, headers={"idempotency-key": "b"})["json"]["id"]
        key = adm.req("POST", "/partners/{partner_id}/secrets", {}, partner_id=partner)["json"]["secret"]
        ids = {"identifiers": [{"system": MRN_SYSTEM, "value": "MRN-0001"}]}
        staff.req("PUT", "/patients/{patient_id}/identifiers", ids, patient_id=patient)
        _ = app

        def post(n: int, msg: int | None = None) -> dict[str, Any]:
            raw = json.dumps(_observation(n)).encode()
            event = http_event(
                "POST",
                f"/webhooks/{partner}",
                route="/webhooks/{partner_id}",
                body=raw.decode(),
                headers=_signed(key, n if msg is None else msg, raw),
                path_parameters={"partner_id": partner},
            )
            return dict(ingest.handler(event, LambdaContext("WebhookIngestFunction")))

        post(-1)  # warm: the secret's version is cached from here on
        with count_calls() as ack:
            post(0)
        with count_calls() as repeat:
            post(0)
        for n in range(1, PROCESSED + 1):
            post(n)
        deliveries = [d.SK for d in repo.DeliveryItem.query(f"ORG#demo#PARTNER#{partner}#DELIVERIES")]
        with count_calls() as one:
            processor.process("demo", partner, deliveries[1])
        started = time.perf_counter()
        for delivery_id in deliveries[2:]:
            processor.process("demo", partner, delivery_id)
        elapsed = time.perf_counter() - started
        done = len(deliveries) - 2

    def line(label: str, calls: Any) -> str:
        detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
        return f"  {label:44}{sum(calls.values()):>3} calls: {detail}"

    print("DynamoDB calls per delivery")
    print(line("acknowledge (secret version cached)", ack))
    print(line("a repeat of its webhook-id", repeat))
    print(line("process one Observation (critical values, patient)", one))
    print(
        f"processor: {done} deliveries in {elapsed:.2f} s = {done / elapsed:.0f} deliveries/s "
        "(one Observation each, parsed and validated with fhir.resources, in-process on moto)"
    )
    from bench.results import step

    return {
        "acknowledge": step(ack),
        "a repeat of its webhook-id": step(repeat),
        "process one Observation": step(one, deliveries_per_s=round(done / elapsed, 1)),
    }


def main() -> None:
    from bench.results import record

    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    steps = in_process()
    figures = through_runtime()
    p50, p99 = figures["p50"], figures["p99"]
    print(f"acknowledgement through the runtime, {N} deliveries: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    steps["acknowledge through the runtime"] = {
        "duration_ms_p50": round(p50, 1),
        "duration_ms_p99": round(p99, 1),
    }
    record("webhooks", steps)


if __name__ == "__main__":
    main()
