"""Make moto's DynamoDB keep DynamoDB's promises about transactions, which the local runtime and the
tests rely on (measured, not assumed: see tests/integration/test_local_atomic.py).

moto runs ``TransactWriteItems`` as "deep-copy the table, apply each item, and on a failed condition
put the copy back in place of the table". Three things go wrong around that:

1. no lock: two threads (the runtime's server, a test's thread pool) can both pass the check for one
   booking slot and both write; DynamoDB serializes conflicting transactions;
2. the copy put back is a new table object with a new stream shard, while stream readers hold
   iterators on the old shard: after the first cancelled transaction, every later change was
   invisible to the outbox relay, and the cancelled transaction's own records had been streamed;
3. the deep copy includes every stream record ever written, so each transaction got slower.

Here every call of the DynamoDB and DynamoDB Streams backends takes one process-wide lock (a reader
never sees half a transaction), and a cancelled transaction keeps the table's one stream shard,
trimmed back to where it was.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_lock = threading.RLock()
_DYNAMODB = (
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "execute_statement",
    "execute_transaction",
    "get_item",
    "query",
    "scan",
    "batch_get_item",
    "transact_get_items",
)
_STREAMS = ("get_records", "get_shard_iterator", "describe_stream")


def _locked(cls: type, name: str) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return original(self, *args, **kwargs)

    setattr(cls, name, locked)


def serialize_dynamodb() -> None:
    """Patch moto's DynamoDB backends in this process (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    if getattr(DynamoDBBackend, "_careloop_serialized", False):
        return
    for name in _DYNAMODB:
        _locked(DynamoDBBackend, name)
    for name in _STREAMS:
        _locked(DynamoDBStreamsBackend, name)

    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            shards = {
                name: (t, t.stream_shard, len(t.stream_shard.items))
                for name, t in self.tables.items()
                if t.stream_shard is not None
            }
            try:
                return original(self, *args, **kwargs)
            except Exception:
                for name, (table, shard, length) in shards.items():
                    restored = self.tables.get(name)
                    if restored is not None and restored is not table:
                        del shard.items[length:]  # the cancelled transaction's records
                        shard.table = restored
                        restored.stream_shard = shard
                raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

    def snapshot(self: Any, memo: dict[int, Any]) -> Any:
        """The copy moto takes before a transaction: the records are immutable, share them."""
        new = copy.copy(self)
        memo[id(self)] = new
        new.items = list(self.items)
        new.table = copy.deepcopy(self.table, memo)
        return new

    StreamShard.__deepcopy__ = snapshot  # type: ignore[attr-defined]
    DynamoDBBackend._careloop_serialized = True  # type: ignore[attr-defined]
