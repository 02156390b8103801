"""Reading moto's table stream as Lambda would receive it."""

from __future__ import annotations

from typing import Any

import boto3


def stream_event(stream_arn: str) -> dict[str, Any]:
    """Every record on the stream so far, shaped as the Lambda event source mapping delivers them."""
    streams = boto3.client("dynamodbstreams")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            record["eventSourceARN"] = stream_arn
            records.append(record)
    return {"Records": records}
