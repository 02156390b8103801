"""The escalations area's HTTP routes against moto: who may call them, what bad input gets, how tasks
move, what the worklist shows and what it costs.

Deny by default: every route is staff only (a patient gets 403 on all of them, their own patient id
included); another organization's task or patient is a 404. The frozen clock is Monday 2026-11-23
14:00 UTC; the organization keeps the default calendar (UTC, Monday to Friday 08:00-17:00).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from shared import clock
from shared.domain.tasks import EscalationPolicy
from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, snapshot
from tests.support.intake import Api
from tests.support.tasks import Tasks, admin, coordinator, nurse

STAFF = ("coordinator", "nurse", "physician", "admin")


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    """A task's description and an outcome's note are free text about a patient: never in a log."""
    phi.register("Book cardiology", "Same as the other", "Rebooked", "Call back")


LATER = "2026-11-25T14:00:00Z"


def new_patient(org: str = "acme") -> str:
    out = Api(org=org).register(query={"allow_duplicate": "true"})
    assert out["statusCode"] == 201, out["body"]
    return str(out["json"]["id"])


def make(api: Tasks | None = None, **body: Any) -> dict[str, Any]:
    out = (api or coordinator()).req("POST", "/tasks", {"code": "call-patient", **body})
    assert out["statusCode"] == 201, out["body"]
    return dict(out["json"])


# ---------------------------------------------------------------- who may call what

ROUTES = [
    ("POST", "/tasks"),
    ("GET", "/tasks/{task_id}"),
    ("PATCH", "/tasks/{task_id}"),
    ("POST", "/tasks/{task_id}/{action}"),
    ("GET", "/worklist"),
    ("GET", "/patients/{patient_id}/tasks"),
    ("GET", "/escalation-rules"),
    ("PUT", "/escalation-rules"),
]


def test_every_escalations_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {
        (r.method, r.path) for r in Template.default().routes if r.function_id == "EscalationsFunction"
    }
    assert set(ROUTES) == declared


def call(api: Tasks, method: str, path: str, task: dict[str, Any], patient_id: str, n: int) -> dict[str, Any]:
    params = {"task_id": task["id"], "patient_id": patient_id, "action": "accept"}
    body: Any = None
    headers = None
    if (method, path) == ("POST", "/tasks"):
        body = {"code": "other", "patient_id": patient_id, "description": f"Call back {n}"}
    elif method == "PATCH":
        body, headers = {"priority": "urgent"}, {"if-match": f'"{task["version"]}"'}
    elif method == "PUT":
        body = EscalationPolicy().model_dump(mode="json")
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    return api.req(method, path, body, headers=headers, **{k: params[k] for k in names})


@pytest.mark.parametrize("role", STAFF)
def test_staff_by_role(aws: dict, frozen_clock: clock.FixedClock, role: str) -> None:
    pid = new_patient()
    api = Tasks(roles=(role,), sub=f"{role}-1")
    for n, (method, path) in enumerate(ROUTES):
        task = make(patient_id=pid)
        allowed = role == "admin" or (method, path) != ("PUT", "/escalation-rules")
        if allowed:
            out = call(api, method, path, task, pid, n)
            assert out["statusCode"] in (200, 201), (role, method, path, out["body"])
        else:
            before = snapshot(aws)
            assert_refused(call(api, method, path, task, pid, n), FORBIDDEN, (role, method, path))
            assert snapshot(aws) == before


def test_a_patient_may_call_none_of_them_not_even_about_themselves(
    aws: dict, frozen_clock: clock.FixedClock
) -> None:
    pid = new_patient()
    task = make(patient_id=pid)
    me = Tasks(roles=("patient",), sub="p-1", patient_id=pid)
    before = snapshot(aws)
    for n, (method, path) in enumerate(ROUTES):
        assert_refused(call(me, method, path, task, pid, n), FORBIDDEN, (method, path))
    assert snapshot(aws) == before


def test_another_organization_finds_nothing(aws: dict, frozen_clock: clock.FixedClock) -> None:
    pid = new_patient()
    task = make(patient_id=pid)
    other = coordinator(org="globex")
    before = snapshot(aws)
    for n, (method, path) in enumerate(ROUTES):
        if "{" not in path:
            continue
        assert_refused(call(other, method, path, task, pid, n), NOT_FOUND, (method, path))
    assert snapshot(aws) == before
    assert other.worklist()["items"] == []
    assert make(other, patient_id=None)["id"] != task["id"]
    out = other.req("POST", "/tasks", {"code": "other", "patient_id": pid})
    assert out["statusCode"] == 422 and pid not in out["body"]


# ---------------------------------------------------------------- making and moving tasks


def test_a_task_made_by_hand(aws: dict, frozen_clock: clock.FixedClock) -> None:
    pid = new_patient()
    out = coordinator().req(
        "POST",
        "/tasks",
        {"code": "book-follow-up", "patient_id": pid, "description": "Book cardiology", "due_at": LATER},
        headers={"idempotency-key": "k-1"},
    )
    assert out["statusCode"] == 201, out["body"]
    task = out["json"]
    assert out["headers"]["Location"] == f"/tasks/{task['id']}" and out["headers"]["ETag"] == '"1"'
    assert (task["status"], task["role"], task["owner_id"], task["patient_name"]) == (
        "requested",
        "coordinator",
        None,
        "Jane Roe",
    )
    assert task["at_risk_at"] == "2026-11-25T02:00:00Z"  # the last quarter of two days
    replay = coordinator().req(
        "POST",
        "/tasks",
        {"code": "book-follow-up", "patient_id": pid, "description": "Book cardiology", "due_at": LATER},
        headers={"idempotency-key": "k-1"},
    )
    assert replay["statusCode"] == 201 and replay["json"]["id"] == task["id"]
    read = coordinator().task(task["id"])
    assert [(h["action"], h["actor_id"], h["to_status"]) for h in read["history"]] == [
        ("created", "coord-1", "requested")
    ]
    assert [t["id"] for t in coordinator().patient_tasks(pid)] == [task["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"code": "call-patient", "due_at": "2026-11-23T13:59:00Z"},  # in the past
        {"code": "call-patient", "patient_id": "01KB0000000000000000000000"},  # no such patient
        {"code": "call-patient", "severity": "low", "role": "nurse", "clock": "sometimes"},
        {"code": "dance"},
        {"code": "call-patient", "description": "x" * 2001},
        {"code": "call-patient", "owner_id": "a#b"},
        {"code": "call-patient", "focus": {"type": "appointment", "id": "../x"}},
        {"code": "call-patient", "mass": "assignment"},
    ],
)
def test_bad_input_is_a_422_that_writes_nothing(aws: dict, frozen_clock: clock.FixedClock, body: Any) -> None:
    before = snapshot(aws)
    out = coordinator().req("POST", "/tasks", body)
    assert out["statusCode"] == 422, out["body"]
    assert out["headers"]["Content-Type"] == "application/problem+json"
    assert snapshot(aws) == before


def test_an_escalation_by_hand_must_start_on_the_ladder(aws: dict, frozen_clock: clock.FixedClock) -> None:
    rules = admin().req("GET", "/escalation-rules")["json"]
    body = {k: v for k, v in rules.items() if k != "version"}
    body.update(
        ladder=["coordinator", "physician"], limits={"low": [60, 60], "moderate": [60, 60], "high": [30, 30]}
    )
    body["rules"] = [r for r in body["rules"] if r["role"] != "nurse"]
    assert admin().req("PUT", "/escalation-rules", body)["statusCode"] == 200
    out = coordinator().req("POST", "/tasks", {"code": "other", "severity": "low", "role": "nurse"})
    assert out["statusCode"] == 422 and "role" in out["body"]
    ok = make(severity="low", role="physician")
    assert ok["escalation"]["level"] == 1 and ok["escalation"]["deadline_at"] == "2026-11-23T15:00:00Z"


def test_moves_illegal_moves_and_what_they_publish(aws: dict, frozen_clock: clock.FixedClock) -> None:
    from tests.support.scheduling import outbox

    task = make()
    no_outcome = coordinator().act(task["id"], "complete")
    assert no_outcome["statusCode"] == 422
    cancelled = coordinator().act(task["id"], "cancel", {"reason": "duplicate", "note": "Same as the other"})
    assert cancelled["statusCode"] == 200 and cancelled["headers"]["ETag"] == '"2"'
    again = coordinator().act(task["id"], "complete", {"outcome": {"code": "reached"}})
    assert again["statusCode"] == 409
    assert again["json"]["current_status"] == "cancelled" and "cancelled" in again["json"]["detail"]
    bad = coordinator().act(task["id"], "dance")
    assert bad["statusCode"] == 422
    events = [e for e in outbox(aws) if e["source"] == "careloop.escalations"]
    assert [e["detail-type"] for e in events] == ["TaskCreated", "TaskCancelled"]
    assert "Same as the other" not in str(events)
    history = coordinator().task(task["id"])["history"]
    assert [(h["action"], h["from_status"], h["to_status"]) for h in history] == [
        ("created", None, "requested"),
        ("cancel", "requested", "cancelled"),
    ]


def test_a_stale_if_match_on_a_move_is_a_409(aws: dict, frozen_clock: clock.FixedClock) -> None:
    task = make()
    out = coordinator().act(task["id"], "accept", headers={"if-match": '"7"'})
    assert out["statusCode"] == 409 and out["json"]["current_version"] == 1


def test_edits_need_if_match_and_an_open_task(aws: dict, frozen_clock: clock.FixedClock) -> None:
    task = make(due_at=LATER)
    route = "/tasks/{task_id}"
    missing = coordinator().req("PATCH", route, {"priority": "urgent"}, task_id=task["id"])
    assert missing["statusCode"] == 428
    stale = coordinator().req(
        "PATCH", route, {"priority": "urgent"}, task_id=task["id"], headers={"if-match": '"9"'}
    )
    assert stale["statusCode"] == 409
    past = coordinator().req(
        "PATCH", route, {"due_at": "2026-11-20T00:00:00Z"}, task_id=task["id"], headers={"if-match": '"1"'}
    )
    assert past["statusCode"] == 422
    for bad in ({"role": None}, {"priority": None}):
        out = coordinator().req("PATCH", route, bad, task_id=task["id"], headers={"if-match": '"1"'})
        assert out["statusCode"] == 422, bad
    moved = coordinator().req(
        "PATCH",
        route,
        {"owner_id": "nurse-3", "role": "nurse"},
        task_id=task["id"],
        headers={"if-match": '"1"'},
    )
    assert moved["statusCode"] == 200 and (moved["json"]["owner_id"], moved["json"]["role"]) == (
        "nurse-3",
        "nurse",
    )
    assert [t["id"] for t in Tasks(roles=("nurse",), sub="nurse-3").worklist(queue="mine")["items"]] == [
        task["id"]
    ]
    back = coordinator().req(
        "PATCH", route, {"owner_id": None}, task_id=task["id"], headers={"if-match": '"2"'}
    )
    assert back["json"]["owner_id"] is None
    assert [t["id"] for t in nurse().worklist()["items"]] == [task["id"]]
    coordinator().act(task["id"], "cancel", {"reason": "not-needed"})
    closed = coordinator().req(
        "PATCH", route, {"priority": "stat"}, task_id=task["id"], headers={"if-match": '"4"'}
    )
    assert closed["statusCode"] == 409 and closed["json"]["current_status"] == "cancelled"


def test_an_escalations_queue_follows_its_ladder(aws: dict, frozen_clock: clock.FixedClock) -> None:
    task = make(severity="moderate")
    out = coordinator().req(
        "PATCH", "/tasks/{task_id}", {"role": "nurse"}, task_id=task["id"], headers={"if-match": '"1"'}
    )
    assert out["statusCode"] == 422


# ---------------------------------------------------------------- the worklist


def test_the_worklist_is_mine_and_my_queues_most_pressing_first(
    aws: dict, frozen_clock: clock.FixedClock
) -> None:
    later = make(due_at="2026-11-27T14:00:00Z")
    sooner = make(due_at="2026-11-24T14:00:00Z")
    undated = make()
    stat = make(priority="stat", due_at="2026-11-30T14:00:00Z")
    mine = make(owner_id="coord-1", priority="urgent")
    someone_elses = make(owner_id="coord-2", priority="stat")
    nurses = make(role="nurse", priority="stat")
    ids = [t["id"] for t in coordinator().worklist()["items"]]
    assert ids == [stat["id"], mine["id"], sooner["id"], later["id"], undated["id"]]
    assert someone_elses["id"] not in ids and nurses["id"] not in ids
    assert [t["id"] for t in coordinator().worklist(queue="mine")["items"]] == [mine["id"]]
    assert [t["id"] for t in coordinator().worklist(queue="nurse")["items"]] == [nurses["id"]]
    both = Tasks(roles=("coordinator", "nurse"), sub="coord-1").worklist()["items"]
    assert [t["id"] for t in both][:2] == [stat["id"], nurses["id"]] or [t["id"] for t in both][:2] == [
        nurses["id"],
        stat["id"],
    ]
    assert len(both) == 6


def test_worklist_pages_walk_every_queue_once_in_order(aws: dict, frozen_clock: clock.FixedClock) -> None:
    made = []
    for n in range(9):
        made.append(
            make(owner_id="coord-1" if n % 3 == 0 else None, due_at=f"2026-11-{24 + n % 5}T14:0{n}:00Z")
        )
    expected = [t["id"] for t in coordinator().worklist(limit="50")["items"]]
    assert sorted(expected) == sorted(t["id"] for t in made)
    for limit in ("1", "2", "4"):
        seen, cursor = [], None
        while True:
            query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            page = coordinator().worklist(**query)
            assert len(page["items"]) <= int(limit)
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == expected, limit


def test_worklist_filters_and_their_cursors(aws: dict, frozen_clock: clock.FixedClock) -> None:
    pid = new_patient()
    calls = [make(patient_id=pid) for _ in range(3)]
    make(code="chase-referral")
    accepted = make(code="call-patient")
    coordinator().act(accepted["id"], "accept")
    got = coordinator().worklist(patient_id=pid)["items"]
    assert sorted(t["id"] for t in got) == sorted(t["id"] for t in calls)
    assert [t["id"] for t in coordinator().worklist(status="accepted")["items"]] == [accepted["id"]]
    assert len(coordinator().worklist(code="call-patient")["items"]) == 4
    first = coordinator().worklist(code="call-patient", limit="1")
    other_filter = coordinator().req(
        "GET", "/worklist", query={"code": "chase-referral", "cursor": first["next_cursor"]}
    )
    assert other_filter["statusCode"] == 400
    closed = coordinator().req("GET", "/worklist", query={"status": "completed"})
    assert closed["statusCode"] == 422
    elsewhere = coordinator(org="globex").req("GET", "/worklist", query={"cursor": first["next_cursor"]})
    assert elsewhere["statusCode"] == 400


def test_a_patients_tasks_newest_first_and_404_for_a_stranger(
    aws: dict, frozen_clock: clock.FixedClock
) -> None:
    pid = new_patient()
    first = make(patient_id=pid)
    frozen_clock.advance(timedelta(minutes=5))
    second = make(patient_id=pid)
    coordinator().act(first["id"], "complete", {"outcome": {"code": "reached"}})
    assert [t["id"] for t in coordinator().patient_tasks(pid)] == [second["id"], first["id"]]
    stranger = coordinator().req(
        "GET", "/patients/{patient_id}/tasks", patient_id="01KB0000000000000000000000"
    )
    assert stranger["statusCode"] == 404


def test_the_worklist_reads_one_query_per_queue_whatever_the_organization_holds(
    aws: dict, frozen_clock: clock.FixedClock
) -> None:
    from tests.support.ddb import count_calls, items_read

    for n in range(60):
        make(role="nurse" if n % 2 else "coordinator", owner_id="coord-1" if n % 3 == 0 else None)
    with count_calls() as calls, items_read() as read:
        page = coordinator().worklist(limit="10")
    assert len(page["items"]) == 10 and page["next_cursor"]
    assert calls == Counter({"Query": 2}), calls
    assert read["Query"] <= 2 * 10, read
    with count_calls() as calls, items_read() as read:  # a filter nothing matches reads one page, no more
        filtered = coordinator().worklist(limit="10", code="chase-referral")
    assert filtered["items"] == [] and filtered["next_cursor"]
    assert calls == Counter({"Query": 2}) and read["Query"] <= 2 * 10, (calls, read)


# ---------------------------------------------------------------- rules


def test_rules_default_then_versioned_by_an_admin(aws: dict, frozen_clock: clock.FixedClock) -> None:
    first = coordinator().req("GET", "/escalation-rules")
    assert first["statusCode"] == 200 and first["json"]["version"] == 0
    body = {k: v for k, v in first["json"].items() if k != "version"}
    written = admin().req("PUT", "/escalation-rules", body)
    assert written["statusCode"] == 200 and written["headers"]["ETag"] == '"1"'
    assert admin().req("PUT", "/escalation-rules", body)["statusCode"] == 428
    assert admin().req("PUT", "/escalation-rules", body, headers={"if-match": '"5"'})["statusCode"] == 409
    body["rules"] = [*body["rules"][:1], {**body["rules"][0]}]
    before = snapshot(aws)
    dup = admin().req("PUT", "/escalation-rules", body, headers={"if-match": '"1"'})
    assert dup["statusCode"] == 422 and snapshot(aws) == before
