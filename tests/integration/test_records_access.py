"""Who may call the records function's routes, and bad input: staff log interactions, write notes,
message, record readings and read the timeline; nurses, physicians and admins set a patient's
thresholds; admins set the organization's message and monitoring policies; a patient messages,
uploads, records and reads their own readings and timeline, nothing else and no one else's. A note is
amended by its author only, and entered in error by its author, a physician or an admin. Another
organization finds nothing; a refusal or a bad request writes nothing and echoes nothing; every read
is audited."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from shared import clock
from tests.support.access import FORBIDDEN, NOT_FOUND, assert_refused, snapshot
from tests.support.intake import Api
from tests.support.records import (
    BLOOD_PRESSURE,
    WEIGHT,
    Records,
    admin,
    coordinator,
    nurse,
    patient,
    physician,
)

PATIENT_ROUTES = {
    ("GET", "/patients/{patient_id}/messages"),
    ("POST", "/patients/{patient_id}/messages"),
    ("GET", "/patients/{patient_id}/messages/{message_id}"),
    ("POST", "/patients/{patient_id}/messages/{message_id}/read"),
    ("POST", "/patients/{patient_id}/attachments"),
    ("GET", "/patients/{patient_id}/observations"),
    ("POST", "/patients/{patient_id}/observations"),
    ("GET", "/patients/{patient_id}/observations/summary"),
    ("GET", "/patients/{patient_id}/observations/{observation_id}"),
    ("GET", "/patients/{patient_id}/timeline"),
}
NOTE = "/patients/{patient_id}/notes/{note_id}"
AMEND = ("POST", NOTE + "/amendments")
RETRACT = ("POST", NOTE + "/entered-in-error")
STAFF_ROUTES = {
    ("POST", "/patients/{patient_id}/interactions"),
    ("GET", "/patients/{patient_id}/interactions"),
    ("GET", "/patients/{patient_id}/interactions/{interaction_id}"),
    ("POST", "/patients/{patient_id}/notes"),
    ("GET", "/patients/{patient_id}/notes"),
    ("GET", NOTE),
    AMEND,
    RETRACT,
    ("GET", "/patients/{patient_id}/thresholds"),
    ("GET", "/message-policy"),
    ("GET", "/monitoring-policy"),
} | PATIENT_ROUTES
CLINICIANS = {("PUT", "/patients/{patient_id}/thresholds")}  # nurse, physician, admin
ADMIN = {("PUT", "/message-policy"), ("PUT", "/monitoring-policy")}
ROUTES = sorted(STAFF_ROUTES | CLINICIANS | ADMIN)
STAFF_ROLES = ("coordinator", "nurse", "physician", "admin")

INTERACTION = {"channel": "phone", "direction": "outbound", "reached": True}
WEIGHT_KG = {"code": WEIGHT, "value": 80, "unit": "kg"}
PRESSURE = {
    "code": BLOOD_PRESSURE,
    "components": [
        {"code": "8480-6", "value": 120, "unit": "mm[Hg]"},
        {"code": "8462-4", "value": 80, "unit": "mm[Hg]"},
    ],
}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/patients/{patient_id}/interactions"): INTERACTION,
    ("POST", "/patients/{patient_id}/notes"): {"type": "phone", "text": "Called."},
    AMEND: {"text": "Called twice.", "reason": "missed one"},
    RETRACT: {"reason": "wrong patient"},
    ("POST", "/patients/{patient_id}/messages"): {"text": "Hello"},
    ("POST", "/patients/{patient_id}/attachments"): {"content_type": "application/pdf", "size": 1000},
    ("POST", "/patients/{patient_id}/observations"): WEIGHT_KG,
    ("PUT", "/patients/{patient_id}/thresholds"): {"thresholds": [{"code": "8480-6", "high": 160}]},
}


def test_every_records_route_is_in_this_table() -> None:
    from local.template import Template

    declared = {(r.method, r.path) for r in Template.default().routes if r.function_id == "RecordsFunction"}
    assert set(ROUTES) == declared


@pytest.fixture
def world(aws: dict[str, Any], frozen_clock: clock.FixedClock) -> dict[str, str]:
    register = Api(org="acme").register
    pid = register(query={"allow_duplicate": "true"})["json"]["id"]
    other = register(query={"allow_duplicate": "true"})["json"]["id"]
    staff = coordinator()
    sent = staff.message(pid, "Hello from the team")
    assert sent["statusCode"] == 201, sent["body"]
    asked = patient(pid).message(pid, "Hello from me")
    assert asked["statusCode"] == 201, asked["body"]
    return {
        "patient_id": pid,
        "other_id": other,
        "interaction_id": staff.ok(
            "POST", "/patients/{patient_id}/interactions", INTERACTION, 201, patient_id=pid
        )["id"],
        "note_id": staff.note(pid)["id"],
        "note_version": "1",
        "staff_message_id": sent["json"]["message"]["id"],
        "patient_message_id": asked["json"]["message"]["id"],
        "message_id": asked["json"]["message"]["id"],  # staff mark the patient's read
        "observation_id": staff.ok(
            "POST", "/patients/{patient_id}/observations", WEIGHT_KG, 201, patient_id=pid
        )["id"],
        "thresholds_version": "0",
    }


def call(api: Records, method: str, path: str, ids: dict[str, str], n: int) -> dict[str, Any]:
    headers = {"idempotency-key": f"k-{n}"}
    body = BODIES.get((method, path))
    if "{note_id}" in path and method == "POST":
        headers["if-match"] = f'"{ids["note_version"]}"'
    if path.endswith("/thresholds") and method == "PUT":
        headers["if-match"] = f'"{ids["thresholds_version"]}"'
    if path.endswith("-policy") and method == "PUT":
        current = admin().req("GET", path)  # a read: writes nothing
        body = {k: v for k, v in current["json"].items() if k != "version"}
        headers["if-match"] = current["headers"]["ETag"]
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    return api.req(method, path, body, headers=headers, **{k: ids[k] for k in names})


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_by_role(aws: dict[str, Any], world: dict[str, str], role: str) -> None:
    api = Records(org="acme", roles=(role,), sub=f"{role}-1")
    # a note of their own, to amend and then mark entered in error
    world["note_id"] = api.note(world["patient_id"])["id"]
    for n, (method, path) in enumerate(ROUTES):
        allowed = (
            (method, path) in STAFF_ROUTES
            or ((method, path) in CLINICIANS and role != "coordinator")
            or ((method, path) in ADMIN and role == "admin")
        )
        if allowed:
            out = call(api, method, path, world, n)
            assert out["statusCode"] in (200, 201), (role, method, path, out["body"])
            if "{note_id}" in path and method == "POST":
                world["note_version"] = out["headers"]["ETag"].strip('"')
            if path.endswith("/thresholds") and method == "PUT":
                world["thresholds_version"] = out["headers"]["ETag"].strip('"')
        else:
            before = snapshot(aws)
            assert_refused(call(api, method, path, world, n), FORBIDDEN, (role, method, path))
            assert snapshot(aws) == before
    # the policies and thresholds written are read back at their new version
    assert api.req("GET", "/patients/{patient_id}/thresholds", patient_id=world["patient_id"])["headers"][
        "ETag"
    ] == ('"1"' if role != "coordinator" else '"0"')
    if role == "admin":
        for path in ("/message-policy", "/monitoring-policy"):
            assert api.req("GET", path)["headers"]["ETag"] == '"1"', path


def test_a_patient_uses_their_own_records_and_nothing_else(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    pid = world["patient_id"]
    me = patient(pid)
    mine = {**world, "message_id": world["staff_message_id"]}  # the patient marks the team's read
    for n, (method, path) in enumerate(ROUTES):
        if (method, path) in PATIENT_ROUTES:
            out = call(me, method, path, mine, n)
            assert out["statusCode"] in (200, 201), (method, path, out["body"])
            continue
        before = snapshot(aws)
        assert_refused(call(me, method, path, mine, n), FORBIDDEN, (method, path))
        assert snapshot(aws) == before
    # a blood pressure too
    bp = me.req("POST", "/patients/{patient_id}/observations", PRESSURE, patient_id=pid)
    assert bp["statusCode"] == 201, bp["body"]
    # a receipt for their own message is a 409 that writes nothing
    before = snapshot(aws)
    own = me.req(
        "POST",
        "/patients/{patient_id}/messages/{message_id}/read",
        patient_id=pid,
        message_id=world["patient_message_id"],
    )
    assert own["statusCode"] == 409, own["body"]
    assert own["headers"]["Content-Type"] == "application/problem+json"
    # and so is the care team's receipt for their own message
    team = coordinator().req(
        "POST",
        "/patients/{patient_id}/messages/{message_id}/read",
        patient_id=pid,
        message_id=world["staff_message_id"],
    )
    assert team["statusCode"] == 409, team["body"]
    assert snapshot(aws) == before
    # another patient's: every route is a 404 that writes nothing, whatever the ids
    theirs = {**mine, "patient_id": world["other_id"]}
    for n, (method, path) in enumerate(sorted(PATIENT_ROUTES)):
        assert_refused(call(me, method, path, theirs, 100 + n), NOT_FOUND, (method, path))
    assert snapshot(aws) == before


def test_only_a_note_s_author_amends_it_and_its_author_a_physician_or_an_admin_retracts_it(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    pid = world["patient_id"]
    ids = {"patient_id": pid, "note_id": world["note_id"]}  # written by coord-1
    amendment, why = BODIES[AMEND], BODIES[RETRACT]
    match = {"if-match": '"1"'}
    before = snapshot(aws)
    for other in (coordinator(sub="coord-2"), nurse(), physician(), admin()):
        out = other.req(*AMEND, amendment, headers={**match, "idempotency-key": "a-1"}, **ids)
        assert_refused(out, {**FORBIDDEN, "detail": out["json"]["detail"]}, ("amend", other.claims))
    for other in (coordinator(sub="coord-2"), nurse()):
        out = other.req(*RETRACT, why, headers=match, **ids)
        assert_refused(out, {**FORBIDDEN, "detail": out["json"]["detail"]}, ("retract", other.claims))
    assert snapshot(aws) == before
    # a physician's and an admin's retraction each stand on their own note
    for n, who in enumerate((physician(), admin())):
        note = coordinator().note(pid)
        out = who.req(*RETRACT, why, headers=match, patient_id=pid, note_id=note["id"])
        assert out["statusCode"] == 200 and out["json"]["doc_status"] == "entered-in-error", (n, out["body"])
    # the author does both
    author = coordinator()
    amended = author.req(*AMEND, amendment, headers={**match, "idempotency-key": "a-2"}, **ids)
    assert amended["statusCode"] == 201, amended["body"]
    retracted = author.req(*RETRACT, why, headers={"if-match": amended["headers"]["ETag"]}, **ids)
    assert retracted["statusCode"] == 200, retracted["body"]


def test_another_patient_s_records_are_not_found_under_this_patient(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    pid, other = world["patient_id"], world["other_id"]
    staff = coordinator()
    asked = patient(other).message(other, "Theirs")
    answered = staff.message(other, "To them")
    theirs = {
        "patient_id": pid,
        "note_id": staff.note(other)["id"],
        "interaction_id": staff.ok(
            "POST", "/patients/{patient_id}/interactions", INTERACTION, 201, patient_id=other
        )["id"],
        "observation_id": staff.ok(
            "POST", "/patients/{patient_id}/observations", WEIGHT_KG, 201, patient_id=other
        )["id"],
        "note_version": "1",
    }
    by_side = {"staff": asked["json"]["message"]["id"], "patient": answered["json"]["message"]["id"]}
    routes = [
        (m, p)
        for m, p in ROUTES
        if any(k in p for k in ("{note_id}", "{interaction_id}", "{observation_id}", "{message_id}"))
    ]
    before = snapshot(aws)
    for who, api in (("staff", staff), ("staff", physician()), ("patient", patient(pid))):
        for n, (method, path) in enumerate(routes):
            out = call(api, method, path, {**theirs, "message_id": by_side[who]}, n)
            if who == "patient" and (method, path) not in PATIENT_ROUTES:
                assert_refused(out, FORBIDDEN, (who, method, path))
                continue
            assert_refused(out, NOT_FOUND, (who, method, path))
    assert snapshot(aws) == before


def test_another_organization_finds_nothing(aws: dict[str, Any], world: dict[str, str]) -> None:
    listener = bus_listener(aws)
    # acme's admin has set its policies
    for path in ("/message-policy", "/monitoring-policy"):
        assert call(admin(), "PUT", path, world, 0)["statusCode"] == 200, path
    before = snapshot(aws)
    for role in STAFF_ROLES:
        theirs = Records(org="globex", roles=(role,), sub=f"g-{role}")
        for n, (method, path) in enumerate(ROUTES):
            if "{patient_id}" not in path:
                continue
            out = call(theirs, method, path, world, n)
            if out["statusCode"] == 403 and (method, path) in CLINICIANS:
                continue  # the role may not call it at all (tested above)
            assert_refused(out, NOT_FOUND, (role, method, path))
        # globex's policies are its own (the defaults), not acme's
        for path in ("/message-policy", "/monitoring-policy"):
            assert theirs.req("GET", path)["headers"]["ETag"] == '"0"', (role, path)
    assert snapshot(aws) == before
    assert accessed(listener) == []  # nothing was read, so no access to audit


def test_a_malformed_id_in_a_path_is_refused_without_a_500(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    bad = [
        "not-a-ulid",
        "01JD000000000000000000000",  # 25 characters
        "01JD0000000000000000000000X",  # 27
        "01JD00000000000000000000IL",  # not Crockford base 32
        "01jd0000000000000000000000",  # lower case
        "..",
        "%2e%2e",
        "x" * 500,
        "' OR '1'='1",
        "ΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩΩ",
        "ORG#globex#PATIENT#01JD0000",
    ]
    before = snapshot(aws)
    for api in (coordinator(), admin(), patient(world["patient_id"])):
        for n, (method, path) in enumerate(ROUTES):
            names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
            for name in names:
                for value in bad:
                    out = call(api, method, path, {**world, name: value}, n)
                    assert out["statusCode"] in (403, 404, 422), (method, path, name, value, out["body"])
                    assert out["headers"]["Content-Type"] == "application/problem+json"
                    assert value not in out["body"], (method, path, name, value, out["body"])
    assert snapshot(aws) == before


def refused(aws: dict[str, Any], response: dict[str, Any], before: Any, secret: str, where: object) -> None:
    assert response["statusCode"] == 422, (where, response["body"])
    assert response["headers"]["Content-Type"] == "application/problem+json", where
    assert response["json"]["status"] == 422, where
    assert secret not in response["body"], (where, response["body"])
    assert snapshot(aws) == before, where


def test_bad_input_writes_nothing_and_echoes_nothing(aws: dict[str, Any], world: dict[str, str]) -> None:
    pid = world["patient_id"]
    interactions = "/patients/{patient_id}/interactions"
    notes = "/patients/{patient_id}/notes"
    messages = "/patients/{patient_id}/messages"
    observations = "/patients/{patient_id}/observations"
    attachments = "/patients/{patient_id}/attachments"
    long_text = ("Unmistakable words " * 300)[:4001]
    cases: list[tuple[str, str, str, Any, str]] = [
        ("interaction channel", interactions, "POST", {**INTERACTION, "channel": "carrier-pigeon"}, "pigeon"),
        (
            "interaction in the future",
            interactions,
            "POST",
            {**INTERACTION, "occurred_at": "2027-03-04T05:06:07Z"},
            "2027-03-04",
        ),
        (
            "interaction long ago",
            interactions,
            "POST",
            {**INTERACTION, "occurred_at": "2025-03-04T05:06:07Z"},
            "2025-03-04",
        ),
        ("interaction unknown field", interactions, "POST", {**INTERACTION, "status": "final"}, "final"),
        ("empty note", notes, "POST", {"type": "phone", "text": ""}, '""'),
        ("blank note", notes, "POST", {"type": "phone", "text": "   \n  "}, "\\n"),
        ("note type", notes, "POST", {"type": "gossip-column", "text": "Called."}, "gossip"),
        (
            "note unknown field",
            notes,
            "POST",
            {"type": "phone", "text": "Called.", "status": "final"},
            "final",
        ),
        ("long message", messages, "POST", {"text": long_text}, "Unmistakable"),
        ("message unknown field", messages, "POST", {"text": "Hello", "status": "final"}, "final"),
        ("staff naming an author", messages, "POST", {"text": "Hello", "author": "caregiver"}, "caregiver"),
        ("unit", observations, "POST", {"code": WEIGHT, "value": 12, "unit": "stone"}, "stone"),
        ("4000 kg", observations, "POST", {"code": WEIGHT, "value": 4000, "unit": "kg"}, "4000"),
        (
            "systolic below diastolic",
            observations,
            "POST",
            {
                "code": BLOOD_PRESSURE,
                "components": [
                    {"code": "8480-6", "value": 71.25, "unit": "mm[Hg]"},
                    {"code": "8462-4", "value": 93.75, "unit": "mm[Hg]"},
                ],
            },
            "93.75",
        ),
        ("observation unknown field", observations, "POST", {**WEIGHT_KG, "status": "final"}, "final"),
        (
            "reading in the future",
            observations,
            "POST",
            {**WEIGHT_KG, "effective_at": "2027-03-04T05:06:07Z"},
            "2027-03-04",
        ),
        ("html attachment", attachments, "POST", {"content_type": "text/html", "size": 1000}, "text/html"),
        (
            "11 MB attachment",
            attachments,
            "POST",
            {"content_type": "application/pdf", "size": 11 * 1024 * 1024},
            str(11 * 1024 * 1024),
        ),
        (
            "attachment unknown field",
            attachments,
            "POST",
            {"content_type": "application/pdf", "size": 1000, "status": "final"},
            "final",
        ),
        (
            "threshold unknown field",
            "/patients/{patient_id}/thresholds",
            "PUT",
            {"thresholds": [{"code": "8480-6", "high": 160, "status": "final"}]},
            "final",
        ),
    ]
    before = snapshot(aws)
    for api in (coordinator(), nurse(), patient(pid)):
        is_patient = "custom:patient_id" in api.claims
        for n, (what, path, method, body, secret) in enumerate(cases):
            if is_patient and ((method, path) not in PATIENT_ROUTES or "author" in body):
                continue  # staff only (tested above); the patient's app may name the caregiver
            if method == "PUT" and api.claims["sub"] != "nurse-1":
                continue  # a coordinator may not set thresholds (tested above)
            out = api.req(method, path, body, headers={"idempotency-key": f"bad-{n}"}, patient_id=pid)
            refused(aws, out, before, secret, (what, api.claims["sub"]))
    # a refusal is not kept under its key: the same key with a good body is no replay
    key = f"bad-{[c[0] for c in cases].index('long message')}"
    for api in (coordinator(), patient(pid)):
        out = api.req("POST", messages, {"text": "Hello"}, headers={"idempotency-key": key}, patient_id=pid)
        assert out["statusCode"] == 201 and "Idempotent-Replayed" not in out["headers"], out["body"]
    # a body that is not JSON, or not an object
    before = snapshot(aws)
    for raw in ("{not json", "[]", '"text"', "null"):
        out = coordinator().req("POST", notes, raw, patient_id=pid)
        assert out["statusCode"] in (400, 422), (raw, out["body"])
        assert out["headers"]["Content-Type"] == "application/problem+json"
    assert snapshot(aws) == before


# ---------------------------------------------------------------- audit


def bus_listener(stack: dict[str, Any]) -> str:
    """A queue receiving every event published under intake's source (where reads are audited)."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="records-access")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="accessed",
        EventBusName=stack["bus_name"],
        EventPattern=json.dumps({"source": ["careloop.intake"], "detail-type": ["PatientRecordAccessed"]}),
    )
    events.put_targets(Rule="accessed", EventBusName=stack["bus_name"], Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def accessed(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    out = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for m in messages:
            out.append(json.loads(m["Body"])["detail"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_every_read_of_notes_messages_and_the_timeline_is_audited(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    listener = bus_listener(aws)
    pid = world["patient_id"]
    reads = [
        (coordinator(), "GET", NOTE, "note.read"),
        (coordinator(), "GET", "/patients/{patient_id}/notes", "note.read"),
        (coordinator(), "GET", "/patients/{patient_id}/messages", "message.read"),
        (coordinator(), "GET", "/patients/{patient_id}/messages/{message_id}", "message.read"),
        (coordinator(), "GET", "/patients/{patient_id}/timeline", "timeline.read"),
        (coordinator(), "GET", "/patients/{patient_id}/interactions", "interaction.read"),
        (coordinator(), "GET", "/patients/{patient_id}/interactions/{interaction_id}", "interaction.read"),
        (coordinator(), "GET", "/patients/{patient_id}/observations", "observation.read"),
        (coordinator(), "GET", "/patients/{patient_id}/observations/{observation_id}", "observation.read"),
        (coordinator(), "GET", "/patients/{patient_id}/observations/summary", "observation.read"),
        (patient(pid), "GET", "/patients/{patient_id}/messages", "message.read"),
        (patient(pid), "GET", "/patients/{patient_id}/messages/{message_id}", "message.read"),
        (patient(pid), "GET", "/patients/{patient_id}/timeline", "timeline.read"),
        (patient(pid), "GET", "/patients/{patient_id}/observations", "observation.read"),
    ]
    for n, (api, method, path, action) in enumerate(reads):
        out = call(api, method, path, world, n)
        assert out["statusCode"] == 200, (path, out["body"])
        got = accessed(listener)
        assert [(e["action"], e["patient_ids"], e["actor_id"]) for e in got] == [
            (action, [pid], api.claims["sub"])
        ], (n, path, got)
        assert got[0]["organization_id"] == "acme"
    # a refused read (another patient's, another organization's) is no access
    other = {**world, "patient_id": world["other_id"]}
    assert call(patient(pid), "GET", "/patients/{patient_id}/timeline", other, 0)["statusCode"] == 404
    globex = Records(org="globex", roles=("admin",), sub="g-admin")
    assert call(globex, "GET", NOTE, world, 0)["statusCode"] == 404
    assert accessed(listener) == []


def test_a_bad_query_is_refused_and_echoed_nowhere(aws: dict[str, Any], world: dict[str, str]) -> None:
    pid = world["patient_id"]
    timeline, observations = "/patients/{patient_id}/timeline", "/patients/{patient_id}/observations"
    cases = [
        (timeline, {"kind": "gossip-column"}, 422, "gossip"),
        (timeline, {"include": "gossip-column"}, 422, "gossip"),
        (timeline, {"limit": "0"}, 422, None),
        (timeline, {"limit": "100000"}, 422, "100000"),
        (timeline, {"cursor": "gossip-column"}, 400, "gossip"),
        ("/patients/{patient_id}/messages", {"cursor": "gossip-column"}, 400, "gossip"),
        (observations, {"code": "gossip-column"}, 422, "gossip"),
        (observations, {"from": "gossip-column"}, 422, "gossip"),
        (observations, {"from": "2026-11-01T07:08:09"}, 422, "07:08:09"),  # no offset
        (observations, {"from": "2026-12-01T07:08:09Z", "to": "2026-11-01T00:00:00Z"}, 422, "07:08:09"),
        (observations, {"from": "2020-12-01T07:08:09Z"}, 422, "07:08:09"),  # more than a year
    ]
    for api in (coordinator(), patient(pid)):
        for path, query, status, secret in cases:
            out = api.req("GET", path, query=query, patient_id=pid)
            assert out["statusCode"] == status, (path, query, out["body"])
            assert out["headers"]["Content-Type"] == "application/problem+json"
            assert secret is None or secret not in out["body"], (path, query, out["body"])
    # what is for staff only is refused to the patient, not quietly ignored
    out = patient(pid).req("GET", timeline, query={"include": "entered-in-error"}, patient_id=pid)
    assert out["statusCode"] == 422 and out["json"]["errors"][0]["loc"] == ["query", "include"]


def test_a_replayed_create_returns_phi_and_is_audited_as_a_read(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    listener = bus_listener(aws)
    pid, staff = world["patient_id"], coordinator()
    creates = [
        ("/patients/{patient_id}/notes", {"type": "phone", "text": "Called about the scale."}, "note.read"),
        ("/patients/{patient_id}/messages", {"text": "Your scale is on its way."}, "message.read"),
        ("/patients/{patient_id}/interactions", {**INTERACTION, "summary": "Scale"}, "interaction.read"),
        ("/patients/{patient_id}/observations", WEIGHT_KG, "observation.read"),
    ]
    missing = []
    for path, body, action in creates:
        first = staff.req("POST", path, body, headers={"idempotency-key": "once"}, patient_id=pid)
        assert first["statusCode"] == 201 and accessed(listener) == [], first["body"]
        again = staff.req("POST", path, body, headers={"idempotency-key": "once"}, patient_id=pid)
        assert again["headers"]["Idempotent-Replayed"] == "true" and again["body"] == first["body"]
        if [(e["action"], e["patient_ids"]) for e in accessed(listener)] != [(action, [pid])]:
            missing.append(action)
    assert missing == []


def test_another_staff_member_is_refused_a_note_s_amendment_whatever_if_match_they_send(
    aws: dict[str, Any], world: dict[str, str]
) -> None:
    ids = {"patient_id": world["patient_id"], "note_id": world["note_id"]}  # written by coord-1
    before = snapshot(aws)
    statuses = []
    for headers in ({}, {"if-match": '"7"'}):
        statuses.append(nurse().req(*AMEND, BODIES[AMEND], headers=headers, **ids)["statusCode"])
        statuses.append(
            coordinator(sub="coord-2").req(*RETRACT, BODIES[RETRACT], headers=headers, **ids)["statusCode"]
        )
    assert snapshot(aws) == before
    assert statuses == [403] * 4, statuses


def test_what_a_record_relates_to_is_this_patient_s(aws: dict[str, Any], world: dict[str, str]) -> None:
    """A note or an interaction names a record of this patient: another patient's, or one that does not
    exist, is a 422 that writes nothing."""
    from tests.support.careplans import coordinator as planner

    pid, other = world["patient_id"], world["other_id"]
    theirs = planner().create(other, {"title": "Falls", "category": "preventive"})["id"]
    mine = planner().create(pid, {"title": "Falls", "category": "preventive"})["id"]
    staff = coordinator()
    for target in (theirs, "01KAQ0V70000000000000NP1AN"):
        before = snapshot(aws)
        body = {
            "type": "care-plan-review",
            "text": "Reviewed.",
            "relates_to": {"type": "care-plan", "id": target},
        }
        out = staff.req("POST", "/patients/{patient_id}/notes", body, patient_id=pid)
        assert out["statusCode"] == 422 and out["json"]["errors"][0]["loc"] == ["body", "relates_to"]
        assert target not in out["body"]
        assert snapshot(aws) == before
    body = {"type": "care-plan-review", "text": "Reviewed.", "relates_to": {"type": "care-plan", "id": mine}}
    assert staff.req("POST", "/patients/{patient_id}/notes", body, patient_id=pid)["statusCode"] == 201
