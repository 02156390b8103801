"""The one place code reads the time.

Domain functions take ``now`` as an argument; edges (handlers, repositories) call :func:`now`.
Tests and the local runtime swap the clock with :func:`use_clock` to move time on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        self._at += delta
        return self._at


class OffsetClock:
    """Real time shifted by ``offset``: the local runtime's clock, moved by ``POST /_local/clock``
    (every invocation carries the offset to the function's worker)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def set(self, at: datetime) -> None:
        self.offset = at.astimezone(UTC) - datetime.now(UTC)


_current: Clock = SystemClock()


def now() -> datetime:
    """The current time, aware, in UTC."""
    return _current.now()


def set_clock(clock: Clock) -> Clock:
    """Install ``clock`` and return the one it replaced."""
    global _current
    previous, _current = _current, clock
    return previous


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def isoformat(at: datetime) -> str:
    """UTC ISO-8601 with a ``Z``, millisecond precision: the one wire format for instants."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
