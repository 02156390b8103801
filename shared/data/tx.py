"""A labelled ``TransactWriteItems``: when DynamoDB cancels it, say which condition failed.

PynamoDB sends condition checks, then deletes, then puts (Careloop writes whole items, no updates),
whatever order they were added in; DynamoDB answers with one cancellation reason per item in that
order. :class:`Tx` keeps a label per item in the same order, so a failure maps back to "the slot was
taken" or "the patient changed" without counting positions by hand.
"""

from __future__ import annotations

import random
import time
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

# DynamoDB cancels a transaction with TransactionConflict while another one is writing the same item
# (two bookings of one slot at the same instant): try again briefly, then report the item as taken.
CONFLICT_RETRIES = 2


def connection() -> Connection:
    """The models' own cached connection (and botocore client): a new one per transaction costs
    a client's construction, ~100 ms, on every write."""
    from shared.data.table import CareModel

    return CareModel._get_connection().connection


class Cancelled(Exception):
    """The transaction was cancelled; ``failed`` holds the labels of the conditions that failed."""

    def __init__(self, failed: list[str], error: TransactWriteError) -> None:
        super().__init__(", ".join(failed) or "transaction cancelled")
        self.failed = failed
        self.error = error


class Tx:
    """``with Tx() as tx: tx.put("slot", item, condition=...)``; raises :class:`Cancelled`."""

    def __init__(self) -> None:
        self._tx = TransactWrite(connection=connection())
        self._labels: dict[str, list[str]] = {"check": [], "delete": [], "put": []}

    def check(
        self, label: str, model: type[Model], hash_key: str, range_key: str, condition: Condition
    ) -> None:
        self._labels["check"].append(label)
        self._tx.condition_check(model, hash_key, range_key, condition=condition)

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._labels["delete"].append(label)
        self._tx.delete(item, condition=condition)

    def put(
        self, label: str, item: Model, condition: Condition | None = None, return_values: str | None = None
    ) -> None:
        """``return_values="ALL_OLD"``: a failed condition hands back the item it found (read it from
        :attr:`Cancelled.error`)."""
        self._labels["put"].append(label)
        self._tx.save(item, condition=condition, return_values=return_values)

    def __enter__(self) -> Tx:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            return
        order = [*self._labels["check"], *self._labels["delete"], *self._labels["put"]]
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                self._tx._commit()
                return
            except TransactWriteError as error:
                codes = [r.code if r is not None else None for r in error.cancellation_reasons or []]
                failed = [
                    order[i] for i, c in enumerate(codes) if c == "ConditionalCheckFailed" and i < len(order)
                ]
                if failed:
                    raise Cancelled(failed, error) from None
                contended = [
                    order[i] for i, c in enumerate(codes) if c == "TransactionConflict" and i < len(order)
                ]
                if not contended:
                    raise
                if attempt == CONFLICT_RETRIES:  # still fighting over the same items: the other one won
                    raise Cancelled(contended, error) from None
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311 - jitter, not crypto
