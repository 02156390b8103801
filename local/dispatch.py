"""What AWS does between functions, done locally from the template: the table stream into its
event source mappings, the bus into its rules' targets, schedules into their targets, and time.

moto stores everything but delivers nothing to Lambda, so:
- the table stream is read from moto and fed to the functions whose ``DynamoDB`` events name it,
  through their ``FilterCriteria`` (EventBridge pattern language, matched by moto's own matcher),
  in batches, honouring ``ReportBatchItemFailures`` and ``MaximumRetryAttempts``, then the
  ``OnFailure`` destination;
- every event put on a bus is tapped (a catch-all moto rule into an SQS queue), logged, matched
  against every rule of the template and delivered asynchronously to each target, with the target's
  retry policy (Lambda's default of 2 retries for functions), then its dead-letter queue;
- rate/cron rules, the template's schedules and the one-time Scheduler schedules that code creates
  fire when the runtime clock reaches them, in time order.
Failures that exhaust their retries land in the dead-letter view (``GET /_local/dlq``) and, where the
template names one, in that dead-letter queue in moto.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.events.models import EventPattern

from local.schedules import Schedule
from local.stack import Stack
from local.template import ACCOUNT_ID, REGION, Rule, StreamSource, Target, Template, resolve
from local.workers import FunctionPool, Result
from shared.clock import OffsetClock, isoformat

TAP_RULE = "careloop-local-tap"
UNBOUNDED_STREAM_RETRIES = 10
HISTORY = 1000


@dataclass
class _TimedRule:
    rule: Rule
    schedule: Schedule
    anchor: datetime
    next_at: datetime | None


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
        self._schedule_details: dict[tuple[str, str, Any], dict[str, Any]] = {}
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
            if s.kind == "DynamoDB" and resolve(s.source, stack.names) == stack.table_stream_arn
        ]
        self._taps = self._install_taps()

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
                moved = self._pump_stream() + self._pump_bus()
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
            message={
                "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": source.function_id},
                "DDBStreamBatchInfo": {"streamArn": self.stack.table_stream_arn, "batchSize": len(pending)},
            },
        )

    def _pump_bus(self) -> int:
        moved = 0
        for bus, url in self._taps.items():
            while messages := self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
                for message in messages:
                    self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    self._route(bus, json.loads(message["Body"]))
                    moved += 1
        return moved

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
        for _attempt in range(target.retries + 1):
            result = self._invoke(target.function_id, payload)
            if result.ok:
                self._record(Fired(self.clock.now(), what, target.function_id, True))
                return True
        self._record(Fired(self.clock.now(), what, target.function_id, False))
        fn = self.tpl.function(target.function_id)
        self._dead_letter(
            kind="async",
            function_id=target.function_id,
            payload=payload,
            error=f"{result.error_type}: {result.error}" if result else "not invoked",
            destination=target.dead_letter or fn.async_dlq,
            message=payload,
            attempts=target.retries + 1,
            what=what,
        )
        return False

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
        """Every schedule code created through EventBridge Scheduler, its details fetched once per
        modification (a list call per pass, not a get per schedule)."""
        current: dict[tuple[str, str, Any], dict[str, Any]] = {}
        for page in self._scheduler.get_paginator("list_schedules").paginate():
            for summary in page["Schedules"]:
                group = summary.get("GroupName", "default")
                key = (group, summary["Name"], summary.get("LastModificationDate"))
                current[key] = self._schedule_details.get(key) or self._scheduler.get_schedule(
                    Name=summary["Name"], GroupName=group
                )
        self._schedule_details = current
        return list(current.values())

    def _scheduler_due(self, until: datetime) -> list[tuple[datetime, str, Any]]:
        """One-time and recurring Scheduler schedules due by ``until``."""
        due: list[tuple[datetime, str, Any]] = []
        for detail in self.scheduler_schedules():
            if detail.get("State", "ENABLED") != "ENABLED":
                continue
            key = (detail.get("GroupName", "default"), detail["Name"], detail["ScheduleExpression"])
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
            retries = int(target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185))
            t = Target(
                function_id=fn if fn in self.pools else None,
                arn=None if fn in self.pools else target["Arn"],
                retries=min(retries, 5),
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

    # ------------------------------------------------------------ messages "sent"

    def _collect_outbox(self) -> None:
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        ses = ses_backends[ACCOUNT_ID][REGION]
        sent = ses.sent_messages
        now = isoformat(self.clock.now())
        for msg in sent[self._seen_email :]:
            self.views.outbox.append(
                {
                    "channel": "email",
                    "to": list(getattr(msg, "destinations", {}).get("ToAddresses", []))
                    if isinstance(getattr(msg, "destinations", None), dict)
                    else getattr(msg, "destinations", None),
                    "from": getattr(msg, "source", None),
                    "subject": getattr(msg, "subject", None),
                    "text": getattr(msg, "body", None) or getattr(msg, "raw_data", None),
                    "at": now,
                }
            )
        self._seen_email = len(sent)
        sns = sns_backends[ACCOUNT_ID][REGION]
        for message_id, (phone, text) in list(sns.sms_messages.items()):
            if message_id not in self._seen_sms:
                self._seen_sms.add(message_id)
                self.views.outbox.append({"channel": "sms", "to": phone, "text": text, "at": now})
