"""Operating the local runtime as production is operated: its metrics and alarms, its log, functions
broken on purpose, and dead-letter queues redriven after the fix.

- ``GET /_local/metrics``: every metric CloudWatch would hold (local/metrics.py), summed, and the
  state of every alarm of the template, computed from them on the runtime clock;
- ``GET /_local/logs?correlation_id=...``: the functions' log lines (the last few thousand), each
  with the function that wrote it; filtered, one request or delivery followed end to end;
- ``POST /_local/faults`` ``{"function": "ReminderEventsFunction", "error": "RuntimeError"}``: every
  invocation of that function fails, as its handler raising would, until ``"error": null``;
- ``GET /_local/dlq``: the failures seen (history) and what each dead-letter queue holds now;
- ``POST /_local/dlq/redrive`` ``{"queue": "AsyncDeadLetterQueue"}``: ops/redrive.py, as
  ``make redrive`` runs it against AWS, with the runtime's delivery in place of Lambda's.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from local.metrics import LocalMetrics, MetricKey, evaluate
from local.template import Target, resolve
from local.workers import Result
from ops import redrive
from shared.clock import isoformat

if TYPE_CHECKING:
    from local.runtime import Runtime

LOG_LINES = 5000


class Operations:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.metrics = LocalMetrics()
        self.logs: deque[dict[str, Any]] = deque(maxlen=LOG_LINES)
        self._lock = threading.Lock()
        self._sqs = rt.session.client("sqs")
        for pool in rt.pools.values():
            pool.observers.append(self.observe)

    # ------------------------------------------------------------ what functions report

    def observe(self, function_id: str, result: Result) -> None:
        """An invocation finished: Lambda's metrics for it, then its output (EMF lines, log lines)."""
        now = self.rt.clock.now()
        dims = {"FunctionName": function_id}
        self.metrics.record(MetricKey.of("AWS/Lambda", "Invocations", dims), 1, now)
        self.metrics.record(MetricKey.of("AWS/Lambda", "Errors", dims), 0 if result.ok else 1, now)
        self.metrics.record(MetricKey.of("AWS/Lambda", "Duration", dims), result.duration_ms, now)
        for line in result.logs:
            if self.metrics.record_emf(line):
                continue
            try:
                parsed = json.loads(line)
            except ValueError:
                parsed = None
            with self._lock:
                self.logs.append(
                    {"function": function_id, "line": parsed if isinstance(parsed, dict) else line}
                )

    def api_answered(self, status: int) -> None:
        if status >= 500:
            self.metrics.record(
                MetricKey.of("AWS/ApiGateway", "5xx", {"ApiId": "HttpApi"}), 1, self.rt.clock.now()
            )

    def stream_read(self, function_id: str, records: list[dict[str, Any]]) -> None:
        """Lambda's ``IteratorAge``: how old the batch's oldest record is when it is handed over."""
        created = [r["dynamodb"].get("ApproximateCreationDateTime") for r in records]
        stamps = [c for c in created if isinstance(c, int | float)]
        if stamps:
            age_ms = max(0.0, (time.time() - min(stamps)) * 1000)
            key = MetricKey.of("AWS/Lambda", "IteratorAge", {"FunctionName": function_id})
            self.metrics.record(key, age_ms, self.rt.clock.now())

    # ------------------------------------------------------------ what a developer reads

    def report(self) -> dict[str, Any]:
        self.rt.dispatcher.settle()
        now = self.rt.clock.now()
        names = self.rt.stack.names
        alarms = {}
        for alarm_id, alarm in self.rt.tpl.resources("AWS::CloudWatch::Alarm").items():
            props = resolve(alarm.get("Properties", {}), names)
            alarms[alarm_id] = {
                **evaluate(props, self.metrics, self._gauge, now),
                "description": props.get("AlarmDescription"),
            }
        return {
            "now": isoformat(now),
            "metrics": self.metrics.totals(),
            "alarms": alarms,
            "in_alarm": sorted(a for a, v in alarms.items() if v["state"] == "ALARM"),
        }

    def _gauge(self, key: MetricKey) -> float | None:
        """SQS's depth, read from moto now (CloudWatch samples it every minute)."""
        if (key.namespace, key.name) != ("AWS/SQS", "ApproximateNumberOfMessagesVisible"):
            return None
        name = dict(key.dimensions).get("QueueName")
        try:
            url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except Exception:
            return None
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return float(attributes["ApproximateNumberOfMessages"])

    def log_lines(self, correlation_id: str | None) -> list[dict[str, Any]]:
        self.rt.dispatcher.settle()
        with self._lock:
            lines = list(self.logs)
        if correlation_id is None:
            return lines
        return [
            e
            for e in lines
            if isinstance(e["line"], dict) and e["line"].get("correlation_id") == correlation_id
        ]

    def dead_letter_queues(self) -> dict[str, Any]:
        """Each dead-letter queue of the template: its depth and its messages (without taking them)."""
        out = {}
        for queue_id in self.rt.tpl.resources("AWS::SQS::Queue"):
            if "DeadLetter" not in queue_id:
                continue
            url = self.rt.stack.names[queue_id]
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            out[queue_id] = {"depth": int(attributes["ApproximateNumberOfMessages"])}
        return out

    # ------------------------------------------------------------ breaking and mending

    def set_fault(self, function_id: str, error: str | None) -> None:
        self.rt.pools[function_id].fault = error

    def faults(self) -> dict[str, str]:
        return {name: pool.fault for name, pool in self.rt.pools.items() if pool.fault}

    def redrive(self, queue_id: str, limit: int | None = None) -> dict[str, Any]:
        url = self.rt.stack.names[queue_id]
        with self.rt.dispatcher.lock:
            counts = redrive.redrive(
                self._sqs,
                url,
                _LocalTarget(self.rt),
                self.rt.session.client("dynamodbstreams"),
                limit=limit,
                wait_seconds=0,  # moto's queues answer every receive in full
            )
        self.rt.wake()
        self.rt.dispatcher.settle()
        return counts


class _LocalTarget:
    """Replays into the runtime: an invocation as the bus or a timer makes it (with the function's
    async retries and on-failure destination), a stream batch as the relay's event source mapping."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @staticmethod
    def _function(arn: str) -> str:
        return arn.split(":")[6]  # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]

    def send(self, queue_url: str, body: str, attributes: dict[str, Any]) -> None:
        self.rt.session.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)

    def invoke(self, function_arn: str, event: Any) -> None:
        fn = self.rt.tpl.function(self._function(function_arn))
        target = Target(function_id=fn.logical_id)
        self.rt.dispatcher.deliver(target, event, what="redrive")

    def records(self, function_arn: str, records: list[dict[str, Any]]) -> None:
        result = self.rt.pools[self._function(function_arn)].invoke(
            {"Records": records}, self.rt.clock.offset.total_seconds()
        )
        if not result.ok or (result.value or {}).get("batchItemFailures"):
            raise RuntimeError("the function failed the batch again")
