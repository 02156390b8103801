"""The patient timeline as a list: 500 entries page in time order with nothing lost or repeated, each
view is one Query, cursors belong to their list; attachments go up and come back through pre-signed
S3 URLs only for the patient they belong to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from shared import clock, ids
from shared.data import records as repo
from shared.domain.timeline import ENTRIES
from tests.support.ddb import count_calls, items_read
from tests.support.intake import Api
from tests.support.records import attachments_bucket, coordinator, patient

# one of each shape the timeline shows, by the field its record id is in
KINDS = [
    ("AppointmentBooked", "appointment_id", {"status": "booked"}),
    ("TaskCreated", "task_id", {"code": "call-patient", "priority": "routine"}),
    ("EducationAssigned", "assignment_id", {}),
    ("ResultAbnormal", "result_id", {"flag": "H"}),
    ("ReferralCreated", "referral_id", {"status": "draft"}),
]


def seed(org: str, patient_id: str, n: int) -> None:
    """``n`` events of other areas, one second apart, projected as the consumer does."""
    start = clock.now() - timedelta(hours=2)
    for i in range(n):
        kind, field, codes = KINDS[i % len(KINDS)]
        detail = {
            "event_id": ids.new_id(),
            "organization_id": org,
            "patient_id": patient_id,
            "occurred_at": (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            field: ids.new_id(),
            **codes,
        }
        assert repo.project(org, kind, detail) is not None


@pytest.fixture
def patient_id(aws: dict[str, Any], frozen_clock: clock.FixedClock) -> str:
    return str(Api(org="acme").register(query={"allow_duplicate": "true"})["json"]["id"])


def pages(api: Any, patient_id: str, **query: str) -> tuple[list[dict[str, Any]], int]:
    seen: list[dict[str, Any]] = []
    cursor, n = None, 0
    while True:
        q = {"limit": "37", **query, **({"cursor": cursor} if cursor else {})}
        page = api.timeline(patient_id, **q)
        seen += page["items"]
        n += 1
        cursor = page["next_cursor"]
        if not cursor:
            return seen, n


def test_500_entries_page_in_time_order_with_nothing_lost_or_repeated(patient_id: str) -> None:
    seed("acme", patient_id, 500)
    staff, n = pages(coordinator(), patient_id)
    assert len(staff) == 500 and len({e["id"] for e in staff}) == 500 and n == 14
    keys = [(e["at"], e["id"]) for e in staff]
    assert keys == sorted(keys, reverse=True)
    assert staff[-1]["type"] == KINDS[0][0]  # the first seeded
    tasks, _ = pages(coordinator(), patient_id, kind="task")
    assert len(tasks) == 100 and {e["kind"] for e in tasks} == {"task"}
    assert [e["at"] for e in tasks] == sorted((e["at"] for e in tasks), reverse=True)
    mine, _ = pages(patient(patient_id), patient_id)
    visible = {"AppointmentBooked", "EducationAssigned"}
    assert len(mine) == 200 and {e["type"] for e in mine} == visible
    assert all(set(e) == {"id", "at", "kind", "type", "href"} for e in mine)
    assert pages(patient(patient_id), patient_id, kind="result")[0] == []


def test_a_page_is_one_query_reading_only_its_entries(patient_id: str) -> None:
    seed("acme", patient_id, 125)
    for api, query in (
        (coordinator(), {}),
        (coordinator(), {"kind": "appointment"}),
        (patient(patient_id), {}),
    ):
        with count_calls() as calls, items_read() as read:
            page = api.timeline(patient_id, limit="25", **query)
        assert len(page["items"]) == 25
        assert calls["Query"] == 1 and read["Query"] == 25, (query, calls, read)


def test_a_cursor_belongs_to_its_list_and_its_organization(patient_id: str) -> None:
    seed("acme", patient_id, 30)
    cursor = coordinator().timeline(patient_id, limit="10")["next_cursor"]
    route = "/patients/{patient_id}/timeline"
    other_list = coordinator().req(
        "GET", route, patient_id=patient_id, query={"kind": "task", "cursor": cursor}
    )
    assert other_list["statusCode"] == 400
    mine = patient(patient_id).req("GET", route, patient_id=patient_id, query={"cursor": cursor})
    assert mine["statusCode"] == 400
    globex = Api(org="globex").register(query={"allow_duplicate": "true"})["json"]["id"]
    assert (
        coordinator(org="globex").req("GET", route, patient_id=globex, query={"cursor": cursor})["statusCode"]
        == 400
    )


def test_every_timeline_event_is_routed_to_the_projector() -> None:
    """What the template's rule sends the records consumer is every other area's timeline event."""
    from local.template import Template

    rules = [
        r for r in Template.default().rules if any(t.function_id == "RecordEventsFunction" for t in r.targets)
    ]
    routed = {name for r in rules for name in r.pattern["detail-type"]}
    own = {name for name in ENTRIES if name[:4] in ("Note", "Mess", "Obse", "Tren", "Meas", "Inte")}
    assert set(ENTRIES) - own <= routed
    assert {"MessageSent", "ObservationRecorded", "CarePlanCreated", "CarePlanUpdated"} <= routed


# ---------------------------------------------------------------- attachments

__all__ = ["attachments_bucket"]  # a fixture these tests use


def upload(form: dict[str, Any], content: bytes) -> int:
    files = {"file": ("scan", content, form["fields"]["Content-Type"])}
    return requests.post(form["url"], data=form["fields"], files=files, timeout=10).status_code


def test_an_attachment_goes_up_once_and_is_read_only_through_its_message(
    patient_id: str, attachments_bucket: str
) -> None:
    me = patient(patient_id)
    route = "/patients/{patient_id}/attachments"
    made = me.req("POST", route, {"content_type": "application/pdf", "size": 2000}, patient_id=patient_id)
    assert made["statusCode"] == 201, made["body"]
    attachment = made["json"]
    key = attachment["upload"]["fields"]["key"]
    assert key.endswith(attachment["id"]) and patient_id in key  # ids only, no file name
    early = me.req(
        "POST",
        "/patients/{patient_id}/messages",
        {"text": "My scan", "attachment_ids": [attachment["id"]]},
        patient_id=patient_id,
    )
    assert early["statusCode"] == 422  # nothing uploaded yet
    assert upload(attachment["upload"], b"%PDF-1.7 scan") in (200, 204)
    sent = me.req(
        "POST",
        "/patients/{patient_id}/messages",
        {"text": "My scan", "attachment_ids": [attachment["id"]]},
        patient_id=patient_id,
    )
    assert sent["statusCode"] == 201, sent["body"]
    message_id = sent["json"]["message"]["id"]
    again = me.req(
        "POST",
        "/patients/{patient_id}/messages",
        {"text": "Again", "attachment_ids": [attachment["id"]]},
        patient_id=patient_id,
    )
    assert again["statusCode"] == 422  # an attachment belongs to one message
    read = coordinator().req(
        "GET", "/patients/{patient_id}/messages/{message_id}", patient_id=patient_id, message_id=message_id
    )
    link = read["json"]["attachments"][0]["download_url"]
    assert "X-Amz-Expires=300" in link or "Expires=" in link
    assert requests.get(link, timeout=10).content == b"%PDF-1.7 scan"
    # the form is still good for minutes: bytes posted after the check are not what is served
    assert upload(attachment["upload"], b"%PDF-1.7 something else entirely") in (200, 204)
    read = coordinator().req(
        "GET", "/patients/{patient_id}/messages/{message_id}", patient_id=patient_id, message_id=message_id
    )
    assert (
        requests.get(read["json"]["attachments"][0]["download_url"], timeout=10).content == b"%PDF-1.7 scan"
    )
    # another patient's attachment cannot be named
    other = Api(org="acme").register(query={"allow_duplicate": "true"})["json"]["id"]
    theirs = patient(other).req("POST", route, {"content_type": "image/png", "size": 10}, patient_id=other)
    named = me.req(
        "POST",
        "/patients/{patient_id}/messages",
        {"text": "x", "attachment_ids": [theirs["json"]["id"]]},
        patient_id=patient_id,
    )
    assert named["statusCode"] == 422


def test_an_upload_larger_or_other_than_announced_is_refused(
    patient_id: str, attachments_bucket: str
) -> None:
    from shared import files
    from shared.aws import client
    from shared.data import keys

    me = patient(patient_id)
    made = me.req(
        "POST",
        "/patients/{patient_id}/attachments",
        {"content_type": "image/png", "size": 10},
        patient_id=patient_id,
    )
    attachment = made["json"]
    # S3 enforces the form's conditions; here the object is put past them, as a bug or a race would
    client("s3").put_object(
        Bucket=files.bucket(),
        Key=keys.attachment_object("acme", patient_id, attachment["id"]),
        Body=b"x" * 11,
        ContentType="image/png",
    )
    sent = me.req(
        "POST",
        "/patients/{patient_id}/messages",
        {"text": "pic", "attachment_ids": [attachment["id"]]},
        patient_id=patient_id,
    )
    assert sent["statusCode"] == 422 and "type and size" in sent["body"]


def test_a_series_pages_with_the_range_its_first_page_fixed(
    patient_id: str, frozen_clock: clock.FixedClock
) -> None:
    me = patient(patient_id)
    start = clock.now() - timedelta(days=10)
    for n in range(7):
        at = clock.isoformat(start + timedelta(days=n))
        assert me.weigh(patient_id, 180 + n * 0.2, at=at)["statusCode"] == 201
    route = "/patients/{patient_id}/observations"
    first = me.ok("GET", route, patient_id=patient_id, query={"limit": "3"})
    frozen_clock.advance(timedelta(minutes=5))  # `to` defaulted to now: the next pages keep the first's
    seen = list(first["items"])
    cursor = first["next_cursor"]
    while cursor:
        page = me.ok("GET", route, patient_id=patient_id, query={"limit": "3", "cursor": cursor})
        seen += page["items"]
        cursor = page["next_cursor"]
    assert [o["value"] for o in seen] == [180 + n * 0.2 for n in range(7)]
    assert [o["effective_at"] for o in seen] == sorted(o["effective_at"] for o in seen)
