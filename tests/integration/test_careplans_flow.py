"""Care plans end to end on the template's wiring (tests/support/cloud.py): a protocol applied makes its
work once, activities follow what carries them out, teach-back closes the loop, screens add social
needs, reviews come due.

The clinic is in New York (UTC-5 in December), open Monday to Friday 08:00-17:00. 2026-12-03 is a
Thursday.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support import tasks
from tests.support.careplans import coordinator, patient
from tests.support.cloud import Cloud, cloud
from tests.support.intake import NEGATIVE_SCREEN, Api
from tests.support.reminders import NyClinic, open_ny_clinic

PHONE = "+12125551003"
THURSDAY_NOON = "2026-12-03T17:00:00Z"
FOOD_INSECURE = {**NEGATIVE_SCREEN, "food": {"worried_would_run_out": "often", "ran_out": "sometimes"}}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(PHONE, PHONE.lstrip("+"), "Cy Roe", "cy@example.com")


@pytest.fixture
def thursday(aws: dict[str, Any]) -> Iterator[Cloud]:
    with cloud(aws, at(THURSDAY_NOON)) as c:
        yield c


def open_clinic(c: Cloud) -> NyClinic:
    clinic = open_ny_clinic()
    clinic.add_patient("cy", PHONE, preferred_channels=["sms"], preferred_language="es")
    c.settle()
    return clinic


def heart_failure(c: Cloud, clinic: NyClinic, **extra: Any) -> dict[str, Any]:
    plan = coordinator().create(clinic.patients["cy"], {"template": "heart-failure-discharge", **extra})
    c.settle()
    return plan


def test_the_heart_failure_protocol_makes_its_work_once(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    pid = clinic.patients["cy"]
    headers = {"idempotency-key": "hf-plan-1"}
    plan = coordinator().create(pid, {"template": "heart-failure-discharge"}, headers=headers)
    again = coordinator().create(pid, {"template": "heart-failure-discharge"}, headers=headers)
    c.settle()
    assert again["id"] == plan["id"]
    assert len(coordinator().plans(pid)) == 1
    assert plan["status"] == "active" and plan["start"] == "2026-12-03" and plan["end"] == "2027-01-02"
    kinds = {a["kind"]: a for a in plan["activities"]}
    visit = kinds["appointment"]
    assert visit["due_date"] == "2026-12-17"  # within 14 days
    assert kinds["measurement"]["status"] == "in-progress"
    assert (
        kinds["measurement"]["measure"]["code"] == "29463-7" and kinds["measurement"]["frequency"] == "daily"
    )
    assert plan["goals"][0]["description"].startswith("Keep your weight steady")
    education = [a for a in plan["activities"] if a["kind"] == "education"]
    assert all(a["status"] == "scheduled" and a["assignment_id"] for a in education)
    work = tasks.coordinator().worklist()["items"]
    codes = sorted(t["code"] for t in work)
    assert codes == ["book-follow-up", "call-patient", "teach-back", "teach-back"], codes
    # the referral is a draft for staff to send; the education is in Spanish, the patient's language
    given = coordinator().education(pid)
    assert {g["language"] for g in given} == {"es"} and len(given) == 2
    assert "EducationAssigned" in c.detail_types("careloop.careplans")
    # the messages went out once each, in Spanish, with no PHI in the events
    assert c.failures() == []


def test_booking_and_holding_the_visit_moves_its_activity(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    plan = heart_failure(c, clinic)
    visit = clinic.book("cy", "2026-12-10T15:00:00Z", appointment_type="follow-up")
    c.settle()
    read = coordinator().get(plan["id"])
    activity = next(a for a in read["activities"] if a["kind"] == "appointment")
    assert activity["status"] == "scheduled" and activity["appointment_id"] == visit["id"]
    assert "book-follow-up" not in {t["code"] for t in tasks.coordinator().worklist()["items"]}
    c.advance_to(at("2026-12-10T14:55:00Z"))
    assert clinic.staff.act(visit["id"], "arrive")["statusCode"] == 200
    c.advance_to(at("2026-12-10T15:30:00Z"))
    held = clinic.staff.act(visit["id"], "complete")
    assert held["statusCode"] == 200, held["body"]
    c.settle()
    activity = next(a for a in coordinator().get(plan["id"])["activities"] if a["kind"] == "appointment")
    assert activity["status"] == "completed"
    assert c.failures() == []


def test_a_not_understood_teach_back_is_taught_again_once(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    pid = clinic.patients["cy"]
    plan = heart_failure(c, clinic)
    first = next(a for a in plan["activities"] if a["material"] == "hf-daily-weights")
    body = {"outcome": "not-understood", "method": "show-me", "note": "Could not read the scale"}
    out = coordinator().teach_back(pid, first["assignment_id"], body, headers={"idempotency-key": "tb-1"})
    assert out["statusCode"] == 200, out["body"]
    replay = coordinator().teach_back(pid, first["assignment_id"], body, headers={"idempotency-key": "tb-1"})
    assert replay["json"] == out["json"]
    c.settle()
    again = [t for t in tasks.coordinator().worklist()["items"] if t["code"] == "re-educate"]
    assert len(again) == 1 and again[0]["focus"] == {"type": "education", "id": first["assignment_id"]}
    assert again[0]["due_at"] == "2026-12-07T22:00:00Z"  # 2 business days: Monday's close
    teach = [t for t in tasks.coordinator().worklist()["items"] if t["code"] == "teach-back"]
    assert len(teach) == 1  # the first one's teaching task completed with its outcome
    activity = next(a for a in coordinator().get(plan["id"])["activities"] if a["id"] == first["id"])
    assert activity["status"] == "in-progress"
    understood = coordinator().teach_back(
        pid, first["assignment_id"], {"outcome": "understood", "learner": "caregiver"}
    )
    assert understood["json"]["outcome"] == "understood"
    c.settle()
    assert not [t for t in tasks.coordinator().worklist()["items"] if t["code"] == "re-educate"]
    activity = next(a for a in coordinator().get(plan["id"])["activities"] if a["id"] == first["id"])
    assert activity["status"] == "completed"
    kinds = [e["detail"]["outcome"] for e in c.events if e["detail-type"] == "EducationAssessed"]
    assert kinds == ["not-understood", "understood"]
    assert c.failures() == []


def test_a_food_insecure_screen_adds_one_problem_and_one_task(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    pid = clinic.patients["cy"]
    out = Api(org="acme").on("POST", pid, "/assessments", body={"screening": FOOD_INSECURE})
    assert out["statusCode"] == 201, out["body"]
    c.settle()
    plans = coordinator().plans(pid)
    assert len(plans) == 1 and plans[0]["category"] == "social-needs" and plans[0]["status"] == "active"
    assert [p["code"]["code"] for p in plans[0]["problems"]] == ["Z59.41"]
    work = [t for t in tasks.coordinator().worklist()["items"] if t["code"] == "connect-resource"]
    assert len(work) == 1, work
    (activity,) = plans[0]["activities"]
    assert activity["task_id"] == work[0]["id"]
    # the screen's event delivered again changes nothing
    assert c.redeliver("SocialNeedIdentified", "CarePlanEventsFunction") == [{"outcome": "already-on-plan"}]
    assert len(coordinator().plans(pid)[0]["problems"]) == 1
    done = tasks.coordinator().act(work[0]["id"], "complete", {"outcome": {"code": "connected"}})
    assert done["statusCode"] == 200, done["body"]
    c.settle()
    assert coordinator().plans(pid)[0]["activities"][0]["status"] == "completed"
    assert c.failures() == []


def test_the_patient_reads_their_active_plans_in_plain_words(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    pid = clinic.patients["cy"]
    heart_failure(c, clinic, note="Lives alone; daughter visits weekends")
    coordinator().create(pid, {"title": "Later", "category": "preventive", "status": "draft"})
    (mine,) = patient(pid).plans(pid)
    assert mine["title"] == "Heart failure after discharge"
    assert mine["next"]["title"] == "A call from your care team about how you feel"
    text = str(mine)
    for staff_only in ("Lives alone", "note", "care_team", "author_id", "I50.9", "task_id"):
        assert staff_only not in text
    other = clinic.add_patient("dee", "+12125551004")
    assert patient(pid).req("GET", "/patients/{patient_id}/care-plans", patient_id=other)["statusCode"] == 404
    assert c.failures() == []


def test_the_material_goes_out_once_in_the_patient_s_language_outside_quiet_hours(
    aws: dict[str, Any],
) -> None:
    with cloud(aws, at("2026-12-04T02:30:00Z")) as c:  # Thursday 21:30 in New York: quiet hours
        clinic = open_clinic(c)
        pid = clinic.patients["cy"]
        given = coordinator().assign(pid, {"material": "hf-low-sodium"}, headers={"idempotency-key": "a-1"})
        assert given["statusCode"] == 201, given["body"]
        assert given["json"]["language"] == "es" and given["json"]["title"] == "Coma menos sal"
        c.settle()
        assert [m for m in c.outbox if m.get("to") == PHONE] == []
        c.advance_to(at("2026-12-04T14:05:00Z"))  # 09:05: the quiet hours are over
        sent = [m for m in c.outbox if m.get("to") == PHONE]
        assert len(sent) == 1 and "Coma menos sal" in sent[0]["text"]
        assert "Careloop" in sent[0]["text"]
        c.redeliver("EducationAssigned", "CarePlanEventsFunction")
        assert len([m for m in c.outbox if m.get("to") == PHONE]) == 1
        read = coordinator().education(pid)[0]
        assert read["channel"] == "sms" and read["delivered_at"] is not None
        mine = patient(pid).req(
            "GET",
            "/patients/{patient_id}/education/{assignment_id}",
            patient_id=pid,
            assignment_id=read["id"],
        )
        assert mine["json"]["text"].startswith("La sal") and "assigned_by" not in mine["json"]
        marked = patient(pid).req(
            "POST",
            "/patients/{patient_id}/education/{assignment_id}/read",
            patient_id=pid,
            assignment_id=read["id"],
        )
        assert marked["json"]["read_at"] is not None
        assert coordinator().education(pid)[0]["read_at"] == marked["json"]["read_at"]
        assert c.failures() == []


def test_material_of_a_plan_ended_before_it_went_out_is_not_sent(aws: dict[str, Any]) -> None:
    with cloud(aws, at("2026-12-04T02:30:00Z")) as c:  # 21:30 in New York: the sends wait for 09:00
        clinic = open_clinic(c)
        plan = heart_failure(c, clinic)
        ended = coordinator().edit(plan["id"], "", {"status": "revoked"}, plan["version"])
        assert ended["statusCode"] == 200, ended["body"]
        c.advance_to(at("2026-12-04T14:30:00Z"))
        assert [m for m in c.outbox if m.get("to") == PHONE] == []
        assert c.failures() == []


def test_a_plan_s_review_comes_due_and_a_review_sets_the_next(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    pid = clinic.patients["cy"]
    plan = coordinator().create(
        pid, {"title": "Falls", "category": "preventive", "review_date": "2026-12-07"}
    )
    c.settle()
    assert coordinator().req("GET", "/care-plans", query={"review": "due"})["json"]["items"] == []
    c.advance_to(at("2026-12-07T13:00:00Z"))  # Monday 08:00, the review date's opening hour
    due = coordinator().req("GET", "/care-plans", query={"review": "due"})["json"]["items"]
    assert [p["id"] for p in due] == [plan["id"]]
    review = [t for t in tasks.coordinator().worklist()["items"] if t["code"] == "review-care-plan"]
    assert len(review) == 1 and review[0]["due_at"] == "2026-12-07T22:00:00Z"
    assert c.detail_types("careloop.careplans").count("CarePlanReviewDue") == 1
    read = coordinator().get(plan["id"])
    done = coordinator().edit(
        plan["id"], "/review", {"next_review_date": "2027-03-01"}, read["version"], method="POST"
    )
    assert done["statusCode"] == 200, done["body"]
    assert done["json"]["review_date"] == "2027-03-01" and done["json"]["reviewed_at"] is not None
    c.settle()
    assert not [t for t in tasks.coordinator().worklist()["items"] if t["code"] == "review-care-plan"]
    assert coordinator().req("GET", "/care-plans", query={"review": "due"})["json"]["items"] == []
    diet = {"title": "Diet", "category": "preventive", "review_date": "2026-12-08"}
    other = coordinator().create(pid, diet)
    c.advance_to(at("2026-12-08T13:00:00Z"))
    assert [t["code"] for t in tasks.coordinator().worklist()["items"]] == ["review-care-plan"]
    version = coordinator().get(other["id"])["version"]
    assert coordinator().edit(other["id"], "", {"status": "completed"}, version)["statusCode"] == 200
    c.settle()
    assert tasks.coordinator().worklist()["items"] == []  # an ended plan's review is cancelled
    assert c.failures() == []


def test_a_referral_activity_is_a_draft_referral_that_its_referral_moves(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    plan = heart_failure(c, clinic)
    activity = next(a for a in plan["activities"] if a["kind"] == "referral")
    referral = clinic.staff.req("GET", "/referrals/{referral_id}", referral_id=activity["referral_id"])
    assert referral["json"]["status"] == "draft" and referral["json"]["specialty"] == "cardiac-rehab"
    assert referral["json"]["due_date"] == "2027-01-02"
    cancelled = clinic.staff.req(
        "POST",
        "/referrals/{referral_id}/cancel",
        {"reason": "Patient declined"},
        referral_id=activity["referral_id"],
    )
    assert cancelled["statusCode"] == 200, cancelled["body"]
    c.settle()
    moved = next(a for a in coordinator().get(plan["id"])["activities"] if a["id"] == activity["id"])
    assert moved["status"] == "cancelled"
    assert c.failures() == []


def test_ending_a_plan_cancels_its_open_work(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    plan = heart_failure(c, clinic)
    ended = coordinator().edit(plan["id"], "", {"status": "revoked"}, plan["version"])
    assert ended["statusCode"] == 200, ended["body"]
    assert {a["status"] for a in ended["json"]["activities"]} == {"cancelled"}
    c.settle()
    assert tasks.coordinator().worklist()["items"] == []
    assert "CarePlanStatusChanged" in c.detail_types("careloop.careplans")
    assert c.failures() == []


def test_a_daily_measurement_is_a_morning_reminder_until_the_plan_stops(thursday: Cloud) -> None:
    c = thursday
    clinic = open_clinic(c)
    plan = heart_failure(c, clinic)
    weigh = next(a for a in plan["activities"] if a["kind"] == "measurement")
    assert weigh["status"] == "in-progress"

    def reminders() -> list[dict[str, Any]]:
        return [m for m in c.outbox if m.get("to") == PHONE and "Weigh yourself" in m["text"]]

    c.advance_to(at("2026-12-04T14:00:00Z"))  # Friday 09:00: not yet
    assert reminders() == []
    c.advance_to(at("2026-12-04T14:31:00Z"))  # 09:30 in New York
    assert len(reminders()) == 1
    c.advance_to(at("2026-12-06T15:00:00Z"))  # Saturday's and Sunday's too
    assert len(reminders()) == 3
    held = coordinator().edit(plan["id"], "", {"status": "on-hold"}, coordinator().get(plan["id"])["version"])
    assert held["statusCode"] == 200, held["body"]
    c.advance_to(at("2026-12-08T15:00:00Z"))
    assert len(reminders()) == 3  # on hold: no reminder
    resumed = coordinator().edit(plan["id"], "", {"status": "active"}, held["json"]["version"])
    assert resumed["statusCode"] == 200, resumed["body"]
    c.advance_to(at("2026-12-09T15:00:00Z"))
    assert len(reminders()) == 4
    assert c.failures() == []
