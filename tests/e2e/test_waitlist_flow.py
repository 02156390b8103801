"""The waitlist through the local runtime, over HTTP: a cancellation frees a slot, the runtime relays the
event to the scheduling consumer, the waiting patient gets an SMS (in the runtime's outbox) and takes
the slot with their own token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.intake import patient

from .conftest import Client, eventually

pytestmark = pytest.mark.e2e


def test_a_freed_slot_reaches_the_waiting_patient_by_sms_and_they_take_it(careloop: Client) -> None:
    org = "e2e-waitlist"
    admin = careloop.token(org=org, roles=("admin",), sub="admin-w")
    coordinator = careloop.token(org=org, roles=("coordinator",), sub="coord-w")
    # tomorrow 16:00 UTC is 10:00 in Chicago: outside the patients' quiet hours (21:00-09:00)
    now = datetime.fromisoformat(careloop.get("/_local/clock").json()["now"].replace("Z", "+00:00"))
    morning = (now + timedelta(days=1)).astimezone(UTC).replace(hour=16, minute=0, second=0, microsecond=0)
    assert careloop.post("/_local/clock", json={"set": morning.isoformat()}).status_code == 200
    start = (morning + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    put_type = careloop.request(
        "PUT", "/appointment-types/follow-up", admin, json={"display": "Follow-up", "duration_minutes": 30}
    )
    assert put_type.status_code == 200
    provider = careloop.post(
        "/providers",
        admin,
        json={
            "name": "Dr. Wait",
            "specialty": "cardiology",
            "location": "Clinic",
            "time_zone": "UTC",
            "appointment_types": ["follow-up"],
            "availability": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(1, 8)],
        },
    ).json()["id"]
    first = careloop.post("/patients", coordinator, json=patient(contact={"phone": "+15555557001"}))
    waiting = careloop.post(
        "/patients",
        coordinator,
        params={"allow_duplicate": "true"},
        json=patient(name={"given": ["Wanda"], "family": "Wait"}, contact={"phone": "+15555557002"}),
    )
    first_id, waiting_id = first.json()["id"], waiting.json()["id"]
    joined = careloop.post(
        "/waitlist",
        coordinator,
        json={
            "patient_id": waiting_id,
            "provider_id": provider,
            "appointment_type": "follow-up",
            "earliest": morning.date().isoformat(),
            "latest": (morning + timedelta(days=7)).date().isoformat(),
        },
    )
    assert joined.status_code == 201, joined.text
    booked = careloop.post(
        "/appointments",
        coordinator,
        json={
            "patient_id": first_id,
            "provider_id": provider,
            "appointment_type": "follow-up",
            "start": start,
        },
    )
    assert booked.status_code == 201, booked.text
    cancelled = careloop.post(
        f"/appointments/{booked.json()['id']}/cancel", coordinator, json={"reason": "patient"}
    )
    assert cancelled.status_code == 200

    def sms_to_waiting() -> list[dict]:
        messages = careloop.get("/_local/outbox").json()["messages"]
        return [m for m in messages if m["channel"] == "sms" and m["to"] == "+15555557002"]

    (message,) = eventually(sms_to_waiting)
    assert "Dr. Wait" in message["text"] and "15 minutes" in message["text"]
    mine = careloop.token(org=org, roles=("patient",), sub="wanda", patient_id=waiting_id)
    entries = careloop.get(f"/patients/{waiting_id}/waitlist", mine).json()["items"]
    offer_id = entries[0]["offer_id"]
    taken = careloop.post(f"/offers/{offer_id}/accept", mine)
    assert taken.status_code == 201, taken.text
    assert taken.json()["start"] == start and taken.json()["patient_id"] == waiting_id
