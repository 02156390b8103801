"""A small clinic for scheduling tests: a calendar, two appointment types, a cardiologist and patients.

The clock of the ``frozen_clock`` fixture is Monday 2026-11-23 14:00 UTC (08:00 in Chicago); the
clinic's Thanksgiving (Thursday 2026-11-26) is a holiday.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.intake import Api, patient

CALENDAR: dict[str, Any] = {
    "time_zone": "America/Chicago",
    "holidays": [{"date": "2026-11-26", "name": "Thanksgiving Day"}],
    "minimum_notice_hours": 2,
    "waitlist_hold_minutes": 15,
}
WEEKDAYS = [1, 2, 3, 4, 5]
CARDIOLOGIST: dict[str, Any] = {
    "name": "Dr. Ana Ruiz",
    "specialty": "cardiology",
    "location": "Main St Clinic",
    "time_zone": "America/Chicago",
    "slot_minutes": 15,
    "appointment_types": ["follow-up", "new-patient"],
    "availability": [
        *({"weekday": d, "start": "09:00", "end": "12:00"} for d in WEEKDAYS),
        *({"weekday": d, "start": "13:00", "end": "17:00"} for d in WEEKDAYS),
    ],
}
TUESDAY_9AM = "2026-11-24T15:00:00Z"  # 09:00 in Chicago


class Sched(Api):
    """The scheduling function's HTTP handler, as one caller."""

    function = "SchedulingFunction"

    @staticmethod
    def target(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from functions.scheduling.app import handler

        return handler(event, context)  # type: ignore[no-any-return]

    def book(
        self, patient_id: str, provider_id: str, start: str = TUESDAY_9AM, **extra: Any
    ) -> dict[str, Any]:
        body = {
            "patient_id": patient_id,
            "provider_id": provider_id,
            "appointment_type": "follow-up",
            "start": start,
            **extra,
        }
        return self.req("POST", "/appointments", body)

    def act(self, appointment_id: str, action: str, body: Any = None) -> dict[str, Any]:
        return self.req(
            "POST", f"/appointments/{{appointment_id}}/{action}", body, appointment_id=appointment_id
        )

    def availability(self, **query: str) -> dict[str, Any]:
        q = {"appointment_type": "follow-up", "from": "2026-11-24", "to": "2026-11-24", **query}
        return self.req("GET", "/availability", query=q)


def staff(org: str = "acme") -> Sched:
    return Sched(org=org)


def admin(org: str = "acme") -> Sched:
    return Sched(org=org, roles=("admin",), sub="admin-1")


def patient_api(patient_id: str, org: str = "acme") -> Sched:
    return Sched(org=org, roles=("patient",), sub=f"user-{patient_id[-6:]}", patient_id=patient_id)


@dataclass
class Clinic:
    org: str
    provider_id: str
    patients: list[str] = field(default_factory=list)
    staff: Sched = field(default_factory=staff)
    admin: Sched = field(default_factory=admin)


def open_clinic(org: str = "acme", patients: int = 2, **provider: Any) -> Clinic:
    """Calendar, types, one cardiologist and ``patients`` registered patients (moto must be up)."""
    adm, coord = admin(org), Api(org=org)
    assert adm.req("PUT", "/organization/calendar", CALENDAR)["statusCode"] == 200
    for code, minutes in (("follow-up", 30), ("new-patient", 60)):
        body = {"display": code.replace("-", " ").title(), "duration_minutes": minutes}
        assert adm.req("PUT", "/appointment-types/{code}", body, code=code)["statusCode"] == 200
    created = adm.req("POST", "/providers", {**CARDIOLOGIST, **provider})
    assert created["statusCode"] == 201, created["body"]
    ids = []
    for n in range(patients):
        given = ["Jane", "Ana", "Rosa", "Mia", "Lia", "Eva"][n % 6]
        body = patient(
            name={"given": [given], "family": f"Roe{chr(97 + n)}"},
            contact={"phone": f"+1555555{1000 + n}", "email": f"p{n}@example.com"},
        )
        response = coord.register(body, query={"allow_duplicate": "true"})
        assert response["statusCode"] == 201, response["body"]
        ids.append(response["json"]["id"])
    return Clinic(org, created["json"]["id"], ids, staff(org), adm)


def outbox(stack: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event written to the outbox so far (from the table's stream), oldest first."""
    from tests.support.streams import stream_event

    out = []
    for record in stream_event(stack["table_stream_arn"])["Records"]:
        image = record["dynamodb"].get("NewImage", {})
        if image.get("entity", {}).get("S") == "OutboxEvent" and record["eventName"] == "INSERT":
            out.append(
                {
                    "detail-type": image["detail_type"]["S"],
                    "source": image["source"]["S"],
                    "detail": json.loads(image["detail"]["S"]),
                }
            )
    return out


def calls_per_route(clinic: Clinic) -> dict[str, tuple[int, Counter[str]]]:
    """The main scheduling routes once each, with the DynamoDB calls each made."""
    from tests.support.ddb import count_calls

    out: dict[str, tuple[int, Counter[str]]] = {}
    api, pid, prov = clinic.staff, clinic.patients[0], clinic.provider_id

    def measure(label: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with count_calls() as calls:
            response = call()
        out[label] = (int(response["statusCode"]), calls)
        return response

    measure("GET /availability (1 provider, 1 day)", lambda: api.availability(provider_id=prov))
    booked = measure("POST /appointments", lambda: api.book(pid, prov))["json"]
    measure(
        "GET /appointments/{id}",
        lambda: api.req("GET", "/appointments/{appointment_id}", appointment_id=booked["id"]),
    )
    measure("POST /appointments/{id}/confirm", lambda: api.act(booked["id"], "confirm"))
    measure(
        "POST /appointments/{id}/reschedule",
        lambda: api.act(booked["id"], "reschedule", {"start": "2026-11-24T17:00:00Z"}),
    )
    measure(
        "GET /patients/{id}/appointments",
        lambda: api.req("GET", "/patients/{patient_id}/appointments", patient_id=pid),
    )
    measure(
        "GET /providers/{id}/appointments",
        lambda: api.req(
            "GET", "/providers/{provider_id}/appointments", provider_id=prov, query={"date": "2026-11-24"}
        ),
    )
    measure("GET /appointments?date=", lambda: api.req("GET", "/appointments", query={"date": "2026-11-24"}))
    measure("POST /appointments/{id}/cancel", lambda: api.act(booked["id"], "cancel", {"reason": "patient"}))
    measure(
        "GET /referrals?status=open&overdue=true",
        lambda: api.req("GET", "/referrals", query={"status": "open", "overdue": "true"}),
    )
    return out


class Worker:
    """Runs scheduling's event consumer and timers the way the cloud would, in-process: outbox events
    that the template's rule for ``SchedulingEventsFunction`` matches go to its handler; Scheduler
    schedules that are due (moto stores them, never fires them) go to the timer function."""

    def __init__(self, stack: dict[str, Any]) -> None:
        from local.template import Template

        self.stack = stack
        self.seen = 0
        (rule,) = [r for r in Template.default().rules if r.name.startswith("SchedulingEventsFunction")]
        self.pattern = rule.pattern or {}
        self.fired: list[dict[str, Any]] = []

    @staticmethod
    def environment(stack: dict[str, Any]) -> dict[str, str]:
        """What the template gives the consumer beyond the table and bus (timer target, role, sender)."""
        from local.stack import function_environment
        from local.template import Template

        env = function_environment(Template.default(), "SchedulingEventsFunction", stack["names"])
        return {k: v for k, v in env.items() if k.startswith(("TIMER_", "NOTIFY_"))}

    def matches(self, event: dict[str, Any]) -> bool:
        return (
            event["source"] in self.pattern["source"] and event["detail-type"] in self.pattern["detail-type"]
        )

    def drain(self) -> list[str]:
        """Deliver every outbox event written since the last drain (and what those cause); returns
        the detail-types delivered."""
        from functions.scheduling.events import handler
        from local.context import LambdaContext

        delivered = []
        while True:
            events = outbox(self.stack)
            new, self.seen = events[self.seen :], len(events)
            if not new:
                return delivered
            for event in new:
                if self.matches(event):
                    handler(
                        {
                            "source": event["source"],
                            "detail-type": event["detail-type"],
                            "detail": event["detail"],
                        },
                        LambdaContext("SchedulingEventsFunction"),
                    )
                    delivered.append(event["detail-type"])

    def schedules(self) -> list[dict[str, Any]]:
        import boto3

        scheduler = boto3.client("scheduler")
        return [
            scheduler.get_schedule(Name=s["Name"], GroupName=s["GroupName"])
            for s in scheduler.list_schedules()["Schedules"]
        ]

    def fire_due(self) -> list[dict[str, Any]]:
        """Invoke the timer function for each one-time schedule due by now, then delete it (as
        ``ActionAfterCompletion: DELETE`` does); returns the timer outcomes."""
        from datetime import UTC, datetime

        import boto3

        from functions.scheduling.timers import handler
        from local.context import LambdaContext
        from shared import clock

        outcomes = []
        due = sorted(
            (datetime.fromisoformat(s["ScheduleExpression"][3:-1]).replace(tzinfo=UTC), s["Name"], s)
            for s in self.schedules()
        )
        for at, _, schedule in due:  # in time order, as they would fire
            if at <= clock.now():
                payload = json.loads(schedule["Target"]["Input"])
                result = handler(payload, LambdaContext("SchedulingTimerFunction"))
                outcomes.append({**payload, **result})
                boto3.client("scheduler").delete_schedule(
                    Name=schedule["Name"], GroupName=schedule["GroupName"]
                )
        self.fired.extend(outcomes)
        return outcomes


def follow_up_provider() -> str:
    """A cardiologist who sees follow-up visits (the admin sets both up)."""
    adm = Sched(org="acme", roles=("admin",), sub="admin-1")
    assert (
        adm.req(
            "PUT",
            "/appointment-types/{code}",
            {"display": "Follow-up", "duration_minutes": 30},
            code="follow-up",
        )["statusCode"]
        == 200
    )
    made = adm.req("POST", "/providers", CARDIOLOGIST)
    assert made["statusCode"] == 201, made["body"]
    return str(made["json"]["id"])
