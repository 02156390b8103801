"""Channel choice and quiet hours: pure functions, checked against hand-computed local times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.domain.patients import Channel, PatientOut
from shared.notify.channels import address_of, choose_channel, in_quiet_hours, next_send_time
from tests.support.intake import GRANTED, patient_record

WITHDRAWN = {"granted": False, "at": "2026-11-21T15:00:00Z", "method": "electronic"}


def patient(**changes: Any) -> PatientOut:
    return patient_record(**changes)  # type: ignore[no-any-return]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ---------------------------------------------------------------- channels


def test_the_most_preferred_reachable_channel_wins() -> None:
    assert choose_channel(patient()) is Channel.SMS
    assert choose_channel(patient(preferred_channels=["email", "sms"])) is Channel.EMAIL


@pytest.mark.parametrize(
    "changes",
    [
        {"consent": {"email": GRANTED}},  # no sms consent on record
        {"consent": {"sms": WITHDRAWN, "email": GRANTED}},  # withdrawn
        {"contact": {"email": "jane.roe@example.com"}},  # no phone
    ],
    ids=["missing-consent", "withdrawn-consent", "no-phone"],
)
def test_an_unusable_first_choice_falls_back_to_the_next(changes: dict[str, Any]) -> None:
    assert choose_channel(patient(**changes)) is Channel.EMAIL


def test_the_caller_limits_the_channels() -> None:
    assert choose_channel(patient(), allowed=(Channel.EMAIL,)) is Channel.EMAIL
    assert choose_channel(patient(), allowed=()) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"consent": {}},
        {"consent": {"sms": WITHDRAWN, "email": WITHDRAWN}},
        {"contact": {}},
        {"preferred_channels": ["voice"], "consent": {"voice": GRANTED}},  # not allowed by default
    ],
    ids=["no-consent", "all-withdrawn", "no-contact", "voice-only"],
)
def test_no_channel_when_nothing_qualifies(changes: dict[str, Any]) -> None:
    assert choose_channel(patient(**changes)) is None


def test_consent_to_a_channel_the_patient_did_not_ask_for_is_not_used() -> None:
    assert choose_channel(patient(preferred_channels=["sms"], consent={"email": GRANTED})) is None


def test_address_of_each_channel() -> None:
    p = patient()
    assert address_of(p, Channel.SMS) == "+15555550123"
    assert address_of(p, Channel.EMAIL) == "jane.roe@example.com"
    with pytest.raises(ValueError, match="no address for channel email") as caught:
        address_of(patient(contact={"phone": "+15555550123"}), Channel.EMAIL)
    assert "555" not in str(caught.value)


# ---------------------------------------------------------------- quiet hours (Chicago, CST = UTC-6)


@pytest.mark.parametrize(
    ("at", "quiet"),
    [
        (utc(2026, 11, 24, 2, 59), False),  # 20:59
        (utc(2026, 11, 24, 3, 0), True),  # 21:00: start is inside
        (utc(2026, 11, 24, 6, 0), True),  # 00:00
        (utc(2026, 11, 24, 8, 0), True),  # 02:00
        (utc(2026, 11, 24, 14, 59), True),  # 08:59
        (utc(2026, 11, 24, 15, 0), False),  # 09:00: end is outside
        (utc(2026, 11, 24, 18, 0), False),  # noon
    ],
)
def test_quiet_hours_wrap_past_midnight_in_local_time(at: datetime, quiet: bool) -> None:
    assert in_quiet_hours(patient(), at) is quiet


def test_quiet_hours_read_any_zone_and_refuse_naive_times() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert in_quiet_hours(patient(), datetime(2026, 11, 24, 12, 0, tzinfo=tokyo))  # 21:00 Chicago
    with pytest.raises(ValueError, match="aware"):
        in_quiet_hours(patient(), datetime(2026, 11, 24, 12, 0))  # noqa: DTZ001


def test_quiet_hours_within_a_day_and_none_at_all() -> None:
    lunch = patient(quiet_hours={"start": "12:00", "end": "13:00"})
    assert in_quiet_hours(lunch, utc(2026, 11, 24, 18, 30))  # 12:30
    assert not in_quiet_hours(lunch, utc(2026, 11, 24, 4, 0))  # 22:00
    assert next_send_time(lunch, utc(2026, 11, 24, 18, 30)) == utc(2026, 11, 24, 19, 0)
    never = patient(quiet_hours={"start": "00:00", "end": "00:00"})
    assert not in_quiet_hours(never, utc(2026, 11, 24, 6, 0))


def test_outside_quiet_hours_the_time_is_kept() -> None:
    at = utc(2026, 11, 24, 18, 0)
    assert next_send_time(patient(), at) == at
    assert next_send_time(patient(), at).tzinfo is UTC


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 11, 24, 4, 0), utc(2026, 11, 24, 15, 0)),  # 22:00 → next morning 09:00 CST
        (utc(2026, 11, 24, 9, 0), utc(2026, 11, 24, 15, 0)),  # 03:00 → this morning 09:00
    ],
)
def test_quiet_hours_move_a_message_to_their_end(at: datetime, expected: datetime) -> None:
    assert next_send_time(patient(), at) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # 2026-03-08 02:00 CST → 03:00 CDT: the night is an hour short, 09:00 is UTC-5
        (utc(2026, 3, 8, 4, 0), utc(2026, 3, 8, 14, 0)),  # Sat 22:00 CST
        (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 14, 0)),  # Sun 01:30 CST, before the jump
        (utc(2026, 3, 8, 8, 30), utc(2026, 3, 8, 14, 0)),  # Sun 03:30 CDT, after it
        # 2026-11-01 02:00 CDT → 01:00 CST: the night is an hour long, 09:00 is UTC-6
        (utc(2026, 11, 1, 3, 0), utc(2026, 11, 1, 15, 0)),  # Sat 22:00 CDT
        (utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 15, 0)),  # 01:30 CDT, first pass
        (utc(2026, 11, 1, 7, 30), utc(2026, 11, 1, 15, 0)),  # 01:30 CST, second pass
    ],
)
def test_quiet_hours_end_at_local_nine_across_dst_changes(at: datetime, expected: datetime) -> None:
    assert in_quiet_hours(patient(), at)
    assert next_send_time(patient(), at) == expected


def test_an_end_the_clocks_jump_over_moves_forward_to_the_jump() -> None:
    # 02:30 does not exist on 2026-03-08 in Chicago; the clock reads 03:00 CDT at 08:00Z
    night = patient(quiet_hours={"start": "22:00", "end": "02:30"})
    assert next_send_time(night, utc(2026, 3, 8, 5, 0)) == utc(2026, 3, 8, 8, 0)  # Sat 23:00 CST
    assert not in_quiet_hours(night, utc(2026, 3, 8, 8, 0))


def test_an_end_the_clocks_repeat_ends_each_pass() -> None:
    # 01:30 happens twice on 2026-11-01 in Chicago: 06:30Z (CDT) and 07:30Z (CST)
    night = patient(quiet_hours={"start": "22:00", "end": "01:30"})
    assert next_send_time(night, utc(2026, 11, 1, 4, 0)) == utc(2026, 11, 1, 6, 30)  # 23:00 CDT
    assert not in_quiet_hours(night, utc(2026, 11, 1, 6, 45))  # 01:45 CDT
    assert in_quiet_hours(night, utc(2026, 11, 1, 7, 10))  # 01:10 CST, the repeat
    assert next_send_time(night, utc(2026, 11, 1, 7, 10)) == utc(2026, 11, 1, 7, 30)
