"""``--data-dir``: the local runtime's state saved as it changes and restored on start.

What a front-end developer would miss after a restart: every item in the table, the Scheduler
schedules code created and which of them already fired (so a sent reminder is not sent again), the
clock's offset and the token signing key (so saved tokens still work).

The runtime writes a snapshot within a second of a change (at most one a second) and on shutdown, so
a crash (``kill -9``, a laptop losing power) loses at most the last second. A snapshot is written to
a temporary file, flushed to disk and renamed over the previous one: a crash while writing leaves the
previous snapshot whole. The table is read from moto's memory under the lock every DynamoDB call
takes, so a snapshot never holds half a transaction.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local import atomic
from local.template import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from local.runtime import Runtime

FILE = "careloop-state.json"
_SCHEDULE_FIELDS = (
    "Name",
    "GroupName",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "State",
    "Target",
    "FlexibleTimeWindow",
    "ActionAfterCompletion",
    "Description",
)


@dataclass
class Saved:
    token_key: str
    clock_offset_seconds: float = 0.0
    items: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    fired_once: list[list[str]] = field(default_factory=list)


def _encode(value: Any) -> Any:
    """JSON for what boto3 returns: binary attributes become ``{"$b64": ...}``."""
    if isinstance(value, bytes | bytearray):
        return {"$b64": base64.b64encode(value).decode()}
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _decode(obj: dict[str, Any]) -> Any:
    return base64.b64decode(obj["$b64"]) if set(obj) == {"$b64"} else obj


def load(directory: Path) -> Saved | None:
    path = directory / FILE
    if not path.exists():
        return None
    return Saved(**json.loads(path.read_text(), object_hook=_decode))


def table_items(table_name: str) -> list[dict[str, Any]]:
    """Every item of the table as a Scan returns it through boto3, read at one point in time: from the
    embedded moto server's memory, holding the lock its DynamoDB calls take (a Scan's pages would be
    read one call at a time, and a transaction could land between two of them)."""
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name)
    with atomic.holding():
        wire = [item.to_json()["Attributes"] for item in table.all_items()]  # fresh containers
    return [{name: _from_wire(value) for name, value in item.items()} for item in wire]


def _from_wire(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as DynamoDB's JSON protocol carries it → as boto3 gives it (binary as bytes)."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": _bytes(inner)}
    if kind == "BS":
        return {"BS": [_bytes(v) for v in inner]}
    if kind == "M":
        return {"M": {k: _from_wire(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_from_wire(v) for v in inner]}
    return {kind: inner}


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else base64.b64decode(value)


def capture(rt: Runtime) -> Saved:
    """The runtime's state, in memory (call it holding the dispatcher's lock, after it settled, so what
    the table holds has been published and the fired schedules agree with it)."""
    items = table_items(rt.stack.table_name)
    schedules = [
        {k: detail[k] for k in _SCHEDULE_FIELDS if k in detail}
        for detail in rt.dispatcher.scheduler_schedules()
    ]
    fired = [list(key) for key in sorted(rt.dispatcher.fired_once)]
    return Saved(rt.tokens.key, rt.clock.offset.total_seconds(), items, schedules, fired)


def write(saved: Saved, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    write_atomically(path, json.dumps(saved.__dict__, default=_encode))
    return path


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash at any moment leaves the old file or the new one,
    never a mix: a temporary file beside it, flushed to disk, renamed over it."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (not every system allows it)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def restore(rt: Runtime, saved: Saved) -> None:
    """Put the saved items and schedules back (the clock offset is restored earlier, at start)."""
    ddb, scheduler = rt.session.client("dynamodb"), rt.session.client("scheduler")
    for i in range(0, len(saved.items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in saved.items[i : i + 25]]
        ddb.batch_write_item(RequestItems={rt.stack.table_name: batch})
    for schedule in saved.schedules:
        scheduler.create_schedule(**schedule)
    rt.dispatcher.fired_once.update((k[0], k[1], k[2]) for k in saved.fired_once)
