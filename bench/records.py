"""Records' costs: one timeline page of a patient with 5,000 entries stored (DynamoDB calls and items
read, for each view), and how many readings per second one function instance records (each checked
against thresholds and trends, with its alerts, events and timeline entry in one transaction).
``make bench``."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

from bench.results import record, step

ENTRIES = 5_000
READINGS = 200


FIGURES: dict[str, Any] = {}  # what _line printed, for bench/results.json


def _line(label: str, calls: Counter[str], extra: str = "") -> str:
    FIGURES[label.strip()] = step(calls)
    detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
    return f"{label:58}{sum(calls.values()):>4} calls: {detail}{extra}"


def main() -> None:
    from bench.stack import moto_stack
    from shared import clock
    from tests.integration.test_records_timeline import seed
    from tests.support.ddb import count_calls, items_read
    from tests.support.intake import Api
    from tests.support.records import coordinator, patient

    with moto_stack("RecordsFunction"):
        out = Api(org="acme").register(query={"allow_duplicate": "true"})
        assert out["statusCode"] == 201, out["body"]  # noqa: S101 - a bench that measured nothing must stop
        pid = str(out["json"]["id"])
        seed("acme", pid, ENTRIES)
        print(f"One timeline page (limit 50) of a patient with {ENTRIES:,} entries stored")
        for label, api, query in (
            ("GET /patients/{id}/timeline (staff)", coordinator(), {}),
            ("GET /patients/{id}/timeline?kind=task (staff)", coordinator(), {"kind": "task"}),
            ("GET /patients/{id}/timeline (patient token)", patient(pid), {}),
        ):
            with count_calls() as calls, items_read() as read:
                page = api.timeline(pid, limit="50", **query)
            assert len(page["items"]) == 50 and page["next_cursor"], page  # noqa: S101
            print(_line(label, calls, f"; items read {sum(read.values())}"))
    # a table of its own: moto answers an index Query by scanning every item of the table, so the
    # 5,000 entries above would be timed, not the reading
    with moto_stack("RecordsFunction"):
        pid = str(Api(org="acme").register(query={"allow_duplicate": "true"})["json"]["id"])
        print()
        print(f"Recording {READINGS} weights one after another (one instance, in-process moto)")
        me = patient(pid)
        start = clock.now() - timedelta(days=20)
        with count_calls() as calls:
            first = me.weigh(pid, 180.0, at=clock.isoformat(start))
        assert first["statusCode"] == 201, first["body"]  # noqa: S101
        print(_line("POST /patients/{id}/observations (a weight)", calls))
        t0 = time.perf_counter()
        for n in range(1, READINGS + 1):
            at = clock.isoformat(start + timedelta(hours=2 * n))
            made = me.weigh(pid, 180.0 + (n % 7) * 0.3, at=at)
            assert made["statusCode"] == 201, made["body"]  # noqa: S101
        elapsed = time.perf_counter() - t0
        each = f"({elapsed * 1000 / READINGS:.1f} ms each)"
        print(f"{'readings recorded per second':58}{READINGS / elapsed:>6.0f}  {each}")


if __name__ == "__main__":
    main()
    record("records", FIGURES)
