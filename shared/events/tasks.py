"""Events the escalations area publishes through the outbox: ids and codes only (never a task's
description, outcome note or the patient's name)."""

from __future__ import annotations

from shared.domain.tasks import FocusType, Priority, QueueRole, Severity, TaskCode, TaskStatus
from shared.events.models import DomainEvent

SOURCE = "careloop.escalations"


class TaskEvent(DomainEvent):
    source = SOURCE
    task_id: str
    code: TaskCode
    status: TaskStatus
    priority: Priority
    role: QueueRole
    owner_id: str | None = None
    patient_id: str | None = None
    focus_type: FocusType | None = None
    focus_id: str | None = None
    rule_id: str | None = None


class TaskCreated(TaskEvent):
    detail_type = "TaskCreated"


class TaskAssigned(TaskEvent):
    """Its owner or queue changed (by hand, by acceptance, or by climbing the ladder)."""

    detail_type = "TaskAssigned"


class TaskCompleted(TaskEvent):
    detail_type = "TaskCompleted"


class TaskCancelled(TaskEvent):
    """Cancelled by staff, or ``resolved_by_event`` (what it was about resolved itself)."""

    detail_type = "TaskCancelled"
    resolved_by_event: bool = False


class TaskFailed(TaskEvent):
    detail_type = "TaskFailed"


class EscalationEvent(TaskEvent):
    severity: Severity
    level: int


class EscalationRaised(EscalationEvent):
    detail_type = "EscalationRaised"


class EscalationEscalated(EscalationEvent):
    """Not acknowledged in time: moved to the next rung's queue (``role``)."""

    detail_type = "EscalationEscalated"


class EscalationResumed(EscalationEvent):
    """Back from hold unacknowledged: its clock runs again with the time it had left."""

    detail_type = "EscalationResumed"


class EscalationBreached(EscalationEvent):
    """Past its limit at the top of the ladder: it stays there, flagged."""

    detail_type = "EscalationBreached"
