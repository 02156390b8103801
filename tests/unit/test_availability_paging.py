"""Availability generated lazily and merged across providers is the eager list: same slots, same order
(start, then provider), across DST changes, holidays, time off and bookings; and walking it page by
page, however small the pages or the work budget, gives every slot exactly once."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.calendar import Calendar
from shared.domain.scheduling import (
    Budget,
    ProviderIn,
    Slot,
    first_slots,
    free_slots,
    local_instant,
    provider_slots,
    units_on,
)

ZONES = ["America/Chicago", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"]
# ranges that cross a DST change in one of the zones (Chicago, London, Sydney)
STARTS = [date(2026, 3, 6), date(2026, 10, 23), date(2026, 4, 3), date(2026, 10, 30), date(2026, 11, 23)]
CALENDAR = Calendar.model_validate({"holidays": [{"date": "2026-11-26", "name": "Thanksgiving Day"}]})
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@st.composite
def a_provider(draw: st.DrawFn, n: int) -> tuple[ProviderIn, str, list[datetime]]:
    step = draw(st.sampled_from([15, 30, 60]))
    grid = [time(h, m) for h in range(24) for m in range(0, 60, step)]
    windows = []
    for weekday in draw(st.sets(st.integers(1, 7), min_size=1, max_size=7)):
        cuts = sorted(draw(st.sets(st.sampled_from(grid), min_size=2, max_size=4)))
        windows += [
            {"weekday": weekday, "start": a.strftime("%H:%M"), "end": b.strftime("%H:%M")}
            for a, b in zip(cuts[::2], cuts[1::2], strict=False)
        ]
    off = draw(st.lists(st.integers(0, 9), max_size=2))
    provider = ProviderIn.model_validate(
        {
            "name": f"Dr. {n}",
            "specialty": "cardiology",
            "location": "Clinic",
            "time_zone": draw(st.sampled_from(ZONES)),
            "slot_minutes": step,
            "appointment_types": ["follow-up"],
            "availability": windows,
            "time_off": [{"first": "2026-01-01", "last": "2026-01-01"}]
            + [{"first": STARTS[d % 5] + timedelta(d), "last": STARTS[d % 5] + timedelta(d)} for d in off],
        }
    )
    return provider, f"P{n:02d}", []


@st.composite
def searches(
    draw: st.DrawFn,
) -> tuple[list[tuple[ProviderIn, str, list[datetime]]], date, date, int, datetime]:
    first = draw(st.sampled_from(STARTS))
    last = first + timedelta(days=draw(st.integers(0, 9)))
    providers = [draw(a_provider(n)) for n in range(draw(st.integers(1, 4)))]
    for provider, _pid, busy in providers:  # some of each provider's units are booked
        units = [
            u for d in range(10) for run in units_on(provider, CALENDAR, first + timedelta(d)) for u in run
        ]
        if units:
            busy += draw(st.lists(st.sampled_from(units), max_size=12))
    minutes = 60 * draw(st.integers(1, 2))
    not_before = draw(st.sampled_from([EPOCH, local_instant(first, time(12), ZoneInfo("UTC"))]))
    return providers, first, last, minutes, not_before


def eager(case: tuple) -> list[Slot]:
    """What GET /availability computed before: every slot of every provider, sorted."""
    providers, first, last, minutes, not_before = case
    out = []
    for provider, pid, busy in providers:
        out += free_slots(
            provider, pid, "follow-up", timedelta(minutes=minutes), CALENDAR, first, last, busy, not_before
        )
    return sorted(out, key=lambda s: (s.start, s.provider_id))


def page(
    case: tuple, limit: int, budget: Budget, after: tuple[datetime, str] | None, asked: list[tuple]
) -> tuple[list[Slot], tuple[datetime, str] | None]:
    providers, first, last, minutes, not_before = case

    def held_of(busy: list[datetime]):  # type: ignore[no-untyped-def]
        def held(a: datetime, b: datetime) -> Collection[datetime]:
            asked.append((a, b))
            return {u for u in busy if a <= u < b}

        return held

    streams = [
        provider_slots(
            provider,
            pid,
            "follow-up",
            timedelta(minutes=minutes),
            CALENDAR,
            first,
            last,
            held_of(busy),
            max(not_before, after[0]) if after else not_before,
            budget,
            after=after,
        )
        for provider, pid, busy in providers
    ]
    return first_slots(streams, limit)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(searches())
def test_the_merged_lazy_slots_are_the_eager_sorted_list(case: tuple) -> None:
    expected = eager(case)
    found, resume = page(case, 10_000, Budget(units=10**9), None, [])
    assert resume is None
    assert found == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(searches(), st.integers(1, 7), st.sampled_from([1, 40, 200, 10**9]))
def test_a_page_walk_gives_every_slot_once_in_order(case: tuple, limit: int, units: int) -> None:
    """However small the page and the budget, each call makes progress and the walk is the list."""
    expected = eager(case)
    walked: list[Slot] = []
    after = None
    for _ in range(len(expected) + 10 * 10 + 5):  # at most one call per slot plus one per day
        budget = Budget(units=units)
        found, after = page(case, limit, budget, after, [])
        assert len(found) <= limit
        walked += found
        if after is None:
            break
    assert after is None, "the walk did not finish"
    assert walked == expected


def test_a_page_that_ends_on_the_first_day_examines_and_asks_for_that_day_only() -> None:
    """Given 3 providers open 20 hours a day on a 5-minute grid over 31 days, when the first page
    of 50 is asked, then each examines one day of units and asks for one day of held time."""
    windows = [{"weekday": d, "start": "03:00", "end": "23:00"} for d in range(1, 8)]
    provider = ProviderIn.model_validate(
        {
            "name": "Dr. A",
            "specialty": "cardiology",
            "location": "Clinic",
            "time_zone": "America/Chicago",
            "slot_minutes": 5,
            "appointment_types": ["follow-up"],
            "availability": windows,
        }
    )
    first = date(2026, 11, 24)
    case = ([(provider, f"P{n}", []) for n in range(3)], first, first + timedelta(30), 30, EPOCH)
    asked: list[tuple] = []
    budget = Budget()
    found, after = page(case, 50, budget, None, asked)
    assert len(found) == 50 and after == (found[-1].start, found[-1].provider_id)
    assert budget.examined == 3 * 240  # one day of 5-minute units from 03:00 to 23:00, each
    assert len(asked) == 3 and all(b - a == timedelta(days=1) for a, b in asked)
    # the next page resumes where this one ended, without going back to the first slot
    more, _ = page(case, 50, Budget(), after, [])
    assert more[0].start >= found[-1].start and (more[0].start, more[0].provider_id) > after
