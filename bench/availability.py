"""The worst ``GET /availability`` a signed-in caller can ask for: a specialty of 60 providers (the
search reads 50 of them) on a 5-minute grid, every day 03:00-23:00, over 31 days (352,500 free
30-minute slots). First page, the page after it, and a page deep in the range; p50 latency and the
slots and units built per call. In-process, on moto provisioned from template.yaml. ``make bench``.

Before the change the handler built every slot of the range and sorted it, on every page. Its
end-to-end figures are printed as recorded; its generation is measured here live beside the lazy
merge's, on the same 50 providers (domain only, no DynamoDB). End to end, what remains is moto's:
one Query per provider, each walking the whole in-process table (~30 ms here; single-digit ms on
DynamoDB)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

PROVIDERS = 60
RUNS = 5
FIRST, LAST = "2026-11-24", "2026-12-24"  # 31 days
LIMIT = "200"
# measured with this bench on the eager handler (commit ac70fe4), same machine, Dec 2026:
# page -> (p50 ms, items, slots built, units generated, DynamoDB calls)
RECORDED_BEFORE = {
    "first page": (9715.0, 200, 352500, 360000, 52),
    "second page": (19544.9, 200, 352350, 360000, 52),
    "a page on day 16": (9945.0, 200, 184400, 360000, 52),
}


@contextmanager
def counting() -> Iterator[dict[str, int]]:
    """Counts the slots built and the provider units generated inside."""
    from shared.domain import scheduling as domain

    seen = {"slots": 0, "units": 0}
    slot_init = domain.Slot.__init__
    units_on = domain.units_on

    def counted_init(self: Any, **data: Any) -> None:
        seen["slots"] += 1
        slot_init(self, **data)

    def counted_units(*args: Any, **kwargs: Any) -> list[list[Any]]:
        runs = units_on(*args, **kwargs)
        seen["units"] += sum(len(r) for r in runs)
        return runs

    domain.Slot.__init__ = counted_init  # type: ignore[method-assign]
    domain.units_on = counted_units  # type: ignore[assignment]
    try:
        yield seen
    finally:
        domain.Slot.__init__ = slot_init  # type: ignore[method-assign]
        domain.units_on = units_on


def row(label: str, p50: float, items: int, slots: int, units: int, calls: int | str) -> None:
    print(f"{label:34}{p50:>10.1f}{items:>7}{slots:>10}{units:>10}{calls:>7}")


def measure(label: str, call: Callable[[], dict[str, Any]]) -> None:
    from tests.support.ddb import count_calls

    with counting() as seen, count_calls() as calls:
        response = call()
    if response["statusCode"] != 200:
        raise RuntimeError(response["body"])
    timings = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        call()
        timings.append((time.perf_counter() - t0) * 1000)
    row(
        label, statistics.median(timings), len(response["json"]["items"]), *seen.values(), sum(calls.values())
    )


def generation(provider: dict[str, Any], calendar: dict[str, Any], providers: int) -> None:
    """The first page's generation alone (no DynamoDB, nothing booked): the old handler's (every slot
    of every provider over the range, sorted, cut), then the lazy merge's."""
    from datetime import UTC, date, datetime, timedelta

    from shared.domain.calendar import Calendar
    from shared.domain.scheduling import Budget, ProviderIn, first_slots, free_slots, provider_slots

    record, cal = ProviderIn.model_validate(provider), Calendar.model_validate(calendar)
    now = datetime(2026, 11, 23, 14, tzinfo=UTC)
    first, last = date.fromisoformat(FIRST), date.fromisoformat(LAST)
    duration, limit = timedelta(minutes=30), int(LIMIT)

    def eager() -> int:
        slots = []
        for n in range(providers):
            slots += free_slots(record, f"P{n:02d}", "follow-up", duration, cal, first, last, [], now)
        slots.sort(key=lambda s: (s.start, s.provider_id))
        return len(slots[:limit])

    def lazy() -> int:
        budget = Budget()
        streams = [
            provider_slots(
                record, f"P{n:02d}", "follow-up", duration, cal, first, last, lambda a, b: (), now, budget
            )
            for n in range(providers)
        ]
        return len(first_slots(streams, limit)[0])

    for label, run, runs in (("before: eager", eager, 3), ("after: lazy merge", lazy, RUNS)):
        with counting() as seen:
            items = run()
        timings = []
        for _ in range(runs):
            t0 = time.perf_counter()
            run()
            timings.append((time.perf_counter() - t0) * 1000)
        row(label, statistics.median(timings), items, *seen.values(), "-")


def main() -> None:
    from bench.stack import moto_stack
    from shared.http import pagination
    from tests.support.scheduling import CALENDAR, CARDIOLOGIST, open_clinic

    with moto_stack("SchedulingFunction"):
        wide = {
            **CARDIOLOGIST,
            "slot_minutes": 5,
            "availability": [{"weekday": d, "start": "03:00", "end": "23:00"} for d in range(1, 8)],
        }
        clinic = open_clinic(patients=0, **wide)
        for n in range(PROVIDERS - 1):
            created = clinic.admin.req("POST", "/providers", {**wide, "name": f"Dr. Bench {n}"})
            if created["statusCode"] != 201:
                raise RuntimeError(created["body"])
        query = {"specialty": "cardiology", "from": FIRST, "to": LAST, "limit": LIMIT}
        first = clinic.staff.availability(**query)
        second_cursor = first["json"]["next_cursor"]
        list_id = f"availability::cardiology:follow-up:{FIRST}:{LAST}"
        deep_cursor = pagination.encode_cursor(  # the 16th day, 09:00 in Chicago
            list_id,
            {"start": {"S": "2026-12-09T15:00:00+00:00"}, "provider_id": {"S": clinic.provider_id}},
            tenant=clinic.org,
        )

        print(
            f"GET /availability: specialty of {PROVIDERS} providers, 5-minute grid, 20 h a day, "
            f"{FIRST}..{LAST}, limit {LIMIT}"
        )
        print(f"{'page':34}{'p50 ms':>10}{'items':>7}{'slots':>10}{'units':>10}{'calls':>7}")
        measure("first page", lambda: clinic.staff.availability(**query))
        measure("second page", lambda: clinic.staff.availability(**query, cursor=second_cursor))
        measure("a page on day 16", lambda: clinic.staff.availability(**query, cursor=deep_cursor))
        print("before: the eager handler, as recorded")
        for label, figures in RECORDED_BEFORE.items():
            row(label, *figures)
        print("the first page's generation alone, measured now (domain only, no DynamoDB)")
        generation(wide, CALENDAR, 50)


if __name__ == "__main__":
    main()
