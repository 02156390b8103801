"""Redrive a dead-letter queue after the fix: every message goes back to where it failed, once.

    make redrive STACK=careloop-prod QUEUE=AsyncDeadLetterQueue        # LIMIT=100 DRY_RUN=1
    curl -X POST localhost:3000/_local/dlq/redrive -d '{"queue": "AsyncDeadLetterQueue"}'   # locally

What a message is says where it goes:
- a queue's own dead-letter queue (``WebhookDeadLetterQueue``, ``ReminderSendDeadLetterQueue``: SQS
  moved it there after ``maxReceiveCount`` receives): sent back to that queue, body and attributes;
- a Lambda on-failure destination's record (``requestContext.functionArn`` and ``requestPayload``: a
  bus consumer, a timer, a topic subscriber that failed every retry): the payload is invoked again,
  asynchronously, as the bus or the timer did;
- a stream's on-failure record (``DDBStreamBatchInfo``: the outbox relay gave up on a batch): the
  records are read back from the table's stream (kept 24 hours) and handed to the function;
- an EventBridge or Scheduler delivery failure (a ``TARGET_ARN`` attribute): invoked at that target.

A message is deleted only once its replay was accepted; one that cannot be replayed (unknown shape,
a stream batch older than the stream) is left and counted. Replays are safe to repeat: every consumer
de-duplicates (events on ``event_id``, timers re-read their item, deliveries and touches move on
their version), so a redrive interrupted half-way is simply run again. At most the queue's depth at
the start is handled, so a consumer still broken sends its messages back without looping.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Kind = Literal["queue", "invoke", "records"]


@dataclass(frozen=True)
class Replay:
    kind: Kind
    target: str  # the queue URL, or the function's ARN
    payload: Any  # the body, the event, or the stream batch's DDBStreamBatchInfo
    attributes: dict[str, Any] = field(default_factory=dict)


class Target(Protocol):
    """Where replays go: AWS (:class:`AwsTarget`) or the local runtime (local/operations.py)."""

    def send(self, queue_url: str, body: str, attributes: dict[str, Any]) -> None: ...

    def invoke(self, function_arn: str, event: Any) -> None: ...

    def records(self, function_arn: str, records: list[dict[str, Any]]) -> None: ...


class NotReplayable(Exception):
    """The message says nothing this module knows how to send back (left in the queue)."""


def replay_of(message: dict[str, Any], source_queue_url: str | None) -> Replay:
    if source_queue_url is not None:
        return Replay("queue", source_queue_url, message["Body"], message.get("MessageAttributes", {}))
    try:
        body = json.loads(message["Body"])
    except ValueError:
        raise NotReplayable("not JSON") from None
    context = body.get("requestContext") if isinstance(body, dict) else None
    if isinstance(context, dict) and context.get("functionArn"):
        if "DDBStreamBatchInfo" in body:
            return Replay("records", context["functionArn"], body["DDBStreamBatchInfo"])
        if "requestPayload" in body:
            return Replay("invoke", context["functionArn"], body["requestPayload"])
    target = message.get("MessageAttributes", {}).get("TARGET_ARN", {}).get("StringValue")
    if target and ":function:" in target:
        return Replay("invoke", target, body)
    raise NotReplayable("no function or queue to send it back to")


EMPTY_PAGES = 20  # DynamoDB Streams may answer empty pages in the middle of an open shard
CHUNK_RECORDS = 100  # the relay's batch size
CHUNK_BYTES = 5_000_000  # under Lambda's 6 MB synchronous payload


def stream_records(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a failed stream batch, read back from the stream as Lambda delivers them, from
    its first sequence number to its last (:class:`NotReplayable` when the stream no longer holds
    them all)."""
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info["streamArn"],
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
    except streams.exceptions.TrimmedDataAccessException:
        raise NotReplayable("the batch is older than the stream's 24 hours") from None
    out: list[dict[str, Any]] = []
    empty = 0
    while iterator and empty < EMPTY_PAGES:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        empty = 0 if page["Records"] else empty + 1
        for record in page["Records"]:
            sequence = int(record["dynamodb"]["SequenceNumber"])
            if sequence < first:
                continue
            if sequence > last:
                return out
            record["eventSourceARN"] = info["streamArn"]
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if hasattr(created, "timestamp"):  # boto3 parses it; Lambda delivers epoch seconds
                record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
            out.append(record)
            if sequence == last:
                return out
        iterator = page.get("NextShardIterator")
    if iterator is None and out:  # the shard closed after the batch's last record
        return out
    raise NotReplayable("the stream did not give the batch's records back up to its last")


def chunks(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``records`` in batches Lambda would hand over: at most 100 records and 5 MB each."""
    out: list[list[dict[str, Any]]] = []
    size = 0
    for record in records:
        length = len(json.dumps(record, default=str))
        if not out or len(out[-1]) >= CHUNK_RECORDS or size + length > CHUNK_BYTES:
            out.append([])
            size = 0
        out[-1].append(record)
        size += length
    return out


def redrive(
    sqs: Any,
    queue_url: str,
    target: Target,
    streams: Any = None,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    wait_seconds: int = 1,
) -> dict[str, Any]:
    """Replay up to ``limit`` of the messages in ``queue_url`` (at most its depth now):
    ``{"replayed", "left", "failed"}``, and ``"errors"`` (error type: count) when some failed. A dry
    run replays nothing and counts what it would replay as ``"replayable"``.

    ``wait_seconds`` > 0 makes each receive ask every SQS server (a short poll samples some, and can
    answer nothing while messages wait); the local runtime, whose queues are moto's, passes 0."""
    sources = sqs.list_dead_letter_source_queues(QueueUrl=queue_url).get("queueUrls", [])
    source = sources[0] if sources else None
    depth = int(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )
    budget = min(depth, limit) if limit is not None else depth
    counts: dict[str, Any] = {"replayed": 0, "left": 0, "failed": 0}
    if dry_run:
        counts["replayable"] = 0
    errors: dict[str, int] = {}
    kept: list[str] = []  # receipt handles of what stays: hidden until the run ends, then visible
    try:
        while budget > 0:
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, budget),
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=300,  # ours while we run; back in the queue if we stop half-way
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                budget -= 1
                try:
                    replay = replay_of(message, source)
                    if dry_run:
                        counts["replayable"] += 1
                        kept.append(message["ReceiptHandle"])
                        continue
                    _send(replay, target, streams)
                except NotReplayable:
                    counts["left"] += 1
                    kept.append(message["ReceiptHandle"])
                    continue
                except Exception as exc:  # the target refused it: it stays for the next redrive
                    counts["failed"] += 1
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    kept.append(message["ReceiptHandle"])
                    continue
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                counts["replayed"] += 1
    finally:
        # visible again at once: still counted by the queue's depth (its alarm stays on), and the
        # next redrive takes them without waiting out the visibility timeout
        for handle in kept:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    if errors:
        counts["errors"] = errors
    return counts


def _send(replay: Replay, target: Target, streams: Any) -> None:
    if replay.kind == "queue":
        target.send(replay.target, replay.payload, replay.attributes)
    elif replay.kind == "invoke":
        target.invoke(replay.target, replay.payload)
    else:
        for batch in chunks(stream_records(streams, replay.payload)):
            target.records(replay.target, batch)


class AwsTarget:
    """Replays through the AWS APIs (the operator's credentials)."""

    def __init__(self, session: Any) -> None:
        self.sqs, self.lam = session.client("sqs"), session.client("lambda")

    def send(self, queue_url: str, body: str, attributes: dict[str, Any]) -> None:
        kept = {
            k: {kk: vv for kk, vv in v.items() if kk in ("DataType", "StringValue", "BinaryValue")}
            for k, v in attributes.items()
        }
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes=kept)

    def invoke(self, function_arn: str, event: Any) -> None:
        self.lam.invoke(FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(event))

    def records(self, function_arn: str, records: list[dict[str, Any]]) -> None:
        response = self.lam.invoke(
            FunctionName=function_arn,
            InvocationType="RequestResponse",
            Payload=json.dumps({"Records": records}, default=str),
        )
        answer = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError") or (answer or {}).get("batchItemFailures"):
            raise RuntimeError("the function failed the batch again")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("a limit is 1 or more")
    return value


def main(argv: list[str] | None = None) -> None:
    import boto3

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", required=True, help="the CloudFormation stack (sam deploy's name)")
    parser.add_argument("--queue", required=True, help="the queue's logical id, e.g. AsyncDeadLetterQueue")
    parser.add_argument("--limit", type=_positive, default=None, help="at most this many messages")
    parser.add_argument("--dry-run", action="store_true", help="count what would be replayed")
    args = parser.parse_args(argv)
    session = boto3.Session()
    url = session.client("cloudformation").describe_stack_resource(
        StackName=args.stack, LogicalResourceId=args.queue
    )["StackResourceDetail"]["PhysicalResourceId"]
    counts = redrive(
        session.client("sqs"),
        url,
        AwsTarget(session),
        session.client("dynamodbstreams"),
        limit=args.limit,
        dry_run=args.dry_run,
    )
    print(json.dumps({"queue": args.queue, **counts}))


if __name__ == "__main__":
    main()
