"""Operating Careloop through the local runtime, as on-call would: a consumer broken on purpose fills
its dead-letter queue and its alarms fire in ``/_local/metrics``; once mended, a redrive empties the
queue and applies each effect once; and one booking's correlation id (API Gateway's request id) is on
the log lines of every function it set in motion (the HTTP function, the relay, the consumer, the
timer, the sender), none of which holds the patient's details."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.intake import patient
from tests.support.reminders import GRANTED

from .conftest import Client, ny_clinic

pytestmark = pytest.mark.e2e
PHONE = "+12125557301"
PHI = [PHONE, "Oriana", "Valdespino", "oriana@example.com"]
BROKEN = "ReminderEventsFunction"  # plans an appointment's reminders from AppointmentBooked


@pytest.fixture(scope="module")
def clinic(runtime: tuple[Client, Path]) -> dict[str, str]:
    client, _ = runtime
    # Wednesday 10 March 2027, noon in New York
    assert client.post("/_local/clock", json={"set": "2027-03-10T17:00:00Z"}).status_code == 200
    made = ny_clinic(client, "e2e-ops")
    record = patient(
        name={"given": ["Oriana"], "family": "Valdespino"},
        contact={"phone": PHONE, "email": "oriana@example.com"},
        time_zone="America/New_York",
        preferred_channels=["sms"],
        consent={"sms": GRANTED},
    )
    registered = client.post("/patients", made["staff"], json=record, params={"allow_duplicate": "true"})
    assert registered.status_code == 201, registered.text
    return {**made, "patient": registered.json()["id"]}


def book(client: Client, clinic: dict[str, str], start: str) -> Any:
    booked = client.post(
        "/appointments",
        clinic["staff"],
        json={
            "patient_id": clinic["patient"],
            "provider_id": clinic["provider"],
            "appointment_type": "follow-up",
            "start": start,
        },
    )
    assert booked.status_code == 201, booked.text
    return booked


def touches(client: Client, clinic: dict[str, str], appointment_id: str) -> list[dict[str, Any]]:
    got = client.get(f"/appointments/{appointment_id}/reminders", clinic["staff"])
    assert got.status_code == 200, got.text
    return list(got.json()["items"])


def alarms(client: Client) -> dict[str, Any]:
    return dict(client.get("/_local/metrics").json()["alarms"])


def dead_letters(client: Client) -> int:
    return int(client.get("/_local/dlq").json()["queues"]["AsyncDeadLetterQueue"]["depth"])


def test_a_broken_consumer_fills_its_dead_letter_queue_fires_its_alarms_and_a_redrive_mends_it_once(
    runtime: tuple[Client, Path], clinic: dict[str, str]
) -> None:
    client, _ = runtime
    assert dead_letters(client) == 0
    assert alarms(client)["AsyncDeadLetterAlarm"]["state"] == "OK"
    assert client.post("/_local/faults", json={"function": BROKEN, "error": "RuntimeError"}).ok
    assert client.get("/_local/faults").json() == {"faults": {BROKEN: "RuntimeError"}}
    try:
        booked = book(client, clinic, "2027-03-17T14:00:00Z")
        appointment = booked.json()["id"]
        assert dead_letters(client) == 1  # the booking's event, after the consumer's retries
    finally:
        assert client.post("/_local/faults", json={"function": BROKEN, "error": None}).ok
    (failure,) = [f for f in client.get("/_local/dlq").json()["failures"] if f["function"] == BROKEN]
    assert failure["attempts"] == 3 and "InjectedFault" in failure["error"]  # Lambda's 2 retries
    # each try wrote the line on-call looks for, under the booking's correlation id
    lines = client.get("/_local/logs", params={"correlation_id": booked.headers["Apigw-Requestid"]})
    failed = [line["line"] for line in lines.json()["lines"] if line["function"] == BROKEN]
    assert [(f["message"], f["error_type"]) for f in failed] == [("handler failed", "RuntimeError")] * 3
    state = alarms(client)
    assert state["AsyncDeadLetterAlarm"]["state"] == "ALARM"
    assert state[f"{BROKEN}ErrorsAlarm"]["state"] == "ALARM"
    assert state["SchedulingFunctionErrorsAlarm"]["state"] == "OK"  # the booking itself went through
    assert touches(client, clinic, appointment) == []  # nothing planned: the patient would not hear

    # mended; a redrive interrupted after its replay, before its delete, leaves a copy: both replay
    sqs = client.aws("sqs")
    url = sqs.get_queue_url(QueueName=f"{client.status['bus_name']}-AsyncDeadLetterQueue")["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["functionArn"].split(":")[6] == BROKEN
    sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    assert dead_letters(client) == 2

    redriven = client.post("/_local/dlq/redrive", json={"queue": "AsyncDeadLetterQueue"})
    assert redriven.status_code == 200, redriven.text
    assert redriven.json() == {"replayed": 2, "left": 0, "failed": 0}
    assert dead_letters(client) == 0
    planned = touches(client, clinic, appointment)
    assert planned and len({t["index"] for t in planned}) == len(planned)  # planned once, not twice
    again = client.post("/_local/dlq/redrive", json={"queue": "AsyncDeadLetterQueue"}).json()
    assert again == {"replayed": 0, "left": 0, "failed": 0}
    assert len(touches(client, clinic, appointment)) == len(planned)

    client.advance("PT10M")  # past the errors alarm's 5-minute period
    state = alarms(client)
    assert state["AsyncDeadLetterAlarm"]["state"] == "OK"
    assert state[f"{BROKEN}ErrorsAlarm"]["state"] == "OK"


def test_a_request_s_correlation_id_follows_it_through_relay_consumer_timer_and_send_and_no_phi(
    runtime: tuple[Client, Path], clinic: dict[str, str]
) -> None:
    client, log = runtime
    booked = book(client, clinic, "2027-03-12T16:00:00Z")  # Friday 11:00 in New York
    request_id = booked.headers["Apigw-Requestid"]
    client.advance("P2D")  # its reminders' timers fire, the sender sends them
    assert [m for m in client.get("/_local/outbox").json()["messages"] if m["to"] == PHONE]

    lines = client.get("/_local/logs", params={"correlation_id": request_id}).json()["lines"]
    functions = {line["function"] for line in lines}
    assert {
        "SchedulingFunction",  # the request
        "OutboxRelayFunction",  # AppointmentBooked published
        "ReminderEventsFunction",  # the consumer that planned the touches and set their timers
        "ReminderDispatchFunction",  # a touch's timer, a day later
        "ReminderSendFunction",  # the message sent
    } <= functions, functions
    assert {line["line"]["correlation_id"] for line in lines} == {request_id}

    counted = client.get("/_local/metrics").json()["metrics"]
    booked_total = [
        m for m in counted if m["name"] == "Appointments" and m["dimensions"]["outcome"] == "booked"
    ]
    assert booked_total and booked_total[0]["sum"] >= 2  # both bookings, from the relay's EMF lines
    assert booked_total[0]["dimensions"] == {"area": "scheduling", "outcome": "booked"}

    text = log.read_text(errors="replace")
    assert request_id in text
    assert [value for value in PHI if value in text] == []
