"""``--data-dir``: the local runtime's state saved on shutdown and restored on start.

What a front-end developer would miss after a restart: every item in the table, the Scheduler
schedules code created and which of them already fired (so a sent reminder is not sent again), the
clock's offset and the token signing key (so saved tokens still work).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def save(rt: Runtime, directory: Path) -> Path:
    ddb, scheduler = rt.session.client("dynamodb"), rt.session.client("scheduler")
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(TableName=rt.stack.table_name):
        items.extend(page["Items"])
    schedules = []
    for page in scheduler.get_paginator("list_schedules").paginate():
        for summary in page["Schedules"]:
            detail = scheduler.get_schedule(
                Name=summary["Name"], GroupName=summary.get("GroupName", "default")
            )
            schedules.append({k: detail[k] for k in _SCHEDULE_FIELDS if k in detail})
    fired = [list(key) for key in sorted(rt.dispatcher.fired_once)]
    saved = Saved(rt.tokens.key, rt.clock.offset.total_seconds(), items, schedules, fired)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    path.write_text(json.dumps(saved.__dict__, default=_encode))
    return path


def restore(rt: Runtime, saved: Saved) -> None:
    """Put the saved items and schedules back (the clock offset is restored earlier, at start)."""
    ddb, scheduler = rt.session.client("dynamodb"), rt.session.client("scheduler")
    for i in range(0, len(saved.items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in saved.items[i : i + 25]]
        ddb.batch_write_item(RequestItems={rt.stack.table_name: batch})
    for schedule in saved.schedules:
        scheduler.create_schedule(**schedule)
    rt.dispatcher.fired_once.update((k[0], k[1], k[2]) for k in saved.fired_once)
