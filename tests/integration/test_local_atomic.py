"""moto, as patched by local/atomic.py, keeps DynamoDB's transaction promises that bookings and the
outbox relay depend on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


def put(key: str, **condition: Any) -> dict[str, Any]:
    return {"Put": {"TableName": "careloop-test", "Item": {"PK": {"S": key}, "SK": {"S": "X"}}, **condition}}


NEW = {"ConditionExpression": "attribute_not_exists(PK)"}


def test_a_cancelled_transaction_streams_nothing_and_the_stream_goes_on(aws: dict) -> None:
    ddb, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
    arn = aws["table_stream_arn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    ddb.transact_write_items(TransactItems=[put("taken", **NEW)])
    with pytest.raises(ClientError, match="TransactionCanceled"):
        # the first item is applied before the second's condition fails
        ddb.transact_write_items(TransactItems=[put("phantom", **NEW), put("taken", **NEW)])
    ddb.transact_write_items(TransactItems=[put("after", **NEW)])
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["dynamodb"]["Keys"]["PK"]["S"] for r in records] == ["taken", "after"]
    assert "Item" not in ddb.get_item(
        TableName="careloop-test", Key={"PK": {"S": "phantom"}, "SK": {"S": "X"}}
    )


def test_concurrent_transactions_on_one_item_let_exactly_one_in(aws: dict) -> None:
    ddb = boto3.client("dynamodb")

    def attempt(n: int) -> bool:
        try:
            ddb.transact_write_items(TransactItems=[put("slot", **NEW), put(f"other-{n}", **NEW)])
        except ClientError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(60)))
    assert results.count(True) == 1


def test_a_cancelled_transaction_puts_back_what_it_overwrote_or_deleted(aws: dict) -> None:
    ddb = boto3.client("dynamodb")
    kept = {"PK": {"S": "kept"}, "SK": {"S": "X"}, "v": {"N": "1"}}
    ddb.put_item(TableName="careloop-test", Item=kept)
    ddb.put_item(TableName="careloop-test", Item={"PK": {"S": "gone"}, "SK": {"S": "X"}})
    ddb.put_item(TableName="careloop-test", Item={"PK": {"S": "taken"}, "SK": {"S": "X"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "careloop-test", "Item": {**kept, "v": {"N": "2"}}}},
                {"Delete": {"TableName": "careloop-test", "Key": {"PK": {"S": "gone"}, "SK": {"S": "X"}}}},
                put("taken", **NEW),
            ]
        )
    key = {"SK": {"S": "X"}}
    assert ddb.get_item(TableName="careloop-test", Key={**key, "PK": {"S": "kept"}})["Item"]["v"] == {
        "N": "1"
    }
    assert "Item" in ddb.get_item(TableName="careloop-test", Key={**key, "PK": {"S": "gone"}})
