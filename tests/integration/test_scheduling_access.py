"""Who may do what: every scheduling route, every role, a patient's own data and another patient's,
and another organization. Deny by default: a role a route does not name gets 403; another patient's
or another organization's object is a 404 (its existence does not leak)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import clock
from tests.support.intake import PHI
from tests.support.scheduling import CALENDAR, CARDIOLOGIST, Sched, Worker, open_clinic, outbox

STAFF = ("coordinator", "nurse", "physician", "admin")
ALL_STAFF, ADMIN = STAFF, ("admin",)


@dataclass
class World:
    provider: str
    patient: str  # owns everything below
    other_patient: str
    appointment: str
    referral: str
    entry: str
    offer: str


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    staff: tuple[str, ...]  # staff roles allowed
    patient: bool  # may a patient use it on their own data
    body: Callable[[World], Any] | None = None
    query: dict[str, str] | None = None
    headers: dict[str, str] | None = None

    def call(self, api: Sched, w: World) -> int:
        query = dict(self.query or {})
        if self.path == "/availability":
            query["provider_id"] = w.provider
        body = self.body(w) if self.body else None
        response = api.req(
            self.method,
            self.path,
            body,
            query=query or None,
            headers=self.headers,
            **_params(self.path, w),
        )
        return int(response["statusCode"])


def _params(path: str, w: World) -> dict[str, str]:
    params = {
        "provider_id": w.provider,
        "patient_id": w.patient,
        "appointment_id": w.appointment,
        "referral_id": w.referral,
        "entry_id": w.entry,
        "offer_id": w.offer,
        "code": "follow-up",
        "action": "accept",
    }
    return {n: v for n, v in params.items() if "{" + n + "}" in path}


def _booking(w: World) -> dict[str, Any]:
    return {
        "patient_id": w.patient,
        "provider_id": w.provider,
        "appointment_type": "follow-up",
        "start": "2026-11-25T15:00:00Z",
    }


def _waitlist(w: World) -> dict[str, Any]:
    return {**_waitlist_for(w.patient), "specialty": "cardiology"}


def _referral(w: World) -> dict[str, Any]:
    return _referral_for(w.patient)


DAY = {"date": "2026-11-24"}
# reads first, then writes, the ones that end things last (an allowed call may meet a 409 or 422 from
# what an earlier one did; it must never meet a 401, 403 or 404)
ROUTES = [
    Route("GET", "/organization/calendar", ALL_STAFF, False),
    Route("GET", "/appointment-types", ALL_STAFF, True),
    Route("GET", "/providers", ALL_STAFF, True),
    Route("GET", "/providers/{provider_id}", ALL_STAFF, True),
    Route("GET", "/providers/{provider_id}/appointments", ALL_STAFF, False, query=DAY),
    Route(
        "GET",
        "/availability",
        ALL_STAFF,
        True,
        query={"appointment_type": "follow-up", "from": "2026-11-24", "to": "2026-11-24"},
    ),
    Route("GET", "/appointments", ALL_STAFF, False, query=DAY),
    Route("GET", "/appointments/{appointment_id}", ALL_STAFF, True),
    Route("GET", "/patients/{patient_id}/appointments", ALL_STAFF, True),
    Route("GET", "/referrals", ALL_STAFF, False),
    Route("GET", "/referrals/{referral_id}", ALL_STAFF, False),
    Route("GET", "/patients/{patient_id}/referrals", ALL_STAFF, True),
    Route("GET", "/waitlist", ALL_STAFF, False, query={"specialty": "cardiology"}),
    Route("GET", "/patients/{patient_id}/waitlist", ALL_STAFF, True),
    Route("GET", "/offers/{offer_id}", ALL_STAFF, True),
    Route(
        "PUT", "/organization/calendar", ADMIN, False, body=lambda w: CALENDAR, headers={"If-Match": '"1"'}
    ),
    Route(
        "PUT",
        "/appointment-types/{code}",
        ADMIN,
        False,
        body=lambda w: {"display": "Follow-up", "duration_minutes": 30},
    ),
    Route("POST", "/providers", ADMIN, False, body=lambda w: CARDIOLOGIST),
    Route(
        "PUT",
        "/providers/{provider_id}",
        ADMIN,
        False,
        body=lambda w: CARDIOLOGIST,
        headers={"If-Match": '"1"'},
    ),
    Route("POST", "/appointments", ALL_STAFF, True, body=_booking),
    Route("POST", "/referrals", ALL_STAFF, False, body=_referral),
    Route("POST", "/referrals/{referral_id}/{action}", ALL_STAFF, False),
    Route("POST", "/waitlist", ALL_STAFF, True, body=_waitlist),
    Route("POST", "/appointments/{appointment_id}/confirm", ALL_STAFF, True),
    Route(
        "POST",
        "/appointments/{appointment_id}/reschedule",
        ALL_STAFF,
        True,
        body=lambda w: {"start": "2026-11-24T16:00:00Z"},
    ),
    Route("POST", "/appointments/{appointment_id}/arrive", ALL_STAFF, False),
    Route("POST", "/appointments/{appointment_id}/check-in", ALL_STAFF, False),
    Route("POST", "/appointments/{appointment_id}/complete", ALL_STAFF, False),
    Route("POST", "/appointments/{appointment_id}/no-show", ALL_STAFF, False),
    Route(
        "POST", "/appointments/{appointment_id}/cancel", ALL_STAFF, True, body=lambda w: {"reason": "patient"}
    ),
    Route("POST", "/offers/{offer_id}/decline", ALL_STAFF, True),
    Route("POST", "/offers/{offer_id}/accept", ALL_STAFF, True),
    Route("DELETE", "/waitlist/{entry_id}", ALL_STAFF, True),
]


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(*PHI[1:])


@pytest.fixture
def world(aws: dict, frozen_clock: clock.FixedClock, monkeypatch: pytest.MonkeyPatch) -> World:
    """One patient with an appointment, a referral, a waitlist entry and a held offer."""
    frozen_clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))  # 10:00 in Chicago: offers go out
    for name, value in Worker.environment(aws).items():
        monkeypatch.setenv(name, value)
    clinic = open_clinic(patients=2)
    me, other = clinic.patients
    staff = clinic.staff
    referral = staff.req("POST", "/referrals", {**_referral_for(me), "send": True})["json"]["id"]
    entry = staff.req("POST", "/waitlist", {**_waitlist_for(me), "provider_id": clinic.provider_id})["json"][
        "id"
    ]
    freed = staff.book(other, clinic.provider_id, start="2026-11-24T19:00:00Z")["json"]["id"]
    appointment = staff.book(me, clinic.provider_id)["json"]["id"]
    staff.act(freed, "cancel", {"reason": "patient"})
    Worker(aws).drain()
    (offer,) = [e["detail"]["offer_id"] for e in outbox(aws) if e["detail-type"] == "SlotOffered"]
    return World(clinic.provider_id, me, other, appointment, referral, entry, offer)


def _referral_for(pid: str) -> dict[str, Any]:
    return {"patient_id": pid, "specialty": "cardiology", "reason": "x", "due_date": "2026-11-30"}


def _waitlist_for(pid: str) -> dict[str, Any]:
    return {
        "patient_id": pid,
        "appointment_type": "follow-up",
        "earliest": "2026-11-23",
        "latest": "2026-11-30",
    }


def test_every_scheduling_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {
        (r.method, r.path) for r in Template.default().routes if r.function_id == "SchedulingFunction"
    }
    assert {(r.method, r.path) for r in ROUTES} == declared


@pytest.mark.parametrize("role", STAFF)
def test_staff_by_role(world: World, role: str) -> None:
    api = Sched(roles=(role,), sub=f"{role}-1")
    outcomes = {f"{r.method} {r.path}": r.call(api, world) for r in ROUTES}
    for r in ROUTES:
        status = outcomes[f"{r.method} {r.path}"]
        if role in r.staff:
            assert status not in (401, 403, 404) and status < 500, (r.method, r.path, status)
        else:
            assert status == 403, (r.method, r.path, status)


def test_a_patient_on_their_own_data(world: World) -> None:
    me = Sched(roles=("patient",), sub="me", patient_id=world.patient)
    for r in ROUTES:
        status = r.call(me, world)
        if r.patient:
            assert status not in (401, 403, 404) and status < 500, (r.method, r.path, status)
        else:
            assert status == 403, (r.method, r.path, status)


def test_a_patient_on_another_patients_data(world: World) -> None:
    """Every route a patient may use, pointed at someone else's appointment, referral, entry, offer
    or record: a 404. Directory reads (providers, types, free slots) hold no patient's data."""
    them = Sched(roles=("patient",), sub="them", patient_id=world.other_patient)
    directory = {"/appointment-types", "/providers", "/providers/{provider_id}", "/availability"}
    for r in ROUTES:
        if not r.patient or r.path in directory:
            continue
        assert r.call(them, world) == 404, (r.method, r.path)


def test_another_organization_finds_nothing(world: World) -> None:
    """Staff of another organization, with the right role for each route: another tenant's objects
    are a 404, its ids in a body a 422 naming the field, and lists, even under its ids, show none of
    it (their one Query reads the caller's own organization's partition)."""
    outsider = Sched(org="globex", roles=("admin",), sub="outsider")
    open_clinic(org="globex", patients=0)
    created = {"POST /appointments": 422, "POST /referrals": 422, "POST /waitlist": 422}
    for r in ROUTES:
        key = f"{r.method} {r.path}"
        status = r.call(outsider, world)
        lists = {
            "/providers/{provider_id}/appointments",
            "/patients/{patient_id}/appointments",
            "/patients/{patient_id}/referrals",
            "/patients/{patient_id}/waitlist",
        }
        if r.method == "GET" and r.path in lists:
            response = outsider.req("GET", r.path, query=r.query, **_params(r.path, world))
            assert response["statusCode"] == 200 and response["json"]["items"] == [], key
        elif "{" in r.path and "{code}" not in r.path:
            assert status == 404, (key, status)
        elif key in created:
            assert status == created[key], (key, status)
    assert outsider.req("GET", "/providers")["json"]["items"][0]["id"] != world.provider
    assert outsider.req("GET", "/appointments", query={"date": "2026-11-24"})["json"]["items"] == []
