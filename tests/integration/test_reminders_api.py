"""The reminders HTTP API: who may call each route (every role, a patient's own data and another's,
another organization), the policy (versioned, validated, used by the plans it makes), the patient's
view of their touches, self-booked visits, referral follow-ups, and the report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, snapshot
from tests.support.cloud import Cloud, cloud
from tests.support.reminders import NyClinic, Rem, open_ny_clinic
from tests.support.scheduling import Sched

STAFF = ("coordinator", "nurse", "physician", "admin")
FAST = {"SMS_PARTS_PER_SECOND": "1000", "EMAILS_PER_SECOND": "1000"}
PHONE = "+12125552001"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class World:
    cloud: Cloud
    clinic: NyClinic
    patient: str
    other_patient: str
    appointment: str


@pytest.fixture
def world(aws: dict[str, Any]) -> Iterator[World]:
    from functions.reminders import tokens

    tokens.reset()
    with cloud(aws, at("2026-10-28T16:00:00Z"), **FAST) as c:
        clinic = open_ny_clinic()
        me = clinic.add_patient("ana", PHONE, preferred_channels=["sms"])
        other = clinic.add_patient("bo", "+12125552002", preferred_channels=["sms"])
        appt = clinic.book("ana", "2026-11-03T15:00:00Z")
        clinic.add_patient("cy", "+12125552003", preferred_channels=["sms"], consent={})  # unreachable
        clinic.book("cy", "2026-11-03T16:00:00Z")
        c.advance_to(at("2026-10-31T12:00:00Z"))  # ana's first touch sent, cy's failed
        yield World(c, clinic, me, other, appt["id"])


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    staff: tuple[str, ...]
    patient: bool
    query: dict[str, str] | None = None

    def call(self, api: Rem, w: World, appointment: str | None = None) -> dict[str, Any]:
        params = {"appointment_id": appointment or w.appointment} if "{appointment_id}" in self.path else {}
        body = None
        headers = None
        if self.method == "PUT":
            read = Rem(roles=("admin",), sub="admin-1").req("GET", "/reminder-policy")
            body = {k: v for k, v in read["json"].items() if k != "version"}
            headers = {"if-match": read["headers"]["ETag"]}
        return api.req(self.method, self.path, body, query=self.query, headers=headers, **params)


ROUTES = [
    Route("GET", "/reminder-policy", STAFF, False),
    Route("PUT", "/reminder-policy", ("admin",), False),
    Route("GET", "/appointments/{appointment_id}/reminders", STAFF, True),
    Route("GET", "/reminders", STAFF, False, {"status": "failed"}),
    Route("GET", "/replies", STAFF, False),
    Route("GET", "/reports/reminders", ("admin",), False, {"from": "2026-10-01", "to": "2026-11-30"}),
]


def test_every_reminders_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {(r.method, r.path) for r in Template.default().routes if r.function_id == "RemindersFunction"}
    assert {(r.method, r.path) for r in ROUTES} == declared


@pytest.mark.parametrize("role", STAFF)
def test_staff_by_role(aws: dict, world: World, role: str) -> None:
    api = Rem(roles=(role,), sub=f"{role}-1")
    for r in ROUTES:
        if role in r.staff:
            response = r.call(api, world)
            assert response["statusCode"] == 200, (r.method, r.path, response["body"])
        else:
            before = snapshot(aws)
            assert_refused(r.call(api, world), FORBIDDEN, (role, r.method, r.path))
            assert snapshot(aws) == before


def test_a_patient_reads_their_own_touches_without_staff_fields(aws: dict, world: World) -> None:
    me = Rem(roles=("patient",), sub="me", patient_id=world.patient)
    for r in ROUTES:
        response = r.call(me, world)
        if r.patient:
            assert response["statusCode"] == 200
        else:
            assert_refused(response, FORBIDDEN, (r.method, r.path))
    touches = ROUTES[2].call(me, world)["json"]["items"]
    assert [t["status"] for t in touches] == ["skipped", "sent", "planned", "planned"]
    assert set(touches[1]) == {"id", "offset", "send_at", "status", "channel", "sent_at", "receipts"}
    staff_view = ROUTES[2].call(Rem(), world)["json"]["items"][1]
    assert {"patient_id", "failure", "attempts", "skip_reason"} <= set(staff_view)


def test_a_patient_on_another_patients_appointment_finds_nothing(aws: dict, world: World) -> None:
    them = Rem(roles=("patient",), sub="them", patient_id=world.other_patient)
    before = snapshot(aws)
    assert_refused(ROUTES[2].call(them, world), NOT_FOUND, "their reminders")
    assert snapshot(aws) == before


def test_another_organization_finds_nothing(aws: dict, world: World) -> None:
    outsider = Rem(org="globex", roles=("admin",), sub="outsider")
    assert_refused(ROUTES[2].call(outsider, world), NOT_FOUND, "acme's appointment")
    assert outsider.req("GET", "/reminders", query={"status": "failed"})["json"]["items"] == []
    assert outsider.req("GET", "/replies")["json"]["items"] == []
    report = outsider.req("GET", "/reports/reminders", query={"from": "2026-10-01", "to": "2026-11-30"})
    assert report["json"]["offsets"] == []
    assert outsider.req("GET", "/reminder-policy")["json"]["clinic_name"] == "your care team"  # its own
    # acme's failed touch is listed for acme
    assert len(world.clinic.rem.req("GET", "/reminders", query={"status": "failed"})["json"]["items"]) == 1


# ---------------------------------------------------------------- policy


def test_the_policy_is_versioned_with_if_match(world: World) -> None:
    admin = world.clinic.rem_admin
    read = admin.req("GET", "/reminder-policy")
    body = {k: v for k, v in read["json"].items() if k != "version"}
    missing = admin.req("PUT", "/reminder-policy", body)
    assert missing["statusCode"] == 428
    stale = admin.req("PUT", "/reminder-policy", body, headers={"if-match": '"0"'})
    assert stale["statusCode"] == 409 and stale["json"]["current_version"] == read["json"]["version"]
    ok = admin.req("PUT", "/reminder-policy", body, headers={"if-match": read["headers"]["ETag"]})
    assert ok["statusCode"] == 200 and ok["json"]["version"] == read["json"]["version"] + 1


@pytest.mark.parametrize(
    "change",
    [
        {"touches": []},
        {"touches": [{"hours": 2, "business_days": 1}]},
        {"touches": [{"channels": ["voice"], "hours": 2}]},
        {"touches": [{"hours": 0}]},
        {"referral_follow_up_days": [7, 3]},
        {"clinic_name": "A clinic name far too long for any SMS"},
        {"templates": [{"kind": "appointment", "language": "en", "channel": "sms", "text": "{__class__}"}]},
        {"templates": [{"kind": "appointment", "language": "en", "channel": "sms", "text": "Hi {0.name}"}]},
        {"by_appointment_type": {"Bad Code!": [{"hours": 1}]}},
    ],
)
def test_a_bad_policy_is_a_422_that_writes_and_echoes_nothing(
    aws: dict, frozen_clock: Any, change: dict
) -> None:
    admin = Rem(roles=("admin",), sub="admin-1")
    read = admin.req("GET", "/reminder-policy")
    body = {**{k: v for k, v in read["json"].items() if k != "version"}, **change}
    before = snapshot(aws)
    response = admin.req("PUT", "/reminder-policy", body, headers={"if-match": read["headers"]["ETag"]})
    assert response["statusCode"] == 422, response["body"]
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert "__class__" not in response["body"] and "far too long" not in response["body"]
    assert snapshot(aws) == before


def test_an_appointment_types_own_touches_and_an_organizations_own_words(world: World) -> None:
    c, clinic = world.cloud, world.clinic
    admin = clinic.rem_admin
    read = admin.req("GET", "/reminder-policy")
    body = {k: v for k, v in read["json"].items() if k != "version"}
    body["by_appointment_type"] = {"follow-up": [{"hours": 48, "channels": ["sms"]}]}
    body["templates"] = [
        {
            "kind": "appointment",
            "language": "en",
            "channel": "sms",
            "text": "{clinic_name}: see you {date} {time}. {reply}",
        }
    ]
    assert (
        admin.req("PUT", "/reminder-policy", body, headers={"if-match": read["headers"]["ETag"]})[
            "statusCode"
        ]
        == 200
    )
    appt = clinic.book("bo", "2026-11-05T15:00:00Z")
    c.settle()
    touches = clinic.rem.touches(appt["id"])
    assert [(t["offset"], t["planned_at"]) for t in touches] == [("48h", "2026-11-03T15:00:00Z")]
    c.advance_to(at("2026-11-03T16:00:00Z"))
    text = [m["text"] for m in c.outbox if m["to"] == "+12125552002"][-1]
    assert text.startswith("Hudson Clinic: see you") and "Reply C to confirm" in text


# ---------------------------------------------------------------- other plans


def test_a_visit_the_patient_booked_is_reminded_without_asking_to_confirm(world: World) -> None:
    c, clinic = world.cloud, world.clinic
    mine = Sched(org="acme", roles=("patient",), sub="bo", patient_id=world.other_patient)
    booked = mine.book(world.other_patient, clinic.provider_id, "2026-11-04T15:00:00Z")
    assert booked["statusCode"] == 201 and booked["json"]["status"] == "booked"
    c.settle()
    touches = clinic.rem.touches(booked["json"]["id"])
    assert touches and not any(t["asks_confirmation"] for t in touches)
    c.advance_to(at("2026-11-04T16:00:00Z"))
    texts = [m["text"] for m in c.outbox if m["to"] == "+12125552002"]
    assert len(texts) == 3 and all("Reply R to reschedule" in t and "C to confirm" not in t for t in texts)


def test_a_referral_not_yet_scheduled_is_followed_up_until_it_is(world: World) -> None:
    c, clinic = world.cloud, world.clinic
    referral = clinic.staff.req(
        "POST",
        "/referrals",
        {
            "patient_id": world.other_patient,
            "specialty": "cardiology",
            "reason": "palpitations",
            "due_date": "2026-11-20",
            "send": True,
        },
    )
    assert referral["statusCode"] == 201, referral["body"]
    rid = referral["json"]["id"]
    accepted = clinic.staff.req("POST", "/referrals/{referral_id}/{action}", referral_id=rid, action="accept")
    assert accepted["statusCode"] == 200, accepted["body"]
    c.advance_to(at("2026-11-06T00:00:00Z"))
    texts = [m for m in c.outbox if m["to"] == "+12125552002"]
    # 3 days after Saturday 31 Oct is Tuesday 3 Nov, 10:00 in New York (EST)
    assert [m["at"][:16] for m in texts] == ["2026-11-03T15:00"]
    assert "palpitations" not in texts[0]["text"]
    booked = clinic.staff.book(
        world.other_patient, clinic.provider_id, "2026-11-10T15:00:00Z", referral_id=rid
    )
    assert booked["statusCode"] == 201, booked["body"]
    c.advance_to(at("2026-11-12T00:00:00Z"))
    follow_ups = [m for m in c.outbox if m["to"] == "+12125552002" and "book" in m["text"].lower()]
    assert len(follow_ups) == 1  # the 7-day one (Friday 6 Nov... 9 Nov) stopped once it was scheduled


def test_the_report_counts_each_offset(world: World) -> None:
    c, clinic = world.cloud, world.clinic
    c.reply(PHONE, "C")
    report = clinic.rem_admin.req(
        "GET", "/reports/reminders", query={"from": "2026-10-01", "to": "2026-11-30"}
    )
    assert report["statusCode"] == 200
    rows = {r["offset"]: r for r in report["json"]["offsets"]}
    assert rows["2bd"]["sent"] == 1 and rows["2bd"]["failed"] == 1 and rows["2bd"]["confirmed_after"] == 1
    assert rows["24h"]["skipped"] == 1  # confirmed: ana's stopped; cy's is still planned
    too_long = clinic.rem_admin.req(
        "GET", "/reports/reminders", query={"from": "2026-01-01", "to": "2026-12-31"}
    )
    assert too_long["statusCode"] == 422
