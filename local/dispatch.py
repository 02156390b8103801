"""What AWS does between functions, done locally from the template: the table stream and queues
into their event source mappings, the bus into its rules' targets, topics into their subscribed
functions, schedules into their targets, and time.

moto stores everything but delivers nothing to Lambda, so:
- the table stream is read from moto and fed to the functions whose ``DynamoDB`` events name it,
  through their ``FilterCriteria`` (EventBridge pattern language, matched by moto's own matcher),
  in batches, honouring ``ReportBatchItemFailures`` and ``MaximumRetryAttempts``, then the
  ``OnFailure`` destination;
- queues named by ``SQS`` events are polled as Lambda's poller does: batches of ``BatchSize``, through
  ``FilterCriteria`` (what matches no filter is deleted), deleted when the function succeeds, or all but
  the reported ``batchItemFailures``; a failed message is visible again at once and, after the queue's
  ``RedrivePolicy.maxReceiveCount`` receives, moved to its dead-letter queue (by moto itself);
- every ``SNS`` event subscribes a queue of ours to its topic in moto (with the event's
  ``FilterPolicy``, which moto applies); each notification is delivered asynchronously, one per
  invocation, with the function's async retry policy, then its dead-letter queue;
- every event put on a bus is tapped (a catch-all moto rule into an SQS queue), logged, matched
  against every rule of the template and delivered asynchronously to each target, with the target's
  retry policy (Lambda's default of 2 retries for functions), then its dead-letter queue;
- rate/cron rules, the template's schedules and the one-time Scheduler schedules that code creates
  fire when the runtime clock reaches them, in time order.
Failures that exhaust their retries land in the dead-letter view (``GET /_local/dlq``) and, where the
template names one, in that dead-letter queue in moto. Also here: what AWS End User Messaging does
when a patient answers an SMS (:meth:`Dispatcher.inbound_sms`), and the outbox of what was "sent".
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_string, policy
from email.utils import getaddresses
from typing import Any

from moto.events.models import EventPattern

from local.schedules import Schedule
from local.stack import Stack
from local.template import (
    ACCOUNT_ID,
    REGION,
    Rule,
    StreamSource,
    Target,
    Template,
    TopicSubscription,
    resolve,
)
from local.workers import FunctionPool, Result
from shared.clock import OffsetClock, isoformat

TAP_RULE = "careloop-local-tap"
UNBOUNDED_STREAM_RETRIES = 10
# a queue without a redrive policy keeps a failing message until it expires (days); locally it is
# received this many times (the first and UNBOUNDED_STREAM_RETRIES retries), then dropped
UNBOUNDED_QUEUE_RECEIVES = UNBOUNDED_STREAM_RETRIES + 1
QUEUE_BATCHES_PER_PASS = 1000  # a function that keeps feeding its own queue yields to the next pass
HISTORY = 1000
# the topic AWS End User Messaging publishes patients' SMS replies to, and the number they answer
TWO_WAY_SMS_TOPIC = "TwoWaySmsTopic"
SMS_ORIGINATION_PARAMETER = "SmsOriginationNumber"
DEFAULT_ORIGINATION_NUMBER = "+18005550100"
# the system attributes Lambda puts in an SQS record (the last three: FIFO queues, traced messages)
_SQS_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
)


class NoTwoWaySms(LookupError):
    """The template has no ``TwoWaySmsTopic``: nothing would receive a patient's reply."""


@dataclass
class _TimedRule:
    rule: Rule
    schedule: Schedule
    anchor: datetime
    next_at: datetime | None


@dataclass
class _Queue:
    """An ``SQS`` event source, resolved: the moto queue it polls and its filters, compiled."""

    source: StreamSource
    arn: str
    url: str
    filters: list[EventPattern]

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[1]


@dataclass
class _TopicTap:
    """An ``SNS`` event, emulated: a queue of ours subscribed to the topic in moto."""

    subscription: TopicSubscription
    topic_arn: str
    subscription_arn: str
    url: str


@dataclass
class Fired:
    at: datetime
    what: str
    target: str
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        return {"at": isoformat(self.at), "what": self.what, "target": self.target, "ok": self.ok}


@dataclass
class _Views:
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    dlq: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    fired: deque[Fired] = field(default_factory=lambda: deque(maxlen=HISTORY))
    outbox: list[dict[str, Any]] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self, tpl: Template, stack: Stack, session: Any, pools: dict[str, FunctionPool], clock: OffsetClock
    ) -> None:
        self.tpl, self.stack, self.session, self.pools, self.clock = tpl, stack, session, pools, clock
        self.lock = threading.RLock()
        self.views = _Views()
        self._firing: list[Fired] | None = None  # what the current run_due call fired
        self._streams = session.client("dynamodbstreams")
        self._sqs = session.client("sqs")
        self._scheduler = session.client("scheduler")
        self._iterators: dict[str, str] = {}
        self._shard_ids: list[str] = []
        self._finished_shards: set[str] = set()
        self._shard_of: dict[str, str] = {}  # sequence number → shard (a failed batch's record names it)
        # told of each stream batch as it is handed over (the runtime's IteratorAge)
        self.on_stream_batch: Any = None
        self.fired_once: set[tuple[str, str, str]] = set()
        self.moved = 0  # everything settle() ever moved: the runtime saves a snapshot when it grows
        self._recurring: dict[tuple[str, str, str], datetime | None] = {}
        self._seen_email = 0
        self._seen_sms: set[str] = set()
        start = clock.now()
        schedules = [(r, Schedule(r.schedule, r.time_zone)) for r in tpl.rules if r.schedule]
        self._timed = [
            _TimedRule(r, s, start, s.next_after(start, start)) for r, s in schedules if not s.one_time
        ]
        self._once = [(r, s) for r, s in schedules if s.one_time]
        self._patterns = [
            (r, EventPattern.load(json.dumps(r.pattern))) for r in tpl.rules if r.pattern is not None
        ]
        self._stream_sources = [
            (s, [EventPattern.load(json.dumps(f)) for f in s.filters])
            for s in tpl.stream_sources
            if s.kind == "DynamoDB" and s.enabled and resolve(s.source, stack.names) == stack.table_stream_arn
        ]
        self._taps = self._install_taps()
        self._queues = self._queue_sources()
        self._topic_taps = self._subscribe_topics()

    # ------------------------------------------------------------ set-up

    def _install_taps(self) -> dict[str, str]:
        """A catch-all moto rule per bus into a queue of its own, so every event put on a bus is seen
        (and which bus it was put on is known). Returns bus name → queue URL."""
        events = self.session.client("events")
        taps = {}
        for bus in (self.stack.bus_name, "default"):
            name = f"{self.stack.bus_name}-tap-{bus}"
            taps[bus] = str(self._sqs.create_queue(QueueName=name)["QueueUrl"])
            events.put_rule(
                Name=TAP_RULE, EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]})
            )
            events.put_targets(
                Rule=TAP_RULE,
                EventBusName=bus,
                Targets=[{"Id": "tap", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"}],
            )
        return taps

    def _queue_sources(self) -> list[_Queue]:
        """The template's enabled ``SQS`` event sources whose queue exists in moto (resolved through
        the stack's names, so named as local/stack.py created it; a queue the template does not
        create, e.g. another stack's ARN passed as a parameter, has nothing local to poll)."""
        out = []
        for source in self.tpl.stream_sources:
            if source.kind != "SQS" or not source.enabled:
                continue
            arn = resolve(source.source, self.stack.names)
            if not (isinstance(arn, str) and arn.startswith("arn:aws:sqs:")):
                continue
            try:
                url = self._queue_url(arn)
            except self._sqs.exceptions.QueueDoesNotExist:
                continue
            filters = [EventPattern.load(json.dumps(f)) for f in source.filters]
            out.append(_Queue(source, arn, url, filters))
        return out

    def _subscribe_topics(self) -> list[_TopicTap]:
        """A queue of ours per ``SNS`` event, subscribed to its topic in moto with the event's filter
        policy: moto applies the policy, so what lands in the queue is what SNS would deliver to the
        function. Topics the template does not create (nothing local publishes there) and
        ``SqsSubscription`` events (not emulated) are skipped."""
        sns = self.session.client("sns")
        topics = {
            t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]
        }
        taps = []
        for sub in self.tpl.topic_subscriptions:
            topic = resolve(sub.topic, self.stack.names)
            if sub.sqs_subscription or not isinstance(topic, str) or topic not in topics:
                continue
            name = f"{self.stack.bus_name}-tap-sns-{sub.function_id}-{sub.event_name}"[:80]
            url = str(self._sqs.create_queue(QueueName=name)["QueueUrl"])
            attributes = {}
            if sub.filter_policy is not None:
                attributes["FilterPolicy"] = json.dumps(sub.filter_policy)
            if sub.filter_policy_scope:
                attributes["FilterPolicyScope"] = sub.filter_policy_scope
            arn = sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            taps.append(_TopicTap(sub, topic, str(arn), url))
        return taps

    def start_stream_at_latest(self) -> None:
        """Skip what is on the stream now (used after restoring saved data, which is not news)."""
        self._iterators = {}
        for shard in self._shards():
            self._iterators[shard] = self._streams.get_shard_iterator(
                StreamArn=self.stack.table_stream_arn, ShardId=shard, ShardIteratorType="LATEST"
            )["ShardIterator"]

    def _shards(self) -> list[str]:
        if not self._shard_ids:
            desc = self._streams.describe_stream(StreamArn=self.stack.table_stream_arn)["StreamDescription"]
            self._shard_ids = [s["ShardId"] for s in desc["Shards"]]
        return self._shard_ids

    # ------------------------------------------------------------ settle: run until nothing moves

    def settle(self) -> int:
        """Deliver everything pending (stream records, bus events, sent messages), repeatedly, until a
        pass finds nothing new. Returns how many things moved."""
        total = 0
        with self.lock:
            for _ in range(100):
                moved = self._pump_stream() + self._pump_bus() + self._pump_queues() + self._pump_topics()
                self._collect_outbox()
                total += moved
                if not moved:
                    break
            self.moved += total
        return total

    def _pump_stream(self) -> int:
        records: list[dict[str, Any]] = []
        for shard in self._shards():
            if shard in self._finished_shards:
                continue
            if shard not in self._iterators:
                self._iterators[shard] = self._streams.get_shard_iterator(
                    StreamArn=self.stack.table_stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            out = self._streams.get_records(ShardIterator=self._iterators[shard], Limit=1000)
            if out.get("NextShardIterator"):
                self._iterators[shard] = out["NextShardIterator"]
            else:  # the shard closed and is read to its end: its successor shows up next pass
                del self._iterators[shard]
                self._finished_shards.add(shard)
                self._shard_ids = []
            for record in out["Records"]:
                record["eventSourceARN"] = self.stack.table_stream_arn
                if len(self._shard_of) > HISTORY * 10:
                    self._shard_of.clear()
                self._shard_of[record["dynamodb"]["SequenceNumber"]] = shard
                created = record["dynamodb"].get("ApproximateCreationDateTime")
                if isinstance(created, datetime):  # boto3 parses it; Lambda delivers epoch seconds
                    record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
                records.append(record)
        for source, filters in self._stream_sources:
            matching = [r for r in records if not filters or any(f.matches_event(r) for f in filters)]  # type: ignore[arg-type]
            for i in range(0, len(matching), source.batch_size):
                self._deliver_batch(source, matching[i : i + source.batch_size])
        return len(records)

    def _deliver_batch(self, source: StreamSource, batch: list[dict[str, Any]]) -> None:
        pending = batch
        result: Result | None = None
        # -1 (Lambda's default) retries until the record leaves the stream after 24 h; locally, a bound
        attempts = (source.retries if source.retries >= 0 else UNBOUNDED_STREAM_RETRIES) + 1
        for _attempt in range(attempts):
            if self.on_stream_batch is not None:
                self.on_stream_batch(source.function_id, pending)
            result = self._invoke(source.function_id, {"Records": pending})
            if not result.ok:
                continue
            failures = (
                (result.value or {}).get("batchItemFailures") or [] if source.report_item_failures else []
            )
            if not failures:
                return
            # Lambda resumes from the lowest failed sequence number
            failed = {f["itemIdentifier"] for f in failures}
            first = next((i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] in failed), 0)
            pending = pending[first:]
        self._dead_letter(
            kind="stream",
            function_id=source.function_id,
            payload={"records": [r["dynamodb"]["SequenceNumber"] for r in pending]},
            error=(result.error_type or "") if result and not result.ok else "batchItemFailures",
            destination=source.on_failure,
            attempts=attempts,
            what="the table's stream",
            message={
                "version": "1.0",
                "timestamp": isoformat(self.clock.now()),
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": self.tpl.function(source.function_id).arn,
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": attempts,
                },
                "DDBStreamBatchInfo": {
                    "shardId": self._shard_of.get(pending[0]["dynamodb"]["SequenceNumber"]),
                    "startSequenceNumber": pending[0]["dynamodb"]["SequenceNumber"],
                    "endSequenceNumber": pending[-1]["dynamodb"]["SequenceNumber"],
                    "streamArn": self.stack.table_stream_arn,
                    "batchSize": len(pending),
                },
            },
        )

    def _pump_bus(self) -> int:
        moved = 0
        for bus, url in self._taps.items():
            while self._visible(url) and (
                messages := self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")
            ):
                for message in messages:
                    self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    self._route(bus, json.loads(message["Body"]))
                    moved += 1
        return moved

    @staticmethod
    def _visible(url: str) -> bool:
        """Whether a queue may hold a visible message, asked of moto's backend in this process (the
        runtime's moto server is a thread of it; tests run moto in-process): an idle pass then makes
        no HTTP call at all. When the backend cannot say, the receive decides."""
        from moto.sqs.models import sqs_backends

        try:
            queue = sqs_backends[ACCOUNT_ID][REGION].queues[url.rstrip("/").rsplit("/", 1)[1]]
        except (KeyError, IndexError):
            return True
        return bool(queue.messages)

    def _pump_queues(self) -> int:
        """Poll every ``SQS`` event source as Lambda's poller does, until its queue shows nothing
        visible: failed messages are retried at once, so each is settled (deleted, moved to the
        dead-letter queue or dropped) within the pass."""
        moved = 0
        for queue in self._queues:
            if not self._visible(queue.url):
                continue
            max_receives = self._max_receives(queue.url)
            for _ in range(QUEUE_BATCHES_PER_PASS):
                messages = self._receive(queue.url, queue.source.batch_size)
                if not messages:
                    break
                moved += len(messages)
                self._deliver_queue_batch(queue, messages, max_receives)
        return moved

    def _receive(self, url: str, up_to: int) -> list[dict[str, Any]]:
        """Up to ``up_to`` visible messages, 10 a call (SQS's limit), never waiting (a queue's
        ``ReceiveMessageWaitTimeSeconds`` would otherwise make moto long-poll the pump)."""
        out: list[dict[str, Any]] = []
        while len(out) < up_to:
            got = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, up_to - len(out)),
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            out.extend(got)
        return out

    def _max_receives(self, url: str) -> int | None:
        """The queue's ``RedrivePolicy.maxReceiveCount``, read each pass (it can be changed from
        outside, e.g. with the AWS CLI), or None without a redrive policy."""
        attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
        redrive = attributes.get("Attributes", {}).get("RedrivePolicy")
        return int(json.loads(redrive)["maxReceiveCount"]) if redrive else None

    def _deliver_queue_batch(
        self, queue: _Queue, messages: list[dict[str, Any]], max_receives: int | None
    ) -> None:
        records = [self._sqs_record(queue.arn, m) for m in messages]
        handles = {m["MessageId"]: str(m["ReceiptHandle"]) for m in messages}
        if queue.filters:  # Lambda deletes what matches no filter, without invoking the function
            matching = []
            for record in records:
                if any(f.matches_event(_filterable(record)) for f in queue.filters):  # type: ignore[arg-type]
                    matching.append(record)
                else:
                    self._sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=handles[record["messageId"]])
            records = matching
            if not records:
                return
        result = self._invoke(queue.source.function_id, {"Records": records})
        failed, error = _failed_items(queue.source, records, result)
        for record in records:
            handle = handles[record["messageId"]]
            if record["messageId"] in failed:
                self._retry_message(queue, record, handle, error, max_receives)
            else:
                self._sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=handle)

    def _retry_message(
        self, queue: _Queue, record: dict[str, Any], handle: str, error: str, max_receives: int | None
    ) -> None:
        """A failed message is made visible again at once (Lambda waits out the visibility timeout;
        locally retries are immediate, and moto's timeout runs on the wall clock). One received
        ``maxReceiveCount`` times is moved to the dead-letter queue by moto on the next receive, which
        this pass makes, so here it is only recorded; without a redrive policy it is dropped after
        ``UNBOUNDED_QUEUE_RECEIVES``."""
        receives = int(record["attributes"]["ApproximateReceiveCount"])
        limit = max_receives if max_receives is not None else UNBOUNDED_QUEUE_RECEIVES
        if receives >= limit:
            self._dead_letter(
                kind="sqs",
                function_id=queue.source.function_id,
                payload=record,
                error=error,
                destination=None,  # moto moves it: sending it as well would put it there twice
                message=None,
                attempts=receives,
                what=f"queue {queue.name}",
            )
        if receives >= limit and max_receives is None:
            self._sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=handle)
        else:
            self._sqs.change_message_visibility(QueueUrl=queue.url, ReceiptHandle=handle, VisibilityTimeout=0)

    def _sqs_record(self, arn: str, message: dict[str, Any]) -> dict[str, Any]:
        """Lambda's SQS event record for a received message. SQS stamps wall-clock times; the runtime
        clock may be ahead (``POST /_local/clock``) and functions compare these stamps with their own
        now, so the stamps are moved onto the runtime clock."""
        shift = int(self.clock.offset.total_seconds() * 1000)
        attributes = {k: v for k, v in message.get("Attributes", {}).items() if k in _SQS_RECORD_ATTRIBUTES}
        for key in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"):
            if key in attributes:
                attributes[key] = str(int(attributes[key]) + shift)
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": attributes,
            "messageAttributes": {
                k: _lambda_message_attribute(v) for k, v in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": REGION,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _pump_topics(self) -> int:
        """Deliver what SNS put in each subscription's queue, one notification per asynchronous
        invocation, with the function's async retries and dead-letter queue (as ``_deliver`` does)."""
        moved = 0
        for tap in self._topic_taps:
            fn = self.tpl.function(tap.subscription.function_id)
            target = Target(function_id=fn.logical_id)
            topic_name = tap.topic_arn.rsplit(":", 1)[1]
            while self._visible(tap.url) and (
                messages := self._sqs.receive_message(
                    QueueUrl=tap.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages")
            ):
                for message in messages:
                    self._sqs.delete_message(QueueUrl=tap.url, ReceiptHandle=message["ReceiptHandle"])
                    record = self._sns_record(tap, json.loads(message["Body"]))
                    self._deliver(target, {"Records": [record]}, what=f"topic {topic_name}")
                    moved += 1
        return moved

    def _sns_record(self, tap: _TopicTap, envelope: dict[str, Any]) -> dict[str, Any]:
        """Lambda's SNS event record for the envelope moto put in our queue. moto's is the HTTP/SQS
        envelope (signed, SignatureVersion 2, ``...URL`` spellings, a wall-clock Timestamp); Lambda's
        spells ``SigningCertUrl``/``UnsubscribeUrl``, carries no usable signature locally, and its
        Timestamp is moved onto the runtime clock, as SQS stamps are."""
        sent = datetime.fromisoformat(envelope["Timestamp"]) + self.clock.offset
        return {
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": tap.subscription_arn,
            "Sns": {
                "Type": envelope.get("Type", "Notification"),
                "MessageId": envelope["MessageId"],
                "TopicArn": envelope["TopicArn"],
                "Subject": envelope.get("Subject"),
                "Message": envelope["Message"],
                "Timestamp": isoformat(sent),
                "SignatureVersion": "1",
                "Signature": "",
                "SigningCertUrl": "",
                "UnsubscribeUrl": "",
                "MessageAttributes": envelope.get("MessageAttributes", {}),
            },
        }

    def _route(self, bus: str, event: dict[str, Any]) -> None:
        """Log an event put on ``bus`` and deliver it to the targets of every rule it matches."""
        matched = [
            rule
            for rule, pattern in self._patterns
            if self._bus_of(rule) == bus and pattern.matches_event(event)  # type: ignore[arg-type]
        ]
        self.views.events.append(
            {
                "bus": bus,
                "event": event,
                "rules": [r.name for r in matched],
                "received_at": isoformat(self.clock.now()),
            }
        )
        for rule in matched:
            for target in rule.targets:
                self._deliver(target, event, what=f"rule {rule.name}")

    def _bus_of(self, rule: Rule) -> str:
        bus = str(resolve(rule.bus, self.stack.names)) if rule.bus else "default"
        return bus.rsplit("/", 1)[-1]  # a bus ARN names the bus after its last slash

    # ------------------------------------------------------------ delivery

    def _invoke(self, function_id: str, event: Any) -> Result:
        return self.pools[function_id].invoke(event, self.clock.offset.total_seconds())

    def _record(self, fired: Fired) -> None:
        self.views.fired.append(fired)
        if self._firing is not None:
            self._firing.append(fired)

    def _deliver(self, target: Target, event: Any, *, what: str) -> bool:
        """Deliver ``event`` to ``target`` asynchronously (called on the pump thread), with retries."""
        payload = json.loads(target.input) if target.input else event
        if target.function_id is None:
            arn = str(resolve(target.arn, self.stack.names))
            sent = self._send_to_arn(arn, payload)
            self._record(Fired(self.clock.now(), what, arn, sent))
            return sent
        result: Result | None = None
        # the bus and Scheduler hand a function its event asynchronously: their retry policies are for
        # a hand-over that fails (throttling, permissions), never locally; a function that fails is
        # retried by Lambda, as its EventInvokeConfig says (2 retries by default)
        retries = self.tpl.function(target.function_id).async_retries
        for _attempt in range(retries + 1):
            result = self._invoke(target.function_id, payload)
            if result.ok:
                self._record(Fired(self.clock.now(), what, target.function_id, True))
                return True
        self._record(Fired(self.clock.now(), what, target.function_id, False))
        fn = self.tpl.function(target.function_id)
        # Lambda's own on-failure destination when the function has one (the bus and Scheduler hand
        # an event over asynchronously: their DLQs take only what they could not hand over)
        message: Any = payload
        if fn.async_dlq is not None and fn.async_record:
            message = _invocation_record(fn.arn, payload, retries + 1, result, self.clock.now())
        self._dead_letter(
            kind="async",
            function_id=target.function_id,
            payload=payload,
            error=f"{result.error_type}: {result.error}" if result else "not invoked",
            destination=fn.async_dlq or target.dead_letter,
            message=message,
            attempts=retries + 1,
            what=what,
        )
        return False

    def deliver(self, target: Target, event: Any, *, what: str) -> bool:
        """Deliver ``event`` to ``target`` as the bus or Scheduler would (a redrive's replay)."""
        with self.lock:
            return self._deliver(target, event, what=what)

    def _send_to_arn(self, arn: str, payload: Any) -> bool:
        body = json.dumps(payload)
        if arn.startswith("arn:aws:sqs:"):
            self._sqs.send_message(QueueUrl=self._queue_url(arn), MessageBody=body)
        elif arn.startswith("arn:aws:sns:"):
            self.session.client("sns").publish(TopicArn=arn, Message=body)
        else:
            return False
        return True

    def _queue_url(self, arn: str) -> str:
        return str(self._sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"])

    def _dead_letter(
        self,
        *,
        kind: str,
        function_id: str,
        payload: Any,
        error: str,
        destination: Any,
        message: Any,
        attempts: int | None = None,
        what: str | None = None,
    ) -> None:
        entry = {
            "kind": kind,
            "function": function_id,
            "error": error,
            "at": isoformat(self.clock.now()),
            "attempts": attempts,
            "what": what,
            "payload": payload,
        }
        self.views.dlq.append(entry)
        arn = resolve(destination, self.stack.names) if destination else None
        if isinstance(arn, str) and arn.startswith("arn:aws:sqs:"):
            self._sqs.send_message(QueueUrl=self._queue_url(arn), MessageBody=json.dumps(message))

    # ------------------------------------------------------------ time

    def scheduler_schedules(self) -> list[dict[str, Any]]:
        """Every schedule code created through EventBridge Scheduler, read from moto's backend in this
        process (the moto server is a thread of the runtime; tests run moto in-process): listing them
        through the API cost a paginated call per 100 schedules on every pass, and reminders keep a
        schedule per planned touch."""
        from moto.scheduler.models import scheduler_backends

        backend = scheduler_backends[ACCOUNT_ID][REGION]
        out = []
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                # as GetSchedule answers: no empty fields, and State ENABLED when an update left it out
                detail = {k: v for k, v in schedule.to_dict().items() if v is not None}
                detail.setdefault("State", "ENABLED")
                out.append(detail)
        return out

    def _scheduler_due(self, until: datetime) -> list[tuple[datetime, str, Any]]:
        """One-time and recurring Scheduler schedules due by ``until``."""
        due: list[tuple[datetime, str, Any]] = []
        present = set()
        for detail in self.scheduler_schedules():
            if detail.get("State", "ENABLED") != "ENABLED":
                continue
            key = (detail.get("GroupName", "default"), detail["Name"], detail["ScheduleExpression"])
            present.add(key)
            schedule = Schedule(detail["ScheduleExpression"], detail.get("ScheduleExpressionTimezone"))
            if schedule.one_time:
                if key not in self.fired_once and schedule.at and schedule.at <= until:
                    due.append((schedule.at, "scheduler", (key, detail, schedule)))
            else:
                if key not in self._recurring:
                    now = self.clock.now()
                    self._recurring[key] = schedule.next_after(now, now)
                nxt = self._recurring[key]
                if nxt and nxt <= until:
                    due.append((nxt, "scheduler", (key, detail, schedule)))
        for gone in set(self._recurring) - present:  # deleted or disabled: made again, it starts afresh
            del self._recurring[gone]
        return due

    def due(self, until: datetime) -> list[tuple[datetime, str, Any]]:
        items: list[tuple[datetime, str, Any]] = []
        for timed in self._timed:
            if timed.next_at and timed.next_at <= until:
                items.append((timed.next_at, "rule", timed))
        for rule, schedule in self._once:
            key = ("template", rule.name, rule.schedule or "")
            if key not in self.fired_once and schedule.at and schedule.at <= until:
                items.append((schedule.at, "once", (key, rule)))
        items.extend(self._scheduler_due(until))
        return sorted(items, key=lambda i: i[0])

    def run_due(self, until: datetime) -> list[Fired]:
        """Fire everything due up to ``until`` in time order, the clock standing at each fire time,
        settling the consequences of each before the next."""
        with self.lock:
            fired: list[Fired] = []
            self._firing = fired
            for _ in range(10_000):
                items = self.due(until)
                if not items:
                    break
                at, kind, item = items[0]
                if at > self.clock.now():
                    self.clock.set(at)
                self._fire(kind, item, at)
                self.settle()
            if until > self.clock.now():
                self.clock.set(until)
            self._firing = None
        return fired

    def _fire(self, kind: str, item: Any, at: datetime) -> None:
        if kind == "rule":
            timed: _TimedRule = item
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT_ID,
                "time": isoformat(at).replace(".000", ""),
                "region": REGION,
                "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{timed.rule.name}"],
                "detail": {},
            }
            for target in timed.rule.targets:
                self._deliver(target, event, what=f"schedule {timed.rule.name}")
            timed.next_at = timed.schedule.next_after(at, timed.anchor)
        elif kind == "once":
            key, rule = item
            self.fired_once.add(key)
            for target in rule.targets:
                self._deliver(target, {}, what=f"schedule {rule.name}")
        else:
            key, detail, schedule = item
            target = detail["Target"]
            fn = target["Arn"].rsplit(":", 1)[1] if target["Arn"].startswith("arn:aws:lambda:") else None
            t = Target(
                function_id=fn if fn in self.pools else None,
                arn=None if fn in self.pools else target["Arn"],
                dead_letter=target.get("DeadLetterConfig", {}).get("Arn"),
                input=target.get("Input"),
            )
            self._deliver(t, {}, what=f"scheduler {key[0]}/{key[1]}")
            if schedule.one_time:
                self.fired_once.add(key)
                if detail.get("ActionAfterCompletion") == "DELETE":
                    self._scheduler.delete_schedule(Name=key[1], GroupName=key[0])
            else:
                self._recurring[key] = schedule.next_after(at, at)

    def schedules(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        out: list[dict[str, Any]] = [
            {
                "name": t.rule.name,
                "expression": t.rule.schedule,
                "next": isoformat(t.next_at) if t.next_at else None,
                "source": "template",
            }
            for t in self._timed
        ]
        out += [
            {
                "name": r.name,
                "expression": r.schedule,
                "next": isoformat(s.at) if s.at else None,
                "source": "template",
                "fired": ("template", r.name, r.schedule or "") in self.fired_once,
            }
            for r, s in self._once
        ]
        for detail in self.scheduler_schedules():
            schedule = Schedule(detail["ScheduleExpression"], detail.get("ScheduleExpressionTimezone"))
            key = (detail.get("GroupName", "default"), detail["Name"], detail["ScheduleExpression"])
            nxt = (
                schedule.at
                if schedule.one_time
                else self._recurring.get(key) or schedule.next_after(now, now)
            )
            out.append(
                {
                    "name": f"{key[0]}/{key[1]}",
                    "expression": key[2],
                    "next": isoformat(nxt) if nxt else None,
                    "source": "scheduler",
                    "target": detail["Target"]["Arn"],
                    "fired": key in self.fired_once,
                    "state": detail.get("State", "ENABLED"),
                }
            )
        return sorted(out, key=lambda s: s["next"] or "~")

    # ------------------------------------------------------------ messages "sent" and received

    def inbound_sms(self, sender: str, body: str, to: str | None = None) -> dict[str, Any]:
        """A patient's SMS reply, as AWS End User Messaging's two-way SMS hands it over: the JSON it
        publishes to the number's two-way topic (the template's ``TwoWaySmsTopic``), whose
        ``previousPublishedMessageId`` names the last message sent to that phone (what the reply
        answers). Delivers what it causes before returning the notification."""
        if TWO_WAY_SMS_TOPIC not in self.tpl.resources("AWS::SNS::Topic"):
            raise NoTwoWaySms(
                f"template.yaml has no {TWO_WAY_SMS_TOPIC} (an AWS::SNS::Topic): "
                "nothing would receive an SMS reply"
            )
        notification = {
            "originationNumber": sender,
            "destinationNumber": to
            or self.tpl.parameter_defaults().get(SMS_ORIGINATION_PARAMETER)
            or DEFAULT_ORIGINATION_NUMBER,
            "messageKeyword": f"KEYWORD_{ACCOUNT_ID}",
            "messageBody": body,
            "inboundMessageId": str(uuid.uuid4()),
            "previousPublishedMessageId": self.last_sms_to(sender),
        }
        self.session.client("sns").publish(
            TopicArn=str(self.stack.names[TWO_WAY_SMS_TOPIC]), Message=json.dumps(notification)
        )
        self.settle()
        return notification

    @staticmethod
    def last_sms_to(phone: str) -> str | None:
        """The message id of the most recent SMS published to ``phone`` (punctuation aside), or None."""
        from moto.sns.models import sns_backends

        wanted = _phone_digits(phone)
        sent = sns_backends[ACCOUNT_ID][REGION].sms_messages  # insertion ordered
        return next(
            (
                message_id
                for message_id, (to, _) in reversed(list(sent.items()))
                if _phone_digits(to) == wanted
            ),
            None,
        )

    def _collect_outbox(self) -> None:
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        ses = ses_backends[ACCOUNT_ID][REGION]
        sent = ses.sent_messages
        now = isoformat(self.clock.now())
        for msg in sent[self._seen_email :]:
            self.views.outbox.append({**_email_entry(msg), "at": now})
        self._seen_email = len(sent)
        sns = sns_backends[ACCOUNT_ID][REGION]
        for message_id, (phone, text) in list(sns.sms_messages.items()):
            if message_id not in self._seen_sms:
                self._seen_sms.add(message_id)
                self.views.outbox.append(
                    {"channel": "sms", "message_id": message_id, "to": phone, "text": text, "at": now}
                )


# ---------------------------------------------------------------- helpers


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    """An SQS record as Lambda's filters see it: a JSON body is matched as JSON (``{"body": {...}}``)."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record
    return {**record, "body": body}


def _invocation_record(
    function_arn: str, payload: Any, attempts: int, result: Result | None, at: datetime
) -> dict[str, Any]:
    """What Lambda sends an on-failure destination after an asynchronous invocation's last retry."""
    return {
        "version": "1.0",
        "timestamp": isoformat(at),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": result.error_type if result else "NotInvoked"},
    }


def _failed_items(
    source: StreamSource, records: list[dict[str, Any]], result: Result
) -> tuple[set[str], str]:
    """The messages of a batch that failed, and why, as Lambda reads the function's answer: all of them
    when the invocation failed, or when (with ``ReportBatchItemFailures``) an ``itemIdentifier`` is
    missing, empty or not in the batch; none when ``batchItemFailures`` is empty or absent."""
    batch = {str(r["messageId"]) for r in records}
    if not result.ok:
        return batch, f"{result.error_type}: {result.error}"
    if not source.report_item_failures or not isinstance(result.value, dict):
        return set(), ""
    reported = result.value.get("batchItemFailures") or []
    failed = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in reported}
    if not failed <= batch:
        return batch, "batchItemFailures names no message of the batch"
    return {str(f) for f in failed}, "batchItemFailures"


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """An SQS message attribute as the ReceiveMessage API returns it → as Lambda's record spells it."""
    out: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return out


def _phone_digits(phone: str) -> str:
    return re.sub(r"[^\d+]", "", phone)


def _email_entry(msg: Any) -> dict[str, Any]:
    """An outbox entry for what moto's SES recorded: ``send_email`` keeps its parts, ``send_raw_email``
    the MIME text, which is parsed into the same shape (the text/plain part decoded, attachments by name
    and type)."""
    raw = getattr(msg, "raw_data", None)
    if raw is not None:
        parsed = message_from_string(raw, policy=policy.default)
        to = [address for _, address in getaddresses([str(h) for h in parsed.get_all("To", [])])]
        body = parsed.get_body(preferencelist=("plain",))
        return {
            "channel": "email",
            "message_id": msg.id,
            "to": to or [address for _, address in getaddresses(list(msg.destinations))],
            "from": msg.source or (str(parsed["From"]) if parsed["From"] else None),
            "subject": str(parsed["Subject"]) if parsed["Subject"] is not None else None,
            "text": body.get_content() if body is not None else None,
            "attachments": [
                {"filename": part.get_filename(), "content_type": part.get_content_type()}
                for part in parsed.iter_attachments()
            ],
        }
    destinations = getattr(msg, "destinations", None)
    return {
        "channel": "email",
        "message_id": getattr(msg, "id", None),
        "to": list(destinations.get("ToAddresses", [])) if isinstance(destinations, dict) else destinations,
        "from": getattr(msg, "source", None),
        "subject": getattr(msg, "subject", None),
        "text": getattr(msg, "body", None),
        "attachments": [],
    }
