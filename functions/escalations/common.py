"""What the escalations functions share: the system actor, the calendar, the one mapping from a
cancelled transaction to a 409, and the name of a task's timer (one per task, at its escalation's
deadline, set only by the events function: see functions/escalations/events.py)."""

from __future__ import annotations

from shared.data import scheduling as sched
from shared.data.patients import Actor
from shared.data.tx import Cancelled
from shared.domain.calendar import Calendar
from shared.errors import Conflict

SYSTEM = "system:escalations"
TIMER = "task"


def system_actor(org: str) -> Actor:
    return Actor(org, SYSTEM, None, None)


def calendar(org: str) -> Calendar:
    return sched.organization_calendar(org)


def commit(change: sched.Change) -> None:
    """Write ``change``; a lost race on the task is the 409 that says to read it again."""
    try:
        change.commit()
    except Cancelled:
        raise Conflict("The task changed since you read it; read it again.", conflict="task") from None
