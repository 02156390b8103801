"""Per-item deadlines as EventBridge Scheduler one-time schedules ("time is data"), and the few
recurring ones an item needs (a daily reminder to measure, in the patient's wall clock).

A timer is a schedule named ``<kind>-<item id>`` that invokes the area's timer function once, at
``at``, with ``{"kind", "organization_id", "id"}`` and the ``correlation_id`` of what set it, then
deletes itself. Setting a timer again moves it (create, or update if it exists), so consumers that set
timers stay idempotent. The timer function
re-reads the item and acts only if the deadline still applies: a moved or cancelled item needs no
clean-up race. Target, role and the stack's schedule group come from the environment the template
gives the function: ``TIMER_TARGET_ARN``, ``TIMER_ROLE_ARN``, ``TIMER_DEAD_LETTER_ARN``, ``TIMER_GROUP``.

A timer that sets the item's next timer while it fires must not reuse its own name: the schedule is
deleted once the invocation completes, the new time with it. Such an item names each of its timers by
its time (:func:`timed_id`; the handler reads the item back with :func:`item_of`): a timer whose time
no longer applies fires, finds nothing due and sets the next.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.aws import client
from shared.logs import correlation_id

RETRIES = 10


def group() -> str:
    """The stack's schedule group (``TIMER_GROUP``: one per stage), or Scheduler's ``default``."""
    return os.environ.get("TIMER_GROUP") or "default"


def name_of(kind: str, item_id: str) -> str:
    return f"{kind}-{item_id}"


def timed_id(item_id: str, at: datetime) -> str:
    """``<item id>.<epoch minute>``: a timer of ``item_id`` of its own for ``at``."""
    return f"{item_id}.{int(at.timestamp()) // 60}"


def item_of(timer_id: str) -> str:
    """The item a :func:`timed_id` (or a plain item id) names."""
    return timer_id.partition(".")[0]


def at_expression(at: datetime) -> str:
    """``at(...)`` for the first whole minute at or after ``at``: Scheduler fires one-time schedules
    with one-minute precision, so a timer set for 14:15:20 could run at 14:15:05 and find its deadline
    not yet due."""
    minute = at.astimezone(UTC).replace(second=0, microsecond=0)
    if minute < at:
        minute += timedelta(minutes=1)
    return f"at({minute.strftime('%Y-%m-%dT%H:%M:%S')})"


def _input(kind: str, organization_id: str, item_id: str) -> str:
    """What a timer invokes its function with, and the correlation id of what set it."""
    body = {"kind": kind, "organization_id": organization_id, "id": item_id}
    if correlation := correlation_id():
        body["correlation_id"] = correlation
    return json.dumps(body)


def set_timer(
    kind: str, organization_id: str, item_id: str, at: datetime, target_arn: str | None = None
) -> str:
    """``target_arn``: a function whose timers invoke itself passes its own ARN (from its context:
    naming a function in its own environment is a cycle in the template)."""
    name = name_of(kind, item_id)
    target: dict[str, Any] = {
        "Arn": target_arn or os.environ["TIMER_TARGET_ARN"],
        "RoleArn": os.environ["TIMER_ROLE_ARN"],
        "Input": _input(kind, organization_id, item_id),
        "RetryPolicy": {"MaximumRetryAttempts": RETRIES, "MaximumEventAgeInSeconds": 86400},
    }
    if os.environ.get("TIMER_DEAD_LETTER_ARN"):
        target["DeadLetterConfig"] = {"Arn": os.environ["TIMER_DEAD_LETTER_ARN"]}
    request = {
        "Name": name,
        "ScheduleExpression": at_expression(at),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "ActionAfterCompletion": "DELETE",
        "Target": target,
        "GroupName": group(),
    }
    scheduler = client("scheduler")
    try:
        scheduler.create_schedule(**request)
    except scheduler.exceptions.ConflictException:
        scheduler.update_schedule(**request)
    return name


def set_recurring(
    kind: str,
    organization_id: str,
    item_id: str,
    cron: str,
    time_zone: str,
    target_arn: str | None = None,
    end: datetime | None = None,
) -> str:
    """A schedule that fires on ``cron`` (AWS's six fields, e.g. ``30 9 * * ? *``) in ``time_zone``'s wall
    clock (Scheduler keeps 09:30 at 09:30 across daylight-saving changes) until ``end``, invoking the
    same ``{"kind", "organization_id", "id"}`` as a one-time timer. Setting it again replaces it; the
    function it invokes re-reads the item and cancels it when it no longer applies."""
    name = name_of(kind, item_id)
    target: dict[str, Any] = {
        "Arn": target_arn or os.environ["TIMER_TARGET_ARN"],
        "RoleArn": os.environ["TIMER_ROLE_ARN"],
        "Input": _input(kind, organization_id, item_id),
        "RetryPolicy": {"MaximumRetryAttempts": RETRIES, "MaximumEventAgeInSeconds": 3600},
    }
    if os.environ.get("TIMER_DEAD_LETTER_ARN"):
        target["DeadLetterConfig"] = {"Arn": os.environ["TIMER_DEAD_LETTER_ARN"]}
    request: dict[str, Any] = {
        "Name": name,
        "ScheduleExpression": f"cron({cron})",
        "ScheduleExpressionTimezone": time_zone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": target,
        "GroupName": group(),
    }
    if end is not None:
        request["EndDate"] = end
    scheduler = client("scheduler")
    try:
        scheduler.create_schedule(**request)
    except scheduler.exceptions.ConflictException:
        scheduler.update_schedule(**request)
    return name


def cancel_timer(kind: str, item_id: str) -> None:
    """Delete a timer that is no longer needed (best effort: a timer that already fired deleted itself,
    and one left behind finds its item moved on and does nothing)."""
    scheduler = client("scheduler")
    with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
        scheduler.delete_schedule(Name=name_of(kind, item_id), GroupName=group())
