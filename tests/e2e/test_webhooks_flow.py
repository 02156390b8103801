"""Partner webhooks through the local runtime, over HTTP: a lab's critical potassium becomes a stat
physician task without the clock moving, and an EHR subscribed to our bookings gets a signed FHIR
Appointment on its third try when its endpoint answers 500 twice, at the times the Standard Webhooks
schedule sets (on Scheduler's whole minutes). The runtime runs with ``--allow-loopback-webhooks`` so
the receiver can live on this machine; the deployed template pins that off."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from standardwebhooks import Webhook

from shared.timers import at_expression
from tests.support.intake import patient
from tests.support.reminders import NY_PROVIDER
from tests.support.webhooks import MRN_SYSTEM, observation

from .conftest import Client, eventually

pytestmark = pytest.mark.e2e
ORG = "e2e-hooks"


def minute_after(at: datetime) -> datetime:
    return datetime.fromisoformat(at_expression(at)[3:-1] + "+00:00")


class Receiver:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.got = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def now(client: Client) -> datetime:
    return datetime.fromisoformat(client.get("/_local/clock").json()["now"].replace("Z", "+00:00"))


def signed(secret: str, body: bytes, at: datetime, msg_id: str) -> dict[str, str]:
    return {
        "content-type": "application/fhir+json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def attempted(client: Client, admin: str, partner: str) -> tuple[datetime, datetime]:
    """The last attempt's time and the next one's due time, as the delivery log says."""
    [delivery] = client.get(
        f"/partners/{partner}/deliveries", admin, params={"direction": "outbound"}
    ).json()["items"]
    at = datetime.fromisoformat(delivery["attempts"][-1]["at"].replace("Z", "+00:00"))
    due = delivery["next_attempt_at"]
    return at, datetime.fromisoformat(due.replace("Z", "+00:00")) if due else at


def test_a_critical_result_and_a_retried_outbound_appointment(careloop: Client) -> None:
    client = careloop
    admin = client.token(org=ORG, roles=("admin",), sub="admin-hooks")
    staff = client.token(org=ORG, roles=("coordinator",), sub="coord-hooks")
    doctor = client.token(org=ORG, roles=("physician",), sub="doc-hooks")
    assert client.request("PUT", "/organization/calendar", admin, json={"time_zone": "America/New_York"}).ok
    body = {"display": "Follow-up", "duration_minutes": 30}
    assert client.request("PUT", "/appointment-types/follow-up", admin, json=body).ok
    provider = client.post("/providers", admin, json=NY_PROVIDER).json()["id"]
    record = patient(name={"given": ["Hooked"], "family": "Patient"}, time_zone="America/New_York")
    ana = client.post("/patients", staff, json=record, params={"allow_duplicate": "true"})
    assert ana.status_code == 201, ana.text
    patient_id = ana.json()["id"]
    ids = {"identifiers": [{"system": MRN_SYSTEM, "value": "MRN-E2E"}]}
    assert client.request("PUT", f"/patients/{patient_id}/identifiers", staff, json=ids).ok
    partner_body = {
        "name": "County Hospital", "kind": "hospital", "identifier_system": MRN_SYSTEM,
        "resource_types": ["Observation", "Encounter", "Appointment"],
    }  # fmt: skip
    partner = client.post("/partners", admin, json=partner_body, headers={"Idempotency-Key": "e2e-p"}).json()[
        "id"
    ]
    inbound = client.post(f"/partners/{partner}/secrets", admin, json={}).json()["secret"]
    outbound = client.post(f"/partners/{partner}/secrets", admin, json={"use": "outbound"}).json()["secret"]

    # a critical potassium, signed by the lab with the reference library, at the runtime's now
    before = now(client)
    raw = json.dumps(observation("MRN-E2E")).encode()
    ack = client.post(f"/webhooks/{partner}", data=raw, headers=signed(inbound, raw, before, "msg_e2e_k"))
    assert ack.status_code == 202, ack.text
    tasks = eventually(lambda: client.get("/worklist", doctor, params={"queue": "physician"}).json()["items"])
    assert [(t["code"], t["priority"], t["patient_id"]) for t in tasks] == [
        ("review-result", "stat", patient_id)
    ]
    assert now(client) - before < timedelta(seconds=30)  # nobody moved the clock: it happened at once

    # an outbound subscription whose endpoint fails twice
    receiver = Receiver([500, 500, 200])
    try:
        sub = {"url": receiver.url, "event_types": ["appointment.booked"]}
        made = client.post(
            f"/partners/{partner}/subscriptions", admin, json=sub, headers={"Idempotency-Key": "e2e-s"}
        )
        assert made.status_code == 201, made.text
        day = (now(client) + timedelta(days=3)).date()
        while day.weekday() >= 5:
            day += timedelta(days=1)
        start = f"{day.isoformat()}T15:00:00Z"  # 10:00 in New York
        booking = {
            "patient_id": patient_id,
            "provider_id": provider,
            "appointment_type": "follow-up",
            "start": start,
        }
        booked = client.post("/appointments", staff, json=booking, headers={"Idempotency-Key": "e2e-b"})
        assert booked.status_code == 201, booked.text
        assert eventually(lambda: len(receiver.got) == 1)
        first, second_due = attempted(client, admin, partner)
        assert second_due - first == timedelta(seconds=5)
        client.post("/_local/clock", json={"set": minute_after(second_due).isoformat()})
        assert eventually(lambda: len(receiver.got) == 2)
        second, third_due = attempted(client, admin, partner)
        # the runtime's clock runs on from where it is set: within a second of the whole minute
        assert abs(second - minute_after(second_due)) < timedelta(seconds=1)
        assert third_due - second == timedelta(minutes=5)
        client.post("/_local/clock", json={"set": minute_after(third_due).isoformat()})
        assert eventually(lambda: len(receiver.got) == 3)
        third, _ = attempted(client, admin, partner)
        assert abs(third - minute_after(third_due)) < timedelta(seconds=1)
        client.advance("PT1H")
        assert len(receiver.got) == 3
    finally:
        receiver.server.shutdown()
    for headers, payload in receiver.got:
        sent = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
        assert (
            Webhook(outbound).sign(headers["webhook-id"], sent, payload.decode())
            in headers["webhook-signature"].split()
        )
    resource = Appointment.model_validate(json.loads(receiver.got[-1][1]))
    assert resource.id == booked.json()["id"]
    deliveries = client.get(f"/partners/{partner}/deliveries", admin, params={"direction": "outbound"}).json()
    assert [a["status_code"] for a in deliveries["items"][0]["attempts"]] == [500, 500, 200]
