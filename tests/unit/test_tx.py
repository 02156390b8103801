"""A cancelled transaction names its failed conditions; contention is retried, then reported."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError

from shared.data import tx as txmod
from shared.data.tx import Cancelled, Tx


class Cancellation(TransactWriteError):
    """A TransactWriteError with the reasons DynamoDB gives (botocore's error carries them)."""

    def __init__(self, reasons: list[CancellationReason | None]) -> None:
        super().__init__("cancelled")
        self._reasons = reasons

    @property
    def cancellation_reasons(self) -> list[CancellationReason | None]:
        return self._reasons


class FakeWrite:
    """Stands in for PynamoDB's TransactWrite: fails with the given reason codes, once per entry."""

    def __init__(self, outcomes: list[list[str | None]]) -> None:
        self.outcomes, self.calls = outcomes, 0

    def _commit(self) -> None:
        self.calls += 1
        if self.outcomes:
            codes = self.outcomes.pop(0)
            reasons = [CancellationReason(code=c) if c else None for c in codes]
            raise Cancellation(reasons)


def run(monkeypatch: pytest.MonkeyPatch, outcomes: list[list[str | None]]) -> tuple[FakeWrite, Any]:
    monkeypatch.setattr(txmod.time, "sleep", lambda _s: None)
    fake = FakeWrite(outcomes)
    t = Tx.__new__(Tx)
    t._tx = fake  # type: ignore[assignment]
    t._labels = {"check": ["patient"], "delete": [], "put": ["appointment", "slot"]}
    try:
        with t:
            pass
    except Cancelled as cancelled:
        return fake, cancelled.failed
    return fake, None


def test_a_failed_condition_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    fake, failed = run(monkeypatch, [[None, None, "ConditionalCheckFailed"]])
    assert failed == ["slot"] and fake.calls == 1


def test_contention_is_retried_and_can_succeed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake, failed = run(monkeypatch, [[None, None, "TransactionConflict"]])
    assert failed is None and fake.calls == 2


def test_lasting_contention_is_reported_as_the_contended_item(monkeypatch: pytest.MonkeyPatch) -> None:
    fake, failed = run(monkeypatch, [[None, None, "TransactionConflict"]] * 5)
    assert failed == ["slot"] and fake.calls == txmod.CONFLICT_RETRIES + 1


def test_other_cancellations_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TransactWriteError):
        run(monkeypatch, [[None, "ValidationError", None]])
