"""An escalation's timer fired: if nobody acknowledged the task in time, it climbs a rung.

Scheduler delivers at least once: the task is re-read and moves only if its clock still says so
(still ``requested``, deadline reached), on its version, so a second delivery finds the clock moved
on and does nothing. A deadline moved later (a hold and resume) moved the timer when it moved. The
next rung's timer is set by the events function on ``EscalationEscalated``, like every timer of
this area. Work per firing: one GetItem (the task), one GetItem (the calendar) and one
transaction when it climbs: it follows the deadlines due, never the tasks stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.escalations.common import SYSTEM, calendar, system_actor
from shared import clock
from shared.data import scheduling as sched
from shared.data import tasks as repo
from shared.data.table import bind
from shared.data.tx import Cancelled
from shared.domain.tasks import TaskStatus, climbed
from shared.events.tasks import EscalationBreached, EscalationEscalated, TaskAssigned
from shared.logs import entry_point, get_logger

logger = get_logger()


def fire(org: str, task_id: str, now: datetime) -> str:
    item = repo.get(org, task_id)
    if item is None:
        return "gone"
    before = item.record()
    esc = before.escalation
    if before.status is not TaskStatus.REQUESTED or esc is None or esc.deadline_at is None:
        return "stopped"
    up = climbed(before, now, calendar(org)) if now >= esc.deadline_at else None
    if up is None:
        return "not-yet"
    change = sched.Change(system_actor(org), now)
    breached = up.escalation is not None and up.escalation.breached
    after = repo.save_task(change, org, item, up, SYSTEM, "breached" if breached else "escalated")
    if breached:
        change.events.append(repo.escalation_event(EscalationBreached, org, after, now))
    else:
        change.events.append(repo.escalation_event(EscalationEscalated, org, after, now))
        change.events.append(repo.event(TaskAssigned, org, after, now))
    try:
        change.commit()
    except Cancelled:
        return "lost-race"  # it was acknowledged as the clock ran out: the action won
    return "breached" if breached else "escalated"


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    bind()
    org, task_id = event["organization_id"], event["id"]
    outcome = fire(org, task_id, clock.now())
    logger.info("escalation timer", task_id=task_id, outcome=outcome)
    return {"outcome": outcome}
