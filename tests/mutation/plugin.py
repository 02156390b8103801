"""A pytest plugin for mutation runs only (``[tool.mutmut] pytest_add_cli_args``): property tests run
at most ``MAX_EXAMPLES`` examples each (with the fixed seed mutmut's arguments give), so the run
fits its time. Fewer examples can only let more mutants survive: the score is, if anything, low."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

MAX_EXAMPLES = 25


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test: Any = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if current is not None and current.max_examples > MAX_EXAMPLES:
            test._hypothesis_internal_use_settings = settings(current, max_examples=MAX_EXAMPLES)
