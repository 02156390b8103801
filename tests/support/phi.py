"""The PHI canary: tests register the PHI they create; any log line that contains one fails the test.

Log lines are captured as production writes them, formatted by :class:`shared.logs.PhiSafeFormatter`,
on the root logger: the service logger's records and every library's propagate there.
"""

from __future__ import annotations

import json
import logging

from shared.logs import PhiSafeFormatter, get_logger


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(PhiSafeFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class PhiCanary:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._capture = _Capture()

    def register(self, *values: str) -> None:
        """Mark values as PHI (names, phone numbers, birth dates, free text...)."""
        self._values.update(v for v in values if v and len(v) >= 3)

    @property
    def lines(self) -> list[str]:
        return list(self._capture.lines)

    def leaks(self) -> list[tuple[str, str]]:
        found = []
        for line in self._capture.lines:
            low = line.lower()
            for value in self._values:
                forms = {value.lower(), json.dumps(value)[1:-1].lower()}
                if any(f in low for f in forms):
                    found.append((value, line))
        return found

    def clear(self) -> None:
        self._capture.lines.clear()

    def install(self) -> None:
        get_logger()  # configure it first, so its records reach this handler through propagation
        logging.getLogger().addHandler(self._capture)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self._capture)
