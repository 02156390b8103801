"""Builders for the events functions receive, and loaders for the samples in ``events/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.apigw import claims, http_event
from local.context import LambdaContext

__all__ = ["LambdaContext", "body_of", "claims", "http_event", "load_event"]

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load_event(name: str) -> dict[str, Any]:
    """A sample from ``events/`` (e.g. ``identity/me.json``)."""
    return json.loads((EVENTS / name).read_text())


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None
