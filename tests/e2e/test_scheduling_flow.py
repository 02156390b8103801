"""Scheduling through the local runtime, over HTTP: fifty people booking one slot at once, and a visit
nobody checks in for becoming a no-show when the runtime's clock passes start + 30 minutes (the
booking's event sets an EventBridge Scheduler timer, which the runtime fires)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.intake import patient

from .conftest import Client, eventually

pytestmark = pytest.mark.e2e


def clinic(client: Client, org: str, patients: int) -> tuple[str, str, list[str], str]:
    """A provider working 09:00-17:00 UTC every day, and ``patients`` patients; returns the
    coordinator's token, the provider id, the patient ids and tomorrow's 10:00 (UTC)."""
    admin = client.token(org=org, roles=("admin",), sub=f"admin-{org}")
    coordinator = client.token(org=org, roles=("coordinator",), sub=f"coord-{org}")
    assert (
        client.request(
            "PUT",
            "/appointment-types/follow-up",
            admin,
            json={"display": "Follow-up", "duration_minutes": 30},
        ).status_code
        == 200
    )
    provider = client.post(
        "/providers",
        admin,
        json={
            "name": "Dr. E2E",
            "specialty": "cardiology",
            "location": "Clinic",
            "time_zone": "UTC",
            "appointment_types": ["follow-up"],
            "availability": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(1, 8)],
        },
    )
    assert provider.status_code == 201, provider.text
    ids = []
    for n in range(patients):
        body = patient(name={"given": ["Pat"], "family": f"E{n:03d}"}, contact={"phone": f"+1555556{n:04d}"})
        registered = client.post("/patients", coordinator, json=body, params={"allow_duplicate": "true"})
        assert registered.status_code == 201, registered.text
        ids.append(registered.json()["id"])
    now = datetime.fromisoformat(client.get("/_local/clock").json()["now"].replace("Z", "+00:00"))
    tomorrow = (now + timedelta(days=1)).astimezone(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    return coordinator, provider.json()["id"], ids, tomorrow.isoformat().replace("+00:00", "Z")


def test_fifty_concurrent_bookings_of_one_slot_give_one_201_and_49_409(careloop: Client) -> None:
    token, provider_id, patients, start = clinic(careloop, "e2e-rush", 5)

    def book(n: int) -> int:
        body = {
            "patient_id": patients[n % 5],
            "provider_id": provider_id,
            "appointment_type": "follow-up",
            "start": start,
        }
        return careloop.post("/appointments", token, json=body).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(book, range(50)))
    assert sorted(statuses) == [201] + [409] * 49
    day = careloop.get(f"/providers/{provider_id}/appointments", token, params={"date": start[:10]}).json()
    assert len(day["items"]) == 1


def test_an_unattended_visit_becomes_a_no_show_when_the_clock_passes(careloop: Client) -> None:
    token, provider_id, patients, start = clinic(careloop, "e2e-noshow", 1)
    booked = careloop.post(
        "/appointments",
        token,
        json={
            "patient_id": patients[0],
            "provider_id": provider_id,
            "appointment_type": "follow-up",
            "start": start,
        },
    )
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]

    def timer() -> Any:
        schedules = careloop.get("/_local/schedules").json()["schedules"]
        return [s for s in schedules if appointment_id in str(s)]

    assert eventually(timer), (
        appointment_id,
        [
            (
                e["event"]["detail-type"],
                e["event"]["detail"].get("appointment_id"),
                e.get("deliveries") or e.get("targets"),
            )
            for e in careloop.get("/_local/events").json()["events"]
        ][-4:],
        careloop.get("/_local/dlq").json(),
    )
    after = datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(minutes=31)
    assert careloop.post("/_local/clock", json={"set": after.isoformat()}).status_code == 200
    status = lambda: careloop.get(f"/appointments/{appointment_id}", token).json()["status"]  # noqa: E731
    assert eventually(lambda: status() == "noshow") is True


def test_a_missed_friday_visit_becomes_a_call_task_that_climbs_on_monday_at_eleven(careloop: Client) -> None:
    """Through the runtime and its clock: the no-show timer, the rule that makes the call task, the
    escalation's Scheduler timer and the climb. The organization keeps the default calendar (UTC,
    Monday to Friday 08:00-17:00): 4 business hours from Friday 16:00 run out on Monday at 11:00."""
    token, provider_id, patients, _ = clinic(careloop, "e2e-escalate", 1)
    now = datetime.fromisoformat(careloop.get("/_local/clock").json()["now"].replace("Z", "+00:00"))
    friday = (now + timedelta(days=1 + (4 - now.weekday() - 1) % 7)).replace(
        hour=15, minute=30, second=0, microsecond=0
    )
    monday_11 = (friday + timedelta(days=3)).replace(hour=11, minute=0)
    booked = careloop.post(
        "/appointments",
        token,
        json={
            "patient_id": patients[0],
            "provider_id": provider_id,
            "appointment_type": "follow-up",
            "start": friday.isoformat(),
        },
    )
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]
    assert eventually(
        lambda: any(appointment_id in str(s) for s in careloop.get("/_local/schedules").json()["schedules"])
    )
    assert (
        careloop.post("/_local/clock", json={"set": (friday + timedelta(minutes=31)).isoformat()}).status_code
        == 200
    )

    def call_task() -> Any:
        items = careloop.get("/worklist", token, params={"code": "call-patient"}).json()["items"]
        return next((t for t in items if (t["focus"] or {}).get("id") == appointment_id), None)

    task = eventually(call_task)
    assert task, careloop.get("/_local/dlq").json()
    assert task["escalation"]["deadline_at"] == monday_11.isoformat().replace("+00:00", "Z")
    assert (
        careloop.post(
            "/_local/clock", json={"set": (monday_11 + timedelta(seconds=30)).isoformat()}
        ).status_code
        == 200
    )
    role = lambda: careloop.get(f"/tasks/{task['id']}", token).json()["role"]  # noqa: E731
    assert eventually(lambda: role() == "nurse") is True, careloop.get(f"/tasks/{task['id']}", token).json()
