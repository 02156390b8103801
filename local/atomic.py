"""Make moto's DynamoDB keep DynamoDB's promise that a write is atomic.

moto runs a ``TransactWriteItems`` as "check each condition, then write each item, restore a copy of
the table on failure", with no lock: two threads (the local runtime's server, a test's thread pool)
can both pass the check for one booking slot and both write. DynamoDB serializes conflicting
transactions, so a correct program would double-book only here. Every mutating call of the DynamoDB
backend takes one process-wide lock; reads do not wait.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.RLock()
_WRITES = (
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "transact_write_items",
    "execute_statement",
    "execute_transaction",
)


def serialize_dynamodb_writes() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_careloop_serialized", False):
        return
    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def serialized(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, serialized)
    _cheap_stream_snapshots()
    DynamoDBBackend._careloop_serialized = True  # type: ignore[attr-defined]


def _cheap_stream_snapshots() -> None:
    """moto snapshots a whole table (deep copy) before each transaction, to roll back on failure, and
    that includes every stream record ever written: a booking got slower with every write (235 ms
    after a few hundred). Stream records never change once written, so the snapshot keeps the same
    records in a new list: rolling back still drops the records of the failed transaction."""
    import copy

    from moto.dynamodb.models.table import StreamShard

    def snapshot(self: Any, memo: dict[int, Any]) -> Any:
        new = copy.copy(self)
        memo[id(self)] = new
        new.items = list(self.items)
        new.table = copy.deepcopy(self.table, memo)
        return new

    StreamShard.__deepcopy__ = snapshot  # type: ignore[attr-defined]
