"""Patient feedback end to end on the template's wiring (tests/support/cloud.py), with the dispatcher's
clock: a fulfilled visit asks once, after the survey's delay and outside the patient's quiet hours, by
SMS with a signed link; an opted-out patient is never asked; a low score opens one service-recovery
task; a link answers once and expires; free text never reaches events or logs; the report counts it.

The clinic is in New York (UTC-5 in December), open 07:00-17:00 on weekdays; patients' quiet hours are
21:00-09:00. 2026-11-30 is a Monday.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support import tasks
from tests.support.cloud import Cloud, cloud
from tests.support.feedback import admin, coordinator, link, patient, token_in
from tests.support.intake import Api
from tests.support.reminders import NyClinic, open_ny_clinic

PHONE = "+12125551201"
COMMENT = "Dr. Park was rude about my diabetes and I waited an hour"
MONDAY_0800 = "2026-11-30T13:00:00Z"
FAST = {"SMS_PARTS_PER_SECOND": "1000", "EMAILS_PER_SECOND": "1000"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(PHONE, PHONE.lstrip("+"), "Dee Roe", "dee@example.com", COMMENT, "rude about my diabetes")


@pytest.fixture
def monday(aws: dict[str, Any]) -> Iterator[tuple[Cloud, NyClinic, str]]:
    from shared.http import tokens

    tokens.reset()
    with cloud(aws, at(MONDAY_0800), **FAST) as c:
        clinic = open_ny_clinic()
        pid = clinic.add_patient("dee", PHONE, preferred_channels=["sms"])
        team = Api(org="acme").on("PUT", pid, "/care-team", body={"coordinator_id": "coord-1"})
        assert team["statusCode"] == 200, team["body"]
        c.settle()
        yield c, clinic, pid
    tokens.reset()


def surveys_to(c: Cloud, phone: str = PHONE) -> list[str]:
    return [
        m["text"] for m in c.outbox if m.get("to") == phone and "/r/" in m["text"] and "feedback" in m["text"]
    ]


def visit(c: Cloud, clinic: NyClinic, start: str, done: str) -> dict[str, Any]:
    """A visit booked, confirmed, checked in and fulfilled at ``done``."""
    appt = clinic.book("dee", start)
    for action in ("confirm", "check-in"):
        assert clinic.staff.act(appt["id"], action)["statusCode"] == 200
    c.advance_to(at(done))
    fulfilled = clinic.staff.act(appt["id"], "complete")
    assert fulfilled["json"]["status"] == "fulfilled", fulfilled["body"]
    c.settle()
    return appt


def opt_out(pid: str) -> None:
    me = Api(org="acme", roles=("patient",), sub=f"patient-{pid}", patient_id=pid)
    read = me.on("GET", pid)
    out = me.on("PATCH", pid, body={"surveys": False}, headers={"if-match": read["headers"]["ETag"]})
    assert out["statusCode"] == 200 and out["json"]["surveys"] is False, out["body"]


# ---------------------------------------------------------------- asking


def test_a_fulfilled_visit_sends_one_survey_after_its_delay_and_a_redelivery_sends_none(
    monday: tuple[Cloud, NyClinic, str],
) -> None:
    c, clinic, pid = monday
    admin().define()
    visit(c, clinic, "2026-11-30T15:00:00Z", "2026-11-30T15:40:00Z")  # 10:00 in New York
    c.advance_to(at("2026-11-30T17:39:00Z"))
    assert surveys_to(c) == []  # two hours after the visit ended, not before
    c.advance_to(at("2026-11-30T17:41:00Z"))
    sent = surveys_to(c)
    assert len(sent) == 1 and "Your care team would like your feedback" in sent[0]
    assert "Dee" not in sent[0] and "Park" not in sent[0] and "Hudson" not in sent[0]
    assert len(token_in(sent[0])) == 43
    # a link the patient can tap: the API's own address (or the deployment's link base), not a bare path
    assert f"https://{c.env('FeedbackEventsFunction')['API_URL'].removeprefix('https://')}/r/" in sent[0]
    # EventBridge delivers at least once: the same event again asks nothing more
    assert [r["outcome"] for r in c.redeliver("AppointmentFulfilled", "FeedbackEventsFunction")] == [
        "asked-already"
    ]
    c.advance_to(at("2026-12-01T17:41:00Z"))
    assert len(surveys_to(c)) == 1 and c.detail_types("careloop.feedback") == ["SurveySent"]
    # the app shows it pending, in the patient's language, with nothing about how it is judged
    pending = patient(pid).pending(pid)
    assert [p["survey"]["title"] for p in pending] == ["Your visit"]
    assert [q["id"] for q in pending[0]["survey"]["questions"]] == ["recommend", "on-time", "comments"]
    assert "nps" not in json.dumps(pending) and "flag" not in json.dumps(pending)
    assert coordinator().pending(pid) == pending  # staff see what the patient may still answer
    assert c.failures() == []


def test_a_patient_who_opted_out_is_never_asked(monday: tuple[Cloud, NyClinic, str]) -> None:
    c, clinic, pid = monday
    admin().define()
    opt_out(pid)
    visit(c, clinic, "2026-11-30T15:00:00Z", "2026-11-30T15:40:00Z")
    c.advance_to(at("2026-12-01T15:00:00Z"))
    assert surveys_to(c) == [] and "SurveySent" not in c.detail_types()
    assert patient(pid).pending(pid) == []
    assert c.failures() == []


def test_opting_out_between_the_visit_and_the_send_stops_it(monday: tuple[Cloud, NyClinic, str]) -> None:
    c, clinic, pid = monday
    admin().define()
    visit(c, clinic, "2026-11-30T15:00:00Z", "2026-11-30T15:40:00Z")
    opt_out(pid)
    c.advance_to(at("2026-12-01T15:00:00Z"))
    assert surveys_to(c) == [] and "SurveySent" not in c.detail_types()
    assert c.failures() == []


def test_quiet_hours_hold_the_survey_until_they_end(monday: tuple[Cloud, NyClinic, str]) -> None:
    c, clinic, _ = monday
    admin().define(delay_hours=5)
    visit(c, clinic, "2026-11-30T21:00:00Z", "2026-11-30T21:40:00Z")  # 16:00 in New York
    c.advance_to(at("2026-12-01T13:59:00Z"))  # 02:40 came and went: 08:59 is still quiet
    assert surveys_to(c) == []
    c.advance_to(at("2026-12-01T14:01:00Z"))  # 09:00 in New York
    assert len(surveys_to(c)) == 1
    assert c.failures() == []


def test_an_appointment_type_the_survey_does_not_follow_asks_nothing(
    monday: tuple[Cloud, NyClinic, str],
) -> None:
    c, clinic, _ = monday
    admin().define(appointment_types=["new-patient"])
    visit(c, clinic, "2026-11-30T15:00:00Z", "2026-11-30T15:40:00Z")
    c.advance_to(at("2026-12-01T15:00:00Z"))
    assert surveys_to(c) == []
    assert c.failures() == []


# ---------------------------------------------------------------- answering


def _sent(c: Cloud, clinic: NyClinic) -> str:
    admin().define()
    visit(c, clinic, "2026-11-30T15:00:00Z", "2026-11-30T15:40:00Z")
    c.advance_to(at("2026-11-30T17:41:00Z"))
    (text,) = surveys_to(c)
    return token_in(text)


def test_a_3_on_the_nps_question_opens_one_recovery_task_and_a_second_answer_is_a_409(
    monday: tuple[Cloud, NyClinic, str],
) -> None:
    c, clinic, pid = monday
    token = _sent(c, clinic)
    shown = link(c, "GET", token)
    assert shown["statusCode"] == 200, shown["body"]
    assert shown["json"]["kind"] == "survey" and shown["json"]["can"] == ["answer"]
    assert shown["json"]["survey"]["questions"][0]["text"] == "How likely are you to recommend us?"
    assert "Dee" not in shown["body"] and "Park" not in shown["body"]
    answers = {"recommend": 3, "on-time": "yes", "comments": COMMENT}
    done = link(c, "POST", token, {"action": "answer", "answers": answers})
    assert done["statusCode"] == 200 and done["json"]["can"] == [], done["body"]
    again = link(c, "POST", token, {"action": "answer", "answers": {"recommend": 10}})
    assert again["statusCode"] == 409
    # the app cannot answer it a second time either
    (request,) = [e["detail"] for e in c.events if e["detail-type"] == "SurveySent"]
    twice = patient(pid).answer(pid, request["request_id"], {"recommend": 10})
    assert twice["statusCode"] == 409
    c.settle()
    work = [t for t in tasks.coordinator().patient_tasks(pid) if t["code"] == "service-recovery"]
    assert len(work) == 1
    assert work[0]["focus"] == {"type": "survey-response", "id": request["request_id"]}
    assert work[0]["owner_id"] == "coord-1" and work[0]["role"] == "coordinator"
    # free text stays in the table: never on the bus
    assert COMMENT not in json.dumps(c.events) and "diabetes" not in json.dumps(c.events)
    answered = [e["detail"] for e in c.events if e["detail-type"] == "SurveyAnswered"]
    assert [(a["nps_score"], a["flagged"], a["via"]) for a in answered] == [(3, True, "link")]
    # the coordinator opens the task's focus: what the patient said, and what flagged it
    seen = coordinator().ok(
        "GET", "/patients/{patient_id}/surveys/{request_id}", patient_id=pid, request_id=request["request_id"]
    )
    assert [(a["question_id"], a["answer"]) for a in seen["answers"]] == [
        ("recommend", 3),
        ("on-time", "Yes"),
        ("comments", COMMENT),
    ]
    assert seen["flags"] == [{"question_id": "recommend", "reason": "low-score"}]
    assert seen["task_id"] == work[0]["id"] and seen["status"] == "answered"
    assert patient(pid).pending(pid) == []
    assert c.failures() == []


def test_the_app_answer_is_idempotent_and_a_good_score_opens_no_task(
    monday: tuple[Cloud, NyClinic, str],
) -> None:
    c, clinic, pid = monday
    _sent(c, clinic)
    (pending,) = patient(pid).pending(pid)
    key = {"idempotency-key": "answer-1"}
    first = patient(pid).answer(pid, pending["request_id"], {"recommend": 9}, headers=key)
    assert first["statusCode"] == 201, first["body"]
    replay = patient(pid).answer(pid, pending["request_id"], {"recommend": 9}, headers=key)
    assert replay["statusCode"] == 201 and replay["headers"].get("Idempotent-Replayed") == "true"
    assert replay["json"] == first["json"]
    c.settle()
    assert [t for t in tasks.coordinator().patient_tasks(pid) if t["code"] == "service-recovery"] == []
    # a flagged choice with a good score opens one all the same (checked on another visit)
    assert c.failures() == []


def test_a_link_expires_a_forged_one_is_unknown_and_bad_answers_write_and_echo_nothing(
    monday: tuple[Cloud, NyClinic, str],
) -> None:
    c, clinic, pid = monday
    token = _sent(c, clinic)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert link(c, "GET", forged)["statusCode"] == 404
    bad = {"action": "answer", "answers": {"recommend": 11, "on-time": "sometimes", "secret-question": 4}}
    refused = link(c, "POST", token, bad)
    assert refused["statusCode"] == 422
    said = refused["json"]["detail"] + str(refused["json"]["errors"])  # the request id is random
    assert "sometimes" not in said and "11" not in said and "secret-question" not in said
    assert {tuple(e["loc"]) for e in refused["json"]["errors"]} == {
        ("body", "answers", "recommend"),
        ("body", "answers", "on-time"),
        ("body", "answers", "[key]"),  # a key the caller made up is not echoed
    }
    missing = link(c, "POST", token, {"action": "answer", "answers": {"comments": COMMENT}})
    assert missing["statusCode"] == 422 and COMMENT not in missing["body"]
    assert "SurveyAnswered" not in c.detail_types()
    assert link(c, "GET", token)["json"]["can"] == ["answer"]  # nothing was stored
    # an appointment's action on a survey's link is refused
    assert link(c, "POST", token, {"action": "confirm"})["statusCode"] == 409
    c.advance_to(at("2026-12-14T17:41:00Z"))  # 14 days after it was sent
    assert link(c, "GET", token)["statusCode"] == 410
    late = link(c, "POST", token, {"action": "answer", "answers": {"recommend": 10}})
    assert late["statusCode"] == 410
    assert patient(pid).pending(pid) == []
    assert c.failures() == []


def test_a_flagged_choice_opens_a_task_and_the_report_counts_rates_nps_and_recovery(
    monday: tuple[Cloud, NyClinic, str],
) -> None:
    c, clinic, pid = monday
    token = _sent(c, clinic)
    done = link(c, "POST", token, {"action": "answer", "answers": {"recommend": 10, "on-time": "no"}})
    assert done["statusCode"] == 200, done["body"]
    c.settle()
    (task,) = [t for t in tasks.coordinator().patient_tasks(pid) if t["code"] == "service-recovery"]
    # a second visit is asked about too, and left unanswered
    visit(c, clinic, "2026-12-01T15:00:00Z", "2026-12-01T15:40:00Z")
    c.advance_to(at("2026-12-01T17:41:00Z"))
    assert len(surveys_to(c)) == 2
    closed = tasks.coordinator().act(task["id"], "complete", {"outcome": {"code": "reached"}})
    assert closed["statusCode"] == 200, closed["body"]
    c.settle()
    report = admin().ok("GET", "/reports/feedback", query={"from": "2026-11-30", "to": "2026-12-31"})
    overall = report["overall"]
    assert (overall["sent"], overall["answered"], overall["response_rate"]) == (2, 1, 0.5)
    assert (overall["nps"], overall["nps_responses"]) == (100.0, 1)
    assert overall["means"] == [
        {"survey_code": "after-visit", "question_id": "recommend", "mean": 10.0, "responses": 1}
    ]
    assert [(p["provider_id"], p["sent"]) for p in report["by_provider"]] == [(clinic.provider_id, 2)]
    assert [(t["appointment_type"], t["answered"]) for t in report["by_appointment_type"]] == [
        ("follow-up", 1)
    ]
    assert report["recovery"] == {"opened": 1, "closed": 1}
    before = admin().ok("GET", "/reports/feedback", query={"from": "2026-11-01", "to": "2026-11-29"})
    assert before["overall"]["sent"] == 0 and before["recovery"] == {"opened": 0, "closed": 0}
    wrong = admin().req("GET", "/reports/feedback", query={"from": "2026-12-31", "to": "2026-11-30"})
    assert wrong["statusCode"] == 422
    leap = admin().req("GET", "/reports/feedback", query={"from": "2028-01-01", "to": "2028-12-31"})
    assert leap["statusCode"] == 200  # 366 days, both included
    longer = admin().req("GET", "/reports/feedback", query={"from": "2026-01-01", "to": "2027-01-02"})
    assert longer["statusCode"] == 422 and json.loads(longer["body"])["errors"][0]["loc"] == ["query", "to"]
    assert c.failures() == []


def test_a_closed_transition_and_a_reviewed_care_plan_ask_their_own_surveys(
    monday: tuple[Cloud, NyClinic, str],
) -> None:
    c, _, pid = monday
    admin().define("after-review", trigger="care-plan-reviewed", delay_hours=0)
    admin().define("after-discharge", trigger="transition-closed", delay_hours=0)

    def deliver(kind: str, **detail: Any) -> str:
        event = {"detail-type": kind, "detail": {"organization_id": "acme", "patient_id": pid, **detail}}
        return str(c.pools["FeedbackEventsFunction"].invoke(event, 0).value["outcome"])

    review = {"care_plan_id": "01KAB7V8J3Q0WZ9X5Y4T2R1N6M", "event_id": "01KAB7V8J3Q0WZ9X5Y4T2R1N6P"}
    assert deliver("CarePlanReviewed", **review) == "scheduled"
    assert deliver("CarePlanReviewed", **review) == "asked-already"
    closed = {"transition_id": "01KAB7V8J3Q0WZ9X5Y4T2R1N6N"}
    assert deliver("TransitionClosed", **closed, reason="deceased") == "not-after-this-close"
    assert deliver("TransitionClosed", **closed, reason="completed") == "scheduled"
    c.advance_to(at("2026-11-30T14:05:00Z"))  # 09:05 in New York: after quiet hours
    assert len(surveys_to(c)) == 2
    assert c.failures() == []


def test_a_care_plan_review_recorded_by_staff_asks_the_patient_once(
    monday: tuple[Cloud, NyClinic, str],
) -> None:
    from tests.support.careplans import coordinator as planner

    c, _, pid = monday
    admin().define("after-review", trigger="care-plan-reviewed", delay_hours=1)
    plan = planner().create(pid, {"title": "Falls", "category": "preventive", "review_date": "2026-12-07"})
    c.advance_to(at("2026-11-30T15:00:00Z"))  # 10:00 in New York
    reviewed = planner().edit(plan["id"], "/review", {}, plan["version"], method="POST")
    assert reviewed["statusCode"] == 200, reviewed["body"]
    c.settle()
    assert c.detail_types("careloop.careplans").count("CarePlanReviewed") == 1
    (event,) = [e["detail"] for e in c.events if e["detail-type"] == "CarePlanReviewed"]
    assert set(event) == {
        "event_id", "organization_id", "occurred_at", "correlation_id", "care_plan_id", "patient_id",
        "schema_version",
    }  # fmt: skip
    c.redeliver("CarePlanReviewed", "FeedbackEventsFunction")
    c.advance_to(at("2026-11-30T16:01:00Z"))
    assert len(surveys_to(c)) == 1
    assert c.failures() == []
