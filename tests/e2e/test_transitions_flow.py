"""Transitions of care through the local runtime, over HTTP, on its clock: a hospital's signed discharge
notice (high complexity) on a Thursday opens an episode whose contact is due Monday at the close of
business; a visit booked on day 6 is the visit, with its reminders; no contact by Monday's close is the
coordinator's escalation, then the nurse's. A Friday discharge in a clinic whose next Monday is a
holiday is due a contact by Wednesday's close.

The runtime is shared with other tests (its clock only moves forward): dates are found from its clock,
the next Thursday in New York, and each clinic is an organization of its own.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from standardwebhooks import Webhook

from shared.fhir.systems import TCM_COMPLEXITY_URL
from tests.support.intake import patient
from tests.support.reminders import NY_PROVIDER
from tests.support.webhooks import MRN_SYSTEM, discharge

from .conftest import Client, eventually

pytestmark = pytest.mark.e2e
NY = ZoneInfo("America/New_York")


def now(client: Client) -> datetime:
    return datetime.fromisoformat(client.get("/_local/clock").json()["now"].replace("Z", "+00:00"))


def local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), NY)


def z(at: datetime) -> str:
    return at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_clock(client: Client, at: datetime) -> None:
    assert client.post("/_local/clock", json={"set": at.isoformat()}).status_code == 200


def clinic(client: Client, org: str, holidays: list[str] = ()) -> tuple[str, str, str]:  # type: ignore[assignment]
    """A New York clinic: its admin and coordinator tokens, and its provider."""
    admin = client.token(org=org, roles=("admin",), sub=f"admin-{org}")
    staff = client.token(org=org, roles=("coordinator",), sub=f"coord-{org}")
    calendar = {
        "time_zone": "America/New_York",
        "holidays": [{"date": d, "name": "Closed"} for d in holidays],
    }
    assert client.request("PUT", "/organization/calendar", admin, json=calendar).ok
    body = {"display": "Follow-up", "duration_minutes": 30}
    assert client.request("PUT", "/appointment-types/follow-up", admin, json=body).ok
    provider = client.post("/providers", admin, json=NY_PROVIDER).json()["id"]
    return admin, staff, provider


def register(client: Client, staff: str, given: str) -> str:
    record = patient(name={"given": [given], "family": "Transit"}, time_zone="America/New_York")
    made = client.post("/patients", staff, json=record, params={"allow_duplicate": "true"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_a_thursday_discharge_a_day_6_visit_and_a_missed_contact(careloop: Client) -> None:
    client = careloop
    thursday = now(client).astimezone(NY).date() + timedelta(days=7)
    while thursday.weekday() != 3:
        thursday += timedelta(days=1)
    friday, monday = thursday + timedelta(days=1), thursday + timedelta(days=4)
    set_clock(client, local(thursday, 12))

    org = f"e2e-tcm-{thursday.isoformat()}"
    admin, staff, provider = clinic(client, org)
    nurse = client.token(org=org, roles=("nurse",), sub=f"nurse-{org}")
    patient_id = register(client, staff, "Thea")
    ids = {"identifiers": [{"system": MRN_SYSTEM, "value": "MRN-TCM"}]}
    assert client.request("PUT", f"/patients/{patient_id}/identifiers", staff, json=ids).ok
    hospital = {
        "name": "County Hospital", "kind": "hospital", "identifier_system": MRN_SYSTEM,
        "resource_types": ["Encounter"],
    }  # fmt: skip
    partner = client.post("/partners", admin, json=hospital, headers={"Idempotency-Key": org}).json()["id"]
    secret = client.post(f"/partners/{partner}/secrets", admin, json={}).json()["secret"]

    notice = discharge("MRN-TCM", end=z(local(thursday, 10)), complexity="high")
    assert notice["entry"][0]["resource"]["extension"][0]["url"] == TCM_COMPLEXITY_URL
    raw = json.dumps(notice).encode()
    sent = now(client)
    headers = {
        "content-type": "application/fhir+json",
        "webhook-id": f"msg_{org}",
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign(f"msg_{org}", sent, raw.decode()),
    }
    assert client.post(f"/webhooks/{partner}", data=raw, headers=headers).status_code == 202
    listed = eventually(lambda: client.get("/transitions", staff).json()["items"])
    (episode,) = listed
    assert episode["complexity"] == "high"
    assert episode["contact"]["due_at"] == z(local(monday, 17))  # Monday at the close of business
    assert episode["visit"]["due_at"] == z(local(thursday + timedelta(days=8), 0))  # end of day 7

    booking = {
        "patient_id": patient_id,
        "provider_id": provider,
        "appointment_type": "follow-up",
        "start": z(local(thursday + timedelta(days=6), 10)),  # day 6, a Wednesday
    }
    booked = client.post("/appointments", staff, json=booking, headers={"Idempotency-Key": f"{org}-b"})
    assert booked.status_code == 201, booked.text
    visit = eventually(
        lambda: client.get(f"/transitions/{episode['id']}", staff).json()["visit"]["appointment_id"]
    )
    assert visit == booked.json()["id"]
    assert eventually(lambda: client.get(f"/appointments/{visit}/reminders", staff).json()["items"])

    set_clock(client, local(monday, 17))
    missed = eventually(
        lambda: [
            t
            for t in client.get("/worklist", staff).json()["items"]
            if t["rule_id"] == "transition-contact-missed"
        ]
    )
    assert missed[0]["focus"] == {"type": "transition", "id": episode["id"]}
    set_clock(client, local(monday + timedelta(days=1), 12))  # 4 business hours later
    climbed = eventually(
        lambda: [t for t in client.get("/worklist", nurse).json()["items"] if t["id"] == missed[0]["id"]]
    )
    assert climbed[0]["role"] == "nurse"

    # the next Monday is a holiday in another clinic: a Friday discharge is due Wednesday at the close
    set_clock(client, local(friday + timedelta(days=7), 12))
    later_friday = friday + timedelta(days=7)
    holiday = later_friday + timedelta(days=3)
    other = f"e2e-tcm-holiday-{thursday.isoformat()}"
    _, other_staff, _ = clinic(client, other, holidays=[holiday.isoformat()])
    opened = client.post(
        "/transitions",
        other_staff,
        json={"patient_id": register(client, other_staff, "Hal"), "discharged_at": z(local(later_friday, 9))},
        headers={"Idempotency-Key": f"{other}-t"},
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["contact"]["due_at"] == z(local(holiday + timedelta(days=2), 17))
