"""``POST /webhooks/{partner_id}``: a partner's delivery, acknowledged fast.

No JWT: the Standard Webhooks signature is the credential (:mod:`shared.webhooks.signing`). The
acknowledgement reads one item (the partner's route: its organization, live inbound secret ids and the
Secrets Manager version holding them), checks the signature against each live secret, then writes the
delivery and its webhook-id in one transaction (the id with ``attribute_not_exists``: a partner that
retries for three days changes our data once) and queues the delivery's id for the processor
(functions/webhooks/process.py). It never parses FHIR, and a refused delivery writes nothing:

- unknown or inactive partner: 404; body over 256 KB: 413;
- missing header, bad signature, stale timestamp (more than 5 minutes off), revoked secret: 401.

A repeat of an acknowledged webhook-id is a 200 with the first delivery's id (Standard Webhooks
senders stop on any 2xx), and queues nothing.
"""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, Field

from shared import aws, clock, ids, metrics
from shared.data import partners as repo
from shared.data.table import bind
from shared.data.tx import Cancelled, Tx
from shared.domain.partners import MAX_BODY, DeliveryOut, DeliveryStatus, Direction
from shared.errors import NotFound, Unauthorized
from shared.http import problems
from shared.http.auth import public
from shared.http.contract import responses
from shared.http.resolver import make_resolver
from shared.logs import correlate, correlation_id, get_logger
from shared.webhooks import signing

router = APIGatewayHttpRouter()
logger = get_logger()
QUEUE_ENV = "WEBHOOK_QUEUE_URL"
PartnerPath = Annotated[str, Path(min_length=26, max_length=26, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]
# a webhook-id that is an opaque id (Standard Webhooks' msg_<ksuid>, a UUID, a ULID) becomes the
# correlation id; any other (an MRN, a name, a date: partners choose it) keeps API Gateway's request id,
# so a partner's text never reaches a log line, an event or a timer
WEBHOOK_ID = re.compile(
    r"msg_[A-Za-z0-9]{16,48}"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9A-HJKMNP-TV-Z]{26}"
)
REFUSED = (
    "The delivery was not accepted: check the webhook-id, webhook-timestamp and webhook-signature headers."
)


class Accepted(BaseModel):
    delivery_id: str
    duplicate: bool = Field(description="this webhook-id was acknowledged before; nothing new was queued")


def _header(name: str) -> str | None:
    return router.current_event.headers.get(name)


def _body() -> bytes:
    event = router.current_event
    raw = event.body or ""
    return base64.b64decode(raw) if event.is_base64_encoded else raw.encode()


@router.post(
    "/webhooks/<partner_id>",
    summary="A partner's delivery (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)",
    tags=["webhooks"],
    operation_id="receiveWebhook",
    responses={
        **responses(202, "Accepted: queued for processing"),
        **responses(200, "A webhook-id acknowledged before: nothing new"),
        **responses(
            errors={
                401: "The signature did not verify, a header is missing, or the timestamp is stale",
                413: "The body is over 256 KB",
            }
        ),
    },
)
@public
def receive(partner_id: PartnerPath) -> Response[Accepted]:
    now = clock.now()
    route = repo.route(partner_id)
    if route is None or not route.active:
        raise NotFound("No partner with this id.")
    body = _body()
    secrets = repo.read_secrets(partner_id, route.secret_version)
    live = [secrets[str(s)]["value"] for s in route.inbound if str(s) in secrets]
    msg_id = _header("webhook-id")
    try:
        signing.verify(live, msg_id, _header("webhook-timestamp"), _header("webhook-signature"), body, now)
    except signing.Unverified as refused:
        logger.info("webhook refused", extra={"partner_id": partner_id, "outcome": refused.code})
        metrics.count("WebhookDeliveries", "rejected")
        raise Unauthorized(REFUSED) from None
    assert msg_id is not None  # noqa: S101 - verify refuses a missing id
    api_request_id = router.current_event.request_context.request_id
    if WEBHOOK_ID.fullmatch(msg_id):  # the partner's id follows the delivery through every log line
        correlate(msg_id)
    org = route.organization_id
    record = DeliveryOut(
        id=ids.new_id(),
        direction=Direction.INBOUND,
        webhook_id=msg_id,
        status=DeliveryStatus.QUEUED,
        received_at=now,
    )
    try:
        with Tx() as tx:
            hook = repo.hook_item(org, partner_id, msg_id, record.id, now)
            tx.put("hook", hook, repo.HookItem.PK.does_not_exist())
            tx.put("delivery", repo.delivery_item(org, partner_id, record, body))
    except Cancelled as cancelled:
        if cancelled.failed != ["hook"]:
            raise
        return _repeat(org, partner_id, msg_id)
    enqueue(org, partner_id, record.id)
    logger.info(
        "webhook accepted",
        extra={"partner_id": partner_id, "delivery_id": record.id, "api_request_id": api_request_id},
    )
    metrics.count("WebhookDeliveries", "accepted")
    return Response(202, "application/json", Accepted(delivery_id=record.id, duplicate=False))


def _repeat(org: str, partner_id: str, msg_id: str) -> Response[Accepted]:
    """A webhook-id seen before. If its delivery is still queued (the queueing may have failed after
    the write: the partner retries because we answered 5xx), queue it again: the processor applies a
    delivery once whatever number of messages name it."""
    seen = repo.seen_hook(org, partner_id, msg_id)
    first = seen.delivery_id if seen else ""
    item = repo.delivery(org, partner_id, first) if first else None
    if item is not None and item.record().status is DeliveryStatus.QUEUED:
        enqueue(org, partner_id, first)
    logger.info("webhook repeated", extra={"partner_id": partner_id, "delivery_id": first})
    metrics.count("WebhookDeliveries", "duplicate")
    return Response(200, "application/json", Accepted(delivery_id=first, duplicate=True))


def enqueue(org: str, partner_id: str, delivery_id: str) -> None:
    """Queue a delivery for the processor: ids only (the body stays in the table)."""
    message = {
        "organization_id": org,
        "partner_id": partner_id,
        "delivery_id": delivery_id,
        "correlation_id": correlation_id(),
    }
    aws.client("sqs").send_message(QueueUrl=os.environ[QUEUE_ENV], MessageBody=json.dumps(message))


app = make_resolver(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Not :func:`shared.http.resolver.make_handler`: the signature is checked on the exact bytes
    received, before anything reads them as JSON, and an oversized body is refused unread."""
    bind()
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size > MAX_BODY:
        request_id = (event.get("requestContext") or {}).get("requestId")
        return problems.raw_problem(
            413,
            "payload-too-large",
            "Payload too large",
            "A delivery is at most 256 KB.",
            request_id=request_id,
        )
    return app.resolve(event, context)
