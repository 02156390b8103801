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
