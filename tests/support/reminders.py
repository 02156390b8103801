"""A New York clinic for reminder tests, and clients for the reminders functions' HTTP handlers.

Patients live in America/New_York with quiet hours 21:00-09:00 unless a test says otherwise, reachable
by SMS and e-mail (consent on record). The clinic's calendar is New York's, with the holidays a test
gives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support.intake import Api, patient
from tests.support.scheduling import Sched

GRANTED = {"granted": True, "at": "2026-10-01T15:00:00Z", "method": "written"}
NY_PROVIDER: dict[str, Any] = {
    "name": "Dr. Lee Park",
    "specialty": "cardiology",
    "location": "Hudson Clinic",
    "time_zone": "America/New_York",
    "slot_minutes": 15,
    "appointment_types": ["follow-up"],
    "availability": [{"weekday": d, "start": "07:00", "end": "17:00"} for d in range(1, 6)],
}


class Rem(Api):
    function = "RemindersFunction"

    @staticmethod
    def target(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from functions.reminders.app import handler

        return handler(event, context)  # type: ignore[no-any-return]

    def touches(self, appointment_id: str) -> list[dict[str, Any]]:
        out = self.req("GET", "/appointments/{appointment_id}/reminders", appointment_id=appointment_id)
        assert out["statusCode"] == 200, out["body"]
        return list(out["json"]["items"])


def link(method: str, token: str, body: Any = None) -> dict[str, Any]:
    """The public link routes, as API Gateway calls them (no JWT)."""
    import json

    from functions.reminders.links import handler
    from local.apigw import http_event
    from tests.support.events import LambdaContext

    event = http_event(method, f"/r/{token}", route="/r/{token}", body=body, path_parameters={"token": token})
    response = handler(event, LambdaContext("ReminderLinksFunction"))
    response["json"] = json.loads(response["body"]) if response.get("body") else None
    return response  # type: ignore[no-any-return]


@dataclass
class NyClinic:
    provider_id: str
    patients: dict[str, str] = field(default_factory=dict)  # label -> id
    phones: dict[str, str] = field(default_factory=dict)
    staff: Sched = field(default_factory=lambda: Sched(org="acme"))
    admin: Sched = field(default_factory=lambda: Sched(org="acme", roles=("admin",), sub="admin-1"))
    rem: Rem = field(default_factory=lambda: Rem(org="acme"))
    rem_admin: Rem = field(default_factory=lambda: Rem(org="acme", roles=("admin",), sub="admin-1"))

    def add_patient(self, label: str, phone: str, **changes: Any) -> str:
        fields: dict[str, Any] = {
            "name": {"given": [label.title()], "family": "Roe"},
            "contact": {"phone": phone, "email": f"{label}@example.com"},
            "time_zone": "America/New_York",
            "consent": {"sms": GRANTED, "email": GRANTED},
            "quiet_hours": {"start": "21:00", "end": "09:00"},
        }
        body = patient(**{**fields, **changes})
        response = Api(org="acme").register(body, query={"allow_duplicate": "true"})
        assert response["statusCode"] == 201, response["body"]
        self.patients[label], self.phones[label] = response["json"]["id"], phone
        return str(response["json"]["id"])

    def book(self, label: str, start: str, **extra: Any) -> dict[str, Any]:
        out = self.staff.book(self.patients[label], self.provider_id, start, **extra)
        assert out["statusCode"] == 201, out["body"]
        return dict(out["json"])


def open_ny_clinic(
    holidays: list[dict[str, str]] | None = None, clinic_phone: str = "+12125550100"
) -> NyClinic:
    adm = Sched(org="acme", roles=("admin",), sub="admin-1")
    calendar = {"time_zone": "America/New_York", "holidays": holidays or []}
    assert adm.req("PUT", "/organization/calendar", calendar)["statusCode"] == 200
    body = {"display": "Follow-up", "duration_minutes": 30}
    assert adm.req("PUT", "/appointment-types/{code}", body, code="follow-up")["statusCode"] == 200
    created = adm.req("POST", "/providers", NY_PROVIDER)
    assert created["statusCode"] == 201, created["body"]
    clinic = NyClinic(created["json"]["id"])
    policy = clinic.rem.req("GET", "/reminder-policy")
    put = clinic.rem_admin.req(
        "PUT",
        "/reminder-policy",
        {**_policy_body(policy["json"]), "clinic_name": "Hudson Clinic", "clinic_phone": clinic_phone},
        headers={"if-match": policy["headers"]["ETag"]} if policy["json"]["version"] else None,
    )
    assert put["statusCode"] == 200, put["body"]
    return clinic


def _policy_body(read: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in read.items() if k != "version"}
