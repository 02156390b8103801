"""Make moto's DynamoDB keep DynamoDB's promises about transactions, which the local runtime and the
tests rely on (measured, not assumed: see tests/integration/test_local_atomic.py).

moto runs ``TransactWriteItems`` as "deep-copy the table, apply each item, and on a failed condition
put the copy back in place of the table". Three things go wrong around that:

1. no lock: two threads (the runtime's server, a test's thread pool) can both pass the check for one
   booking slot and both write; DynamoDB serializes conflicting transactions;
2. the copy put back is a new table object with a new stream shard, while stream readers hold
   iterators on the old shard: after the first cancelled transaction, every later change was
   invisible to the outbox relay, and the cancelled transaction's own records had been streamed;
3. copying the whole table makes every transaction O(table): 43 ms per availability search and 1.3 GB
   after 200 bookings, and the benchmark of 1,000 ran out of memory (the copies are cyclic garbage).

Here every call of the DynamoDB and DynamoDB Streams backends takes one process-wide lock (a reader
never sees half a transaction); a transaction saves only the items it names, and a cancelled one puts
those back and trims the stream's records to where they were (the table and its shard stay the same
objects).
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def holding() -> Iterator[None]:
    """Hold the lock every DynamoDB call takes: moto's tables, read in this process meanwhile, stand
    at one point in time (used to snapshot the table; never make a DynamoDB call while holding it)."""
    with _lock:
        yield


class _Flag(threading.local):
    active = False


_in_transaction = _Flag()


def _table_copy(self: Any, memo: dict[int, Any]) -> Any:
    """moto's pre-transaction snapshot of a whole table: skipped (the transaction wrapper saves the
    items it touches instead); any other deep copy (backups) is the ordinary one."""
    if _in_transaction.active:
        return self
    new = self.__class__.__new__(self.__class__)
    memo[id(self)] = new
    for name, value in vars(self).items():
        setattr(new, name, copy.deepcopy(value, memo))
    return new


def _key(table: Any, op: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    key = op.get("Key") or op["Item"]
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return DynamoType(key[table.hash_key_attr]), range_key


def _before(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """A copy of each item the transaction names, as it is now (None: absent)."""
    saved = []
    for entry in transact_items:
        ((_, op),) = entry.items()
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        hash_key, range_key = _key(table, op)
        current = table.items.get(hash_key)
        if range_key is not None:
            current = (current or {}).get(range_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(current)))
    return saved


def _restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    partition = table.items[hash_key]
    if item is None:
        partition.pop(range_key, None)
        if not partition:
            table.items.pop(hash_key, None)
    else:
        partition[range_key] = item


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
    from moto.dynamodb.models.table import Table
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    if getattr(DynamoDBBackend, "_careloop_serialized", False):
        return
    for name in _DYNAMODB:
        _locked(DynamoDBBackend, name)
    for name in _STREAMS:
        _locked(DynamoDBStreamsBackend, name)

    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(
        self: Any, transact_items: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> Any:
        with _lock:
            saved = _before(self, transact_items)
            streams = [
                (t.stream_shard, len(t.stream_shard.items)) for t in self.tables.values() if t.stream_shard
            ]
            _in_transaction.active = True
            try:
                return original(self, transact_items, *args, **kwargs)
            except Exception:
                for table, hash_key, range_key, item in reversed(saved):
                    _restore(table, hash_key, range_key, item)
                for shard, length in streams:
                    del shard.items[length:]  # the cancelled transaction's records
                raise
            finally:
                _in_transaction.active = False

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.__deepcopy__ = _table_copy  # type: ignore[attr-defined]
    DynamoDBBackend._careloop_serialized = True  # type: ignore[attr-defined]
