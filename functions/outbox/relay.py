"""Outbox relay: table stream → care events bus.

The stream's filter (template.yaml) passes only inserted ``OutboxEvent`` items (others are skipped).
Each record becomes one ``PutEvents`` entry; a record that fails is reported back so Lambda retries
it (and, after the template's retry budget, sends it to the dead-letter queue), while the rest of the
batch succeeds.
Delivery is at least once: consumers de-duplicate on ``detail.event_id``.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared import metrics
from shared.aws import client
from shared.data.models import OutboxEvent
from shared.events.models import outbox_entry
from shared.logs import correlate, entry_point, get_logger
from shared.settings import settings

logger = get_logger()
OUTBOX_ENTITY = "OutboxEvent"


class PublishFailed(Exception):
    """EventBridge refused the entry; the record is retried."""


@cache
def _processor() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    correlate(None)  # this invocation's own until the record says whose it is
    image = record.raw_event["dynamodb"].get("NewImage") or {}
    if record.raw_event.get("eventName") != "INSERT" or image.get("entity", {}).get("S") != OUTBOX_ENTITY:
        # The template's stream filter lets only outbox inserts through; anything else is skipped
        # rather than retried, so a filter change can never wedge the stream.
        logger.warning("stream record skipped: not an outbox insert")
        return
    item = OutboxEvent.from_raw_data(image)
    detail = json.loads(item.detail)
    correlate(detail.get("correlation_id"))
    response = client("events").put_events(Entries=[outbox_entry(item, settings().event_bus_name)])
    if response.get("FailedEntryCount"):
        error = response["Entries"][0].get("ErrorCode", "unknown")
        logger.warning("event not published", detail_type=item.detail_type, error_type=error)
        raise PublishFailed(error)
    logger.info(
        "event published",
        detail_type=item.detail_type,
        event_id=detail.get("event_id"),  # ours: what consumers log and de-duplicate on
        eventbridge_id=response["Entries"][0].get("EventId"),
    )
    for flow, outcome in metrics.of_event(item.detail_type, detail):
        metrics.count(flow, outcome)


@entry_point
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=_processor(), context=context
    )
