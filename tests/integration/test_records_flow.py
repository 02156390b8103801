"""Records end to end on the template's wiring (tests/support/cloud.py): notes that are never
rewritten, messages that wait too long or hold an urgent word, readings that cross a threshold or
trend up, measurements that stop coming, and the timeline of all of it.

The clinic is in New York (UTC-5 in December), open Monday to Friday 08:00-17:00. 2026-12-04 is a
Friday.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support import tasks
from tests.support.careplans import coordinator as planner
from tests.support.cloud import Cloud, cloud
from tests.support.records import coordinator, nurse, patient, physician
from tests.support.reminders import NyClinic, open_ny_clinic

PHONE = "+12125551007"
FRIDAY_1655 = "2026-12-04T21:55:00Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(PHONE, PHONE.lstrip("+"), "Dee Roe", "dee@example.com", "I have chest pain")


@pytest.fixture
def friday(aws: dict[str, Any]) -> Iterator[Cloud]:
    with cloud(aws, at(FRIDAY_1655)) as c:
        yield c


def open_clinic(c: Cloud, **changes: Any) -> tuple[NyClinic, str]:
    clinic = open_ny_clinic()
    pid = clinic.add_patient("dee", PHONE, preferred_channels=["sms"], **changes)
    c.settle()
    return clinic, pid


def work(queue: Any) -> list[tuple[str, str, str]]:
    return [(t["code"], t["focus"]["type"], t["priority"]) for t in queue.worklist()["items"]]


# ---------------------------------------------------------------- notes


def test_a_note_amended_twice_keeps_three_versions_and_one_entered_in_error_leaves_the_timeline(
    friday: Cloud,
) -> None:
    c = friday
    _, pid = open_clinic(c)
    author = coordinator()
    note = author.note(pid, "Patient says the scale is broken.")
    route = "/patients/{patient_id}/notes/{note_id}"
    amend = route + "/amendments"
    ids = {"patient_id": pid, "note_id": note["id"]}
    # an amendment names the version it corrects, and only its author amends
    assert author.req("POST", amend, {"text": "x", "reason": "typo"}, **ids)["statusCode"] == 428
    other = coordinator(sub="coord-2").req(
        "POST", amend, {"text": "Other words.", "reason": "mine"}, headers={"if-match": '"1"'}, **ids
    )
    assert other["statusCode"] == 403
    first = {"text": "Patient says the scale is broken; a new one is on its way.", "reason": "added the plan"}
    out = author.req("POST", amend, first, headers={"if-match": '"1"'}, **ids)
    assert out["statusCode"] == 201, out["body"]
    stale = author.req("POST", amend, {"text": "Again.", "reason": "r"}, headers={"if-match": '"1"'}, **ids)
    assert stale["statusCode"] == 409 and stale["json"]["current_version"] == 2
    second = {"text": "Patient says the scale is broken; a new one arrives Monday.", "reason": "date"}
    out = author.req("POST", amend, second, headers={"if-match": out["headers"]["ETag"]}, **ids)
    assert out["statusCode"] == 201, out["body"]
    read = author.ok("GET", route, **ids)
    assert [v["number"] for v in read["versions"]] == [3, 2, 1]
    assert read["versions"][0]["text"] == second["text"] and read["versions"][2]["reason"] is None
    assert read["doc_status"] == "amended" and read["version"] == 3
    assert [e["type"] for e in author.timeline(pid, kind="note")["items"]] == [
        "NoteAmended",
        "NoteAmended",
        "NoteSigned",
    ]
    other_note = author.note(pid, "Second call: no answer.")
    listed = author.ok("GET", "/patients/{patient_id}/notes", patient_id=pid)["items"]
    assert [(n["id"], n["current"]["number"]) for n in listed] == [(other_note["id"], 1), (note["id"], 3)]
    # a nurse may not mark another's note wrong; a physician may
    body = {"reason": "Written on the wrong patient."}
    assert (
        nurse().req("POST", route + "/entered-in-error", body, headers={"if-match": '"3"'}, **ids)[
            "statusCode"
        ]
        == 403
    )
    out = physician().req("POST", route + "/entered-in-error", body, headers={"if-match": '"3"'}, **ids)
    assert out["statusCode"] == 200, out["body"]
    assert out["json"]["doc_status"] == "entered-in-error" and len(out["json"]["versions"]) == 3
    again = author.req("POST", amend, {"text": "Late.", "reason": "r"}, headers={"if-match": '"4"'}, **ids)
    assert again["statusCode"] == 409 and again["json"]["current_status"] == "entered-in-error"
    # hidden from the default timeline, every version still readable by staff, shown when asked for
    assert [e["record"]["id"] for e in author.timeline(pid, kind="note")["items"]] == [other_note["id"]]
    assert {e["record"]["id"] for e in author.timeline(pid)["items"] if e["kind"] == "note"} == {
        other_note["id"]
    }
    shown = author.timeline(pid, kind="note", include="entered-in-error")["items"]
    assert len(shown) == 5 and [e["hidden"] for e in shown].count(True) == 4
    assert [v["number"] for v in author.ok("GET", route, **ids)["versions"]] == [3, 2, 1]
    # the patient's notes list leaves it out by default, and shows its current version when asked
    notes = "/patients/{patient_id}/notes"
    assert [n["id"] for n in author.ok("GET", notes, patient_id=pid)["items"]] == [other_note["id"]]
    shown = author.ok("GET", notes, patient_id=pid, query={"include": "entered-in-error"})["items"]
    assert shown[1]["current"]["text"] == second["text"] and shown[1]["doc_status"] == "entered-in-error"
    # the patient never reads a note, nor asks for hidden entries
    assert patient(pid).req("GET", route, **ids)["statusCode"] == 403
    assert (
        patient(pid).req(
            "GET", "/patients/{patient_id}/timeline", patient_id=pid, query={"include": "entered-in-error"}
        )["statusCode"]
        == 422
    )
    assert c.failures() == []


# ---------------------------------------------------------------- messages


def test_a_friday_1655_message_unanswered_escalates_on_monday_and_the_answer_closes_it(friday: Cloud) -> None:
    c = friday
    _, pid = open_clinic(c)
    sent = patient(pid).message(pid, "Can I take my pills with food?")
    assert sent["statusCode"] == 201 and sent["json"]["emergency_reply"] is None
    c.settle()
    # one business day: Monday 16:55 (the weekend is closed)
    c.advance_to(at("2026-12-07T21:54:00Z"))
    assert work(tasks.coordinator()) == []
    c.advance_to(at("2026-12-07T21:56:00Z"))
    c.settle()
    assert work(tasks.coordinator()) == [("answer-message", "message", "routine")]
    assert "MessageUnanswered" in c.detail_types("careloop.records")
    # a day on, it has climbed the ladder (nobody took it), and is still one task
    c.advance_to(at("2026-12-08T21:56:00Z"))
    assert [t["code"] for t in tasks.coordinator().patient_tasks(pid)] == ["answer-message"]
    answer = coordinator().message(pid, "Yes, with breakfast.")
    assert answer["statusCode"] == 201
    c.settle()
    assert [t["status"] for t in tasks.coordinator().patient_tasks(pid)] == ["cancelled"]
    # the patient is told by SMS, without the text
    c.settle()
    texts = [m["text"] for m in c.outbox if m.get("to") == PHONE]
    assert texts and all("breakfast" not in t for t in texts)
    assert c.failures() == []


def test_a_message_with_an_urgent_word_reaches_the_nurses_at_once_and_is_answered_in_spanish(
    friday: Cloud,
) -> None:
    c = friday
    _, pid = open_clinic(c, preferred_language="es")
    sent = patient(pid).message(pid, "Tengo DOLOR de pecho desde anoche")
    assert sent["statusCode"] == 201, sent["body"]
    reply = sent["json"]["emergency_reply"]
    assert reply["author"] == "system" and "911" in reply["text"] and "emergencia" in reply["text"]
    c.settle()
    assert work(tasks.nurse()) == [("answer-message", "message", "urgent")]
    # the reply is in the conversation; the patient's view has no staff fields
    listed = patient(pid).ok("GET", "/patients/{patient_id}/messages", patient_id=pid)["items"]
    assert [m["author"] for m in listed] == ["system", "patient"]
    assert all("author_id" not in m and "urgent" not in m for m in listed)
    # a word inside another does not match ("dolorosa" is not "dolor de pecho"; "emergencyroom" isn't either)
    calm = patient(pid).message(pid, "Fue una semana dolorosa")
    assert calm["json"]["emergency_reply"] is None
    nurse().message(pid, "Estamos llamándole ahora.")
    c.settle()
    assert work(tasks.nurse()) == []
    # she is told in Spanish that there is a message, never what it says
    notices = [m["text"] for m in c.outbox if m.get("to") == PHONE]
    assert notices and all("Tiene un mensaje nuevo" in t and "llamándole" not in t for t in notices)
    assert c.failures() == []


def test_a_message_sent_at_night_is_due_a_business_day_after_the_next_opening(friday: Cloud) -> None:
    c = friday
    _, pid = open_clinic(c)
    c.advance_to(at("2026-12-08T08:12:00Z"))  # Tuesday 03:12 in New York: closed
    patient(pid).message(pid, "Couldn't sleep, is that the pills?")
    c.settle()
    c.advance_to(at("2026-12-09T08:20:00Z"))  # Wednesday 03:20: not at 03:12
    assert "MessageUnanswered" not in c.detail_types("careloop.records")
    c.advance_to(at("2026-12-09T13:01:00Z"))  # Wednesday 08:01: a business day after Tuesday's 08:00
    assert "MessageUnanswered" in c.detail_types("careloop.records")
    assert c.failures() == []


def test_read_receipts_go_to_the_other_side_once(friday: Cloud) -> None:
    c = friday
    _, pid = open_clinic(c)
    mine = patient(pid).message(pid, "Hello")["json"]["message"]
    route = "/patients/{patient_id}/messages/{message_id}/read"
    assert patient(pid).req("POST", route, patient_id=pid, message_id=mine["id"])["statusCode"] == 409
    read = coordinator().ok("POST", route, patient_id=pid, message_id=mine["id"])
    again = coordinator().ok("POST", route, patient_id=pid, message_id=mine["id"])
    assert read["read_at"] is not None and again["read_at"] == read["read_at"]
    assert c.failures() == []


# ---------------------------------------------------------------- monitoring


def test_a_weight_gain_of_3_lb_in_a_day_raises_one_task(friday: Cloud) -> None:
    c = friday
    _, pid = open_clinic(c)
    me = patient(pid)
    assert me.weigh(pid, 180, at="2026-12-03T14:00:00Z")["statusCode"] == 201
    assert me.weigh(pid, 181, at="2026-12-04T14:00:00Z")["statusCode"] == 201  # +1 lb: nothing
    c.settle()
    assert work(tasks.nurse()) == []
    c.advance_to(at("2026-12-05T14:30:00Z"))
    up = nurse().weigh(pid, 184)  # +3 lb since yesterday
    assert up["statusCode"] == 201
    assert [t["rule_id"] for t in up["json"]["trends"]] == ["weight-gain-day"]
    c.advance_to(at("2026-12-05T18:00:00Z"))
    me.weigh(pid, 184.5)  # still up: raises nothing more
    c.settle()
    assert work(tasks.nurse()) == [("review-reading", "observation", "routine")]
    assert c.detail_types("careloop.records").count("TrendDetected") == 1
    # the patient reads their readings without staff fields, and the summary says where it went
    mine = me.ok("GET", "/patients/{patient_id}/observations", patient_id=pid, query={"code": "29463-7"})
    assert [o["value"] for o in mine["items"]] == [180, 181, 184, 184.5]
    assert all("recorded_by" not in o for o in mine["items"])
    summary = me.ok("GET", "/patients/{patient_id}/observations/summary", patient_id=pid)["items"]
    assert summary[0]["code"] == "29463-7" and summary[0]["change_7d"] == round((184.5 - 180) * 0.45359237, 2)
    assert c.failures() == []


def test_a_critical_reading_is_urgent_and_a_bad_one_is_refused_and_written_nowhere(friday: Cloud) -> None:
    c = friday
    _, pid = open_clinic(c)
    spo2 = {"code": "59408-5", "value": 84, "unit": "%"}
    out = nurse().req("POST", "/patients/{patient_id}/observations", spo2, patient_id=pid)
    assert out["statusCode"] == 201 and out["json"]["interpretation"][0]["interpretation"] == "LL"
    c.settle()
    assert work(tasks.nurse()) == [("review-reading", "observation", "urgent")]
    heavy = patient(pid).weigh(pid, 4000, unit="kg")
    assert heavy["statusCode"] == 422 and "4000" not in heavy["body"]
    late = patient(pid).weigh(pid, 80, unit="kg", at="2026-10-01T12:00:00Z")
    assert late["statusCode"] == 422
    listed = nurse().ok("GET", "/patients/{patient_id}/observations", patient_id=pid)["items"]
    assert [o["code"] for o in listed] == ["59408-5"]
    assert c.failures() == []


def test_a_missing_daily_weight_raises_one_task_after_2_days(friday: Cloud) -> None:
    c = friday
    _, pid = open_clinic(c)
    plan = planner().create(pid, {"template": "heart-failure-discharge"})
    c.settle()
    # the new plan is on both timelines (the patient reads plans through their own list, not this link)
    created = "CarePlanCreated"
    [made] = [e for e in patient(pid).timeline(pid, kind="care-plan")["items"] if e["type"] == created]
    assert made["href"] is None
    [seen] = [e for e in coordinator().timeline(pid, kind="care-plan")["items"] if e["type"] == created]
    assert seen["record"]["href"] == f"/care-plans/{plan['id']}"
    patient(pid).weigh(pid, 180)
    c.settle()
    c.advance_to(at(FRIDAY_1655) + timedelta(days=2) - timedelta(minutes=5))
    assert "MeasurementMissed" not in c.detail_types("careloop.records")
    c.advance_to(at(FRIDAY_1655) + timedelta(days=2, minutes=5))
    c.settle()
    missed = [t for t in tasks.coordinator().patient_tasks(pid) if t["rule_id"] == "measurement-missed"]
    assert [t["code"] for t in missed] == ["call-patient"]
    # it stays one task while it stays missed
    c.advance_to(at(FRIDAY_1655) + timedelta(days=4, minutes=10))
    c.settle()
    missed = [t for t in tasks.coordinator().patient_tasks(pid) if t["rule_id"] == "measurement-missed"]
    assert len(missed) == 1
    assert c.detail_types("careloop.records").count("MeasurementMissed") == 1
    # the next reading arms it again: two more days without one raise it again
    patient(pid).weigh(pid, 181)
    c.advance_to(at(FRIDAY_1655) + timedelta(days=6, minutes=15))
    assert c.detail_types("careloop.records").count("MeasurementMissed") == 2
    assert c.failures() == []


# ---------------------------------------------------------------- the timeline


def test_the_timeline_links_every_area_and_the_patient_sees_only_their_part(friday: Cloud) -> None:
    c = friday
    clinic, pid = open_clinic(c)
    clinic.book("dee", "2026-12-08T15:00:00Z", appointment_type="follow-up")
    coordinator().note(pid)
    coordinator().ok(
        "POST",
        "/patients/{patient_id}/interactions",
        {"channel": "phone", "direction": "outbound", "reached": False, "topics": ["appointment"]},
        201,
        patient_id=pid,
    )
    c.advance_to(at("2026-12-07T16:00:00Z"))  # the day before the visit: its reminder has gone out
    assert "ReminderSent" in c.detail_types("careloop.reminders")
    staff = coordinator().timeline(pid)["items"]
    kinds = [e["kind"] for e in staff]
    assert kinds[-1] == "registration" and {"appointment", "note", "interaction"} <= set(kinds)
    assert [e["at"] for e in staff] == sorted((e["at"] for e in staff), reverse=True)
    booked = next(e for e in staff if e["type"] == "AppointmentBooked")
    assert booked["record"]["href"].startswith("/appointments/")
    logged = next(e for e in staff if e["type"] == "InteractionLogged")
    assert logged["codes"]["reached"] is False
    mine = patient(pid).timeline(pid)["items"]
    assert {e["kind"] for e in mine} <= {"registration", "appointment", "interaction", "message"}
    assert "note" not in {e["kind"] for e in mine} and all("codes" not in e for e in mine)
    assert patient(pid).timeline(pid, kind="note")["items"] == []
    # the reminder Careloop sent is an interaction it logged itself, beside the staff's attempt
    log = coordinator().ok("GET", "/patients/{patient_id}/interactions", patient_id=pid)["items"]
    assert {(i["source"], i["reached"]) for i in log} == {("staff", False), ("reminder", True)}
    reminder = next(e for e in staff if e["type"] == "ReminderSent")
    assert reminder["kind"] == "interaction" and reminder["patient_visible"] is True
    assert c.failures() == []
