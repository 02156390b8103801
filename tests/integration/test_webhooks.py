"""Partner webhooks end to end on the template's wiring (tests/support/cloud.py): a partner signs a
delivery with the reference Standard Webhooks library, the ingest function acknowledges it, the
webhook queue's consumer applies its FHIR, and the escalation rules turn a critical result into work.

The clinic is the New York one of the escalation tests; it is Thursday 2026-12-03, 12:00 there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.cloud import Cloud, cloud
from tests.support.ddb import count_calls
from tests.support.intake import Api, patient
from tests.support.tasks import nurse, physician
from tests.support.webhooks import (
    MRN_SYSTEM,
    Partner,
    add_partner,
    deliver,
    discharge,
    give_mrn,
    observation,
    staff,
)

THURSDAY_NOON = datetime.fromisoformat("2026-12-03T17:00:00+00:00")
PHONE = "+12125551001"


@pytest.fixture(autouse=True)
def _phi(phi: Any) -> None:
    phi.register(PHONE, PHONE.lstrip("+"), "Ana Roe", "ana@example.com", "MRN-0042", "MRN-0077")


@pytest.fixture
def c(aws: dict[str, Any]) -> Iterator[Cloud]:
    with cloud(aws, THURSDAY_NOON) as it:
        yield it


@pytest.fixture
def lab(c: Cloud) -> tuple[Partner, str]:
    """A lab partner with a secret, and Ana, whom it knows as MRN-0042."""
    body = patient(
        name={"given": ["Ana"], "family": "Roe"}, contact={"phone": PHONE, "email": "ana@example.com"}
    )
    ana = Api(org="acme").register(body, query={"allow_duplicate": "true"})["json"]["id"]
    give_mrn(c, ana, "MRN-0042")
    c.settle()
    return add_partner(c), ana


def table_items(aws: dict[str, Any]) -> int:
    from tests.conftest import boto_session

    client = boto_session().client("dynamodb")
    return sum(
        page["Count"]
        for page in client.get_paginator("scan").paginate(TableName="careloop-test", Select="COUNT")
    )


def deliveries(partner: Partner) -> list[dict[str, Any]]:
    out = partner.admin.req("GET", "/partners/{partner_id}/deliveries", partner_id=partner.id)
    assert out["statusCode"] == 200, out["body"]
    return list(out["json"]["items"])


def results(c: Cloud, patient_id: str, role: str = "nurse") -> list[dict[str, Any]]:
    out = staff(c, role=role).req("GET", "/patients/{patient_id}/results", patient_id=patient_id)
    assert out["statusCode"] == 200, out["body"]
    return list(out["json"]["items"])


# ---------------------------------------------------------------- inbound


def test_a_critical_potassium_puts_a_stat_physician_task_on_the_worklist_in_the_same_instant(
    c: Cloud, lab: tuple[Partner, str]
) -> None:
    partner, ana = lab
    out = deliver(c, partner.id, observation("MRN-0042"), partner.secret)
    assert out["statusCode"] == 202, out["body"]
    c.settle()  # the queue, the stream and the bus: no clock moved, no timer fired
    [result] = results(c, ana)
    assert (result["code"]["code"], result["value"], result["unit"]) == ("2823-3", 6.8, "mmol/L")
    assert (result["interpretation"], result["flag"], result["low"], result["high"]) == (
        "HH",
        "critical",
        3.5,
        5.1,
    )
    [task] = physician().worklist()["items"]
    assert (task["code"], task["priority"], task["role"], task["patient_id"]) == (
        "review-result",
        "stat",
        "physician",
        ana,
    )
    assert task["focus"] == {"type": "result", "id": result["id"]}
    assert "ResultCritical" in c.detail_types()
    [delivery] = deliveries(partner)
    assert (delivery["status"], delivery["resources"], delivery["direction"]) == ("processed", 1, "inbound")
    received = datetime.fromisoformat(delivery["received_at"])
    assert datetime.fromisoformat(task["created_at"]) - received < timedelta(seconds=5)
    assert (
        task["due_at"]
        == (received.replace(microsecond=0) + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
        or task["due_at"]
    )


def test_a_value_past_the_rules_critical_range_is_critical_without_the_labs_flag(
    c: Cloud, lab: tuple[Partner, str]
) -> None:
    partner, ana = lab
    deliver(c, partner.id, observation("MRN-0042", value=6.5, interpretation="H"), partner.secret)
    deliver(
        c,
        partner.id,
        observation("MRN-0042", source_id="obs-2", value=5.4, interpretation="H"),
        partner.secret,
    )
    c.settle()
    flags = sorted((r["value"], r["flag"]) for r in results(c, ana))
    assert flags == [(5.4, "abnormal"), (6.5, "critical")]
    assert [t["code"] for t in nurse().worklist(queue="nurse")["items"]] == ["review-result"]
    assert [t["priority"] for t in physician().worklist(queue="physician")["items"]] == ["stat"]


def test_acknowledging_a_result_closes_its_review_task(c: Cloud, lab: tuple[Partner, str]) -> None:
    partner, ana = lab
    deliver(c, partner.id, observation("MRN-0042", interpretation="H", value=5.4), partner.secret)
    c.settle()
    [result] = results(c, ana)
    coordinator_try = staff(c).req(
        "POST",
        "/patients/{patient_id}/results/{result_id}/acknowledge",
        patient_id=ana,
        result_id=result["id"],
    )
    assert coordinator_try["statusCode"] == 403
    done = staff(c, role="nurse", sub="nurse-1").req(
        "POST",
        "/patients/{patient_id}/results/{result_id}/acknowledge",
        patient_id=ana,
        result_id=result["id"],
    )
    assert done["statusCode"] == 200, done["body"]
    assert done["json"]["acknowledged_by"] == "nurse-1"
    c.settle()
    assert nurse().worklist(queue="nurse")["items"] == []
    again = staff(c, role="nurse").req(
        "POST",
        "/patients/{patient_id}/results/{result_id}/acknowledge",
        patient_id=ana,
        result_id=result["id"],
    )
    assert again["statusCode"] == 409


def test_a_delivery_that_does_not_verify_is_a_401_and_writes_nothing(
    c: Cloud, lab: tuple[Partner, str], aws: dict[str, Any]
) -> None:
    from standardwebhooks import Webhook

    from shared import clock as shared_clock

    partner, _ = lab
    body = json.dumps(observation("MRN-0042")).encode()
    now = shared_clock.now()
    signed_then_flipped = {
        "webhook-id": "msg_flip",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(partner.secret).sign("msg_flip", now, body.decode()),
    }
    spoiled = {
        "one flipped byte": lambda: deliver(
            c, partner.id, body.replace(b"6.8", b"6.9"), None, headers=signed_then_flipped
        ),
        "a stale timestamp": lambda: deliver(
            c, partner.id, body, partner.secret, at=now - timedelta(minutes=6)
        ),
        "no signature": lambda: deliver(c, partner.id, body, None),
        "another secret": lambda: deliver(c, partner.id, body, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    }
    before = table_items(aws)
    for what, send in spoiled.items():
        out = send()
        assert out["statusCode"] == 401, (what, out["body"])
        assert "6.8" not in out["body"] and "MRN" not in out["body"], what
    c.settle()
    assert table_items(aws) == before
    meta = partner.admin.req("GET", "/partners/{partner_id}", partner_id=partner.id)["json"]["secrets"][0]
    gone = partner.admin.req(
        "DELETE", "/partners/{partner_id}/secrets/{secret_id}", partner_id=partner.id, secret_id=meta["id"]
    )
    assert gone["statusCode"] == 204
    before = table_items(aws)
    revoked = deliver(c, partner.id, body, partner.secret)  # the secret that worked a moment ago
    assert revoked["statusCode"] == 401, revoked["body"]
    c.settle()
    assert table_items(aws) == before
    assert deliveries(partner) == []


def test_an_unknown_partner_is_a_404_and_a_body_over_256_kb_a_413(c: Cloud, lab: tuple[Partner, str]) -> None:
    partner, _ = lab
    assert (
        deliver(c, "01JD0000000000000000000000", observation("MRN-0042"), partner.secret)["statusCode"] == 404
    )
    big = b'{"resourceType":"Observation","x":"' + b"a" * (256 * 1024) + b'"}'
    assert deliver(c, partner.id, big, partner.secret)["statusCode"] == 413


def test_two_secrets_during_rotation_are_both_accepted(c: Cloud, lab: tuple[Partner, str]) -> None:
    partner, ana = lab
    new = partner.admin.req("POST", "/partners/{partner_id}/secrets", {}, partner_id=partner.id)
    assert new["statusCode"] == 201
    assert new["json"]["secret"].startswith("whsec_") and new["json"]["secret"] != partner.secret
    read = partner.admin.req("GET", "/partners/{partner_id}", partner_id=partner.id)
    assert partner.secret not in read["body"] and new["json"]["secret"] not in read["body"]
    assert len(read["json"]["secrets"]) == 2
    old_ok = deliver(c, partner.id, observation("MRN-0042"), partner.secret)
    new_ok = deliver(c, partner.id, observation("MRN-0042", source_id="obs-2"), new["json"]["secret"])
    assert (old_ok["statusCode"], new_ok["statusCode"]) == (202, 202)
    c.settle()
    assert len(results(c, ana)) == 2


def test_ten_deliveries_of_one_webhook_id_five_at_once_change_state_once(
    c: Cloud, lab: tuple[Partner, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    partner, ana = lab
    for name in ("PARTNER_SECRET_PREFIX", "WEBHOOK_QUEUE_URL"):  # threads share one environment
        monkeypatch.setenv(name, c.pools["WebhookIngestFunction"].env[name])
    body = json.dumps(observation("MRN-0042")).encode()
    statuses: list[int] = []
    now = c.clock.now()

    def send() -> None:
        out = deliver(c, partner.id, body, partner.secret, msg_id="msg_same", at=now, threaded=True)
        statuses.append(out["statusCode"])

    threads = [threading.Thread(target=send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(5):
        send()
    c.settle()
    assert sorted(statuses) == [200] * 9 + [202], statuses
    assert len(deliveries(partner)) == 1
    assert len(results(c, ana)) == 1
    assert len(physician().worklist()["items"]) == 1


def test_a_malformed_fhir_body_is_recorded_with_its_path_and_not_retried(
    c: Cloud, lab: tuple[Partner, str]
) -> None:
    partner, ana = lab
    bad = observation("MRN-0042")
    bad["valueQuantity"]["value"] = "six point eight"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": observation("MRN-0042", source_id="ok")}, {"resource": bad}],
    }
    assert deliver(c, partner.id, bundle, partner.secret)["statusCode"] == 202
    c.settle()
    [delivery] = deliveries(partner)
    assert (delivery["status"], delivery["error_code"]) == ("failed", "structure")
    assert delivery["error_path"] == "Bundle.entry[1].resource.valueQuantity.value"
    assert results(c, ana) == []  # nothing of a malformed delivery is applied
    assert c.pools["WebhookProcessFunction"].failures == []  # recorded, not retried


def test_an_older_version_is_recorded_and_ignored_and_a_correction_supersedes(
    c: Cloud, lab: tuple[Partner, str]
) -> None:
    partner, ana = lab
    deliver(
        c,
        partner.id,
        observation(
            "MRN-0042", value=4.0, interpretation="N", version="2", last_updated="2026-12-03T16:56:00Z"
        ),
        partner.secret,
    )
    deliver(
        c,
        partner.id,
        observation("MRN-0042", value=6.8, version="1", last_updated="2026-12-03T16:55:00Z"),
        partner.secret,
    )
    c.settle()
    [result] = results(c, ana)
    assert (result["value"], result["flag"]) == (4.0, "normal")
    assert [d["stale"] for d in deliveries(partner)] == [1, 0]  # newest first
    assert physician().worklist()["items"] == []
    corrected = observation(
        "MRN-0042", value=6.6, status="corrected", version="3", last_updated="2026-12-03T16:58:00Z"
    )
    deliver(c, partner.id, corrected, partner.secret)
    c.settle()
    [result] = results(c, ana)
    assert (result["value"], result["flag"], result["corrected"]) == (6.6, "critical", True)
    assert (result["previous"]["value"], result["previous"]["flag"]) == (4.0, "normal")
    assert len(physician().worklist()["items"]) == 1


def test_a_discharge_for_an_unknown_mrn_waits_in_the_inbox_and_a_match_processes_it(
    c: Cloud, lab: tuple[Partner, str]
) -> None:
    partner, ana = lab
    assert deliver(c, partner.id, discharge("MRN-0077"), partner.secret)["statusCode"] == 202
    c.settle()
    assert "PatientDischarged" not in c.detail_types()
    [delivery] = deliveries(partner)
    assert (delivery["status"], delivery["parked"]) == ("parked", 1)
    inbox = staff(c).req("GET", "/partner-inbox")
    [item] = inbox["json"]["items"]
    assert (item["reason"], item["resource_type"]) == ("unmatched-patient", "Encounter")
    assert item["identifiers"] == [{"system": MRN_SYSTEM, "value": "MRN-0077"}]
    matched = staff(c).req("POST", "/partner-inbox/{item_id}/match", {"patient_id": ana}, item_id=item["id"])
    assert matched["statusCode"] == 409  # Ana holds MRN-0042 in this system already
    bo = Api(org="acme").register(
        patient(name={"given": ["Bo"], "family": "Ray"}), query={"allow_duplicate": "true"}
    )
    bo_id = bo["json"]["id"]
    matched = staff(c).req(
        "POST", "/partner-inbox/{item_id}/match", {"patient_id": bo_id}, item_id=item["id"]
    )
    assert matched["statusCode"] == 200, matched["body"]
    c.settle()
    assert staff(c).req("GET", "/partner-inbox")["json"]["items"] == []
    encounters = staff(c).req("GET", "/patients/{patient_id}/encounters", patient_id=bo_id)["json"]["items"]
    assert [(e["class_code"], e["status"], e["discharge_disposition"]) for e in encounters] == [
        ("IMP", "finished", "home")
    ]
    assert c.detail_types().count("PatientDischarged") == 1
    ids = staff(c).req("GET", "/patients/{patient_id}/identifiers", patient_id=bo_id)["json"]["identifiers"]
    assert ids == [{"system": MRN_SYSTEM, "value": "MRN-0077"}]
    [delivery] = deliveries(partner)
    assert delivery["status"] == "processed"


def test_an_identifier_belongs_to_one_patient(c: Cloud, lab: tuple[Partner, str]) -> None:
    _, ana = lab
    bo = Api(org="acme").register(
        patient(name={"given": ["Bo"], "family": "Ray"}), query={"allow_duplicate": "true"}
    )
    claim = staff(c).req(
        "PUT",
        "/patients/{patient_id}/identifiers",
        {"identifiers": [{"system": MRN_SYSTEM, "value": "MRN-0042"}]},
        patient_id=bo["json"]["id"],
    )
    assert claim["statusCode"] == 409
    # another organization may use the same MRN for its own patient: identifiers are per organization
    other = staff(c, org="globex").req(
        "PUT",
        "/patients/{patient_id}/identifiers",
        {"identifiers": [{"system": MRN_SYSTEM, "value": "MRN-0042"}]},
        patient_id=ana,
    )
    assert other["statusCode"] == 404  # Ana is not globex's


def test_a_poison_delivery_is_dead_lettered_without_blocking_the_others_and_replays(
    c: Cloud, lab: tuple[Partner, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    partner, ana = lab
    from functions.webhooks import process

    real = process._Run.apply

    def flaky(self: Any, incoming: Any) -> None:
        if incoming.record.source_id == "poison":
            raise RuntimeError("downstream unavailable")
        real(self, incoming)

    monkeypatch.setattr(process._Run, "apply", flaky)
    deliver(c, partner.id, observation("MRN-0042", source_id="poison"), partner.secret)
    deliver(c, partner.id, observation("MRN-0042", source_id="fine"), partner.secret)
    c.settle()
    by_status = sorted(d["status"] for d in deliveries(partner))
    assert by_status == ["dead-lettered", "processed"]
    monkeypatch.setattr(process._Run, "apply", real)
    poisoned = next(d for d in deliveries(partner) if d["status"] == "dead-lettered")
    replayed = partner.admin.req(
        "POST",
        "/partners/{partner_id}/deliveries/{delivery_id}/replay",
        partner_id=partner.id,
        delivery_id=poisoned["id"],
    )
    assert replayed["statusCode"] == 202, replayed["body"]
    c.settle()
    assert sorted(d["status"] for d in deliveries(partner)) == ["processed", "processed"]
    assert len(results(c, ana)) == 2
    again = partner.admin.req(
        "POST",
        "/partners/{partner_id}/deliveries/{delivery_id}/replay",
        partner_id=partner.id,
        delivery_id=poisoned["id"],
    )
    assert again["statusCode"] == 409


def test_a_dead_lettered_delivery_is_applied_once_by_a_redrive_of_its_dead_letter_queue(
    c: Cloud, lab: tuple[Partner, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On-call's way (make redrive) rather than an admin's: the message SQS moved to the dead-letter
    queue goes back to the queue and the delivery is replayed, once, however often it is redriven."""
    import boto3

    from functions.webhooks import process
    from ops.redrive import redrive

    partner, ana = lab
    real = process._Run.apply

    def broken(self: Any, incoming: Any) -> None:
        raise RuntimeError("downstream unavailable")

    monkeypatch.setattr(process._Run, "apply", broken)
    deliver(c, partner.id, observation("MRN-0042", source_id="late"), partner.secret)
    c.settle()
    assert [d["status"] for d in deliveries(partner)] == ["dead-lettered"]
    monkeypatch.setattr(process._Run, "apply", real)

    class Back:
        def send(self, queue_url: str, body: str, attributes: dict[str, Any]) -> None:
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    sqs = boto3.client("sqs", region_name="us-east-1")
    dead = c.stack.names["WebhookDeadLetterQueue"]
    body = sqs.receive_message(QueueUrl=dead, VisibilityTimeout=0)["Messages"][0]["Body"]
    sqs.send_message(QueueUrl=dead, MessageBody=body)  # a redrive cut short left a copy: both go back
    assert redrive(sqs, dead, Back(), wait_seconds=0) == {"replayed": 2, "left": 0, "failed": 0}
    c.settle()
    (delivery,) = deliveries(partner)
    assert (delivery["status"], delivery["replays"]) == ("processed", 1)
    assert len(results(c, ana)) == 1


@pytest.mark.parametrize(
    ("webhook_id", "correlated"),
    [
        ("msg_2LJc5b3tV9b1XqRzQ8pYk7mN4wE", True),  # Standard Webhooks' own: an opaque id
        ("3f2b8c1e-9d4a-4e7b-8f6a-2c1d0e9b7a65", True),
        ("MRN-0042-2026-11-24", False),  # a partner's id that quotes a record: never logged
        ("smith.john.1970-01-01", False),
    ],
)
def test_a_partner_s_opaque_webhook_id_is_the_delivery_s_correlation_id_and_any_other_is_not(
    c: Cloud, lab: tuple[Partner, str], webhook_id: str, correlated: bool
) -> None:
    partner, _ = lab
    body = json.dumps(observation("MRN-0042", source_id=webhook_id[-6:])).encode()
    assert deliver(c, partner.id, body, partner.secret, msg_id=webhook_id)["statusCode"] == 202
    c.settle()
    queued = json.loads(c.pools["WebhookProcessFunction"].calls[-1]["Records"][-1]["body"])
    assert (queued["correlation_id"] == webhook_id) is correlated
    assert queued["correlation_id"]  # API Gateway's request id otherwise


def test_deliveries_are_counted_accepted_duplicate_rejected_and_dead_lettered(
    c: Cloud, lab: tuple[Partner, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.webhooks import process
    from tests.support.metrics import counted

    partner, _ = lab
    capsys.readouterr()
    body = json.dumps(observation("MRN-0042", source_id="counted")).encode()
    assert (
        deliver(c, partner.id, body, partner.secret, msg_id="msg_2LJc5b3tV9b1XqRzQ8pYk7mN4wE")["statusCode"]
        == 202
    )
    assert (
        deliver(c, partner.id, body, partner.secret, msg_id="msg_2LJc5b3tV9b1XqRzQ8pYk7mN4wE")["statusCode"]
        == 200
    )
    assert deliver(c, partner.id, body, "whsec_" + "A" * 32)["statusCode"] == 401  # a rotated secret
    c.settle()
    monkeypatch.setattr(process._Run, "apply", lambda self, incoming: 1 / 0)
    assert deliver(c, partner.id, observation("MRN-0042", source_id="x"), partner.secret)["statusCode"] == 202
    c.settle()
    seen = counted(capsys.readouterr().out)
    assert {k: v for k, v in seen.items() if k[0] == "WebhookDeliveries"} == {
        ("WebhookDeliveries", "accepted"): 2,
        ("WebhookDeliveries", "duplicate"): 1,
        ("WebhookDeliveries", "rejected"): 1,
        ("WebhookDeliveries", "dead-lettered"): 1,
    }


def test_an_acknowledgement_costs_two_dynamodb_calls_and_a_repeat_four(
    c: Cloud, lab: tuple[Partner, str]
) -> None:
    partner, _ = lab
    body = json.dumps(observation("MRN-0042")).encode()
    with count_calls() as first:
        assert deliver(c, partner.id, body, partner.secret, msg_id="msg_1")["statusCode"] == 202
    assert dict(first) == {"GetItem": 1, "TransactWriteItems": 1}  # the route; the webhook-id and delivery
    c.settle()
    with count_calls() as repeat:
        assert deliver(c, partner.id, body, partner.secret, msg_id="msg_1")["statusCode"] == 200
    # the route, the refused transaction, then the webhook-id and its delivery (is it still queued?)
    assert dict(repeat) == {"GetItem": 3, "TransactWriteItems": 1}


# ---------------------------------------------------------------- a device partner


def blood_pressure(mrn: str, systolic: float, diastolic: float, source_id: str = "bp-1") -> dict[str, Any]:
    """A home cuff's reading as its vendor sends it: FHIR vital-signs Observation, two components."""
    mmhg = {"unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    return {
        "resourceType": "Observation",
        "id": source_id,
        "meta": {"versionId": "1", "lastUpdated": "2026-12-03T16:55:00Z"},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"identifier": {"system": MRN_SYSTEM, "value": mrn}},
        "effectiveDateTime": "2026-12-03T16:50:00Z",
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": systolic, **mmhg},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {"value": diastolic, **mmhg},
            },
        ],
    }


def test_a_device_partners_reading_is_the_patients_observation_once(
    c: Cloud, lab: tuple[Partner, str]
) -> None:
    _, ana = lab
    cuff = add_partner(c, kind="device", resource_types=("Observation",))
    out = deliver(c, cuff.id, blood_pressure("MRN-0042", 192, 96), cuff.secret)
    assert out["statusCode"] == 202, out["body"]
    again = deliver(c, cuff.id, blood_pressure("MRN-0042", 192, 96), cuff.secret)  # a redelivery, new id
    assert again["statusCode"] == 202
    odd = deliver(c, cuff.id, blood_pressure("MRN-0042", 80, 96, source_id="bp-2"), cuff.secret)
    assert odd["statusCode"] == 202
    c.settle()
    from tests.support.records import nurse as records_nurse

    read = records_nurse().ok("GET", "/patients/{patient_id}/observations", patient_id=ana)["items"]
    assert len(read) == 1 and read[0]["device"] is True and read[0]["sender"] == "device"
    assert read[0]["values"] == {"8480-6": 192.0, "8462-4": 96.0}
    assert results(c, ana) == []  # a reading is not a lab result
    assert [(t["code"], t["focus"]["type"]) for t in nurse().worklist()["items"]] == [
        ("review-reading", "observation")
    ]
    assert {d["status"] for d in deliveries(cuff)} == {"processed"}
    assert sorted(d["resources"] for d in deliveries(cuff)) == [0, 0, 1]  # recorded once, one refused
