"""Intake through the local runtime, over HTTP: register → assess → the events on the bus, the audit
trail, and two people registering the same patient at once."""

from __future__ import annotations

import threading

import pytest

from tests.support.intake import NEGATIVE_SCREEN, patient

from .conftest import Client, eventually

pytestmark = pytest.mark.e2e


def bus_events(client: Client, patient_id: str, source: str = "careloop.intake") -> list[str]:
    return [
        e["event"]["detail-type"]
        for e in client.get("/_local/events").json()["events"]
        if e["event"]["detail"].get("patient_id") == patient_id and e["event"]["source"] == source
    ]


def test_register_then_assess_puts_the_needs_on_the_bus(careloop: Client) -> None:
    token = careloop.token(org="e2e-flow", roles=("coordinator",), sub="coord-e2e")
    registered = careloop.post("/patients", token, json=patient())
    assert registered.status_code == 201, registered.text
    pid = registered.json()["id"]
    screening = {
        **NEGATIVE_SCREEN,
        "transportation": "yes",
        "interpersonal_safety": {
            "physically_hurt": "frequently",
            "insulted": "frequently",
            "threatened": "sometimes",
            "screamed_at": "rarely",
        },
    }
    assessed = careloop.post(f"/patients/{pid}/assessments", token, json={"screening": screening})
    assert assessed.status_code == 201
    expected = ["PatientRegistered", "AssessmentRecorded", "SocialNeedIdentified", "SafetyConcernIdentified"]

    def all_four() -> list[str] | None:
        seen = bus_events(careloop, pid)
        return seen if len(seen) >= len(expected) else None

    assert eventually(all_four) == expected

    # the escalations area's rules turn the needs into work: a call for the coordinator, a safety
    # check for the nurse (urgent)
    def tasks() -> list[tuple[str, str, str]] | None:
        items = careloop.get(f"/patients/{pid}/tasks", token).json()["items"]
        return sorted((t["code"], t["role"], t["priority"]) for t in items) if len(items) >= 2 else None

    assert eventually(tasks) == [
        ("connect-resource", "coordinator", "routine"),
        ("safety-check", "nurse", "urgent"),
    ]


def test_reads_reach_the_audit_trail(careloop: Client) -> None:
    coordinator = careloop.token(org="e2e-audit", roles=("coordinator",), sub="coord-a")
    admin = careloop.token(org="e2e-audit", roles=("admin",), sub="admin-a")
    pid = careloop.post("/patients", coordinator, json=patient()).json()["id"]
    assert careloop.get(f"/patients/{pid}", coordinator).status_code == 200

    def actions() -> list[str] | None:
        rows = careloop.get(f"/patients/{pid}/audit", admin).json()["items"]
        found = [(r["action"], r["actor_id"]) for r in rows]
        return [a for a, _ in found] if ("patient.read", "coord-a") in found else None

    assert "patient.create" in (eventually(actions) or [])


def test_two_simultaneous_registrations_of_one_person_make_one_record(careloop: Client) -> None:
    token = careloop.token(org="e2e-race", roles=("coordinator",), sub="coord-r")
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def register() -> None:
        barrier.wait()
        statuses.append(careloop.post("/patients", token, json=patient()).status_code)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert len(careloop.get("/patients", token).json()["items"]) == 1
