"""What the benches measure, kept as data for the cost model (``ops/cost.py``, ``make cost``).

- :func:`meter` measures, while it is open, what the code under it would be billed for on AWS: every
  API call by service and operation; DynamoDB read and write request units by the published rules
  (from the sizes of the items read and written, before and after, read from moto around each write;
  global secondary index writes included); items and bytes read and written, and the bytes a flow
  leaves stored; Lambda invocations per function with their in-process duration, and which of them
  were API Gateway requests, Scheduler invocations or SQS batches; events put on a bus; SMS parts and
  e-mails sent; and the bytes the PHI-safe logger writes.
- :func:`record` writes one bench's figures into ``bench/results.json`` (merged with the other benches',
  keys sorted, so a re-run changes only what moved).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

RESULTS = Path(__file__).resolve().parent / "results.json"
# the call as botocore makes it, whatever a bench patched in later (count_calls and the like): the
# meter reads the items around a write through it, so those reads are counted by nobody
_RAW_CALL = BaseClient._make_api_call

READ_UNIT = 4096  # bytes per read request unit (strongly consistent; eventually consistent is half)
WRITE_UNIT = 1024  # bytes per write request unit
_WRITES = ("PutItem", "UpdateItem", "DeleteItem")


@dataclass
class _Index:
    name: str
    hash_key: str
    keys_only: bool


@dataclass
class _Table:
    keys: tuple[str, ...]
    indexes: list[_Index]


@dataclass
class Usage:
    """What one stretch of work used. :meth:`figures` is its JSON form, divided by ``per``."""

    calls: Counter[str] = field(default_factory=Counter)  # "dynamodb:GetItem"
    rru: float = 0.0
    wru: float = 0.0
    wru_indexes: float = 0.0  # part of ``wru``: global secondary index writes
    items_read: int = 0
    bytes_read: int = 0
    items_written: int = 0
    bytes_written: int = 0
    stored_items: int = 0  # items a flow created and keeps (no ``ttl``), less those it deleted
    stored_bytes: int = 0
    invocations: Counter[str] = field(default_factory=Counter)
    durations_ms: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    triggers: Counter[str] = field(default_factory=Counter)  # http, scheduler, sqs, stream, bus, sns
    events_published: int = 0
    sqs_messages_sent: int = 0
    topic_publishes: int = 0  # SNS Publish to a topic (an SMS is a Publish to a number)
    sms_messages: int = 0
    sms_parts: int = 0
    emails: int = 0
    log_events: int = 0
    log_bytes: int = 0

    def figures(self, per: int = 1) -> dict[str, Any]:
        def each(n: float) -> float:
            return round(n / per, 3)

        by_service: dict[str, dict[str, float]] = defaultdict(dict)
        for name, n in sorted(self.calls.items()):
            service, op = name.split(":", 1)
            by_service[service][op] = each(n)
        return {
            "runs": per,
            "calls": dict(by_service),
            "dynamodb": {
                "rru": each(self.rru),
                "wru": each(self.wru),
                "wru_indexes": each(self.wru_indexes),
                "items_read": each(self.items_read),
                "item_bytes_read": each(self.bytes_read),
                "items_written": each(self.items_written),
                "item_bytes_written": each(self.bytes_written),
                "stored_items": each(self.stored_items),
                "stored_bytes": each(self.stored_bytes),
            },
            "lambda": {
                fn: {
                    "invocations": each(n),
                    "duration_ms_p50": round(statistics.median(self.durations_ms[fn]), 2),
                }
                for fn, n in sorted(self.invocations.items())
            },
            "triggers": {k: each(v) for k, v in sorted(self.triggers.items())},
            "events_published": each(self.events_published),
            "sqs_messages_sent": each(self.sqs_messages_sent),
            "topic_publishes": each(self.topic_publishes),
            "sms_messages": each(self.sms_messages),
            "sms_parts": each(self.sms_parts),
            "emails": each(self.emails),
            "log_events": each(self.log_events),
            "log_bytes": each(self.log_bytes),
        }


def sms_parts(text: str) -> int:
    """Parts an SMS is sent in: GSM-7 160 characters (153 a part when split), else UCS-2 70 (67)."""
    gsm = all(ord(ch) < 128 for ch in text)  # close enough: Careloop's texts are ASCII or not
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(text) <= single else math.ceil(len(text) / multi)


def _size(item: dict[str, Any] | None) -> int:
    from tests.support.ddb import item_size

    return item_size(item) if item else 0


class _Meter:
    def __init__(self, forward: Any) -> None:
        self.forward = forward  # the call as it was patched when the meter opened (count_calls...)
        self.usage = Usage()
        self.depth = 0  # > 0 inside a handler: the calls the function makes
        self.tables: dict[str, _Table] = {}

    # ------------------------------------------------------------ DynamoDB

    def table(self, client: BaseClient, name: str) -> _Table:
        if name not in self.tables:
            desc = _RAW_CALL(client, "DescribeTable", {"TableName": name})["Table"]
            keys = tuple(k["AttributeName"] for k in desc["KeySchema"])
            indexes = [
                _Index(
                    g["IndexName"],
                    next(k["AttributeName"] for k in g["KeySchema"] if k["KeyType"] == "HASH"),
                    g["Projection"]["ProjectionType"] == "KEYS_ONLY",
                )
                for g in desc.get("GlobalSecondaryIndexes", [])
            ]
            self.tables[name] = _Table(keys, indexes)
        return self.tables[name]

    def current(self, client: BaseClient, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        out = _RAW_CALL(client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
        return out.get("Item")  # type: ignore[no-any-return]

    def read(self, items: list[dict[str, Any]], units: float) -> None:
        self.usage.items_read += len(items)
        self.usage.bytes_read += sum(_size(i) for i in items)
        self.usage.rru += units

    def written(
        self, spec: _Table, before: dict[str, Any] | None, after: dict[str, Any] | None, factor: int
    ) -> None:
        """One item's write: ``factor`` (2 in a transaction) units per started KB of the larger image,
        one per KB of each index the item is in before or after (two when its index key moved)."""
        big = max(_size(before), _size(after), 1)
        self.usage.wru += factor * math.ceil(big / WRITE_UNIT)
        for index in spec.indexes:
            was, now = (before or {}).get(index.hash_key), (after or {}).get(index.hash_key)
            if was is None and now is None:
                continue
            size = big if not index.keys_only else 100
            moved = was is not None and now is not None and (was != now)
            units = math.ceil(size / WRITE_UNIT) * (2 if moved else 1)
            self.usage.wru += units
            self.usage.wru_indexes += units
        if after is not None:
            self.usage.items_written += 1
            self.usage.bytes_written += _size(after)
        kept = after is not None and "ttl" not in after
        had = before is not None and "ttl" not in before
        self.usage.stored_items += int(kept) - int(had)
        self.usage.stored_bytes += (_size(after) if kept else 0) - (_size(before) if had else 0)

    def dynamodb(self, client: BaseClient, op: str, params: dict[str, Any]) -> Any:
        if op in _WRITES or op in ("TransactWriteItems", "BatchWriteItem"):
            return self._write(client, op, params)
        response = self.forward(client, op, params)
        factor = 1.0 if params.get("ConsistentRead") else 0.5
        if op in ("Query", "Scan"):
            items = response.get("Items", [])
            scanned = int(response.get("ScannedCount", len(items)))
            size = sum(_size(i) for i in items)
            if scanned > len(items):  # filtered out: read all the same, at the mean size seen
                size += (scanned - len(items)) * (size // len(items) if items else WRITE_UNIT)
            self.read(items, factor * max(1, math.ceil(size / READ_UNIT)))
        elif op == "GetItem":
            item = response.get("Item")
            self.read([item] if item else [], factor * max(1, math.ceil(_size(item) / READ_UNIT)))
        elif op == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                got = response.get("Responses", {}).get(table, [])
                f = 1.0 if request.get("ConsistentRead") else 0.5
                missing = max(0, len(request["Keys"]) - len(got))
                units = sum(math.ceil(max(_size(i), 1) / READ_UNIT) for i in got) + missing
                self.read(got, f * units)
        elif op == "TransactGetItems":
            got = [r.get("Item") for r in response.get("Responses", [])]
            units = sum(2 * math.ceil(max(_size(i), 1) / READ_UNIT) for i in got)
            self.read([i for i in got if i], units)
        return response

    def _write(self, client: BaseClient, op: str, params: dict[str, Any]) -> Any:
        """Reads each item before and after (raw GetItem, counted nowhere), then meters it; a write
        refused by its condition is metered as DynamoDB bills it, on the item as it stood."""
        entries: list[tuple[str, str, dict[str, Any]]] = []  # (kind, table, key)
        if op == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                entries.append((kind, body["TableName"], self._key(client, body)))
        elif op == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    ((kind, body),) = request.items()
                    entries.append((kind, table, self._key(client, {"TableName": table, **body})))
        else:
            entries.append((op, params["TableName"], self._key(client, params)))
        before = [self.current(client, t, k) for _, t, k in entries]
        factor = 2 if op == "TransactWriteItems" else 1
        try:
            response = self.forward(client, op, params)
        except Exception:  # refused (a condition, a cancelled transaction): billed all the same
            for (_kind, _table, _key), old in zip(entries, before, strict=True):
                self.usage.wru += factor * math.ceil(max(_size(old), 1) / WRITE_UNIT)
            raise
        for (kind, table, key), old in zip(entries, before, strict=True):
            spec = self.table(client, table)
            if kind == "ConditionCheck":
                self.written(spec, old, old, factor)
                self.usage.items_written -= 1 if old is not None else 0
                self.usage.bytes_written -= _size(old)
                continue
            gone = kind in ("Delete", "DeleteItem", "DeleteRequest")
            new = None if gone else self.current(client, table, key)
            self.written(spec, old, new, factor)
        return response

    def _key(self, client: BaseClient, body: dict[str, Any]) -> dict[str, Any]:
        spec = self.table(client, body["TableName"])
        source = body.get("Key") or body.get("Item") or {}
        return {k: source[k] for k in spec.keys}

    # ------------------------------------------------------------ every call

    def call(self, client: BaseClient, op: str, params: dict[str, Any]) -> Any:
        if self.depth == 0:  # the bench's own set-up, or what the local runtime does between functions
            return self.forward(client, op, params)
        service = client.meta.service_model.service_name
        self.usage.calls[f"{service}:{op}"] += 1
        if service == "dynamodb":
            return self.dynamodb(client, op, params)
        if service == "events" and op == "PutEvents":
            self.usage.events_published += len(params["Entries"])
        elif service == "sqs" and op in ("SendMessage", "SendMessageBatch"):
            self.usage.sqs_messages_sent += len(params.get("Entries", [None]))
        elif service == "sns" and op == "Publish" and params.get("PhoneNumber"):
            self.usage.sms_messages += 1
            self.usage.sms_parts += sms_parts(str(params.get("Message", "")))
        elif service == "sns" and op == "Publish":
            self.usage.topic_publishes += 1
        elif service in ("ses", "sesv2") and op.startswith("Send"):
            self.usage.emails += 1
        return self.forward(client, op, params)

    # ------------------------------------------------------------ invocations

    @contextmanager
    def invocation(self, function: str, event: Any) -> Iterator[None]:
        if self.depth:  # a client that invokes through the pool: one invocation, counted once
            yield
            return
        self.usage.invocations[function] += 1
        self.usage.triggers[_trigger(event)] += 1
        self.depth += 1
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.usage.durations_ms[function].append((time.perf_counter() - t0) * 1000)
            self.depth -= 1

    def log(self, line: str) -> None:
        if self.depth:
            self.usage.log_events += 1
            self.usage.log_bytes += len(line.encode()) + 1


def _trigger(event: Any) -> str:
    """What invoked a function, from the shape of its event."""
    if isinstance(event, dict):
        if "routeKey" in event or "requestContext" in event:
            return "http"
        records = event.get("Records")
        if records:
            source = records[0].get("eventSource") or records[0].get("EventSource") or ""
            return {"aws:sqs": "sqs", "aws:dynamodb": "stream", "aws:sns": "sns"}.get(source, source)
        if "detail-type" in event:
            return "bus"
    return "scheduler"  # a Scheduler target's Input (or nothing)


@contextmanager
def meter() -> Iterator[Usage]:
    """Meters every handler invoked inside (through the test clients' ``Api.call`` or the in-process
    dispatcher's pools) and the AWS calls they make; the bench's own calls are not metered."""
    from shared.logs import PhiSafeFormatter
    from tests.support.cloud import InProcess
    from tests.support.intake import Api

    m = _Meter(BaseClient._make_api_call)
    api_call, pool_invoke, fmt = Api.call, InProcess.invoke, PhiSafeFormatter.format

    def metered_call(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        return m.call(self, operation_name, api_params)

    def metered_api(self: Api, method: str, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with m.invocation(self.function, {"routeKey": f"{method} {path}"}):
            return api_call(self, method, path, *args, **kwargs)

    def metered_pool(self: InProcess, event: Any, *args: Any, **kwargs: Any) -> Any:
        with m.invocation(self.logical_id, event):
            return pool_invoke(self, event, *args, **kwargs)

    def metered_format(self: PhiSafeFormatter, record: Any) -> str:
        out = fmt(self, record)
        m.log(out)
        return out

    patches = [
        (BaseClient, "_make_api_call", metered_call),
        (Api, "call", metered_api),
        (InProcess, "invoke", metered_pool),
        (PhiSafeFormatter, "format", metered_format),
    ]
    with ExitStack() as undo:
        for owner, name, replacement in patches:
            if name in owner.__dict__:
                undo.callback(setattr, owner, name, owner.__dict__[name])
            else:  # inherited: removing ours uncovers it again
                undo.callback(delattr, owner, name)
            setattr(owner, name, replacement)
        yield m.usage


def record(bench: str, figures: dict[str, Any], path: Path = RESULTS) -> None:
    """Replaces ``bench``'s section of ``bench/results.json`` with ``figures``, keeping the others."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data[bench] = figures
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def step(calls: Counter[str], read: Counter[str] | None = None, **more: Any) -> dict[str, Any]:
    """A step bench's figures: its DynamoDB calls by operation (and items read, when counted)."""
    out: dict[str, Any] = {"calls": dict(sorted(calls.items()))}
    if read is not None:
        out["items_read"] = sum(read.values())
    out.update(more)
    return out
