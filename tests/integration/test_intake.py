"""The intake area through its handler, against moto: registration, duplicates, reads, updates,
search, assessments, coverage, care teams, panels and audit."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from functions.audit.writer import handler as audit_writer
from shared.data.patients import AuditEntry, Patient
from tests.support.ddb import count_calls
from tests.support.events import LambdaContext
from tests.support.intake import NEGATIVE_SCREEN, PHI, Api, patient
from tests.support.streams import stream_event

COORD = Api()
ADMIN = Api(roles=("admin",), sub="admin-1")


@pytest.fixture(autouse=True)
def _phi(phi) -> None:
    phi.register(*PHI)


def outbox_events(stack: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for record in stream_event(stack["table_stream_arn"])["Records"]:
        image = record["dynamodb"].get("NewImage", {})
        if image.get("entity", {}).get("S") == "OutboxEvent":
            out.append({"type": image["detail_type"]["S"], "detail": json.loads(image["detail"]["S"])})
    return out


def bus_listener(stack: dict[str, Any]) -> str:
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="listener")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="all", EventBusName=stack["bus_name"], EventPattern=json.dumps({"source": ["careloop.intake"]})
    )
    events.put_targets(Rule="all", EventBusName=stack["bus_name"], Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    out = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for m in messages:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


# ---------------------------------------------------------------- registration


def test_registration_is_one_transaction_with_its_event_and_audit(aws: dict) -> None:
    with count_calls() as calls:
        response = COORD.register()
    assert response["statusCode"] == 201, response["body"]
    assert calls == {"TransactWriteItems": 1}
    body = response["json"]
    assert response["headers"]["Location"] == f"/patients/{body['id']}"
    assert response["headers"]["ETag"] == '"1"'
    assert body["status"] == "active" and body["version"] == 1
    assert body["quiet_hours"] == {"start": "21:00", "end": "09:00"}  # the default
    events = outbox_events(aws)
    assert [e["type"] for e in events] == ["PatientRegistered"]
    assert events[0]["detail"]["patient_id"] == body["id"]
    assert set(events[0]["detail"]) == {
        "event_id",
        "organization_id",
        "occurred_at",
        "correlation_id",  # the request's: API Gateway's request id
        "patient_id",
        "schema_version",
    }
    (entry,) = list(AuditEntry.query(f"ORG#acme#AUDIT#PATIENT#{body['id']}"))
    assert (entry.action, entry.actor_id, entry.source_ip) == ("patient.create", "coord-1", "198.51.100.7")
    assert entry.request_id


@pytest.mark.parametrize(
    "second",
    [
        patient(name={"given": ["JANE"], "family": "Roe"}, contact={}),  # same name (any case) and birth date
        patient(name={"given": ["Jàne"], "family": "  roe "}, contact={}),  # accents and spacing
        patient(name={"given": ["Janet"], "family": "Doe"}),  # same phone and birth date
    ],
)
def test_a_probable_duplicate_is_409_pointing_at_the_existing_patient(aws: dict, second: dict) -> None:
    first = COORD.register()["json"]
    response = COORD.register(second)
    assert response["statusCode"] == 409
    assert response["json"]["existing_patient_id"] == first["id"]
    assert response["json"]["existing_patient"] == f"/patients/{first['id']}"
    assert len(list(Patient.scan())) == 1


def test_the_caller_may_register_a_probable_duplicate_anyway(aws: dict) -> None:
    first = COORD.register()["json"]
    response = COORD.register(query={"allow_duplicate": "true"})
    assert response["statusCode"] == 201
    assert response["json"]["id"] != first["id"]


def test_the_same_person_in_another_organization_is_not_a_duplicate(aws: dict) -> None:
    COORD.register()
    assert Api(org="globex").register()["statusCode"] == 201


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("contact.phone", patient(contact={"phone": "555-0123"})),
        ("contact.email", patient(contact={"email": "jane@"})),
        ("time_zone", patient(time_zone="Mars/Olympus")),
        ("preferred_language", patient(preferred_language="english")),
        ("birth_date", patient(birth_date="2099-01-01")),
        ("preferred_channels", patient(preferred_channels=["sms", "sms"])),
        ("preferred_channels.0", patient(preferred_channels=["fax"])),
        # mass assignment: refused as an unknown field, whose name (the caller's text) is not repeated
        ("[unknown]", patient(organization_id="globex")),
        ("[unknown]", patient(id="01KAPZ8Q1V0000000000000000")),
        ("[unknown]", patient(version=7)),
        ("[unknown]", patient(created_at="2020-01-01T00:00:00Z")),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(aws: dict, field: str, body: dict) -> None:
    with count_calls() as calls:
        response = COORD.register(body)
    assert response["statusCode"] == 422, response["body"]
    locs = [".".join(str(p) for p in e["loc"][1:]) for e in response["json"]["errors"]]
    assert any(loc.startswith(field) for loc in locs), locs
    assert "TransactWriteItems" not in calls and "PutItem" not in calls
    assert "Jane" not in response["body"]


def test_registration_honours_idempotency_key(aws: dict) -> None:
    first = COORD.register(headers={"Idempotency-Key": "reg-1"})
    again = COORD.register(headers={"Idempotency-Key": "reg-1"})
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert again["json"]["id"] == first["json"]["id"]
    assert len(list(Patient.scan())) == 1


# ---------------------------------------------------------------- reads and updates


def test_a_read_is_one_call_and_is_audited(aws: dict) -> None:
    listener = bus_listener(aws)
    pid = COORD.register()["json"]["id"]
    with count_calls() as calls:
        response = COORD.on("GET", pid)
    assert response["statusCode"] == 200
    assert calls == {"GetItem": 1}
    assert response["headers"]["ETag"] == '"1"'
    (accessed,) = [e for e in received(listener) if e["detail-type"] == "PatientRecordAccessed"]
    assert accessed["detail"]["patient_ids"] == [pid]
    assert accessed["detail"]["action"] == "patient.read"
    # the audit writer turns it into an entry, once however often it is delivered
    for _ in range(2):
        audit_writer(accessed, LambdaContext("AuditWriterFunction"))
    actions = [e.action for e in AuditEntry.query(f"ORG#acme#AUDIT#PATIENT#{pid}")]
    assert sorted(actions) == ["patient.create", "patient.read"]


def test_an_update_needs_the_version_read_and_refuses_a_stale_one(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    change = {"preferred_language": "es-MX"}
    assert COORD.on("PATCH", pid, body=change)["statusCode"] == 428
    ok = COORD.on("PATCH", pid, body=change, headers={"If-Match": '"1"'})
    assert ok["statusCode"] == 200
    assert ok["json"]["preferred_language"] == "es-MX" and ok["json"]["version"] == 2
    assert ok["headers"]["ETag"] == '"2"'
    stale = COORD.on("PATCH", pid, body={"preferred_language": "fr"}, headers={"If-Match": '"1"'})
    assert stale["statusCode"] == 409
    assert COORD.on("GET", pid)["json"]["preferred_language"] == "es-MX"


def test_an_update_merges_contact_and_consent_and_moves_the_phone_lookup(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    change = {
        "contact": {"phone": "+15555550999"},
        "consent": {"email": {"granted": True, "at": "2026-11-21T10:00:00Z", "method": "electronic"}},
    }
    body = COORD.on("PATCH", pid, body=change, headers={"If-Match": '"1"'})["json"]
    assert body["contact"]["email"] == "jane.roe@example.com"  # kept
    assert body["contact"]["phone"] == "+15555550999"
    assert set(body["consent"]) == {"sms", "email"}
    assert COORD.call("GET", "/patients", query={"phone": "+15555550999"})["json"]["items"][0]["id"] == pid
    assert COORD.call("GET", "/patients", query={"phone": "+15555550123"})["json"]["items"] == []


def test_an_inactive_patient_stays_readable(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    assert (
        COORD.on("PATCH", pid, body={"status": "inactive"}, headers={"If-Match": '"1"'})["statusCode"] == 200
    )
    assert COORD.on("GET", pid)["json"]["status"] == "inactive"


# ---------------------------------------------------------------- patient self-access


def test_a_patient_reads_and_updates_their_own_contact_and_consent_only(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    me = Api(roles=("patient",), sub="pat-1", patient_id=pid)
    assert me.on("GET", pid)["statusCode"] == 200
    ok = me.on(
        "PATCH",
        pid,
        body={"contact": {"email": "new@example.com"}, "preferred_channels": ["email"]},
        headers={"If-Match": '"1"'},
    )
    assert ok["statusCode"] == 200 and ok["json"]["contact"]["email"] == "new@example.com"
    denied = me.on(
        "PATCH",
        pid,
        body={"name": {"given": ["X"], "family": "Y"}, "status": "inactive"},
        headers={"If-Match": '"2"'},
    )
    assert denied["statusCode"] == 403
    assert "name, status" in denied["json"]["detail"]


# ---------------------------------------------------------------- search


def test_search_by_name_prefix_birth_date_or_phone_uses_an_index(aws: dict) -> None:
    jane = COORD.register()["json"]["id"]
    john = COORD.register(
        patient(
            name={"given": ["John"], "family": "Röe"},
            birth_date="1970-01-01",
            contact={"phone": "+15555550777"},
        )
    )["json"]["id"]
    COORD.register(patient(name={"given": ["Ann"], "family": "Smith"}, birth_date="1980-01-01", contact={}))
    with count_calls() as calls:
        by_name = COORD.call("GET", "/patients", query={"name": "roe"})
    assert calls == {"Query": 1}
    assert sorted(p["id"] for p in by_name["json"]["items"]) == sorted([jane, john])
    assert [p["id"] for p in COORD.call("GET", "/patients", query={"name": "Roe J"})["json"]["items"]] in (
        [jane, john],
        [john, jane],
    )
    assert [
        p["id"] for p in COORD.call("GET", "/patients", query={"birth_date": "1970-01-01"})["json"]["items"]
    ] == [john]
    assert [
        p["id"] for p in COORD.call("GET", "/patients", query={"phone": "+15555550777"})["json"]["items"]
    ] == [john]


def test_search_pages_with_a_cursor_tied_to_the_search(aws: dict) -> None:
    for n in range(5):
        COORD.register(patient(name={"given": [f"Pat{chr(65 + n)}"], "family": "Page"}, contact={}))
    first = COORD.call("GET", "/patients", query={"name": "page", "limit": "2"})["json"]
    second = COORD.call(
        "GET", "/patients", query={"name": "page", "limit": "2", "cursor": first["next_cursor"]}
    )
    assert len(first["items"]) == 2 and len(second["json"]["items"]) == 2
    assert not {p["id"] for p in first["items"]} & {p["id"] for p in second["json"]["items"]}
    other = COORD.call("GET", "/patients", query={"name": "roe", "cursor": first["next_cursor"]})
    assert other["statusCode"] == 400


def test_search_criteria_combine_and_none_lists_everyone_by_name(aws: dict) -> None:
    jane = COORD.register()["json"]["id"]
    twin = COORD.register(
        patient(name={"given": ["Joan"], "family": "Roe"}), query={"allow_duplicate": "true"}
    )
    ann = COORD.register(
        patient(name={"given": ["Ann"], "family": "Abbott"}, birth_date="1980-01-01", contact={})
    )
    everyone = COORD.call("GET", "/patients")["json"]["items"]
    assert everyone[0]["id"] == ann["json"]["id"]  # "abbott ann" sorts first
    assert len(everyone) == 3
    both = COORD.call("GET", "/patients", query={"name": "roe ja", "birth_date": "1961-04-12"})["json"][
        "items"
    ]
    assert [p["id"] for p in both] == [jane]
    by_phone = COORD.call("GET", "/patients", query={"phone": "+15555550123", "name": "roe jo"})["json"][
        "items"
    ]
    assert [p["id"] for p in by_phone] == [twin["json"]["id"]]
    assert (
        COORD.call("GET", "/patients", query={"name": "roe", "birth_date": "1999-01-01"})["json"]["items"]
        == []
    )


@pytest.mark.parametrize(
    "query", [{"birth_date": "1961-13-01"}, {"phone": "12"}, {"limit": "0"}, {"name": ""}]
)
def test_a_bad_search_parameter_is_422(aws: dict, query: dict) -> None:
    assert COORD.call("GET", "/patients", query=query)["statusCode"] == 422


# ---------------------------------------------------------------- assessments


def screen(**changes: Any) -> dict[str, Any]:
    return {"screening": {**NEGATIVE_SCREEN, **changes}}


def test_a_negative_screen_is_low_risk_and_raises_no_need(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    response = COORD.on("POST", pid, "/assessments", body=screen())
    assert response["statusCode"] == 201
    assert response["json"]["score"] == {"positive": [], "risk": "low", "urgent": False, "safety_score": 4}
    assert [e["type"] for e in outbox_events(aws)] == ["PatientRegistered", "AssessmentRecorded"]


def test_positive_needs_raise_events_and_a_safety_positive_is_urgent(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    body = screen(
        food={"worried_would_run_out": "sometimes", "ran_out": "never"},
        transportation="yes",
        interpersonal_safety={
            "physically_hurt": "sometimes",
            "insulted": "fairly_often",
            "threatened": "rarely",
            "screamed_at": "sometimes",
        },
    )
    body.update(
        conditions=[{"display": "Type 2 diabetes", "code": "E11.9"}], psychosocial_notes="Lives alone"
    )
    response = COORD.on("POST", pid, "/assessments", body=body)
    assert response["json"]["score"]["positive"] == ["food", "transportation", "interpersonal_safety"]
    assert response["json"]["score"]["risk"] == "high" and response["json"]["score"]["urgent"] is True
    events = outbox_events(aws)[1:]
    assert [e["type"] for e in events] == [
        "AssessmentRecorded",
        "SocialNeedIdentified",
        "SocialNeedIdentified",
        "SafetyConcernIdentified",
    ]
    assert [e["detail"].get("domain") for e in events[1:3]] == ["food", "transportation"]
    assert events[3]["detail"]["priority"] == "urgent"
    assert "Lives alone" not in json.dumps(events) and "diabetes" not in json.dumps(events)


def test_assessments_are_history_newest_first(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    first = COORD.on("POST", pid, "/assessments", body=screen())["json"]["id"]
    second = COORD.on("POST", pid, "/assessments", body=screen(transportation="yes"))["json"]["id"]
    listed = COORD.on("GET", pid, "/assessments")["json"]["items"]
    assert [a["id"] for a in listed] == [second, first]


@pytest.mark.parametrize(
    "body",
    [
        screen(transportation="maybe"),
        screen(food={"worried_would_run_out": "always", "ran_out": "never"}),
        {"screening": {"food": NEGATIVE_SCREEN["food"]}},
    ],
)
def test_an_unknown_screening_answer_is_422_and_writes_nothing(aws: dict, body: dict) -> None:
    pid = COORD.register()["json"]["id"]
    response = COORD.on("POST", pid, "/assessments", body=body)
    assert response["statusCode"] == 422
    assert all(e["loc"][1] == "screening" for e in response["json"]["errors"])
    assert COORD.on("GET", pid, "/assessments")["json"]["items"] == []


def test_an_assessment_for_a_missing_patient_is_404(aws: dict) -> None:
    assert COORD.on("POST", "01KAPZ8Q1V0000000000000000", "/assessments", body=screen())["statusCode"] == 404


# ---------------------------------------------------------------- coverage


def test_active_coverage_is_derived_for_any_date(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    old = {
        "payer": "Acme Health",
        "member_id": "A1",
        "effective_start": "2025-01-01",
        "effective_end": "2025-12-31",
    }
    new = {"payer": "Blue Plan", "member_id": "B2", "effective_start": "2026-01-01"}
    secondary = {"payer": "Medicaid", "member_id": "M3", "effective_start": "2026-06-01", "rank": "secondary"}
    for body in (old, new, secondary):
        assert COORD.on("POST", pid, "/coverage", body=body)["statusCode"] == 201
    in_2025 = COORD.on("GET", pid, "/coverage", query={"on": "2025-07-01"})["json"]["active"]
    assert in_2025["primary"]["payer"] == "Acme Health" and in_2025["secondary"] is None
    now = COORD.on("GET", pid, "/coverage", query={"on": "2026-11-23"})["json"]["active"]
    assert (now["primary"]["payer"], now["secondary"]["payer"]) == ("Blue Plan", "Medicaid")
    bad = COORD.on("POST", pid, "/coverage", body={**new, "effective_end": "2025-01-01"})
    assert bad["statusCode"] == 422


# ---------------------------------------------------------------- care team and panel


def test_assigning_a_care_team_puts_the_patient_on_their_panels(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    team = {"coordinator_id": "coord-1", "nurse_id": "nurse-1"}
    assert COORD.on("PUT", pid, "/care-team", body=team)["statusCode"] == 200
    nurse = Api(roles=("nurse",), sub="nurse-1")
    assert [p["id"] for p in nurse.call("GET", "/panel")["json"]["items"]] == [pid]
    assert COORD.on("PUT", pid, "/care-team", body={"coordinator_id": "coord-2"})["statusCode"] == 200
    assert nurse.call("GET", "/panel")["json"]["items"] == []
    assert [p["id"] for p in Api(sub="coord-2").call("GET", "/panel")["json"]["items"]] == [pid]
    assert COORD.call("GET", "/panel")["json"]["items"] == []
    assert COORD.on("GET", pid)["json"]["care_team"] == {
        "coordinator_id": "coord-2",
        "nurse_id": None,
        "physician_id": None,
    }


# ---------------------------------------------------------------- audit


def test_the_audit_trail_is_for_admins(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    COORD.on("PATCH", pid, body={"preferred_language": "es"}, headers={"If-Match": '"1"'})
    trail = ADMIN.on("GET", pid, "/audit")
    assert trail["statusCode"] == 200
    assert [e["action"] for e in trail["json"]["items"]] == ["patient.update", "patient.create"]
    assert COORD.on("GET", pid, "/audit")["statusCode"] == 403


EXPECTED_CALLS = {
    "POST /patients": {"TransactWriteItems": 1},
    "GET /patients/{id}": {"GetItem": 1},
    "PATCH /patients/{id}": {"GetItem": 1, "TransactWriteItems": 1},
    "GET /patients?name=": {"Query": 1},
    "GET /patients?phone=": {"Query": 1, "BatchGetItem": 1},
    "POST /patients/{id}/assessments": {"TransactWriteItems": 1},
    "GET /patients/{id}/assessments": {"Query": 1},  # entries found prove the patient
    "POST /patients/{id}/coverage": {"TransactWriteItems": 1},
    "GET /patients/{id}/coverage": {"Query": 1},  # entries found prove the patient
    "PUT /patients/{id}/care-team": {"GetItem": 1, "TransactWriteItems": 1},
    "GET /panel": {"Query": 1, "BatchGetItem": 1},
    "GET /patients/{id}/audit": {"GetItem": 1, "Query": 1},
}


def test_dynamodb_calls_per_route(aws: dict) -> None:
    from tests.support.intake import calls_per_route

    measured = calls_per_route()
    assert all(status < 300 for status, _ in measured.values())
    assert {route: dict(calls) for route, (_, calls) in measured.items()} == EXPECTED_CALLS


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("/assessments", {"screening": NEGATIVE_SCREEN}),
        ("/coverage", {"payer": "Blue Plan", "member_id": "B2", "effective_start": "2026-01-01"}),
    ],
)
def test_history_creates_honour_idempotency_key(aws: dict, suffix: str, body: dict) -> None:
    pid = COORD.register()["json"]["id"]
    first = COORD.on("POST", pid, suffix, body=body, headers={"Idempotency-Key": "hist-1"})
    again = COORD.on("POST", pid, suffix, body=body, headers={"Idempotency-Key": "hist-1"})
    assert first["statusCode"] == again["statusCode"] == 201
    assert again["json"]["id"] == first["json"]["id"] and again["headers"]["Idempotent-Replayed"] == "true"
    changed = COORD.on(
        "POST",
        pid,
        suffix,
        body={**body, "psychosocial_notes": "x"} if "screening" in body else {**body, "member_id": "B3"},
        headers={"Idempotency-Key": "hist-1"},
    )
    assert changed["statusCode"] == 422
    listed = COORD.on("GET", pid, suffix)["json"]["items"]
    assert len(listed) == 1


# ---------------------------------------------------------------- found in review


def test_care_team_members_can_swap_roles(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    assert (
        COORD.on("PUT", pid, "/care-team", body={"coordinator_id": "u1", "nurse_id": "u2"})["statusCode"]
        == 200
    )
    swapped = COORD.on("PUT", pid, "/care-team", body={"coordinator_id": "u2", "nurse_id": "u1"})
    assert swapped["statusCode"] == 200
    for staff in ("u1", "u2"):
        assert [p["id"] for p in Api(sub=staff).call("GET", "/panel")["json"]["items"]] == [pid]


def test_a_patient_registered_over_a_duplicate_warning_can_still_be_changed(aws: dict) -> None:
    COORD.register()
    dup = COORD.register(query={"allow_duplicate": "true"})["json"]
    changed = COORD.on(
        "PATCH", dup["id"], body={"name": {"given": ["Janine"], "family": "Roe"}}, headers={"If-Match": '"1"'}
    )
    assert changed["statusCode"] == 200
    alone = COORD.register(
        patient(name={"given": ["Solo"], "family": "Person"}, contact={}), query={"allow_duplicate": "true"}
    )["json"]
    assert (
        COORD.on("PATCH", alone["id"], body={"birth_date": "1970-01-01"}, headers={"If-Match": '"1"'})[
            "statusCode"
        ]
        == 200
    )


def test_a_change_that_would_duplicate_another_patient_is_409(aws: dict) -> None:
    jane = COORD.register()["json"]["id"]
    other = COORD.register(patient(name={"given": ["Ann"], "family": "Smith"}, contact={}))["json"]["id"]
    response = COORD.on(
        "PATCH", other, body={"name": {"given": ["Jane"], "family": "Roe"}}, headers={"If-Match": '"1"'}
    )
    assert response["statusCode"] == 409
    assert response["json"]["existing_patient_id"] == jane


def test_a_patient_is_never_told_another_patients_id(aws: dict) -> None:
    relative = COORD.register()["json"]["id"]
    mine = COORD.register(patient(name={"given": ["Sam"], "family": "Roe"}, contact={}))["json"]["id"]
    me = Api(roles=("patient",), sub="pat-2", patient_id=mine)
    response = me.on("PATCH", mine, body={"contact": {"phone": "+15555550123"}}, headers={"If-Match": '"1"'})
    assert response["statusCode"] == 409
    assert relative not in response["body"]


def test_a_patient_reads_only_what_they_may_change(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    COORD.on("PUT", pid, "/care-team", body={"coordinator_id": "coord-1"})
    mine = Api(roles=("patient",), sub="pat-1", patient_id=pid).on("GET", pid)["json"]
    assert set(mine) == {
        "id", "version", "contact", "preferred_language", "preferred_channels", "consent", "surveys"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("first", "second", "duplicate"),
    [
        ({"given": ["Иван"], "family": "Петров"}, {"given": ["Мария"], "family": "Смирнова"}, False),
        ({"given": ["王"], "family": "李"}, {"given": ["张"], "family": "李"}, False),
        ({"given": ["Иван"], "family": "Петров"}, {"given": ["ИВАН"], "family": "петров"}, True),
    ],
)
def test_names_in_any_script_are_matched_by_their_letters(
    aws: dict, first: dict, second: dict, duplicate: bool
) -> None:
    assert COORD.register(patient(name=first, contact={}))["statusCode"] == 201
    assert COORD.register(patient(name=second, contact={}))["statusCode"] == (409 if duplicate else 201)


def test_an_assessment_too_large_for_one_item_is_422(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    huge = {
        "screening": NEGATIVE_SCREEN,
        "psychosocial_notes": "😀" * 4000,
        "conditions": [{"display": "😀" * 200, "system": "😀" * 120} for _ in range(100)],
        "medications": [{"name": "😀" * 200, "dose": "😀" * 120} for _ in range(100)],
        "allergies": [{"substance": "😀" * 200, "reaction": "😀" * 200} for _ in range(100)],
    }
    assert COORD.on("POST", pid, "/assessments", body=huge)["statusCode"] == 422


def test_a_replayed_create_and_a_duplicate_warning_are_audited_as_reads(aws: dict) -> None:
    listener = bus_listener(aws)
    first = COORD.register(headers={"Idempotency-Key": "r-1"})["json"]["id"]
    COORD.register(headers={"Idempotency-Key": "r-1"})  # replay: returns the record again
    COORD.register(patient(contact={}))  # duplicate warning: names the record
    actions = [
        e["detail"]["action"]
        for e in received(listener)
        if e["detail-type"] == "PatientRecordAccessed" and e["detail"]["patient_ids"] == [first]
    ]
    assert sorted(actions) == ["patient.match", "patient.read"]


def test_active_coverage_looks_at_every_entry(aws: dict) -> None:
    pid = COORD.register()["json"]["id"]
    COORD.on(
        "POST",
        pid,
        "/coverage",
        body={
            "payer": "First",
            "member_id": "F",
            "effective_start": "2020-01-01",
            "effective_end": "2020-12-31",
        },
    )
    for n in range(101):
        COORD.on(
            "POST",
            pid,
            "/coverage",
            body={"payer": f"P{n}", "member_id": "M", "effective_start": "2026-01-01"},
        )
    active = COORD.on("GET", pid, "/coverage", query={"on": "2020-06-01"})["json"]["active"]
    assert active["primary"]["payer"] == "First"


def test_a_write_that_lost_the_race_is_a_409_even_when_it_moves_the_phone(aws: dict) -> None:
    """Two PATCHes read version 1; the second's transaction also moves the phone lookup (a delete,
    which DynamoDB lists before the record's put): its failed version condition is still the 409."""
    from shared import clock
    from shared.data import patients as repo
    from shared.errors import Conflict

    pid = COORD.register()["json"]["id"]
    first_read = repo.get("acme", pid)
    assert (
        COORD.on("PATCH", pid, body={"preferred_language": "es"}, headers={"If-Match": '"1"'})["statusCode"]
        == 200
    )
    moved = first_read.record().model_copy(
        update={"contact": first_read.record().contact.model_copy(update={"phone": "+15555550999"})}
    )
    actor = repo.Actor("acme", "coord-2", None, None)
    with pytest.raises(Conflict, match="changed since you read it"):
        repo.update(first_read, moved, actor, clock.now(), "patient.update")
    assert COORD.call("GET", "/patients", query={"phone": "+15555550999"})["json"]["items"] == []
