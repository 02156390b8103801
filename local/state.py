"""``--data-dir``: the local runtime's state saved on shutdown and restored on start.

What a front-end developer would miss after a restart: every item in the table, the Scheduler
schedules code created, the clock's offset and the token signing key (so saved tokens still work).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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


def load(directory: Path) -> Saved | None:
    path = directory / FILE
    if not path.exists():
        return None
    return Saved(**json.loads(path.read_text()))


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
    saved = Saved(rt.tokens.key, rt.clock.offset.total_seconds(), items, schedules)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    path.write_text(json.dumps(saved.__dict__, default=str))
    return path


def restore(rt: Runtime, saved: Saved) -> None:
    from datetime import timedelta

    ddb, scheduler = rt.session.client("dynamodb"), rt.session.client("scheduler")
    for i in range(0, len(saved.items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in saved.items[i : i + 25]]
        ddb.batch_write_item(RequestItems={rt.stack.table_name: batch})
    for schedule in saved.schedules:
        scheduler.create_schedule(**schedule)
    rt.clock.offset = timedelta(seconds=saved.clock_offset_seconds)
