"""Reminders end to end, on the template's wiring (tests/support/cloud.py: the local runtime's
dispatcher in-process): booking makes a plan, timers fire the dispatcher as the clock moves, the send
queue's consumer sends, replies and receipts come back through their topics.

The instants below are written out by hand from the rules, in UTC:
- New York is UTC-4 until Sunday 2026-11-01 02:00 (EDT), UTC-5 after (EST);
- day and business-day touches keep the visit's local wall time; hour touches are hours;
- quiet hours 21:00-09:00 (New York) unless a test says otherwise.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.cloud import Cloud, cloud
from tests.support.intake import Api
from tests.support.reminders import NyClinic, open_ny_clinic

FAST = {"SMS_PARTS_PER_SECOND": "1000", "EMAILS_PER_SECOND": "1000"}
PHONE = "+12125551001"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def minute(entry: dict[str, Any]) -> str:
    return str(entry["at"])[:16] + "Z"


def sms_to(c: Cloud, phone: str) -> list[dict[str, Any]]:
    return [m for m in c.outbox if m["channel"] == "sms" and m["to"] == phone]


def day_by_day(c: Cloud, until: datetime) -> dict[str, list[str]]:
    """Advance a day at a time; what went out each day (minute, channel)."""
    seen, out = 0, {}
    now = c.clock.now()
    while now < until:
        now = min(now + timedelta(days=1), until)
        c.advance_to(now)
        new = c.outbox[seen:]
        seen += len(new)
        out[now.date().isoformat()] = [f"{minute(m)} {m['channel']}" for m in new]
    return out


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    """The patients' numbers and addresses, the words of what they are sent and send: never in a log."""
    numbers = [PHONE, *(f"+121255510{n:02d}" for n in range(10)), *(f"+1212555110{n}" for n in range(5))]
    phi.register(*numbers, *(n.lstrip("+") for n in numbers))
    phi.register(*(f"{who}@example.com" for who in ("ana", "bo", "cy", "di", "eve", "luz", "kid")))
    phi.register("Can I bring my daughter?", "Reply C to confirm", "Responda C para confirmar")


@pytest.fixture
def start_wednesday(aws: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[tuple[Cloud, NyClinic]]:
    """Wednesday 2026-10-28 12:00 in New York (16:00 UTC), a clinic, one patient."""
    from functions.reminders import tokens

    tokens.reset()
    when = getattr(request, "param", "2026-10-28T16:00:00Z")
    with cloud(aws, at(when), **FAST) as c:
        clinic = open_ny_clinic(holidays=[{"date": "2026-11-20", "name": "Founders Day"}])
        clinic.add_patient("ana", PHONE, preferred_channels=["sms"])
        c.settle()
        yield c, clinic
    tokens.reset()


def test_a_plan_across_the_dst_change_goes_out_at_the_planned_instants(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")  # Tuesday 10:00 EST, booked Wednesday noon EDT
    c.settle()
    planned = clinic.rem.touches(appt["id"])
    assert [(t["offset"], t["status"], t["planned_at"]) for t in planned] == [
        ("7d", "skipped", "2026-10-27T14:00:00Z"),  # Tuesday 10:00 EDT: before the booking
        ("2bd", "planned", "2026-10-30T14:00:00Z"),  # Friday 10:00 EDT
        ("24h", "planned", "2026-11-02T15:00:00Z"),  # Monday 10:00 EST: 24 hours, across no change
        ("2h", "planned", "2026-11-03T13:00:00Z"),  # Tuesday 08:00 EST: in the quiet hours
    ]
    assert planned[0]["skip_reason"] == "past"
    two_hours = at(planned[3]["send_at"])  # moved to 09:00 EST, spread over the first 30 minutes
    assert at("2026-11-03T14:00:00Z") <= two_hours < at("2026-11-03T14:30:00Z")
    assert two_hours.second == 0

    sent = day_by_day(c, at("2026-11-03T16:00:00Z"))
    assert sent == {
        "2026-10-29": [],
        "2026-10-30": ["2026-10-30T14:00Z sms"],
        "2026-10-31": [],
        "2026-11-01": [],
        "2026-11-02": ["2026-11-02T15:00Z sms"],
        "2026-11-03": [two_hours.strftime("%Y-%m-%dT%H:%MZ") + " sms"],
    }
    texts = [m["text"] for m in sms_to(c, PHONE)]
    assert all("Hudson Clinic" in t and "Reply C to confirm" in t for t in texts)
    assert all("Lee Park" not in t and "cardiology" not in t.lower() for t in texts)  # no provider
    after = clinic.rem.touches(appt["id"])
    assert [t["status"] for t in after] == ["skipped", "sent", "sent", "sent"]
    assert [t["sent_at"][:16] for t in after[1:]] == [
        m[:16] for m in ("2026-10-30T14:00", "2026-11-02T15:00")
    ] + [two_hours.strftime("%Y-%m-%dT%H:%M")]
    # still unconfirmed after the last-but-one touch: raised for a call before the visit
    assert c.detail_types("careloop.reminders").count("AppointmentUnconfirmed") == 1
    assert c.detail_types("careloop.reminders").count("ReminderSent") == 3
    assert not c.failures()


@pytest.mark.parametrize("start_wednesday", ["2026-11-18T17:00:00Z"], indirect=True)
def test_a_plan_across_an_organization_holiday_skips_it(start_wednesday: Any) -> None:
    """Booked Wednesday 18 Nov for Tuesday 24 Nov 10:00; Friday 20 Nov is the clinic's holiday."""
    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-24T15:00:00Z")
    c.settle()
    planned = clinic.rem.touches(appt["id"])
    # two business days before Tuesday: Monday, then (Friday closed) Thursday
    assert [(t["offset"], t["status"], t["send_at"]) for t in planned[:3]] == [
        ("7d", "skipped", None),  # Tuesday 17 Nov: before the booking
        ("2bd", "planned", "2026-11-19T15:00:00Z"),  # Thursday 10:00 EST
        ("24h", "planned", "2026-11-23T15:00:00Z"),
    ]
    sent = day_by_day(c, at("2026-11-24T17:00:00Z"))
    assert [m for day in sent.values() for m in day][:2] == ["2026-11-19T15:00Z sms", "2026-11-23T15:00Z sms"]
    assert sent["2026-11-20"] == [] and sent["2026-11-21"] == []


# ---------------------------------------------------------------- quiet hours


def test_an_early_visit_gets_its_two_hour_touch_the_evening_before(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-04T12:00:00Z")  # Wednesday 4 Nov 07:00 EST
    c.settle()
    two_hours = clinic.rem.touches(appt["id"])[-1]
    assert two_hours["offset"] == "2h" and two_hours["planned_at"] == "2026-11-04T10:00:00Z"  # 05:00
    # 09:00 would be after the visit: the last minute before the quiet hours began, 20:59 the day before
    assert two_hours["send_at"] == "2026-11-04T01:59:00Z"
    c.advance_to(at("2026-11-04T02:30:00Z"))
    assert [minute(m) for m in sms_to(c, PHONE)][-1] == "2026-11-04T01:59Z"


# ---------------------------------------------------------------- exactly once


def test_a_touch_delivered_twice_or_dispatched_by_two_racing_dispatchers_sends_one_message(
    start_wednesday: Any,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from functions.reminders.dispatch import dispatch

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.settle()
    touch = clinic.rem.touches(appt["id"])[1]
    c.clock.set(at(touch["send_at"]))
    env = c.env("ReminderDispatchFunction")
    with _environ(env), ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: dispatch("acme", touch["id"], c.clock.now()), range(2)))
    assert sorted(outcomes) in (["queued", "queued"], ["queued", "raced"])
    c.advance_to(at(touch["send_at"]) + timedelta(minutes=5))  # its own timer fires too: a third delivery
    assert len(sms_to(c, PHONE)) == 1
    assert [t["status"] for t in clinic.rem.touches(appt["id"])][1] == "sent"


def test_two_senders_racing_on_one_touch_send_one_message(start_wednesday: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from functions.reminders.dispatch import dispatch
    from functions.reminders.sender import HeldElsewhere, deliver

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.settle()
    touch = clinic.rem.touches(appt["id"])[1]
    c.clock.set(at(touch["send_at"]))
    with _environ(c.env("ReminderDispatchFunction")):
        assert dispatch("acme", touch["id"], c.clock.now()) == "queued"

    def one(_: int) -> str:
        try:
            return deliver("acme", touch["id"])
        except HeldElsewhere:  # the other holds it: this message comes back after the lease
            return "held-elsewhere"

    with _environ(c.env("ReminderSendFunction")), ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(one, range(2)))
    assert outcomes in (["held-elsewhere", "sent"], ["not-ours", "sent"])
    c.settle()  # the queued message itself: the touch is sent, nothing more goes
    assert len(sms_to(c, PHONE)) == 1


# ---------------------------------------------------------------- plans end and move


def test_a_cancel_between_touches_stops_the_rest(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    assert len(sms_to(c, PHONE)) == 1
    cancelled = clinic.staff.act(appt["id"], "cancel", {"reason": "provider"})
    assert cancelled["statusCode"] == 200
    c.advance_to(at("2026-11-03T16:00:00Z"))
    assert len(sms_to(c, PHONE)) == 1
    statuses = [(t["status"], t["skip_reason"]) for t in clinic.rem.touches(appt["id"])]
    assert statuses[2:] == [("skipped", "ended"), ("skipped", "ended")]
    assert not [s for s in c.dispatcher.schedules() if "reminder-" in s["name"] and not s.get("fired")]


def test_a_reschedule_moves_the_plan_and_the_old_touches_do_nothing(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.settle()
    moved = clinic.staff.req(
        "POST",
        "/appointments/{appointment_id}/reschedule",
        {"start": "2026-11-05T15:00:00Z"},
        appointment_id=appt["id"],
    )
    assert moved["statusCode"] == 200, moved["body"]
    c.settle()
    touches = clinic.rem.touches(appt["id"])
    old = [t for t in touches if t["generation"] == 1]
    new = [t for t in touches if t["generation"] == 2]
    assert [t["skip_reason"] for t in old] == ["past", "moved", "moved", "moved"]
    assert [t["planned_at"] for t in new if t["status"] == "planned"][:3] == [
        "2026-10-29T14:00:00Z",  # 7 days before Thursday 5 Nov 10:00 EST: Thursday 10:00 EDT
        "2026-11-03T15:00:00Z",  # 2 business days before: Tuesday
        "2026-11-04T15:00:00Z",
    ]
    c.advance_to(at("2026-11-05T16:00:00Z"))
    sent = [minute(m) for m in sms_to(c, PHONE)]
    # nothing at the old plan's times (Friday 30 Oct, Monday 2 Nov)
    assert sent[:3] == ["2026-10-29T14:00Z", "2026-11-03T15:00Z", "2026-11-04T15:00Z"]
    assert len(sent) == 4


# ---------------------------------------------------------------- replies


def test_a_c_reply_confirms_and_stops_sms_and_email_alike(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    _email_for_the_last_touch(clinic)
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    assert len(sms_to(c, PHONE)) == 1
    c.reply(PHONE, " Yes! ")
    read = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=appt["id"])["json"]
    assert read["status"] == "booked" and read["confirmed_at"] is not None
    answer = sms_to(c, PHONE)[-1]["text"]
    assert "confirmed" in answer
    c.advance_to(at("2026-11-03T16:00:00Z"))
    assert len(sms_to(c, PHONE)) == 2  # the reminder and the answer: nothing after
    assert not [m for m in c.outbox if m["channel"] == "email"]
    touches = clinic.rem.touches(appt["id"])
    assert [t["skip_reason"] for t in touches[2:]] == ["confirmed", "confirmed"]
    assert touches[1]["confirmed_after"] is True
    assert "AppointmentConfirmed" in c.detail_types("careloop.scheduling")
    audit = Api(roles=("admin",), sub="admin-1").on("GET", clinic.patients["ana"], "/audit")["json"]["items"]
    assert any(
        e["action"] == "appointment.confirm" and e["actor_id"].startswith("patient-sms:") for e in audit
    )


def test_stop_ends_sms_while_email_goes_on_and_start_brings_it_back(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    clinic.add_patient("bo", "+12125551002", preferred_channels=["sms", "email"])
    appt = clinic.book("bo", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    assert len(sms_to(c, "+12125551002")) == 1
    c.reply("+12125551002", "STOP")
    stop_answer = sms_to(c, "+12125551002")[-1]["text"]
    assert "START" in stop_answer
    patient = Api().on("GET", clinic.patients["bo"])["json"]
    assert patient["consent"]["sms"]["granted"] is False
    c.advance_to(at("2026-11-02T16:00:00Z"))
    assert len(sms_to(c, "+12125551002")) == 2  # the reminder and the STOP answer only
    emails = [m for m in c.outbox if m["channel"] == "email" and m["to"] == ["bo@example.com"]]
    assert len(emails) == 1 and emails[0]["attachments"][0]["filename"].endswith(".ics")
    assert clinic.rem.touches(appt["id"])[2]["channel"] == "email"


def test_a_spanish_speaking_patient_gets_spanish_text(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    clinic.add_patient("luz", "+12125551003", preferred_channels=["sms"], preferred_language="es-MX")
    clinic.book("luz", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    (text,) = [m["text"] for m in sms_to(c, "+12125551003")]
    assert "Responda C para confirmar" in text and "10:00" in text and "3 nov" in text
    c.reply("+12125551003", "sí")
    assert "confirmada" in sms_to(c, "+12125551003")[-1]["text"]


def test_reschedule_requests_and_other_messages_are_kept_for_staff(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    c.reply(PHONE, "R")
    c.reply(PHONE, "Can I bring my daughter?")
    c.reply(PHONE, "help")
    texts = [m["text"] for m in sms_to(c, PHONE)]
    assert "+12125550100" in texts[-1] or "212" in texts[-1]  # HELP names the clinic's number
    replies = clinic.rem.req("GET", "/replies")["json"]["items"]
    assert [(r["reason"], r["intent"], r["patient_id"]) for r in replies] == [
        ("message", "other", clinic.patients["ana"]),
        ("reschedule", "reschedule", clinic.patients["ana"]),
    ]
    assert replies[0]["text"] == "Can I bring my daughter?"
    types = c.detail_types("careloop.reminders")
    assert types.count("RescheduleRequested") == 1 and types.count("PatientReplied") == 1
    read = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=appt["id"])["json"]
    assert read["status"] == "pending"  # a request, not a move


def test_a_number_two_patients_share_is_never_matched_by_guess(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    clinic.add_patient("kid", PHONE, preferred_channels=["sms"])  # the parent's number
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    c.reply(PHONE, "C")
    read = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=appt["id"])["json"]
    assert read["status"] == "pending"
    (kept,) = clinic.rem.req("GET", "/replies")["json"]["items"]
    assert kept["reason"] == "shared-number" and kept["patient_id"] is None
    assert len(sms_to(c, PHONE)) == 1  # no answer: we do not know whose language, or whose visit


def test_a_reply_from_a_number_we_never_texted_is_kept_for_operators(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    c.reply("+12125559999", "C")
    assert clinic.rem.req("GET", "/replies")["json"]["items"] == []
    assert not [m for m in c.outbox if m["channel"] == "sms"]


# ---------------------------------------------------------------- helpers


def _email_for_the_last_touch(clinic: NyClinic) -> None:
    """The 2-hour touch by e-mail only (the patient has no e-mail preference: it would be skipped)."""
    policy = clinic.rem.req("GET", "/reminder-policy")
    body = {k: v for k, v in policy["json"].items() if k != "version"}
    body["touches"][-1]["channels"] = ["email"]
    put = clinic.rem_admin.req(
        "PUT", "/reminder-policy", body, headers={"if-match": policy["headers"]["ETag"]}
    )
    assert put["statusCode"] == 200, put["body"]


class _environ:
    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.saved = env, {}

    def __enter__(self) -> None:
        import os

        self.saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)

    def __exit__(self, *exc: Any) -> None:
        import os

        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---------------------------------------------------------------- one-tap links


def _token(text: str) -> str:
    match = re.search(r"/r/([A-Za-z0-9_-]+)", text)
    assert match, "the message carries a one-tap link"
    return match.group(1)


def test_a_one_tap_link_confirms_once_and_a_second_use_is_refused(start_wednesday: Any) -> None:
    from tests.support.reminders import link

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    token = _token(sms_to(c, PHONE)[0]["text"])
    assert len(token) == 43
    with _environ(c.env("ReminderLinksFunction")):
        shown = link("GET", token)
        assert shown["statusCode"] == 200
        assert (
            shown["json"]["can"] == ["confirm", "cancel"] and shown["json"]["clinic_name"] == "Hudson Clinic"
        )
        assert "Ana" not in shown["body"] and "Lee Park" not in shown["body"]
        done = link("POST", token, {"action": "confirm"})
        assert done["statusCode"] == 200 and done["json"]["status"] == "booked" and done["json"]["can"] == []
        again = link("POST", token, {"action": "cancel"})
        assert again["statusCode"] == 409 and again["headers"]["Content-Type"] == "application/problem+json"
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert link("GET", tampered)["statusCode"] == 404
        assert link("POST", tampered, {"action": "cancel"})["statusCode"] == 404
        assert link("GET", "not-a-token-at-all-really")["statusCode"] == 404
        bad = link("POST", token, {"action": "delete-everything"})
        assert bad["statusCode"] == 422 and "delete-everything" not in bad["body"]
    read = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=appt["id"])["json"]
    assert read["status"] == "booked"
    c.advance_to(at("2026-11-03T16:00:00Z"))  # confirmed: the remaining touches stop
    assert len(sms_to(c, PHONE)) == 1
    with _environ(c.env("ReminderLinksFunction")):
        assert link("GET", token)["statusCode"] == 410  # the visit has started: expired


def test_a_link_can_cancel_and_the_time_goes_back_to_free(start_wednesday: Any) -> None:
    from tests.support.reminders import link

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    token = _token(sms_to(c, PHONE)[0]["text"])
    with _environ(c.env("ReminderLinksFunction")):
        done = link("POST", token, {"action": "cancel"})
    assert done["statusCode"] == 200 and done["json"]["status"] == "cancelled"
    read = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=appt["id"])["json"]
    assert read["cancellation"]["by_role"] == "patient" and read["cancellation"]["reason"] == "patient"
    free = clinic.staff.availability(
        **{"from": "2026-11-03", "to": "2026-11-03", "provider_id": clinic.provider_id}
    )
    assert "2026-11-03T15:00:00Z" in [s["start"] for s in free["json"]["items"]]


# ---------------------------------------------------------------- channels, failures, receipts


def test_with_no_channel_left_the_touch_fails_as_undeliverable_for_staff(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    clinic.add_patient("cy", "+12125551004", preferred_channels=["sms"], consent={})
    appt = clinic.book("cy", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    assert c.outbox == []
    touch = clinic.rem.touches(appt["id"])[1]
    assert (touch["status"], touch["failure"]) == ("failed", "undeliverable")
    failed = clinic.rem.req("GET", "/reminders", query={"status": "failed"})["json"]["items"]
    assert [t["id"] for t in failed] == [touch["id"]]
    assert c.detail_types("careloop.reminders") == ["ReminderUndeliverable"]


def test_a_permanent_sms_refusal_falls_back_to_email(
    start_wednesday: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from shared import aws as shared_aws

    c, clinic = start_wednesday
    clinic.add_patient("di", "+12125551005", preferred_channels=["sms", "email"])
    appt = clinic.book("di", "2026-11-03T15:00:00Z")
    c.settle()

    def opted_out(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "OptedOut", "Message": "opted out"}}, "Publish")

    monkeypatch.setattr(shared_aws.client("sns"), "publish", opted_out)
    c.advance_to(at("2026-10-31T12:00:00Z"))
    (mail,) = [m for m in c.outbox if m["channel"] == "email"]
    assert mail["to"] == ["di@example.com"]
    assert clinic.rem.touches(appt["id"])[1]["channel"] == "email"


def test_a_provider_outage_is_retried_then_the_touch_fails_for_staff(
    start_wednesday: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared import aws as shared_aws

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.settle()
    calls: list[int] = []

    def down(**kwargs: Any) -> Any:
        calls.append(1)
        raise ConnectionError("provider unreachable")

    monkeypatch.setattr(shared_aws.client("sns"), "publish", down)
    c.advance_to(at("2026-10-31T12:00:00Z"))
    touch = clinic.rem.touches(appt["id"])[1]
    assert (touch["status"], touch["failure"], touch["attempts"]) == ("failed", "provider-error", 3)
    assert len(calls) == 3
    assert "ReminderFailed" in c.detail_types("careloop.reminders")


def test_receipts_mark_delivery_and_a_hard_bounce_retires_the_address(start_wednesday: Any) -> None:
    import json

    import boto3

    c, clinic = start_wednesday
    clinic.add_patient("eve", "+12125551006", preferred_channels=["email", "sms"])
    appt = clinic.book("eve", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    (mail,) = [m for m in c.outbox if m["channel"] == "email"]
    topic = str(c.stack.names["DeliveryReceiptsTopic"])
    sns = boto3.client("sns", region_name="us-east-1")
    delivered = {"eventType": "Delivery", "mail": {"messageId": mail["message_id"]}, "delivery": {}}
    for _ in range(2):  # SNS delivers at least once
        sns.publish(TopicArn=topic, Message=json.dumps(delivered))
    c.settle()
    touch = clinic.rem.touches(appt["id"])[1]
    assert touch["status"] == "delivered" and [r["event"] for r in touch["receipts"]] == ["delivered"]
    bounce = {
        "eventType": "Bounce",
        "mail": {"messageId": mail["message_id"]},
        "bounce": {"bounceType": "Permanent"},
    }
    sns.publish(TopicArn=topic, Message=json.dumps(bounce))
    sns.publish(
        TopicArn=topic, Message=json.dumps({"eventType": "Bounce", "mail": {"messageId": "not-ours"}})
    )
    sns.publish(TopicArn=topic, Message="not json at all")
    c.advance_to(at("2026-11-02T16:00:00Z"))
    # the next touch no longer uses the address that bounced: SMS, the patient's next channel
    assert clinic.rem.touches(appt["id"])[2]["channel"] == "sms"
    assert len([m for m in c.outbox if m["channel"] == "email"]) == 1
    assert not c.dispatcher.views.dlq


def test_a_burst_keeps_to_the_sending_identitys_pace_and_a_backlog_waits_without_failing(
    aws: dict[str, Any],
) -> None:
    """Five touches due at once on a number allowed 1 part a second, senders allowed to wait 1 s:
    two go at once, one a second later, and the rest are queued again for when the number is free;
    none fails, none goes twice."""
    import time

    from functions.reminders import tokens
    from functions.reminders.dispatch import dispatch

    tokens.reset()
    slow = {"SMS_PARTS_PER_SECOND": "1", "SEND_MAX_WAIT_SECONDS": "1", "EMAILS_PER_SECOND": "1000"}
    with cloud(aws, at("2026-10-28T16:00:00Z"), **slow) as c:
        clinic = open_ny_clinic()
        ids = []
        for n in range(5):
            phone = f"+1212555110{n}"
            clinic.add_patient(f"p{n}", phone, preferred_channels=["sms"])
            ids.append(clinic.book(f"p{n}", f"2026-11-03T{15 + n // 2}:{n % 2 * 30:02d}:00Z")["id"])
        c.settle()
        touches = [clinic.rem.touches(i)[1] for i in ids]  # the 2bd ones, Friday 10:00-12:00 EDT
        c.clock.set(max(at(t["send_at"]) for t in touches))
        with _environ(c.env("ReminderDispatchFunction")):
            assert [dispatch("acme", t["id"], c.clock.now()) for t in touches] == ["queued"] * 5
        from shared import aws as shared_aws

        sns = shared_aws.client("sns")
        publish, calls = sns.publish, []

        def timed(**kwargs: Any) -> Any:  # when each message reaches the provider
            calls.append(time.monotonic())
            return publish(**kwargs)

        sns.publish = timed
        started = time.monotonic()
        c.settle()
        while len([m for m in c.outbox if m["channel"] == "sms"]) < 5 and time.monotonic() - started < 30:
            time.sleep(0.5)  # deferred messages come back after their delay (moto keeps it on the wall clock)
            c.settle()
        statuses = [clinic.rem.touches(i)[1] for i in ids]
        assert [t["status"] for t in statuses] == ["sent"] * 5
        assert all(t["attempts"] == 1 for t in statuses)  # a wait for the number is not a failed attempt
        gaps = [b - a for a, b in itertools.pairwise(sorted(calls))]
        # one part a second: the pace hands out one-second slots; a send reaches the provider a little
        # after its slot, by as much as the sender's own work takes on a loaded machine (0.55 s was seen
        # with both cores busy), so two sends may come closer than a second, never together, and the
        # five never faster than one a second overall
        assert len(calls) == 5 and all(g >= 0.3 for g in gaps), gaps
        assert calls[-1] - calls[0] >= 3.8, gaps
        assert len(sms_to(c, "+12125551100")) == 1
        batches = [len(e["Records"]) for e in c.pools["ReminderSendFunction"].calls]
        assert batches[0] == 5 and len(batches) >= 2  # the first batch deferred what it could not wait for
        assert not c.dispatcher.views.dlq


# ---------------------------------------------------------------- what review found


def test_a_touch_held_back_into_the_quiet_hours_waits_for_the_morning(start_wednesday: Any) -> None:
    """Queued at 20:59, sent only after the identity's backlog: by then it is 21:30, quiet. It goes
    back to its timer, at the patient's 09:00, instead of out in the night."""
    from functions.reminders.dispatch import dispatch
    from functions.reminders.sender import deliver

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-04T12:00:00Z")  # Wednesday 07:00 EST: its 2h touch is at 20:59
    c.settle()
    touch = clinic.rem.touches(appt["id"])[-1]
    assert touch["send_at"] == "2026-11-04T01:59:00Z"
    c.clock.set(at(touch["send_at"]))
    with _environ(c.env("ReminderDispatchFunction")):
        assert dispatch("acme", touch["id"], c.clock.now()) == "queued"
    c.clock.set(at("2026-11-04T02:30:00Z"))  # 21:30 in New York
    with _environ(c.env("ReminderSendFunction")):
        assert deliver("acme", touch["id"]) in ("retimed", "skipped")
    after = clinic.rem.touches(appt["id"])[-1]
    # 09:00 is after the 07:00 visit, and the evening has no allowed minute left: skipped, never sent
    assert (after["status"], after["skip_reason"]) == ("skipped", "no-allowed-time")
    assert sms_to(c, PHONE) == []


def test_a_late_touch_is_retimed_to_the_next_allowed_minute(start_wednesday: Any) -> None:
    from functions.reminders.dispatch import dispatch
    from functions.reminders.sender import deliver

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-05T19:00:00Z")  # Thursday 14:00 EST
    c.settle()
    touch = clinic.rem.touches(appt["id"])[2]  # 24h: Wednesday 14:00 EST
    c.clock.set(at(touch["send_at"]))
    with _environ(c.env("ReminderDispatchFunction")):
        assert dispatch("acme", touch["id"], c.clock.now()) == "queued"
    c.clock.set(at("2026-11-05T03:00:00Z"))  # held until 22:00: quiet
    with _environ(c.env("ReminderSendFunction")):
        assert deliver("acme", touch["id"]) == "retimed"
    after = clinic.rem.touches(appt["id"])[2]
    assert (after["status"], after["send_at"], after["attempts"]) == ("planned", "2026-11-05T14:00:00Z", 0)
    # the clock jumped over the earlier touches' timers too: late, they also wait for the morning
    c.advance_to(at("2026-11-05T14:30:00Z"))
    assert {minute(m) for m in sms_to(c, PHONE)} == {"2026-11-05T14:00Z"}
    assert clinic.rem.touches(appt["id"])[2]["sent_at"][:16] == "2026-11-05T14:00"


def test_a_redelivered_reply_is_kept_once(start_wednesday: Any) -> None:
    from functions.reminders.inbound import handle

    c, clinic = start_wednesday
    clinic.book("ana", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    reply = {
        "originationNumber": PHONE,
        "messageBody": "Can I bring my daughter?",
        "inboundMessageId": "a/b+c d" * 30,  # the provider's id: any characters, any length
        "previousPublishedMessageId": c.dispatcher.last_sms_to(PHONE),
    }
    published = c.clock.now()  # SNS's timestamp: the same on every delivery of one notification
    with _environ(c.env("ReminderInboundFunction")):
        assert handle(reply, published) == "other"
        assert handle(reply, published) == "other"  # SNS delivers at least once
    c.settle()
    assert len(clinic.rem.req("GET", "/replies")["json"]["items"]) == 1
    assert c.detail_types("careloop.reminders").count("PatientReplied") == 1
    assert len(sms_to(c, PHONE)) == 2  # one reminder, one answer


def test_stop_from_a_number_two_patients_share_stops_texts_for_both(start_wednesday: Any) -> None:
    c, clinic = start_wednesday
    kid = clinic.add_patient("kid", PHONE, preferred_channels=["sms"])
    clinic.book("ana", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    c.reply(PHONE, "STOP")
    for patient_id in (clinic.patients["ana"], kid):
        assert Api().on("GET", patient_id)["json"]["consent"]["sms"]["granted"] is False
    c.advance_to(at("2026-11-03T16:00:00Z"))
    assert len(sms_to(c, PHONE)) == 1


def test_a_link_from_before_a_reschedule_moves_nothing(start_wednesday: Any) -> None:
    from tests.support.reminders import link

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.advance_to(at("2026-10-31T12:00:00Z"))
    token = _token(sms_to(c, PHONE)[0]["text"])
    moved = clinic.staff.req(
        "POST",
        "/appointments/{appointment_id}/reschedule",
        {"start": "2026-11-02T15:00:00Z"},
        appointment_id=appt["id"],
    )
    assert moved["statusCode"] == 200
    c.settle()
    with _environ(c.env("ReminderLinksFunction")):
        refused = link("POST", token, {"action": "cancel"})
    assert refused["statusCode"] == 410
    read = clinic.staff.req("GET", "/appointments/{appointment_id}", appointment_id=appt["id"])["json"]
    assert read["status"] == "pending"


def test_a_touch_held_back_until_the_next_one_was_due_is_not_sent_beside_it(
    start_wednesday: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender was down across two touches' times; its messages went to the dead-letter queue and
    on-call redrives them after the fix: the patient gets the later reminder, not both at once."""
    import boto3

    from functions.reminders import sender
    from ops.redrive import redrive

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")  # Tuesday 10:00 in New York
    c.settle()
    real = sender.repo.claim

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("table unreachable")

    monkeypatch.setattr(sender.repo, "claim", down)
    c.advance_to(at("2026-11-02T16:00:00Z"))  # past the 2-business-day and the 24-hour touches
    held = clinic.rem.touches(appt["id"])[1:3]
    assert [t["status"] for t in held] == ["queued", "queued"]
    monkeypatch.setattr(sender.repo, "claim", real)
    sent_before = len(c.outbox)

    sqs = boto3.client("sqs", region_name="us-east-1")

    class Back:
        def send(self, queue_url: str, body: str, attributes: dict[str, Any]) -> None:
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    dead = c.stack.names["ReminderSendDeadLetterQueue"]
    assert redrive(sqs, dead, Back(), wait_seconds=0) == {"replayed": 2, "left": 0, "failed": 0}
    c.settle()
    after = clinic.rem.touches(appt["id"])[1:3]
    assert [(t["status"], t["skip_reason"]) for t in after] == [("skipped", "late"), ("sent", None)]
    assert len(c.outbox) - sent_before == 1


def test_reminders_and_replies_are_counted_once_each_as_they_happen(
    start_wednesday: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dispatcher counts a touch due once (a timer firing again does not), the relay counts the
    sends from their events, the inbound function every reply by what it asks, and a confirmation from
    a reminder as confirmed."""
    from tests.support.metrics import counted

    c, clinic = start_wednesday
    appt = clinic.book("ana", "2026-11-03T15:00:00Z")
    c.settle()
    capsys.readouterr()
    c.advance_to(at("2026-10-31T12:00:00Z"))  # the 2-business-day touch went out
    (sms,) = [m for m in c.outbox if m["channel"] == "sms"]
    c.reply(sms["to"], "C")
    c.reply(sms["to"], "what time is it?")
    seen = counted(capsys.readouterr().out)
    sent = [t for t in clinic.rem.touches(appt["id"]) if t["status"] in ("sent", "delivered")]
    assert seen[("Reminders", "due")] == seen[("Reminders", "sent")] == len(sent) == 1
    assert (seen[("Replies", "confirm")], seen[("Replies", "other")]) == (1, 1)
    assert seen[("Reminders", "confirmed")] == 1
    assert seen[("Appointments", "confirmed")] == 1
