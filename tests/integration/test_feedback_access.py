"""Who may call the feedback function's routes: admins define surveys and read the report; staff read a
patient's pending surveys; the patient (or their caregiver in the patient's app) reads and answers
their own, nothing else and no one else's. Another organization finds nothing; a refusal or a bad
request writes nothing and echoes nothing; a survey link answers only its own survey."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared import clock, ids
from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, snapshot
from tests.support.feedback import SURVEY, Feedback, admin, coordinator, patient
from tests.support.intake import Api

PATIENT_ROUTES = {
    ("GET", "/patients/{patient_id}/surveys"),
    ("GET", "/patients/{patient_id}/surveys/{request_id}"),
}
ANSWER = ("POST", "/patients/{patient_id}/surveys/{request_id}/response")
ADMIN_ROUTES = {
    ("PUT", "/surveys/{code}"),
    ("GET", "/surveys"),
    ("GET", "/surveys/{code}"),
    ("GET", "/reports/feedback"),
}
ROUTES = sorted(PATIENT_ROUTES | ADMIN_ROUTES | {ANSWER})
STAFF_ROLES = ("coordinator", "nurse", "physician", "admin")
QUERIES = {("GET", "/reports/feedback"): {"from": "2026-11-01", "to": "2026-11-30"}}


def test_every_feedback_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {(r.method, r.path) for r in Template.default().routes if r.function_id == "FeedbackFunction"}
    assert set(ROUTES) == declared


def sent_request(org: str, patient_id: str, code: str = "after-visit") -> str:
    """A survey request already sent to ``patient_id`` (what the events function leaves)."""
    from shared.data import core
    from shared.data import feedback as repo
    from shared.domain.feedback import RequestStatus, SurveyRequestOut, Trigger

    now = clock.now()
    record = SurveyRequestOut(
        id=ids.new_id(),
        survey_code=code,
        survey_version=1,
        patient_id=patient_id,
        trigger=Trigger.VISIT_FULFILLED,
        subject_id=ids.new_id(),
        status=RequestStatus.SENT,
        created_at=now,
        send_at=now,
        sent_at=now,
        expires_at=now + timedelta(days=14),
        outcome="sent",
    )
    change = core.Change(repo.system_actor(org), now)
    repo.open_request(change, org, record)
    change.commit()
    return record.id


@pytest.fixture
def world(aws: dict[str, Any], frozen_clock: clock.FixedClock) -> dict[str, str]:
    register = Api(org="acme").register
    pid = register(query={"allow_duplicate": "true"})["json"]["id"]
    other = register(query={"allow_duplicate": "true"})["json"]["id"]
    admin().define()
    return {
        "patient_id": pid,
        "other_id": other,
        "code": "after-visit",
        "request_id": sent_request("acme", pid),
        "other_request_id": sent_request("acme", other),
    }


def call(api: Feedback, method: str, path: str, world: dict[str, str], n: int) -> dict[str, Any]:
    headers = {"idempotency-key": f"k-{n}"}
    body: Any = None
    if path == "/surveys/{code}" and method == "PUT":
        body = SURVEY
        headers["if-match"] = admin().req("GET", path, code=world["code"])["headers"]["ETag"]
    if (method, path) == ANSWER:
        body = {"answers": {"recommend": 9}}
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    return api.req(
        method, path, body, headers=headers, query=QUERIES.get((method, path)), **{k: world[k] for k in names}
    )


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_by_role(aws: dict[str, Any], world: dict[str, str], role: str) -> None:
    api = Feedback(org="acme", roles=(role,), sub=f"{role}-1")
    for n, (method, path) in enumerate(ROUTES):
        allowed = (method, path) in PATIENT_ROUTES or ((method, path) in ADMIN_ROUTES and role == "admin")
        if allowed:
            out = call(api, method, path, world, n)
            assert out["statusCode"] == 200, (role, method, path, out["body"])
        else:  # staff never answer for the patient
            before = snapshot(aws)
            assert_refused(call(api, method, path, world, n), FORBIDDEN, (role, method, path))
            assert snapshot(aws) == before


def test_a_patient_reads_and_answers_their_own_surveys_and_nothing_else(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    pid = world["patient_id"]
    me = patient(pid)
    for n, (method, path) in enumerate(ROUTES):
        if (method, path) in ADMIN_ROUTES:
            before = snapshot(aws)
            assert_refused(call(me, method, path, world, n), FORBIDDEN, (method, path))
            assert snapshot(aws) == before
    (pending,) = me.pending(pid)
    assert pending["request_id"] == world["request_id"]
    # another patient's: a 404 that writes nothing, under their id or (their request) under mine
    before = snapshot(aws)
    theirs = {**world, "patient_id": world["other_id"], "request_id": world["other_request_id"]}
    for n, route in enumerate([*sorted(PATIENT_ROUTES), ANSWER]):
        assert_refused(call(me, *route, theirs, 50 + n), NOT_FOUND, route)
    mixed = {**world, "request_id": world["other_request_id"]}
    assert_refused(call(me, *ANSWER, mixed, 60), NOT_FOUND, "their request under my id")
    one = ("GET", "/patients/{patient_id}/surveys/{request_id}")
    assert_refused(call(me, *one, mixed, 61), NOT_FOUND, "reading their request under my id")
    staff_mixed = call(coordinator(), *one, mixed, 62)
    assert_refused(staff_mixed, NOT_FOUND, "staff: a request under another patient")
    assert snapshot(aws) == before
    # a caregiver answers in the patient's app, once
    body = {"answers": {"recommend": 8, "comments": "Helpful"}, "answered_by": "caregiver"}
    out = me.req(*ANSWER, body, patient_id=pid, request_id=world["request_id"])
    assert out["statusCode"] == 201, out["body"]
    assert set(out["json"]) == {"request_id", "survey_code", "answered_at"}
    again = me.req(*ANSWER, body, patient_id=pid, request_id=world["request_id"])
    assert again["statusCode"] == 409 and "Helpful" not in again["body"]
    # they read their answers back, without how they were judged
    read = me.ok(
        "GET", "/patients/{patient_id}/surveys/{request_id}", patient_id=pid, request_id=world["request_id"]
    )
    assert [(a["question_id"], a["answer"]) for a in read["answers"]] == [
        ("recommend", 8),
        ("comments", "Helpful"),
    ]
    assert read["answered_by"] == "caregiver" and "flags" not in read and "task_id" not in read


def test_another_organization_finds_nothing(aws: dict[str, Any], world: dict[str, str]) -> None:
    before = snapshot(aws)
    stranger = Feedback(org="other", roles=("admin",), sub="admin-9")
    got = stranger.req("GET", "/surveys/{code}", code=world["code"])
    assert_refused(got, NOT_FOUND, "survey")
    assert stranger.req("GET", "/surveys")["json"]["items"] == []
    listed = stranger.req("GET", "/patients/{patient_id}/surveys", patient_id=world["patient_id"])
    assert_refused(listed, NOT_FOUND, "pending")
    report = stranger.req("GET", "/reports/feedback", query={"from": "2026-11-01", "to": "2026-12-31"})
    assert report["json"]["overall"]["sent"] == 0
    # a patient of another organization with the same ids
    outsider = Feedback(org="other", roles=("patient",), sub="p-9", patient_id=world["patient_id"])
    answer = outsider.req(
        *ANSWER, {"answers": {"recommend": 1}}, patient_id=world["patient_id"], request_id=world["request_id"]
    )
    assert_refused(answer, NOT_FOUND, "answer")
    assert snapshot(aws) == before


def test_bad_definitions_and_answers_write_nothing_and_echo_nothing(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    pid = world["patient_id"]
    before = snapshot(aws)
    odd = {**SURVEY, "title": {"en": "Visit", "xx-Secret": "Hidden words"}}
    out = admin().req("PUT", "/surveys/{code}", odd, code="second-survey")
    assert out["statusCode"] == 422 and "Hidden words" not in out["body"]
    no_etag = admin().req("PUT", "/surveys/{code}", SURVEY, code=world["code"])
    assert no_etag["statusCode"] == 428
    stale = admin().req("PUT", "/surveys/{code}", SURVEY, code=world["code"], headers={"if-match": '"7"'})
    assert stale["statusCode"] == 409 and stale["json"]["current_version"] == 1
    bad_code = admin().req("PUT", "/surveys/{code}", SURVEY, code="Not_A_Code")
    assert bad_code["statusCode"] == 422
    answers = {"answers": {"recommend": 42, "on-time": "private-words"}}
    wrong = patient(pid).req(*ANSWER, answers, patient_id=pid, request_id=world["request_id"])
    said = wrong["json"]["detail"] + str(wrong["json"]["errors"])
    assert wrong["statusCode"] == 422 and "private-words" not in said and "42" not in said
    assert snapshot(aws) == before
    # a replaced survey is version 2; the request still answers the version it asked
    replaced = admin().req(
        "PUT",
        "/surveys/{code}",
        {**SURVEY, "questions": SURVEY["questions"][2:]},
        code=world["code"],
        headers={"if-match": '"1"'},
    )
    assert replaced["statusCode"] == 200 and replaced["headers"]["ETag"] == '"2"'
    (pending,) = patient(pid).pending(pid)
    assert [q["id"] for q in pending["survey"]["questions"]] == ["recommend", "on-time", "comments"]
