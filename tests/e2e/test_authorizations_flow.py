"""Prior authorizations through the local runtime, over HTTP, on its clock: a gated visit booked
without approval awaits it (the patient reads the words, the coordinator gets the task); an expedited
request submitted on a Friday at 17:00 is due Monday at 17:00: a follow-up task at 05:00, an
escalation when 17:00 passes undecided; the late approval clears the escalation and approves the
visit.

The runtime is shared with other tests (its clock only moves forward): dates are found from its clock
(the next Friday in New York), and the clinic is an organization of its own.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.authorizations import HEADACHE, MRI

from .conftest import Client, eventually
from .test_transitions_flow import NY, clinic, local, now, register, set_clock, z

pytestmark = pytest.mark.e2e


def test_a_friday_request_is_chased_monday_and_escalated_when_late(careloop: Client) -> None:
    client = careloop
    friday = now(client).astimezone(NY).date() + timedelta(days=7)
    while friday.weekday() != 4:
        friday += timedelta(days=1)
    monday = friday + timedelta(days=3)
    set_clock(client, local(friday, 16))
    org = f"e2e-pa-{friday.isoformat()}"
    admin, staff, provider = clinic(client, org)
    gated = {"display": "MRI", "duration_minutes": 30, "authorization": MRI}
    assert client.request("PUT", "/appointment-types/follow-up", admin, json=gated).ok
    patient_id = register(client, staff, "Paz")
    me = client.token(org=org, roles=("patient",), sub=f"p-{patient_id}", patient_id=patient_id)
    coverage = client.post(
        f"/patients/{patient_id}/coverage",
        staff,
        json={"payer": "Acme Health", "member_id": "A1", "effective_start": friday.isoformat()},
    )
    assert coverage.status_code == 201, coverage.text

    visit_day = monday + timedelta(days=3)
    booked = client.post(
        "/appointments",
        staff,
        json={
            "patient_id": patient_id,
            "provider_id": provider,
            "appointment_type": "follow-up",
            "start": z(local(visit_day, 10)),
        },
    )
    assert booked.status_code == 201, booked.text
    visit = booked.json()
    assert visit["insurance"] == "awaiting-insurance-approval"
    seen = client.get(f"/appointments/{visit['id']}", me).json()
    assert seen["insurance"] == "awaiting-insurance-approval" and "authorization_id" not in seen

    def worklist(code: str) -> list[dict]:
        items = client.get("/worklist", staff).json()["items"]
        return [t for t in items if t["code"] == code]

    assert eventually(lambda: worklist("obtain-authorization"))
    made = client.post(
        f"/patients/{patient_id}/authorizations",
        staff,
        json={
            "coverage_id": coverage.json()["id"],
            "service": MRI,
            "ordering_provider_id": provider,
            "diagnoses": [HEADACHE],
            "urgency": "expedited",
            "service_date": visit_day.isoformat(),
            "purpose": {"type": "appointment", "id": visit["id"]},
        },
        headers={"Idempotency-Key": f"pa-{org}"},
    )
    assert made.status_code == 201, made.text
    auth = made.json()
    set_clock(client, local(friday, 17))
    sent = client.post(
        f"/authorizations/{auth['id']}/actions",
        staff,
        json={"action": "submit", "reference": "ACME-1"},
        headers={"If-Match": made.headers["ETag"]},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["due_at"] == z(local(monday, 17))
    chase = client.get("/authorizations", staff, params={"status": "pending"}).json()["items"]
    assert [a["id"] for a in chase] == [auth["id"]]

    set_clock(client, local(monday, 5) + timedelta(minutes=1))
    follow_up = eventually(lambda: worklist("follow-up-authorization"))
    assert [t.get("rule_id") for t in follow_up] == [None]
    set_clock(client, local(monday, 17) + timedelta(minutes=1))
    escalated = eventually(lambda: [t for t in worklist("follow-up-authorization") if t.get("rule_id")])
    assert [t["rule_id"] for t in escalated] == ["authorization-overdue"]

    current = client.get(f"/authorizations/{auth['id']}", staff)
    approved = client.post(
        f"/authorizations/{auth['id']}/actions",
        staff,
        json={
            "action": "approve",
            "number": "AUTH-1",
            "valid_from": friday.isoformat(),
            "valid_to": (visit_day + timedelta(days=30)).isoformat(),
        },
        headers={"If-Match": current.headers["ETag"]},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["history"][-1]["on_time"] is False
    assert eventually(
        lambda: not worklist("follow-up-authorization") and not worklist("obtain-authorization")
    )
    assert client.get(f"/appointments/{visit['id']}", me).json()["insurance"] == "approved"
