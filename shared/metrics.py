"""Business metrics, as CloudWatch embedded metric format (EMF) lines written by Powertools' provider.

One metric per flow (``Appointments``, ``Reminders``...), counted with two dimensions: the ``area``
that owns it and the ``outcome`` (``booked``, ``failed``...). Never an organization, a patient or any
other id: a metric is an aggregate, its dimensions a closed vocabulary (:data:`FLOWS`), which also
keeps the number of metrics (what CloudWatch bills) fixed whatever the number of tenants. The
namespace is ``POWERTOOLS_METRICS_NAMESPACE`` (template: ``Careloop/<stage>``).

Most counts come from the domain events the outbox relay publishes (:func:`of_event`): one place,
at no extra invocation, counted once per event published (a relay retry after a failed ``PutEvents``
can count an event twice; the alarms built on them tolerate that). The rest are counted where they
happen and no event says so: a webhook refused before anything is written, a call to a partner, a
reminder found due, a delivery receipt. The alarms and the dashboard in ``template.yaml`` read these
names; ``tests/unit/test_template.py`` holds them to this vocabulary.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from shared import clock

# flow -> (area, outcomes)
FLOWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Appointments": (
        "scheduling",
        ("booked", "confirmed", "rescheduled", "cancelled", "no-show", "fulfilled"),
    ),
    # due: a touch's timer found it due and queued it to send; confirmed: a patient confirmed from a
    # reminder (its SMS reply or its link); delivered/bounced/complained: the provider's receipt (an
    # SMS the carrier could not deliver is bounced)
    "Reminders": (
        "reminders",
        (
            "due",
            "skipped",
            "sent",
            "delivered",
            "bounced",
            "complained",
            "failed",
            "undeliverable",
            "confirmed",
        ),
    ),
    # every SMS reply, by what it asks (counted as it arrives, matched to a patient or not)
    "Replies": ("reminders", ("confirm", "reschedule", "stop", "start", "help", "other")),
    "Tasks": ("tasks", ("opened", "completed", "cancelled", "failed")),
    "Escalations": ("escalations", ("raised", "escalated", "breached")),
    "TcmSteps": ("transitions", ("met", "late", "missed")),
    "WebhookDeliveries": ("webhooks", ("accepted", "duplicate", "rejected", "dead-lettered")),
    "PartnerOutbound": ("webhooks", ("attempted", "delivered", "failed")),
    "Authorizations": ("authorizations", ("requested", "decided-in-time", "decided-late", "overdue")),
}

_EVENTS: dict[str, tuple[str, str]] = {
    "AppointmentBooked": ("Appointments", "booked"),
    "AppointmentConfirmed": ("Appointments", "confirmed"),
    "AppointmentRescheduled": ("Appointments", "rescheduled"),
    "AppointmentCancelled": ("Appointments", "cancelled"),
    "AppointmentNoShow": ("Appointments", "no-show"),
    "AppointmentFulfilled": ("Appointments", "fulfilled"),
    "ReminderSent": ("Reminders", "sent"),
    "ReminderFailed": ("Reminders", "failed"),
    "ReminderUndeliverable": ("Reminders", "undeliverable"),
    "TaskCreated": ("Tasks", "opened"),
    "TaskCompleted": ("Tasks", "completed"),
    "TaskCancelled": ("Tasks", "cancelled"),
    "TaskFailed": ("Tasks", "failed"),
    "EscalationRaised": ("Escalations", "raised"),
    "EscalationEscalated": ("Escalations", "escalated"),
    "EscalationBreached": ("Escalations", "breached"),
    "TransitionStepMissed": ("TcmSteps", "missed"),
    "AuthorizationRequested": ("Authorizations", "requested"),
    "AuthorizationOverdue": ("Authorizations", "overdue"),
}
_DECISIONS = frozenset({"approve", "partially-approve", "deny"})


def of_event(detail_type: str, detail: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``(flow, outcome)`` counts a published domain event makes (none for most events)."""
    if detail_type == "TransitionStepCompleted":
        return [("TcmSteps", "met" if detail.get("on_time") else "late")]
    if detail_type == "AuthorizationMoved":
        if detail.get("action") not in _DECISIONS or detail.get("on_time") is None:
            return []
        return [("Authorizations", "decided-in-time" if detail["on_time"] else "decided-late")]
    known = _EVENTS.get(detail_type)
    return [known] if known else []


def count(flow: str, outcome: str, value: int = 1) -> None:
    """Write one EMF line: ``value`` more of ``flow`` with ``outcome``. An unknown flow or outcome is
    logged as a warning and not counted: a count comes after the work it counts (the relay's after its
    ``PutEvents``), and failing there would redo the work, not fix the count."""
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    area, outcomes = FLOWS.get(flow, ("", ()))
    if outcome not in outcomes:
        from shared.logs import get_logger

        get_logger().warning("metric not counted: unknown flow or outcome", metric_count=value)
        return
    # service="": without it, Powertools adds the function's service name as a third dimension, and
    # one flow counted by two functions would be two metrics
    provider = AmazonCloudWatchEMFProvider(namespace=os.environ.get(NAMESPACE_ENV, "Careloop"), service="")
    provider.add_dimension("area", area)
    provider.add_dimension("outcome", outcome)
    provider.add_metric(flow, MetricUnit.Count, value)
    with warnings.catch_warnings():
        # the local runtime's clock may run days ahead of the wall clock CloudWatch's window is
        # checked against; in Lambda, now is now
        warnings.simplefilter("ignore")
        provider.set_timestamp(clock.now())
    provider.flush_metrics()


NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
