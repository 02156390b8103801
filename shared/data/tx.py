"""A labelled ``TransactWriteItems``: when DynamoDB cancels it, say which condition failed.

PynamoDB sends condition checks, then deletes, then puts (Careloop writes whole items, no updates),
whatever order they were added in; DynamoDB answers with one cancellation reason per item in that
order. :class:`Tx` keeps a label per item in the same order, so a failure maps back to "the slot was
taken" or "the patient changed" without counting positions by hand.
"""

from __future__ import annotations

from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite


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

    def put(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._labels["put"].append(label)
        self._tx.save(item, condition=condition)

    def __enter__(self) -> Tx:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            return
        order = [*self._labels["check"], *self._labels["delete"], *self._labels["put"]]
        try:
            self._tx._commit()
        except TransactWriteError as error:
            reasons = error.cancellation_reasons or []
            failed = [
                order[i]
                for i, r in enumerate(reasons)
                if r is not None and r.code == "ConditionalCheckFailed" and i < len(order)
            ]
            if not failed:
                raise
            raise Cancelled(failed, error) from None
