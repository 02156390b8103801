"""``make run ARGS=--seed``: a demo organization to click through every flow.

Data goes in through the functions themselves (the same API events a front end would cause), so the
seed exercises and obeys the real rules: keys, duplicate checks, audit entries, events. Each area adds
what a newcomer needs to try its flows to ``SEEDERS``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from local.apigw import claims, http_event
from shared.data import keys

if TYPE_CHECKING:
    from local.runtime import Runtime

DEMO_ORG = "demo"
DEMO_USERS = {
    "coordinator": "demo-coordinator",
    "nurse": "demo-nurse",
    "physician": "demo-physician",
    "admin": "demo-admin",
}
# Fictional people: any resemblance is chance.
DEMO_PATIENTS: list[dict[str, Any]] = [
    {
        "name": {"given": ["Maria"], "family": "Alvarez"},
        "birth_date": "1954-03-02",
        "sex": "female",
        "contact": {"phone": "+13125550101", "email": "maria.alvarez@example.com"},
        "preferred_language": "es-MX",
        "time_zone": "America/Chicago",
        "preferred_channels": ["sms", "voice"],
        "consent": {"sms": {"granted": True, "at": "2026-11-01T15:00:00Z", "method": "verbal"}},
    },
    {
        "name": {"given": ["Walter"], "family": "Okafor"},
        "birth_date": "1948-11-19",
        "sex": "male",
        "contact": {"phone": "+13125550102"},
        "time_zone": "America/Chicago",
        "preferred_channels": ["voice"],
        "consent": {"voice": {"granted": True, "at": "2026-11-02T16:00:00Z", "method": "verbal"}},
    },
    {
        "name": {"given": ["Priya"], "family": "Natarajan"},
        "birth_date": "1979-07-30",
        "sex": "female",
        "contact": {"email": "priya.n@example.com"},
        "time_zone": "America/New_York",
        "preferred_channels": ["email"],
        "consent": {"email": {"granted": True, "at": "2026-11-03T14:00:00Z", "method": "electronic"}},
    },
]
DEMO_SCREENING = {
    "living_situation": {"situation": "steady_but_worried"},
    "food": {"worried_would_run_out": "sometimes", "ran_out": "never"},
    "transportation": "yes",
    "utilities": "no",
    "interpersonal_safety": {
        "physically_hurt": "never",
        "insulted": "rarely",
        "threatened": "never",
        "screamed_at": "never",
    },
}

Api = Callable[..., dict[str, Any]]  # api(method, path, body, role="coordinator")
DEMO_TIME_ZONE = "America/Chicago"
DEMO_TYPES = {"follow-up": ("Follow-up visit", 30), "new-patient": ("New patient visit", 60)}
DEMO_PROVIDERS = [
    {"name": "Dr. Ana Ruiz", "specialty": "cardiology", "location": "Main St Clinic, suite 2"},
    {"name": "Dr. Sam Lee", "specialty": "primary-care", "location": "Main St Clinic, suite 1"},
]


def demo_calendar(today: date) -> dict[str, Any]:
    """The demo organization's calendar: US federal holidays (with the weekdays they are observed on)
    of ``today``'s year and the next, so the demo closes on the right days whenever it is run."""
    import holidays

    days = holidays.country_holidays("US", years=(today.year, today.year + 1))
    return {
        "time_zone": DEMO_TIME_ZONE,
        "holidays": [{"date": day.isoformat(), "name": name[:80]} for day, name in sorted(days.items())],
    }


def _organization(rt: Runtime, api: Api) -> None:
    rt.session.client("dynamodb").put_item(
        TableName=rt.stack.table_name,
        Item={
            "PK": {"S": keys.org_pk(DEMO_ORG)},
            "SK": {"S": keys.ORG_PROFILE_SK},
            "entity": {"S": "OrganizationProfile"},
            "name": {"S": "Demo Health"},
            "time_zone": {"S": DEMO_TIME_ZONE},
        },
    )


def _patients(rt: Runtime, api: Api) -> None:
    if "IntakeFunction" not in rt.pools:
        return
    for n, body in enumerate(DEMO_PATIENTS):
        created = api("POST", "/patients", body)
        pid = created["id"]
        team = {
            "coordinator_id": DEMO_USERS["coordinator"],
            "nurse_id": DEMO_USERS["nurse"] if n < 2 else None,
        }
        api("PUT", f"/patients/{pid}/care-team", {k: v for k, v in team.items() if v})
        if n == 0:
            rt.seeded["heart_failure_patient"] = pid
            api(
                "POST",
                f"/patients/{pid}/assessments",
                {"screening": DEMO_SCREENING, "conditions": [{"display": "Heart failure", "code": "I50.9"}]},
            )
            api(
                "POST",
                f"/patients/{pid}/coverage",
                {"payer": "Medicare", "member_id": "1EG4-TE5-MK72", "effective_start": "2026-01-01"},
            )


def _scheduling(rt: Runtime, api: Api) -> None:
    """A calendar with US holidays, two appointment types, and two providers working weekdays."""
    if "SchedulingFunction" not in rt.pools:
        return
    today = rt.clock.now().astimezone(ZoneInfo(DEMO_TIME_ZONE)).date()  # the runtime's clock, not the host's
    api("PUT", "/organization/calendar", demo_calendar(today), role="admin")
    for code, (display, minutes) in DEMO_TYPES.items():
        api(
            "PUT",
            f"/appointment-types/{code}",
            {"display": display, "duration_minutes": minutes},
            role="admin",
        )
    week = [(d, start, end) for d in range(1, 6) for start, end in (("09:00", "12:00"), ("13:00", "17:00"))]
    for provider in DEMO_PROVIDERS:
        body = {
            **provider,
            "time_zone": DEMO_TIME_ZONE,
            "appointment_types": list(DEMO_TYPES),
            "availability": [{"weekday": d, "start": a, "end": b} for d, a, b in week],
        }
        api("POST", "/providers", body, role="admin")


def _care_plans(rt: Runtime, api: Api) -> None:
    """The first patient's heart-failure plan, from the built-in protocol: its tasks on the
    coordinator's worklist, its education given in the patient's language."""
    patient_id = rt.seeded.get("heart_failure_patient")
    if "CarePlansFunction" not in rt.pools or patient_id is None:
        return
    api("POST", f"/patients/{patient_id}/care-plans", {"template": "heart-failure-discharge"})


SEEDERS: list[Callable[[Any, Api], None]] = [_organization, _patients, _scheduling, _care_plans]


def seed(rt: Runtime) -> dict[str, str]:
    def api(method: str, path: str, body: Any, role: str = "coordinator") -> dict[str, Any]:
        route = next((r for r in rt.tpl.routes if r.method == method and _matches(r.path, path)), None)
        if route is None:
            raise RuntimeError(f"seed: no route for {method} {path}")
        event = http_event(
            method,
            path,
            route=route.path,
            claims=claims(org=DEMO_ORG, roles=(role,), sub=DEMO_USERS[role]),
            body=body,
            path_parameters=_parameters(route.path, path),
        )
        result = rt.pools[route.function_id].invoke(event, rt.clock.offset.total_seconds())
        status = (result.value or {}).get("statusCode", 500) if result.ok else 500
        if status >= 300:
            raise RuntimeError(f"seed: {method} {path} answered {status}")
        return dict(json.loads(result.value["body"]))

    existing = rt.session.client("dynamodb").get_item(
        TableName=rt.stack.table_name,
        Key={"PK": {"S": keys.org_pk(DEMO_ORG)}, "SK": {"S": keys.ORG_PROFILE_SK}},
    )
    if "Item" in existing:
        rt.say(f"organization '{DEMO_ORG}' is already there (restored); not seeding it again.")
    else:
        for seeder in SEEDERS:
            seeder(rt, api)
    tokens = {role: rt.tokens.issue(DEMO_ORG, [role], sub=sub) for role, sub in DEMO_USERS.items()}
    rt.say(
        f"seeded organization '{DEMO_ORG}' (Demo Health, {len(DEMO_PATIENTS)} patients, "
        f"{len(DEMO_PROVIDERS)} providers). Tokens, valid 12 h:"
    )
    for role, token in tokens.items():
        rt.say(f"  {role:12} {token}")
    return tokens


def _matches(template: str, path: str) -> bool:
    a, b = template.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


def _parameters(template: str, path: str) -> dict[str, str]:
    pairs = zip(template.strip("/").split("/"), path.strip("/").split("/"), strict=True)
    return {x.strip("{}"): y for x, y in pairs if x.startswith("{")}
