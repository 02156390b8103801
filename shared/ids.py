"""Identifiers: ULIDs (sortable by creation time, 80 random bits, so unguessable)."""

from __future__ import annotations

import re
from datetime import datetime

from ulid import ULID

from shared import clock

ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
_ULID = re.compile(ULID_PATTERN)


def new_id(at: datetime | None = None) -> str:
    """A new ULID whose time part is ``at`` (default: the shared clock), so ids sort by when."""
    return str(ULID.from_datetime(at or clock.now()))


def is_id(value: str) -> bool:
    return bool(_ULID.fullmatch(value))
