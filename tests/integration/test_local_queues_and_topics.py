"""The local runtime's dispatcher (local/dispatch.py) doing what Lambda and SNS do between services,
from a small template, in-process on moto: SQS event sources, SNS subscriptions, a patient's SMS reply
through ``POST /_local/sms``, and the outbox of raw e-mail. Functions are stand-ins that record their
events and answer as each test says (the real worker processes are exercised in tests/e2e)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from werkzeug.test import Client

from local.dispatch import UNBOUNDED_QUEUE_RECEIVES, Dispatcher
from local.http import HttpApi
from local.stack import Stack, provision
from local.template import Template
from local.workers import Result
from shared.clock import OffsetClock

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  SmsOriginationNumber: { Type: String, Default: "+18005550199" }
Globals:
  Function:
    Runtime: python3.14
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{ AttributeName: PK, AttributeType: S }]
      KeySchema: [{ AttributeName: PK, KeyType: HASH }]
      StreamSpecification: { StreamViewType: NEW_AND_OLD_IMAGES }
  Bus:
    Type: AWS::Events::EventBus
    Properties: { Name: test-bus }
  Work:  # listed before its dead-letter queue: the redrive policy must still find it
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: { deadLetterTargetArn: !GetAtt WorkDeadLetters.Arn, maxReceiveCount: 3 }
  WorkDeadLetters:
    Type: AWS::SQS::Queue
  Loose:
    Type: AWS::SQS::Queue
  AsyncDeadLetters:
    Type: AWS::SQS::Queue
  TwoWaySmsTopic:
    Type: AWS::SNS::Topic
  Alerts:
    Type: AWS::SNS::Topic
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: stand.in
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: { MaximumConcurrency: 5 }
  PickyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: stand.in
      Events:
        Loose:
          Type: SQS
          Properties:
            Queue: !GetAtt Loose.Arn
            FilterCriteria:
              Filters:
                - Pattern: '{"body": {"kind": ["keep"]}}'
  ReplyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: stand.in
      DeadLetterQueue: { Type: SQS, TargetArn: !GetAtt AsyncDeadLetters.Arn }
      EventInvokeConfig: { MaximumRetryAttempts: 1 }
      Events:
        Replies:
          Type: SNS
          Properties: { Topic: !Ref TwoWaySmsTopic }
  AlertFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: stand.in
      Events:
        Urgent:
          Type: SNS
          Properties:
            Topic: !Ref Alerts
            FilterPolicy: { severity: [high] }
"""

# the same machinery with no two-way SMS topic: a reply has nowhere to go
NO_SMS_TEMPLATE = TEMPLATE.split("  WorkerFunction:")[0].replace(
    "  TwoWaySmsTopic:\n    Type: AWS::SNS::Topic\n", ""
)


class StandIn:
    """A function: records each event it is invoked with and answers with ``answer(event)``."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer: Callable[[dict[str, Any]], Result] = lambda _event: Result(ok=True)

    def invoke(self, event: dict[str, Any], clock_offset: float, request_id: str | None = None) -> Result:
        self.events.append(json.loads(json.dumps(event)))  # what crossed the wire, not a live dict
        return self.answer(event)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for e in self.events for r in e["Records"]]


def fails(_event: dict[str, Any]) -> Result:
    return Result(ok=False, error_type="RuntimeError", error="boom")


@dataclass
class Local:
    tpl: Template
    stack: Stack
    dispatcher: Dispatcher
    functions: dict[str, StandIn]
    clock: OffsetClock
    session: Any
    woken: int = 0
    http: Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = Client(HttpApi(self))  # type: ignore[arg-type]  # what HttpApi reads of a Runtime

    def wake(self) -> None:
        self.woken += 1

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def url(self, queue_id: str) -> str:
        return str(self.stack.names[queue_id])

    def send(self, queue_id: str, *bodies: str, **kwargs: Any) -> None:
        for body in bodies:
            self.client("sqs").send_message(QueueUrl=self.url(queue_id), MessageBody=body, **kwargs)

    def bodies(self, queue_id: str) -> list[str]:
        """Every message now in a queue (received, so left invisible: look once per test)."""
        out = self.client("sqs").receive_message(QueueUrl=self.url(queue_id), MaxNumberOfMessages=10)
        return [m["Body"] for m in out.get("Messages", [])]

    def in_queue(self, queue_id: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.url(queue_id),
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())


class Session:
    """One client per service, as the runtime's session keeps them (creating clients is most of the
    cost of a test here); the boto3 session, and its loaded service models, are shared by all tests."""

    shared = boto3.Session(region_name="us-east-1")

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self.shared.client(service)
        return self.clients[service]


def start(path: Path, text: str) -> Local:
    path.write_text(text)
    tpl = Template(path)
    session = Session()
    stack = provision(session, table_name="careloop-test", bus_name="careloop-test", tpl=tpl)
    functions = {fn.logical_id: StandIn() for fn in tpl.functions}
    clock = OffsetClock()
    dispatcher = Dispatcher(tpl, stack, session, functions, clock)  # type: ignore[arg-type]
    return Local(tpl, stack, dispatcher, functions, clock, session)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    from moto import mock_aws

    with mock_aws():
        yield start(tmp_path / "template.yaml", TEMPLATE)


# ---------------------------------------------------------------- SQS event sources


def test_a_queue_feeds_its_function_in_batches_of_lambdas_sqs_records(local: Local) -> None:
    local.send("Work", "one", MessageAttributes={"kind": {"DataType": "String", "StringValue": "visit"}})
    local.send("Work", "two", "three")
    local.dispatcher.settle()

    worker = local.functions["WorkerFunction"]
    assert [len(e["Records"]) for e in worker.events] == [2, 1]  # BatchSize: 2
    assert sorted(r["body"] for r in worker.records) == ["one", "three", "two"]
    record = next(r for r in worker.records if r["body"] == "one")
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == local.stack.names["Work.Arn"]
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"] == hashlib.md5(b"one").hexdigest()  # noqa: S324 (SQS's own checksum)
    assert record["messageId"] and record["receiptHandle"]
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "visit", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert local.in_queue("Work") == 0  # succeeded: deleted
    assert local.functions["PickyFunction"].events == []  # another queue's function


def test_the_template_queues_redrive_policy_reaches_moto(local: Local) -> None:
    attributes = local.client("sqs").get_queue_attributes(
        QueueUrl=local.url("Work"), AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": local.stack.names["WorkDeadLetters.Arn"],
        "maxReceiveCount": 3,
    }
    assert local.tpl.stream_sources[0].max_concurrency == 5


def test_reported_item_failures_are_retried_at_once_then_moved_to_the_dead_letter_queue(
    local: Local,
) -> None:
    worker = local.functions["WorkerFunction"]
    worker.answer = lambda event: Result(
        ok=True,
        value={
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"
            ]
        },
    )
    local.send("Work", "good", "bad")
    local.dispatcher.settle()

    assert [r["body"] for r in worker.records].count("good") == 1  # deleted after its batch
    bad = [r for r in worker.records if r["body"] == "bad"]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in bad] == ["1", "2", "3"]  # maxReceiveCount
    assert local.in_queue("Work") == 0
    assert local.bodies("WorkDeadLetters") == ["bad"]  # moved by moto, once: not sent a second time
    (failure,) = local.dispatcher.views.dlq
    assert failure["kind"] == "sqs"
    assert failure["function"] == "WorkerFunction"
    assert failure["error"] == "batchItemFailures"
    assert failure["attempts"] == 3
    assert failure["what"] == f"queue {local.stack.names['Work.QueueName']}"
    assert failure["payload"]["body"] == "bad"


def test_a_failed_invocation_retries_the_whole_batch(local: Local) -> None:
    worker = local.functions["WorkerFunction"]
    worker.answer = fails
    local.send("Work", "a", "b")
    local.dispatcher.settle()

    assert [sorted(r["body"] for r in e["Records"]) for e in worker.events] == [["a", "b"]] * 3
    assert sorted(local.bodies("WorkDeadLetters")) == ["a", "b"]
    assert [f["error"] for f in local.dispatcher.views.dlq] == ["RuntimeError: boom"] * 2


def test_an_item_failure_naming_no_message_of_the_batch_fails_the_whole_batch(local: Local) -> None:
    worker = local.functions["WorkerFunction"]
    answers = iter([{"batchItemFailures": [{"itemIdentifier": ""}]}, None])
    worker.answer = lambda _event: Result(ok=True, value=next(answers))
    local.send("Work", "a", "b")
    local.dispatcher.settle()

    assert [len(e["Records"]) for e in worker.events] == [2, 2]  # both again, then both succeeded
    assert local.in_queue("Work") == 0
    assert local.dispatcher.views.dlq == type(local.dispatcher.views.dlq)()


def test_a_queue_without_a_redrive_policy_drops_a_failing_message_after_the_local_bound(
    local: Local,
) -> None:
    picky = local.functions["PickyFunction"]
    picky.answer = fails
    local.send("Loose", json.dumps({"kind": "keep"}))
    local.dispatcher.settle()

    assert len(picky.events) == UNBOUNDED_QUEUE_RECEIVES
    assert local.in_queue("Loose") == 0
    (failure,) = local.dispatcher.views.dlq
    assert (failure["kind"], failure["attempts"]) == ("sqs", UNBOUNDED_QUEUE_RECEIVES)


def test_messages_no_filter_matches_are_deleted_without_an_invocation(local: Local) -> None:
    local.send("Loose", json.dumps({"kind": "drop"}), "not json", json.dumps({"kind": "keep", "n": 1}))
    local.dispatcher.settle()

    picky = local.functions["PickyFunction"]
    assert [json.loads(r["body"]) for r in picky.records] == [{"kind": "keep", "n": 1}]
    assert local.in_queue("Loose") == 0


def test_a_delayed_message_waits_for_moto_to_show_it(local: Local) -> None:
    local.send("Work", "later", DelaySeconds=60)
    assert local.dispatcher.settle() == 0
    assert local.functions["WorkerFunction"].events == []
    assert local.in_queue("Work") == 1


def test_record_timestamps_are_on_the_runtime_clock(local: Local) -> None:
    local.clock.offset = timedelta(days=3)
    local.send("Work", "x")
    local.client("sns").publish(TopicArn=local.stack.names["TwoWaySmsTopic"], Message="y")
    local.dispatcher.settle()

    now_ms = local.clock.now().timestamp() * 1000
    (record,) = local.functions["WorkerFunction"].records
    for key in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"):
        assert abs(int(record["attributes"][key]) - now_ms) < 60_000
    (notification,) = local.functions["ReplyFunction"].records
    assert notification["Sns"]["Timestamp"][:10] == local.clock.now().date().isoformat()


# ---------------------------------------------------------------- SNS subscriptions


def test_a_topic_invokes_its_subscriber_once_per_notification_in_lambdas_sns_shape(local: Local) -> None:
    topic = local.stack.names["TwoWaySmsTopic"]
    sns = local.client("sns")
    first = sns.publish(TopicArn=topic, Message="hello", Subject="Greeting")["MessageId"]
    sns.publish(TopicArn=topic, Message="again")
    local.dispatcher.settle()

    reply = local.functions["ReplyFunction"]
    assert [len(e["Records"]) for e in reply.events] == [1, 1]
    record = reply.events[0]["Records"][0]
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription["SubscriptionArn"]
    message = record["Sns"]
    assert message["Type"] == "Notification"
    assert message["MessageId"] == first
    assert message["TopicArn"] == topic
    assert (message["Subject"], message["Message"]) == ("Greeting", "hello")
    assert message["Timestamp"].endswith("Z")
    assert (message["SignatureVersion"], message["Signature"]) == ("1", "")
    assert (message["SigningCertUrl"], message["UnsubscribeUrl"]) == ("", "")
    assert message["MessageAttributes"] == {}
    assert reply.events[1]["Records"][0]["Sns"]["Subject"] is None
    assert [f.target for f in local.dispatcher.views.fired] == ["ReplyFunction"] * 2


def test_a_filter_policy_keeps_other_notifications_away(local: Local) -> None:
    sns = local.client("sns")
    for severity in ("low", "high"):
        sns.publish(
            TopicArn=local.stack.names["Alerts"],
            Message=severity,
            MessageAttributes={"severity": {"DataType": "String", "StringValue": severity}},
        )
    local.dispatcher.settle()

    (record,) = local.functions["AlertFunction"].records
    assert record["Sns"]["Message"] == "high"
    assert record["Sns"]["MessageAttributes"] == {"severity": {"Type": "String", "Value": "high"}}
    assert local.functions["ReplyFunction"].events == []


def test_a_failing_subscriber_is_retried_then_dead_lettered(local: Local) -> None:
    reply = local.functions["ReplyFunction"]
    reply.answer = fails
    local.client("sns").publish(TopicArn=local.stack.names["TwoWaySmsTopic"], Message="doomed")
    local.dispatcher.settle()

    assert len(reply.events) == 2  # the first try and EventInvokeConfig's 1 retry
    (failure,) = local.dispatcher.views.dlq
    assert (failure["kind"], failure["attempts"]) == ("async", 2)
    (dead,) = [json.loads(b) for b in local.bodies("AsyncDeadLetters")]  # the function's DeadLetterQueue
    assert dead["Records"][0]["Sns"]["Message"] == "doomed"


# ---------------------------------------------------------------- POST /_local/sms


def test_an_sms_reply_is_published_as_end_user_messaging_publishes_it(local: Local) -> None:
    sns = local.client("sns")
    sns.publish(PhoneNumber="+15551230000", Message="Your visit is Tuesday")
    asked = sns.publish(PhoneNumber="+15551230000", Message="Reply C to confirm")["MessageId"]
    sns.publish(PhoneNumber="+15559990000", Message="someone else")

    response = local.http.post("/_local/sms", json={"from": "+15551230000", "body": "C"})

    assert response.status_code == 202
    answer = response.get_json()
    assert answer["previousPublishedMessageId"] == asked
    (record,) = local.functions["ReplyFunction"].records  # settled before answering
    assert json.loads(record["Sns"]["Message"]) == {
        "originationNumber": "+15551230000",
        "destinationNumber": "+18005550199",  # the template's SmsOriginationNumber
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": "C",
        "inboundMessageId": answer["inboundMessageId"],
        "previousPublishedMessageId": asked,
    }
    assert local.woken == 1


def test_an_sms_reply_to_a_given_number_from_a_phone_never_messaged(local: Local) -> None:
    response = local.http.post(
        "/_local/sms", json={"from": "+15557770000", "body": "STOP", "to": "+18005550111"}
    )

    assert response.status_code == 202
    assert response.get_json()["previousPublishedMessageId"] is None
    (record,) = local.functions["ReplyFunction"].records
    sms = json.loads(record["Sns"]["Message"])
    assert (sms["destinationNumber"], sms["previousPublishedMessageId"]) == ("+18005550111", None)


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"not json",
        json.dumps({"from": "5551230000", "body": "C"}).encode(),  # not E.164
        json.dumps({"from": "+15551230000", "body": ""}).encode(),
        json.dumps({"from": "+15551230000", "body": "C", "to": "the office"}).encode(),
        json.dumps({"from": "+15551230000", "body": "C", "channel": "sms"}).encode(),
    ],
)
def test_a_malformed_sms_reply_is_a_400(local: Local, body: bytes) -> None:
    response = local.http.post("/_local/sms", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["message"]
    assert local.functions["ReplyFunction"].events == []


def test_without_a_two_way_sms_topic_a_reply_is_a_404(tmp_path: Path) -> None:
    from moto import mock_aws

    with mock_aws():
        bare = start(tmp_path / "template.yaml", NO_SMS_TEMPLATE)
        response = bare.http.post("/_local/sms", json={"from": "+15551230000", "body": "C"})
    assert response.status_code == 404
    assert "TwoWaySmsTopic" in response.get_json()["message"]


# ---------------------------------------------------------------- the outbox


def test_a_raw_email_shows_in_the_outbox_with_its_text_and_attachments(local: Local) -> None:
    ses = local.client("ses")
    ses.verify_email_identity(EmailAddress="care@careloop.local")
    mail = EmailMessage()
    mail["From"] = "Careloop <care@careloop.local>"
    mail["To"] = "Pat Doe <pat@example.com>"
    mail["Subject"] = "Your visit — summary"
    mail.set_content("Résumé of your visit: all good.\n", cte="quoted-printable")
    mail.add_alternative("<p>Résumé of your visit</p>", subtype="html")
    mail.add_attachment(b"%PDF-1.7 ...", maintype="application", subtype="pdf", filename="summary.pdf")
    mail.add_attachment("BEGIN:VCALENDAR", subtype="calendar", filename="visit.ics")
    sent = ses.send_raw_email(RawMessage={"Data": mail.as_bytes()})["MessageId"]
    local.dispatcher.settle()

    (entry,) = local.dispatcher.views.outbox
    assert entry["channel"] == "email"
    assert entry["message_id"] == sent
    assert entry["to"] == ["pat@example.com"]
    assert entry["from"] == "care@careloop.local"
    assert entry["subject"] == "Your visit — summary"
    assert entry["text"] == "Résumé of your visit: all good.\n"
    assert entry["attachments"] == [
        {"filename": "summary.pdf", "content_type": "application/pdf"},
        {"filename": "visit.ics", "content_type": "text/calendar"},
    ]


def test_outbox_entries_carry_the_providers_message_id(local: Local) -> None:
    ses = local.client("ses")
    ses.verify_email_identity(EmailAddress="care@careloop.local")
    email_id = ses.send_email(
        Source="care@careloop.local",
        Destination={"ToAddresses": ["pat@example.com"]},
        Message={"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "See you"}}},
    )["MessageId"]
    sms_id = local.client("sns").publish(PhoneNumber="+15551230000", Message="See you")["MessageId"]
    local.dispatcher.settle()

    email, sms = local.dispatcher.views.outbox
    assert (email["message_id"], email["to"], email["text"], email["attachments"]) == (
        email_id,
        ["pat@example.com"],
        "See you",
        [],
    )
    assert (sms["channel"], sms["message_id"], sms["to"]) == ("sms", sms_id, "+15551230000")
