"""The operations pieces a test can run without a runtime: the business metrics' vocabulary and the
EMF lines they write, the local alarm evaluator (statistics, periods, missing data, metric math),
and what a redrive does with each kind of dead letter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.metrics import LocalMetrics, MetricKey, evaluate
from ops.redrive import NotReplayable, Replay, replay_of
from shared import metrics
from shared.domain.reminders import Intent
from shared.events import (
    authorizations,
    careplans,
    feedback,
    intake,
    partners,
    records,
    reminders,
    scheduling,
    tasks,
    transitions,
)
from shared.events.models import DomainEvent

NOW = datetime(2027, 3, 10, 17, tzinfo=UTC)
NS = "Careloop/dev"


def _detail_types() -> set[str]:
    modules = (authorizations, careplans, feedback, intake, partners, records, reminders, scheduling, tasks)
    found = set()
    for module in (*modules, transitions):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, DomainEvent) and "detail_type" in vars(value):
                found.add(value.detail_type)
    return found


def test_every_event_the_metrics_count_exists_and_each_maps_to_a_known_flow_and_outcome() -> None:
    """A renamed event would silently stop its count: every mapped name is a real detail-type."""
    known = _detail_types()
    mapped = set(metrics._EVENTS) | {"TransitionStepCompleted", "AuthorizationMoved"}
    assert mapped <= known, mapped - known
    for flow, outcome in metrics._EVENTS.values():
        assert outcome in metrics.FLOWS[flow][1]
    # every reply intent is an outcome of Replies
    assert {i.value for i in Intent} == set(metrics.FLOWS["Replies"][1])


@pytest.mark.parametrize(
    ("detail_type", "detail", "counted"),
    [
        ("AppointmentBooked", {}, [("Appointments", "booked")]),
        ("PatientReplied", {"intent": "reschedule"}, []),  # counted as it arrives, every reply
        ("TransitionStepCompleted", {"on_time": True}, [("TcmSteps", "met")]),
        ("TransitionStepCompleted", {"on_time": False}, [("TcmSteps", "late")]),
        (
            "AuthorizationMoved",
            {"action": "approve", "on_time": True},
            [("Authorizations", "decided-in-time")],
        ),
        ("AuthorizationMoved", {"action": "deny", "on_time": False}, [("Authorizations", "decided-late")]),
        ("AuthorizationMoved", {"action": "submit", "on_time": None}, []),
        ("NoteSigned", {}, []),
    ],
)
def test_an_event_counts_as_its_flow_says(detail_type: str, detail: dict, counted: list) -> None:
    assert metrics.of_event(detail_type, detail) == counted


def test_a_count_is_one_emf_line_with_area_and_outcome_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", NS)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "reminder-send")  # not a dimension
    metrics.count("Reminders", "failed", 2)
    (line,) = capsys.readouterr().out.splitlines()
    blob = json.loads(line)
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NS and directive["Dimensions"] == [["area", "outcome"]]
    assert (blob["area"], blob["outcome"], blob["Reminders"]) == ("reminders", "failed", [2.0])
    store = LocalMetrics()
    assert store.record_emf(line)
    key = MetricKey.of(NS, "Reminders", {"area": "reminders", "outcome": "failed"})
    assert store.totals()[0]["sum"] == 2 and store.totals()[0]["dimensions"] == dict(key.dimensions)
    metrics.count("Reminders", "exploded")  # a bug in a count never fails the work it counts
    metrics.count("Explosions", "loud")
    assert not [line for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]


# ---------------------------------------------------------------- local alarms


def _custom(outcome: str) -> dict[str, Any]:
    return {
        "Namespace": NS,
        "MetricName": "Reminders",
        "Dimensions": [{"Name": "area", "Value": "reminders"}, {"Name": "outcome", "Value": outcome}],
    }


def _simple(threshold: float = 0, **extra: Any) -> dict[str, Any]:
    return {
        **_custom("failed"),
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        **extra,
    }


def _record(store: LocalMetrics, outcome: str, value: float, ago: timedelta) -> None:
    dims = {"area": "reminders", "outcome": outcome}
    store.record(MetricKey.of(NS, "Reminders", dims), value, NOW - ago)


def _none(_key: MetricKey) -> float | None:
    return None


def test_a_simple_alarm_reads_its_statistic_over_its_last_period() -> None:
    store = LocalMetrics()
    assert evaluate(_simple(), store, _none, NOW)["state"] == "OK"  # no data, not breaching
    assert evaluate(_simple(TreatMissingData="missing"), store, _none, NOW)["state"] == "INSUFFICIENT_DATA"
    assert evaluate(_simple(TreatMissingData="breaching"), store, _none, NOW)["state"] == "ALARM"
    _record(store, "failed", 3, timedelta(minutes=6))  # the period before
    assert evaluate(_simple(), store, _none, NOW)["state"] == "OK"
    assert evaluate(_simple(EvaluationPeriods=2, DatapointsToAlarm=1), store, _none, NOW)["state"] == "ALARM"
    _record(store, "failed", 2, timedelta(minutes=1))
    _record(store, "failed", 2, timedelta(minutes=2))
    assert evaluate(_simple(threshold=3), store, _none, NOW) == {
        "state": "ALARM",
        "value": 4.0,
        "threshold": 3.0,
        "period_seconds": 300,
    }
    assert evaluate(_simple(threshold=4), store, _none, NOW)["state"] == "OK"
    _record(store, "sent", 50, timedelta(minutes=1))  # another outcome is another metric
    assert evaluate(_simple(threshold=4), store, _none, NOW)["value"] == 4.0


def test_a_gauge_is_read_when_the_alarm_is_evaluated() -> None:
    depth = {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "dlq"}],
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    assert evaluate(depth, LocalMetrics(), lambda key: 1.0, NOW)["state"] == "ALARM"
    assert evaluate(depth, LocalMetrics(), lambda key: 0.0, NOW)["state"] == "OK"


def _template_alarm(name: str) -> dict[str, Any]:
    from local.template import Template, resolve

    tpl = Template.default()
    return dict(resolve(tpl.resources()[name]["Properties"], {"Stage": "dev"}))


def test_the_failing_reminders_alarm_is_a_rate_with_a_floor() -> None:
    alarm = _template_alarm("RemindersFailingAlarm")
    store = LocalMetrics()
    _record(store, "failed", 3, timedelta(minutes=10))
    assert evaluate(alarm, store, _none, NOW)["state"] == "OK"  # 3 tries: under the floor of 5
    _record(store, "sent", 17, timedelta(minutes=20))
    assert evaluate(alarm, store, _none, NOW)["value"] == pytest.approx(15.0)  # 3 of 20
    assert evaluate(alarm, store, _none, NOW)["state"] == "ALARM"
    _record(store, "sent", 20, timedelta(minutes=5))
    assert evaluate(alarm, store, _none, NOW)["state"] == "OK"  # 3 of 40
    assert evaluate(alarm, store, _none, NOW + timedelta(hours=2))["value"] == 0  # the hour moved on


def test_the_stalled_reminders_alarm_fires_when_touches_came_due_two_hours_running_and_none_went_out() -> (
    None
):
    alarm = _template_alarm("RemindersStalledAlarm")
    store = LocalMetrics()
    assert evaluate(alarm, store, _none, NOW)["state"] == "OK"  # nothing due: an idle clinic is fine
    _record(store, "due", 4, timedelta(minutes=30))
    # one hour of it is a touch due at :59 and sent at :00, or a send paced into the next hour
    assert evaluate(alarm, store, _none, NOW)["state"] == "OK"
    _record(store, "due", 2, timedelta(minutes=90))
    assert evaluate(alarm, store, _none, NOW)["state"] == "ALARM"
    _record(store, "undeliverable", 1, timedelta(minutes=29))
    assert evaluate(alarm, store, _none, NOW)["state"] == "OK"


# ---------------------------------------------------------------- redrive


def _message(body: Any, **attributes: str) -> dict[str, Any]:
    return {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": body if isinstance(body, str) else json.dumps(body),
        "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    }


FN = "arn:aws:lambda:us-east-1:123456789012:function:careloop-ReminderEvents-x1:$LATEST"


def test_each_kind_of_dead_letter_goes_back_where_it_failed() -> None:
    event = {"detail-type": "AppointmentBooked", "detail": {"event_id": "e-1"}}
    # a queue's own dead-letter queue: back to the queue, body and attributes as they were
    queued = _message('{"touch_id": "t-1"}', kind="touch")
    assert replay_of(queued, "https://sqs/q") == Replay(
        "queue", "https://sqs/q", '{"touch_id": "t-1"}', queued["MessageAttributes"]
    )
    # Lambda's on-failure record: the payload, to the function that failed it
    record = {"requestContext": {"functionArn": FN, "condition": "RetriesExhausted"}, "requestPayload": event}
    assert replay_of(_message(record), None) == Replay("invoke", FN, event)
    # a stream batch: its records, read back from the stream
    info = {"shardId": "s-1", "startSequenceNumber": "100", "endSequenceNumber": "105", "streamArn": "a"}
    batch = {"requestContext": {"functionArn": FN}, "DDBStreamBatchInfo": info}
    assert replay_of(_message(batch), None) == Replay("records", FN, info)
    # EventBridge's own dead letter (it could not hand the event over): to its target
    assert replay_of(_message(event, TARGET_ARN=FN, RULE_ARN="rule"), None) == Replay("invoke", FN, event)
    for unknown in (
        _message("not json"),
        _message({"hello": "world"}),
        _message(event, TARGET_ARN="arn:sqs"),
    ):
        with pytest.raises(NotReplayable):
            replay_of(unknown, None)


class _Recorder:
    def __init__(self, broken: bool = False) -> None:
        self.broken, self.calls = broken, []

    def send(self, queue_url: str, body: str, attributes: dict[str, Any]) -> None:
        self._call("send", queue_url, body)

    def invoke(self, function_arn: str, event: Any) -> None:
        self._call("invoke", function_arn, event)

    def records(self, function_arn: str, records: list[dict[str, Any]]) -> None:
        self._call("records", function_arn, records)

    def _call(self, *call: Any) -> None:
        if self.broken:
            raise RuntimeError("still broken")
        self.calls.append(call)


def test_a_redrive_replays_each_message_once_and_leaves_what_it_could_not_replay() -> None:
    import boto3
    from moto import mock_aws

    from ops.redrive import redrive

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        record = {"requestContext": {"functionArn": FN}, "requestPayload": {"id": "e-1"}}
        for body in (record, record, {"hello": "world"}):
            sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(body))

        broken = _Recorder(broken=True)
        assert redrive(sqs, dlq, broken, wait_seconds=0) == {
            "replayed": 0,
            "left": 1,
            "failed": 2,
            "errors": {"RuntimeError": 2},
        }

        sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"VisibilityTimeout": "0"})
        for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]:
            sqs.change_message_visibility(
                QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        mended = _Recorder()
        assert redrive(sqs, dlq, mended, limit=10, wait_seconds=0, dry_run=True) == {
            "replayed": 0,
            "left": 1,
            "failed": 0,
            "replayable": 2,
        }
        assert mended.calls == []  # a dry run sends nothing, and leaves everything visible
        assert redrive(sqs, dlq, mended, limit=10, wait_seconds=0) == {"replayed": 2, "left": 1, "failed": 0}
        assert mended.calls == [("invoke", FN, {"id": "e-1"})] * 2

        # a queue's dead-letter queue goes back to the queue
        work = sqs.create_queue(QueueName="work")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2})
        sqs.set_queue_attributes(QueueUrl=work, Attributes={"RedrivePolicy": policy})
        back = _Recorder()
        assert redrive(sqs, dlq, back, wait_seconds=0)["replayed"] == 1  # the one no function could take
        assert back.calls == [("send", work, json.dumps({"hello": "world"}))]
