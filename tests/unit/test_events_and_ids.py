from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from shared import clock, ids
from shared.data import keys
from shared.events.models import DomainEvent


class Channel(enum.StrEnum):
    SMS = "sms"


def test_events_may_carry_ids_codes_numbers_and_instants() -> None:
    class ReminderSent(DomainEvent):
        detail_type = "ReminderSent"
        source = "careloop.reminders"
        patient_id: str
        appointment_ids: list[str]
        channel: Channel
        attempt: int
        urgent: bool
        kind: Literal["first", "last"]
        due_at: datetime | None = None

    event = ReminderSent(
        organization_id="acme",
        patient_id="P1",
        appointment_ids=["A1"],
        channel=Channel.SMS,
        attempt=1,
        urgent=False,
        kind="first",
    )
    assert event.detail()["schema_version"] == 1


@pytest.mark.parametrize("field", ["name", "phone", "notes", "birth_date"])
def test_an_event_field_that_could_hold_phi_is_refused_at_definition(field: str) -> None:
    with pytest.raises(TypeError, match="never PHI"):
        type(
            "Leaky", (DomainEvent,), {"__annotations__": {field: str}, "detail_type": "Leaked", "source": "x"}
        )


def test_ids_sort_by_time_and_do_not_repeat(frozen_clock: clock.FixedClock) -> None:
    first = ids.new_id()
    frozen_clock.advance(timedelta(milliseconds=1))
    second = ids.new_id()
    assert ids.is_id(first) and ids.is_id(second)
    assert first < second
    assert len({ids.new_id() for _ in range(1000)}) == 1000


def test_the_clock_is_injectable(frozen_clock: clock.FixedClock) -> None:
    assert clock.now() == datetime(2026, 11, 23, 14, tzinfo=UTC)
    frozen_clock.advance(timedelta(hours=26))
    assert clock.isoformat(clock.now()) == "2026-11-24T16:00:00.000Z"


@pytest.mark.parametrize("bad", ["a#b", "", " x", "x y", "ORG#evil"])
def test_key_components_cannot_break_out_of_their_slot(bad: str) -> None:
    with pytest.raises(ValueError):
        keys.org_pk(bad)
