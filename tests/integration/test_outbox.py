"""State change and event travel together: one transaction writes both, the stream relay publishes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.outbox.relay import handler
from shared.data.models import OrganizationProfile, OutboxEvent
from shared.events.models import DomainEvent
from tests.support.events import LambdaContext, load_event
from tests.support.streams import stream_event


class ProfileCreated(DomainEvent):
    detail_type = "OrganizationProfileCreated"
    source = "careloop.test"


def bus_listener(stack: dict[str, Any]) -> str:
    """An SQS queue subscribed to everything from careloop.* on the bus: what a consumer would see."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="listener")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="all",
        EventBusName=stack["bus_name"],
        EventPattern=json.dumps({"source": [{"prefix": "careloop."}]}),
    )
    events.put_targets(Rule="all", EventBusName=stack["bus_name"], Targets=[{"Id": "q", "Arn": arn}])
    return url


def received(url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def create_profile(org: str, event: DomainEvent, *, fail_if_exists: bool = True) -> None:
    profile = OrganizationProfile(f"ORG#{org}", "PROFILE", name="Acme", time_zone="UTC")
    with TransactWrite(connection=Connection(region="us-east-1")) as tx:
        tx.save(profile, condition=OrganizationProfile.PK.does_not_exist() if fail_if_exists else None)
        tx.save(event.to_outbox())


def test_a_committed_change_reaches_the_bus_once_with_ids_only(aws: dict) -> None:
    listener = bus_listener(aws)
    event = ProfileCreated(
        organization_id="acme", occurred_at=datetime(2026, 11, 23, 14, tzinfo=UTC), correlation_id="req-1"
    )
    create_profile("acme", event)

    result = handler(stream_event(aws["table_stream_arn"]), LambdaContext())

    assert result == {"batchItemFailures": []}
    (delivered,) = received(listener)
    assert delivered["detail-type"] == "OrganizationProfileCreated"
    assert delivered["source"] == "careloop.test"
    assert delivered["detail"] == {
        "event_id": event.event_id,
        "organization_id": "acme",
        "occurred_at": "2026-11-23T14:00:00Z",
        "correlation_id": "req-1",
        "schema_version": 1,
    }


def test_a_change_that_fails_its_condition_publishes_nothing(aws: dict) -> None:
    listener = bus_listener(aws)
    create_profile("acme", ProfileCreated(organization_id="acme"))
    handler(stream_event(aws["table_stream_arn"]), LambdaContext())
    received(listener)

    with pytest.raises(TransactWriteError):
        create_profile("acme", ProfileCreated(organization_id="acme"))

    assert len(list(OutboxEvent.scan())) == 1  # only the first transaction's event was ever written


def test_outbox_items_expire_and_are_filtered_to_inserts(aws: dict) -> None:
    event = ProfileCreated(organization_id="acme", occurred_at=datetime(2026, 11, 23, 14, tzinfo=UTC))
    item = event.to_outbox()
    assert item.ttl == datetime(2026, 11, 30, 14, tzinfo=UTC)
    assert f"ORG#acme#OUTBOX#{event.event_id}" == item.PK


def test_a_refused_entry_is_reported_for_retry_and_the_rest_succeed(aws: dict, monkeypatch) -> None:
    listener = bus_listener(aws)
    create_profile("acme", ProfileCreated(organization_id="acme"))
    create_profile("globex", ProfileCreated(organization_id="globex"))
    event = stream_event(aws["table_stream_arn"])
    # the second record's publication is refused by EventBridge
    from shared import aws as shared_aws

    events_client = shared_aws.client("events")
    real_put = events_client.put_events
    calls = {"n": 0}

    def flaky(**kwargs: Any) -> dict:
        calls["n"] += 1
        if calls["n"] == 2:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]}
        return real_put(**kwargs)

    monkeypatch.setattr(events_client, "put_events", flaky)
    outbox_records = [r for r in event["Records"] if "OUTBOX" in r["dynamodb"]["Keys"]["PK"]["S"]]
    result = handler({"Records": outbox_records}, LambdaContext())

    assert result == {
        "batchItemFailures": [{"itemIdentifier": outbox_records[1]["dynamodb"]["SequenceNumber"]}]
    }
    assert len(received(listener)) == 1


def test_the_sample_stream_event_publishes(aws: dict) -> None:
    listener = bus_listener(aws)
    assert handler(load_event("outbox/stream-insert.json"), LambdaContext()) == {"batchItemFailures": []}
    (delivered,) = received(listener)
    assert delivered["detail-type"] == "PatientRegistered"
