"""Feedback through the local runtime, over HTTP, with its clock: a visit fulfilled on a Monday morning
in New York sends one survey two hours later (by SMS, with a link); a 3 through the link opens one
service-recovery task for the patient's coordinator; a second answer through the same link is a 409;
and the runtime's log (every function's) holds none of the patient's details nor what they wrote."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.feedback import SURVEY
from tests.support.intake import patient
from tests.support.reminders import GRANTED

from .conftest import Client, ny_clinic

pytestmark = pytest.mark.e2e
PHONE = "+12125557301"
COMMENT = "The nurse ignored my chest pain question"
PHI = [PHONE, "Berenice", "Okonkwo", "berenice@example.com", COMMENT]


def surveys(client: Client) -> list[dict[str, Any]]:
    messages = client.get("/_local/outbox").json()["messages"]
    return [m for m in messages if m["to"] == PHONE and "feedback" in m["text"]]


def test_a_visit_asks_once_a_3_opens_one_recovery_task_and_a_second_answer_is_refused(
    runtime: tuple[Client, Path],
) -> None:
    client, log = runtime
    assert client.post("/_local/clock", json={"set": "2027-04-05T13:00:00Z"}).status_code == 200  # Mon 09:00
    made = ny_clinic(client, "e2e-fb")
    admin, staff, provider = made["admin"], made["staff"], made["provider"]
    defined = client.request("PUT", "/surveys/after-visit", admin, json=SURVEY)
    assert defined.status_code == 200 and defined.headers["ETag"] == '"1"', defined.text
    record = patient(
        name={"given": ["Berenice"], "family": "Okonkwo"},
        contact={"phone": PHONE, "email": "berenice@example.com"},
        time_zone="America/New_York",
        preferred_channels=["sms"],
        consent={"sms": GRANTED},
    )
    registered = client.post("/patients", staff, json=record, params={"allow_duplicate": "true"})
    assert registered.status_code == 201, registered.text
    pid = registered.json()["id"]
    team = client.request("PUT", f"/patients/{pid}/care-team", staff, json={"coordinator_id": "coord-fb"})
    assert team.status_code == 200, team.text
    visit = {"patient_id": pid, "provider_id": provider, "appointment_type": "follow-up"}
    booked = client.post("/appointments", staff, json={**visit, "start": "2027-04-05T15:00:00Z"})
    assert booked.status_code == 201, booked.text
    appt = booked.json()["id"]
    for action in ("confirm", "check-in"):
        assert client.post(f"/appointments/{appt}/{action}", staff).status_code == 200
    client.post("/_local/clock", json={"set": "2027-04-05T15:35:00Z"})
    assert client.post(f"/appointments/{appt}/complete", staff).json()["status"] == "fulfilled"

    client.post("/_local/clock", json={"set": "2027-04-05T17:30:00Z"})
    assert surveys(client) == []  # two hours after the visit, not before
    client.post("/_local/clock", json={"set": "2027-04-05T17:40:00Z"})
    (sent,) = surveys(client)
    assert "Berenice" not in sent["text"] and "Okonkwo" not in sent["text"]
    token = re.search(r"/r/([A-Za-z0-9_-]+)", sent["text"]).group(1)  # type: ignore[union-attr]

    shown = client.get(f"/r/{token}")  # no login: the link is the credential
    assert shown.status_code == 200 and shown.json()["kind"] == "survey", shown.text
    assert [q["id"] for q in shown.json()["survey"]["questions"]] == ["recommend", "on-time", "comments"]
    answer = {"action": "answer", "answers": {"recommend": 3, "comments": COMMENT}}
    done = client.post(f"/r/{token}", json=answer)
    assert done.status_code == 200 and done.json()["can"] == [], done.text
    again = client.post(f"/r/{token}", json={"action": "answer", "answers": {"recommend": 10}})
    assert again.status_code == 409
    client.advance("PT1M")
    recovery = [
        t
        for t in client.get(f"/patients/{pid}/tasks", staff).json()["items"]
        if t["code"] == "service-recovery"
    ]
    assert len(recovery) == 1 and recovery[0]["owner_id"] == "coord-fb"
    client.advance("P1D")
    assert len(surveys(client)) == 1  # asked once
    report = client.get("/reports/feedback", admin, params={"from": "2027-04-01", "to": "2027-04-30"}).json()
    assert (report["overall"]["sent"], report["overall"]["answered"], report["overall"]["nps"]) == (
        1,
        1,
        -100.0,
    )
    assert report["recovery"]["opened"] == 1

    text = log.read_text(errors="replace")
    assert '"service":"feedback-events"' in text  # its log is here
    leaked = [value for value in PHI if value in text]
    assert leaked == [], f"PHI in the runtime's log: {leaked}"
    assert "chest pain" not in text and "would like your feedback" not in text
