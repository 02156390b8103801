"""Counting the DynamoDB calls a request makes (counts can be asserted; timings never are)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

_DYNAMODB = "dynamodb"


@contextmanager
def count_calls() -> Iterator[Counter[str]]:
    """Counts every DynamoDB API call made by any botocore client (PynamoDB and boto3 alike)."""
    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        if self.meta.service_model.service_name == _DYNAMODB:
            calls[operation_name] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


@contextmanager
def items_written() -> Iterator[list[int]]:
    """The number of items each TransactWriteItems call writes (its limit is 100)."""
    sizes: list[int] = []
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        if self.meta.service_model.service_name == _DYNAMODB and operation_name == "TransactWriteItems":
            sizes.append(len(api_params["TransactItems"]))
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield sizes
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


@contextmanager
def items_read() -> Iterator[Counter[str]]:
    """Items DynamoDB read, by operation: a Query's ``ScannedCount`` (what a filter discards was read
    too), a GetItem's item, a BatchGetItem's responses."""
    read: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        out = original(self, operation_name, api_params)
        if self.meta.service_model.service_name == _DYNAMODB:
            if operation_name in ("Query", "Scan"):
                read[operation_name] += int(out.get("ScannedCount", 0))
            elif operation_name == "GetItem":
                read[operation_name] += 1 if out.get("Item") else 0
            elif operation_name == "BatchGetItem":
                read[operation_name] += sum(len(v) for v in out.get("Responses", {}).values())
        return out

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield read
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it (attribute names plus values; close enough for strings,
    numbers, booleans, lists and maps, which is all Careloop stores)."""

    def value(v: dict[str, Any]) -> int:
        ((kind, raw),) = v.items()
        if kind == "S":
            return len(raw.encode())
        if kind == "N":
            return len(raw.lstrip("-").replace(".", "")) // 2 + 2
        if kind in ("BOOL", "NULL"):
            return 1
        if kind in ("SS", "NS"):
            return sum(len(x.encode()) for x in raw)
        if kind == "L":
            return 3 + sum(value(x) + 1 for x in raw)
        if kind == "M":
            return 3 + sum(len(k.encode()) + value(x) + 1 for k, x in raw.items())
        return len(str(raw))

    return sum(len(name.encode()) + value(v) for name, v in item.items())


@contextmanager
def capacity() -> Iterator[dict[str, float]]:
    """Read and write capacity units the DynamoDB calls inside would consume, by DynamoDB's published
    rules (moto reports none for transactions): a transactional write is 2 WCU per started KB of each
    item (condition checks counted like writes: an upper bound), an eventually consistent read is
    0.5 RCU per started 4 KB (a Query rounds its total, a BatchGetItem each item). Also counts the
    items read."""
    import math

    out = {"wcu": 0.0, "rcu": 0.0, "items_read": 0}
    original = BaseClient._make_api_call

    def metering(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        response = original(self, operation_name, api_params)
        if self.meta.service_model.service_name != _DYNAMODB:
            return response
        if operation_name == "TransactWriteItems":
            for entry in api_params["TransactItems"]:
                ((kind, op),) = entry.items()
                size = item_size(op["Item"]) if kind == "Put" else item_size(op["Key"])
                out["wcu"] += 2 * math.ceil(max(size, 1) / 1024)
        elif operation_name in ("PutItem", "DeleteItem", "UpdateItem"):
            out["wcu"] += math.ceil(max(item_size(api_params.get("Item") or api_params["Key"]), 1) / 1024)
        elif operation_name == "Query":
            items = response.get("Items", [])
            out["items_read"] += len(items)
            out["rcu"] += 0.5 * max(1, math.ceil(sum(item_size(i) for i in items) / 4096))
        elif operation_name == "GetItem":
            out["items_read"] += 1 if "Item" in response else 0
            out["rcu"] += 0.5 * max(1, math.ceil(item_size(response.get("Item", {})) / 4096))
        elif operation_name == "BatchGetItem":
            for items in response.get("Responses", {}).values():
                out["items_read"] += len(items)
                out["rcu"] += sum(0.5 * math.ceil(item_size(i) / 4096) for i in items)
        return response

    BaseClient._make_api_call = metering  # type: ignore[method-assign]
    try:
        yield out
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
