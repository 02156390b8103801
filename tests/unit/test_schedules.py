"""Schedule expressions as EventBridge reads them: 6-field AWS cron, rate, at, time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from local.schedules import InvalidSchedule, Schedule
from local.template import ROOT, Template

SATURDAY_NOON = datetime(2026, 11, 21, 12, tzinfo=UTC)


def test_weekday_cron_in_a_zone_skips_the_weekend() -> None:
    s = Schedule("cron(0 9 ? * MON-FRI *)", "America/Chicago")
    assert s.next_after(SATURDAY_NOON, SATURDAY_NOON) == datetime(
        2026, 11, 23, 15, tzinfo=UTC
    )  # Mon 09:00 CST


def test_aws_numbers_days_of_the_week_from_sunday_as_1() -> None:
    monday = Schedule("cron(30 14 ? * 2 *)").next_after(SATURDAY_NOON, SATURDAY_NOON)
    assert monday == datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    second_tuesday = Schedule("cron(0 8 ? * 3#2 *)").next_after(SATURDAY_NOON, SATURDAY_NOON)
    assert second_tuesday == datetime(2026, 12, 8, 8, tzinfo=UTC)


def test_local_time_holds_across_a_dst_change() -> None:
    s = Schedule("cron(0 9 * * ? *)", "America/New_York")
    before = datetime(2026, 10, 31, 14, tzinfo=UTC)  # Sat, EDT (UTC-4)
    first = s.next_after(before, before)
    second = s.next_after(first, before)  # type: ignore[arg-type]
    assert first == datetime(2026, 11, 1, 14, tzinfo=UTC)  # Sun 09:00 EST: DST ended at 02:00 that day
    assert second == datetime(2026, 11, 2, 14, tzinfo=UTC)


def test_rate_counts_from_its_start() -> None:
    start = datetime(2026, 11, 23, 10, tzinfo=UTC)
    s = Schedule("rate(15 minutes)")
    assert s.next_after(start, start) == datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    assert s.next_after(datetime(2026, 11, 23, 10, 31, tzinfo=UTC), start) == datetime(
        2026, 11, 23, 10, 45, tzinfo=UTC
    )


def test_at_is_one_time_in_its_zone() -> None:
    s = Schedule("at(2026-11-24T09:00:00)", "America/Chicago")
    assert s.one_time
    assert s.next_after(SATURDAY_NOON, SATURDAY_NOON) == datetime(2026, 11, 24, 15, tzinfo=UTC)
    assert s.next_after(datetime(2026, 11, 25, tzinfo=UTC), SATURDAY_NOON) is None


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 9 * * *)",
        "cron(0 9 * * MON *)",
        "cron(0 9 ? * ? *)",
        "cron(99 9 ? * MON *)",
        "rate(1 minutes)",
        "rate(0 hours)",
        "rate(5 weeks)",
        "every day",
    ],
)
def test_expressions_aws_would_reject_are_refused(expression: str) -> None:
    with pytest.raises(InvalidSchedule):
        Schedule(expression)


@pytest.mark.parametrize(
    "path",
    [ROOT / "template.yaml", ROOT / "tests/e2e/fixtures/template.yaml"],
    ids=["template", "e2e-fixture"],
)
def test_every_schedule_in_the_templates_is_valid(path: Path) -> None:
    # cfn-lint lets a 5-field cron through; AWS would refuse the deployment
    for rule in Template(path).rules:
        if rule.schedule:
            Schedule(rule.schedule, rule.time_zone)
