"""Reminders through the local runtime, over HTTP, moving its clock a day at a time: booked on a
Wednesday for the next Tuesday 10:00 in New York, across the spring-forward change (Sunday 2027-03-14)
and the clinic's holiday (Friday 2027-03-12), read from ``/_local/outbox`` at the instants written out
here by hand; a ``C`` reply through ``/_local/sms`` confirms and stops the rest; a Spanish speaker reads
Spanish; and the runtime's log (every function's) holds none of the patients' details."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.intake import patient
from tests.support.reminders import GRANTED, NY_PROVIDER

from .conftest import Client

pytestmark = pytest.mark.e2e
ANA, LUZ = "+12125557001", "+12125557002"
PHI = [ANA, LUZ, "Anabel", "Luzmila", "Quintero", "anabel@example.com", "luzmila@example.com"]


def outbox_to(client: Client, phone: str) -> list[dict[str, Any]]:
    return [m for m in client.get("/_local/outbox").json()["messages"] if m["to"] == phone]


def test_a_week_of_reminders_day_by_day(runtime: tuple[Client, Path]) -> None:
    client, log = runtime
    # Wednesday 10 March 2027, noon in New York (EST)
    assert client.post("/_local/clock", json={"set": "2027-03-10T17:00:00Z"}).status_code == 200
    admin = client.token(org="e2e-rem", roles=("admin",), sub="admin-rem")
    staff = client.token(org="e2e-rem", roles=("coordinator",), sub="coord-rem")
    calendar = {
        "time_zone": "America/New_York",
        "holidays": [{"date": "2027-03-12", "name": "Clinic closed"}],
    }
    assert client.request("PUT", "/organization/calendar", admin, json=calendar).status_code == 200
    body = {"display": "Follow-up", "duration_minutes": 30}
    assert client.request("PUT", "/appointment-types/follow-up", admin, json=body).status_code == 200
    provider = client.post("/providers", admin, json=NY_PROVIDER).json()["id"]
    policy = client.get("/reminder-policy", staff)
    changed = {**{k: v for k, v in policy.json().items() if k != "version"}, "clinic_name": "Hudson Clinic"}
    put = client.request("PUT", "/reminder-policy", admin, json=changed)
    assert put.status_code == 200, put.text
    ids = {}
    for label, given, phone, language in (("ana", "Anabel", ANA, "en"), ("luz", "Luzmila", LUZ, "es-MX")):
        record = patient(
            name={"given": [given], "family": "Quintero"},
            contact={"phone": phone, "email": f"{given.lower()}@example.com"},
            time_zone="America/New_York",
            preferred_language=language,
            preferred_channels=["sms"],
            consent={"sms": GRANTED},
        )
        registered = client.post("/patients", staff, json=record, params={"allow_duplicate": "true"})
        assert registered.status_code == 201, registered.text
        ids[label] = registered.json()["id"]
    visits = {}
    for label, start in (
        ("ana", "2027-03-16T14:00:00Z"),
        ("luz", "2027-03-16T14:30:00Z"),
    ):  # 10:00, 10:30 EDT
        booked = client.post(
            "/appointments",
            staff,
            json={
                "patient_id": ids[label],
                "provider_id": provider,
                "appointment_type": "follow-up",
                "start": start,
            },
        )
        assert booked.status_code == 201, booked.text
        visits[label] = booked.json()["id"]

    days: dict[str, list[str]] = {}
    for _ in range(6):  # Thursday to Tuesday
        now = client.advance("P1D")["now"]
        days[now[:10]] = [m["at"][:16] for m in outbox_to(client, LUZ)]
        if now.startswith("2027-03-11"):  # after ana's first reminder, she answers C
            (first,) = outbox_to(client, ANA)
            assert "Reply C to confirm" in first["text"] and "Quintero" not in first["text"]
            reply = client.post("/_local/sms", json={"from": ANA, "body": "C"})
            assert (
                reply.status_code == 202 and reply.json()["previousPublishedMessageId"] == first["message_id"]
            )
    luz = outbox_to(client, LUZ)
    # Thursday 10:30 EST (the 2 business days skip Friday's holiday), Monday 10:30 EDT (after the change),
    # Tuesday's 2-hour touch (08:30 EDT is quiet: 09:00-09:30 EDT)
    assert [m["at"][:16] for m in luz[:2]] == ["2027-03-11T15:30", "2027-03-15T14:30"]
    assert len(luz) == 3 and "2027-03-16T13:00" <= luz[2]["at"][:16] < "2027-03-16T13:30"
    assert all("Responda C para confirmar" in m["text"] for m in luz)
    assert "mar" in luz[0]["text"]  # marzo, as Spanish writes it
    ana = outbox_to(client, ANA)
    assert len(ana) == 2 and "confirmed" in ana[1]["text"]  # the reminder and the answer: then nothing
    read = client.get(f"/appointments/{visits['ana']}", staff).json()
    assert (
        read["confirmed_at"] and read["status"] == "noshow"
    )  # confirmed; by Tuesday 13:00, nobody checked in
    touches = client.get(f"/appointments/{visits['ana']}/reminders", staff).json()["items"]
    assert [t["skip_reason"] for t in touches] == ["past", None, "confirmed", "confirmed"]

    text = log.read_text(errors="replace")
    assert (
        '"service":"reminder-send"' in text and '"service":"reminder-inbound"' in text
    )  # their logs are here
    leaked = [value for value in PHI if value in text]
    assert leaked == [], f"PHI in the runtime's log: {leaked}"
    assert not re.search(r"Responda|Reply C", text)  # no message text either
