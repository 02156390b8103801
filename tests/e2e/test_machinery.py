"""Rules, patterns, schedules, retries, dead letters, the outbox relay and hot reload, through the
local runtime over HTTP, on a small stack of test functions."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from .conftest import Client, eventually

pytestmark = pytest.mark.e2e


def emit(client: Client, token: str, **detail: object) -> str:
    response = client.post("/emit", token, json=detail)
    assert response.status_code == 200, response.text
    return str(response.json()["event_id"])


def event_log(client: Client, event_id: str) -> dict | None:
    for entry in client.get("/_local/events").json()["events"]:
        if entry["event"]["detail"].get("event_id") == event_id:
            return dict(entry)
    return None


def test_an_event_that_matches_a_rule_reaches_its_target(machinery: Client) -> None:
    token = machinery.token()
    event_id = emit(machinery, token, priority=7, ref_id="REF-1")
    entry = eventually(lambda: event_log(machinery, event_id))
    assert entry and entry["rules"] == ["RecorderFunctionUrgent"]
    recorded = eventually(
        lambda: [t for t in machinery.traces("recorded") if t["payload"]["detail"]["event_id"] == event_id]
    )
    assert recorded[0]["payload"]["detail-type"] == "ThingHappened"


@pytest.mark.parametrize(
    "detail",
    [
        {"priority": 4, "ref_id": "REF-2"},  # numeric range: below 5
        {"priority": 9, "ref_id": "REF-3", "kind": "ignored"},  # anything-but
        {"priority": 9, "ref_id": "XYZ-4"},  # prefix
    ],
)
def test_an_event_that_matches_no_rule_is_logged_and_delivered_nowhere(
    machinery: Client, detail: dict
) -> None:
    event_id = emit(machinery, machinery.token(), **detail)
    entry = eventually(lambda: event_log(machinery, event_id))
    assert entry and entry["rules"] == []
    assert not [t for t in machinery.traces("recorded") if t["payload"]["detail"]["event_id"] == event_id]


def test_a_target_that_keeps_failing_lands_in_the_dlq_after_its_retries(machinery: Client) -> None:
    event_id = emit(machinery, machinery.token(), detail_type="WillFail")

    def dead() -> list[dict]:
        return [
            f
            for f in machinery.get("/_local/dlq").json()["failures"]
            if f["payload"].get("detail", {}).get("event_id") == event_id
        ]

    (failure,) = eventually(dead)
    assert failure["function"] == "FailingFunction"
    assert failure["attempts"] == 3  # the first try and the rule's 2 retries
    assert "RuntimeError" in failure["error"]
    attempts = [t for t in machinery.traces("failed")]
    assert len([a for a in attempts if a["payload"]["id"] == failure["payload"]["id"]]) == 3
    sqs = machinery.aws("sqs")
    url = sqs.get_queue_url(QueueName=f"{machinery.status['bus_name']}-DeadLetters")["QueueUrl"]
    bodies = [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert any(event_id in b for b in bodies)


def test_a_one_time_schedule_fires_only_once_the_clock_passes_it(machinery: Client) -> None:
    name = machinery.post("/remind", machinery.token(), json={"in_seconds": 86400}).json()["name"]

    def fired() -> list[dict]:
        return [t for t in machinery.traces("tick") if t["payload"].get("name") == name]

    listed = [s for s in machinery.get("/_local/schedules").json()["schedules"] if s["name"].endswith(name)]
    assert listed and not listed[0]["fired"]
    machinery.advance("PT23H")
    assert fired() == []
    result = machinery.advance("PT2H")
    assert [f["target"] for f in result["fired"] if name in f["what"]] == ["TickFunction"]
    (tick,) = fired()
    assert tick["payload"]["kind"] == "reminder"
    # it ran at its own time (24 h after it was asked for), not at the end of the advance
    assert [
        s for s in machinery.get("/_local/schedules").json()["schedules"] if s["name"].endswith(name)
    ] == []
    machinery.advance("PT48H")
    assert len(fired()) == 1


def test_a_weekday_cron_skips_the_weekend(machinery: Client) -> None:
    # move to the next Saturday 00:00 UTC, then across the weekend into Monday
    now = machinery.get("/_local/clock").json()["now"]
    from datetime import datetime, timedelta

    at = datetime.fromisoformat(now.replace("Z", "+00:00"))
    saturday = (at + timedelta(days=(5 - at.weekday()) % 7 or 7)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    machinery.post("/_local/clock", json={"set": saturday.isoformat()})
    before = len(machinery.traces("tick"))
    result = machinery.advance("P2DT10H")  # Saturday 00:00 → Monday 10:00
    weekday_fires = [f for f in result["fired"] if "TickFunctionWeekdays" in f["what"]]
    assert len(weekday_fires) == 1
    assert weekday_fires[0]["at"].startswith((saturday + timedelta(days=2)).strftime("%Y-%m-%dT09:00"))
    assert len(machinery.traces("tick")) == before + 1


def test_greedy_and_specific_paths_and_the_simple_response_format(machinery: Client) -> None:
    deep = machinery.get("/files/a/b/c.txt", params={"v": "1"}).json()
    assert deep["routeKey"] == "GET /files/{proxy+}"
    assert deep["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert deep["query"] == {"v": "1"}
    assert 0 < deep["remaining_ms"] <= 5000
    info = machinery.get("/files/report/info").json()
    assert info["routeKey"] == "GET /files/{name}/info"


def test_concurrent_requests_run_in_separate_environments_at_once(machinery: Client) -> None:
    token = machinery.token()
    results: list[dict] = []
    group = uuid.uuid4().hex

    def call() -> None:
        results.append(machinery.get("/rendezvous", token, params={"group": group, "size": 3}).json())

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["met"] for r in results] == [True, True, True]  # all three were in flight together
    assert len({r["pid"] for r in results}) == 3  # each in its own execution environment


def test_an_edit_is_picked_up_by_the_next_request(machinery: Client) -> None:
    module = Path(__file__).parent / "fixtures" / "greeting.py"
    original = module.read_text()
    assert machinery.get("/files/x").json()["greeting"] == "hello"
    try:
        module.write_text(original.replace('"hello"', '"bonjour"'))
        response = machinery.get("/files/x")
        assert response.json()["greeting"] == "bonjour"
        assert response.headers["X-Careloop-Reloaded"] == "true"
    finally:
        module.write_text(original)
    assert machinery.get("/files/x").json()["greeting"] == "hello"


def test_messages_sent_show_in_the_outbox(machinery: Client) -> None:
    text = f"Your visit is tomorrow {uuid.uuid4().hex[:6]}"
    response = machinery.post(
        "/notify", machinery.token(), json={"phone": "+15555550100", "email": "pat@example.com", "text": text}
    )
    assert response.status_code == 200
    messages = [m for m in machinery.get("/_local/outbox").json()["messages"] if text in str(m["text"])]
    assert {m["channel"] for m in messages} == {"sms", "email"}
    sms = next(m for m in messages if m["channel"] == "sms")
    assert sms["to"] == "+15555550100"
    email = next(m for m in messages if m["channel"] == "email")
    assert email["to"] == ["pat@example.com"]


def test_a_template_change_is_reported_as_needing_a_restart(machinery: Client) -> None:
    import os

    template = Path(__file__).parent / "fixtures" / "template.yaml"
    assert machinery.get("/_local/status").json()["template_changed_since_start"] is False
    stat = template.stat()
    try:
        os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        machinery.get("/files/x")
        assert machinery.get("/_local/status").json()["template_changed_since_start"] is True
    finally:
        os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_function_that_overruns_its_timeout_is_a_500_and_its_worker_replaced(machinery: Client) -> None:
    first = machinery.get("/sleep")
    assert first.status_code == 200
    assert first.json()["routeKey"] == "GET /sleep"  # the explicit method wins over ANY
    overrun = machinery.get("/sleep", params={"seconds": "3"})
    assert overrun.status_code == 500
    assert overrun.json() == {"message": "Internal Server Error"}
    after = machinery.get("/sleep")
    assert after.status_code == 200
    assert after.json()["pid"] != first.json()["pid"]  # the overrunning worker was killed
    assert machinery.post("/sleep").status_code == 401  # ANY /sleep is not public
    assert machinery.post("/sleep", machinery.token()).json()["routeKey"] == "ANY /sleep"


def test_the_clock_only_moves_forward(machinery: Client) -> None:
    from datetime import datetime, timedelta

    def now() -> datetime:
        return datetime.fromisoformat(machinery.get("/_local/clock").json()["now"].replace("Z", "+00:00"))

    before = now()
    for body in ({"set": (before - timedelta(hours=1)).isoformat()}, {"advance": "-PT1H"}):
        refused = machinery.post("/_local/clock", json=body)
        assert refused.status_code == 409, body
        assert "only moves forward" in refused.json()["message"]
    assert before <= now() < before + timedelta(minutes=1)  # not moved back, nor anywhere else
    assert machinery.post("/_local/clock", json={"advance": "PT1M"}).status_code == 200
    assert now() >= before + timedelta(minutes=1)


def test_a_queue_feeds_its_function_and_a_failing_message_goes_to_its_dead_letter_queue(
    machinery: Client,
) -> None:
    sqs = machinery.aws("sqs")
    bus = machinery.status["bus_name"]
    run = uuid.uuid4().hex[:8]
    url = sqs.get_queue_url(QueueName=f"{bus}-Work")["QueueUrl"]
    for body in (f"ok-{run}", f"fail-{run}"):
        sqs.send_message(QueueUrl=url, MessageBody=body)  # from outside: the idle pass picks them up

    def failed() -> list[dict]:
        return [
            f
            for f in machinery.get("/_local/dlq").json()["failures"]
            if f["kind"] == "sqs" and f["payload"]["body"] == f"fail-{run}"
        ]

    (failure,) = eventually(failed)
    assert (failure["kind"], failure["function"], failure["attempts"]) == ("sqs", "QueueFunction", 2)
    worked = [t["payload"] for t in machinery.traces("worked") if run in t["payload"]["body"]]
    assert sorted((w["body"], w["receives"]) for w in worked) == [
        (f"fail-{run}", "1"),
        (f"fail-{run}", "2"),
        (f"ok-{run}", "1"),
    ]
    dead = sqs.get_queue_url(QueueName=f"{bus}-WorkDeadLetters")["QueueUrl"]
    moved = eventually(lambda: sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10).get("Messages"))
    assert [m["Body"] for m in moved] == [f"fail-{run}"]


def test_an_sms_reply_reaches_the_two_way_topics_subscriber_naming_what_it_answers(machinery: Client) -> None:
    phone = f"+1555{uuid.uuid4().int % 10**7:07d}"
    sent = machinery.post(
        "/notify", machinery.token(), json={"phone": phone, "email": "pat@example.com", "text": "Reply C"}
    )
    assert sent.status_code == 200
    (asked,) = [m for m in machinery.get("/_local/outbox").json()["messages"] if m["to"] == phone]

    reply = machinery.post("/_local/sms", json={"from": phone, "body": "C"})

    assert reply.status_code == 202, reply.text
    assert reply.json()["previousPublishedMessageId"] == asked["message_id"]
    (sms,) = [t["payload"] for t in machinery.traces("sms") if t["payload"]["originationNumber"] == phone]
    assert sms["messageBody"] == "C"  # delivered before the 202
    assert sms["inboundMessageId"] == reply.json()["inboundMessageId"]
    assert sms["destinationNumber"] == "+18005550100"  # the fixture template has no SmsOriginationNumber
