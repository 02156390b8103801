"""``--data-dir`` snapshots (local/state.py): the table as a Scan sees it, written so that a crash
mid-write keeps the previous snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from local import state


def test_the_snapshot_of_the_table_is_what_a_scan_returns(aws: dict) -> None:
    ddb = boto3.client("dynamodb")
    items: list[dict[str, Any]] = [
        {
            "PK": {"S": "ORG#a#PATIENT#1"},
            "SK": {"S": "PROFILE"},
            "n": {"N": "42.5"},
            "flag": {"BOOL": True},
            "none": {"NULL": True},
            "blob": {"B": b"\x00\xffbinary"},
            "blobs": {"BS": [b"one", b"two"]},
            "tags": {"SS": ["x", "y"]},
            "nums": {"NS": ["1", "2"]},
            "nested": {
                "M": {"l": {"L": [{"S": "a"}, {"N": "1"}, {"B": b"\x01"}, {"M": {"b": {"B": b"z"}}}]}}
            },
        },
        {"PK": {"S": "ORG#a#PATIENT#2"}, "SK": {"S": "PROFILE"}, "s": {"S": "é"}},
    ]
    for item in items:
        ddb.put_item(TableName="careloop-test", Item=item)
    scanned = ddb.scan(TableName="careloop-test")["Items"]

    def key(item: dict[str, Any]) -> str:
        return str(item["PK"]["S"])

    assert sorted(state.table_items("careloop-test"), key=key) == sorted(scanned, key=key)


def test_a_snapshot_replaces_the_last_one_whole(tmp_path: Path) -> None:
    path = tmp_path / state.FILE
    state.write_atomically(path, json.dumps({"snapshot": 1}))
    state.write_atomically(path, json.dumps({"snapshot": 2}))
    assert json.loads(path.read_text()) == {"snapshot": 2}
    assert [p.name for p in tmp_path.iterdir()] == [state.FILE]


def test_a_write_that_fails_midway_leaves_the_previous_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / state.FILE
    state.write_atomically(path, json.dumps({"snapshot": 1}))

    def crash(*_: Any) -> None:  # the disk fills, the process is killed: the data never got out
        raise OSError("No space left on device")

    monkeypatch.setattr(state.os, "fsync", crash)
    with pytest.raises(OSError, match="No space"):
        state.write_atomically(path, json.dumps({"snapshot": 2, "padding": "x" * 100_000}))
    assert json.loads(path.read_text()) == {"snapshot": 1}
    assert [p.name for p in tmp_path.iterdir()] == [state.FILE]  # no temporary file left either
