"""Our events delivered to a partner's subscription: signed Standard Webhooks (checked here with the
reference library, as the partner would), FHIR R4 bodies the FHIR library accepts, retried on the
Standard Webhooks schedule by Scheduler timers as the dispatcher's clock moves.

The receiver is a local HTTP server; loopback URLs are allowed only behind the runtime's explicit
flag (``OUTBOUND_ALLOW_LOOPBACK``), which the template pins off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from standardwebhooks import Webhook

from shared.timers import at_expression
from tests.support.cloud import Cloud, cloud
from tests.support.reminders import NyClinic, open_ny_clinic
from tests.support.webhooks import MRN_SYSTEM, Partner, Receiver, add_partner, give_mrn

THURSDAY_NOON = datetime.fromisoformat("2026-12-03T17:00:00+00:00")
FRIDAY_10 = "2026-12-04T15:00:00Z"
PHONE = "+12125551001"


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(PHONE, PHONE.lstrip("+"), "Ana Roe", "MRN-0042")


@pytest.fixture
def c(aws: dict[str, Any]) -> Iterator[Cloud]:
    with cloud(aws, THURSDAY_NOON, OUTBOUND_ALLOW_LOOPBACK="true") as it:
        yield it


def subscribed(c: Cloud, url: str, events: list[str] | None = None) -> tuple[NyClinic, Partner, str, str]:
    """The clinic, an EHR partner with an outbound secret subscribed at ``url``, Ana (MRN-0042)."""
    clinic = open_ny_clinic()
    ana = clinic.add_patient("ana", PHONE, preferred_channels=["sms"])
    give_mrn(c, ana, "MRN-0042")
    partner = add_partner(c, kind="ehr")
    out = partner.admin.req(
        "POST", "/partners/{partner_id}/secrets", {"use": "outbound"}, partner_id=partner.id
    )
    assert out["statusCode"] == 201, out["body"]
    sub = partner.admin.req(
        "POST",
        "/partners/{partner_id}/subscriptions",
        {"url": url, "event_types": events or ["appointment.booked", "appointment.cancelled"]},
        partner_id=partner.id,
        headers={"idempotency-key": "sub-1"},
    )
    assert sub["statusCode"] == 201, sub["body"]
    c.settle()
    return clinic, partner, ana, out["json"]["secret"]


def minute_after(at: datetime) -> datetime:
    """When a Scheduler timer set for ``at`` fires (shared.timers: the next whole minute)."""
    return datetime.fromisoformat(at_expression(at)[3:-1] + "+00:00")


def outbound(partner: Partner) -> list[dict[str, Any]]:
    out = partner.admin.req(
        "GET", "/partners/{partner_id}/deliveries", partner_id=partner.id, query={"direction": "outbound"}
    )
    assert out["statusCode"] == 200, out["body"]
    return list(out["json"]["items"])


def test_a_receiver_answering_500_twice_gets_the_appointment_on_the_third_attempt_on_schedule(
    c: Cloud,
) -> None:
    receiver = Receiver([500, 500, 200])
    receiver.clock = c.clock
    try:
        clinic, partner, _ana, secret = subscribed(c, receiver.url)
        booked = clinic.book("ana", FRIDAY_10)
        c.settle()
        assert len(receiver.got) == 1  # at once
        first = receiver.got[0][0]
        second_due = minute_after(first + timedelta(seconds=5))
        c.advance_to(second_due + timedelta(seconds=1))
        assert len(receiver.got) == 2
        third_due = receiver.got[1][0] + timedelta(minutes=5)
        c.advance_to(third_due - timedelta(seconds=61))
        assert len(receiver.got) == 2  # not before its time
        c.advance_to(third_due + timedelta(minutes=1))
        assert len(receiver.got) == 3
        c.advance_to(third_due + timedelta(hours=3))  # past the 30-min and 2-h retries
        assert len(receiver.got) == 3  # delivered: no more attempts
    finally:
        receiver.close()
    times = [at for at, _, _ in receiver.got]
    # 5 s, then 5 min after the attempt before, each on Scheduler's next whole minute
    assert abs(times[1] - minute_after(times[0] + timedelta(seconds=5))) < timedelta(seconds=2)
    assert abs(times[2] - minute_after(times[1] + timedelta(minutes=5))) < timedelta(seconds=2)
    ids = {h["webhook-id"] for _, h, _ in receiver.got}
    assert len(ids) == 1  # one message, retried
    for at, headers, body in receiver.got:
        # the partner's check, with its own library (its verify() reads the real clock, this test's
        # is days ahead: sign what was received at the stated time and find that signature among ours)
        sent = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
        assert abs(sent - at) < timedelta(seconds=2)
        expected = Webhook(secret).sign(headers["webhook-id"], sent, body.decode())
        assert expected in headers["webhook-signature"].split(" ")
        assert headers["content-type"] == "application/fhir+json"
    resource = Appointment.model_validate(json.loads(receiver.got[-1][2]))
    assert (resource.id, resource.status) == (booked["id"], booked["status"])
    patient_refs = [p.actor.identifier for p in resource.participant if p.actor and p.actor.identifier]
    assert any(i.system == MRN_SYSTEM and i.value == "MRN-0042" for i in patient_refs)
    assert "Ana" not in receiver.got[-1][2].decode()  # no name: identifiers only
    [delivery] = outbound(partner)
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]


def test_a_410_disables_the_subscription_and_a_patient_the_partner_does_not_know_is_not_sent(
    c: Cloud,
) -> None:
    receiver = Receiver([410])
    receiver.clock = c.clock
    try:
        clinic, partner, _ana, _ = subscribed(c, receiver.url)
        stranger = clinic.add_patient("bo", "+12125551002", preferred_channels=["sms"])
        clinic.book("bo", FRIDAY_10)  # no MRN for this partner: not its patient, nothing sent
        c.settle()
        assert receiver.got == []
        clinic.book("ana", "2026-12-04T16:00:00Z")
        c.settle()
        assert len(receiver.got) == 1
        [sub] = partner.admin.req("GET", "/partners/{partner_id}/subscriptions", partner_id=partner.id)[
            "json"
        ]["items"]
        assert (sub["active"], sub["disabled_reason"]) == (False, "gone")
        assert outbound(partner)[0]["status"] == "gave-up"
        clinic.book("ana", "2026-12-04T17:00:00Z")  # the subscription is off: not sent
        c.advance_to(c.clock.now() + timedelta(minutes=10))  # past the 5-s and 5-min retries
        assert len(receiver.got) == 1
        assert stranger
    finally:
        receiver.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.7/hook",
        "https://192.168.1.10/hook",
        "https://user:pw@example.com/hook",
    ],
)
def test_a_subscription_url_that_is_not_public_https_is_refused(c: Cloud, url: str) -> None:
    partner = add_partner(c, kind="ehr")
    partner.admin.req("POST", "/partners/{partner_id}/secrets", {"use": "outbound"}, partner_id=partner.id)
    out = partner.admin.req(
        "POST",
        "/partners/{partner_id}/subscriptions",
        {"url": url, "event_types": ["appointment.booked"]},
        partner_id=partner.id,
        headers={"idempotency-key": "sub-x"},
    )
    assert out["statusCode"] == 422, out["body"]
    assert url not in out["body"]
