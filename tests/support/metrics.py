"""What the functions counted: the business metrics' EMF lines in captured output, summed."""

from __future__ import annotations

import json
from collections import Counter


def counted(output: str) -> Counter[tuple[str, str]]:
    """``(flow, outcome) -> total`` over every EMF line in ``output``."""
    totals: Counter[tuple[str, str]] = Counter()
    for line in output.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Dimensions"] == [["area", "outcome"]]  # never an id
            for metric in directive["Metrics"]:
                totals[(metric["Name"], blob["outcome"])] += int(sum(blob[metric["Name"]]))
    return totals
