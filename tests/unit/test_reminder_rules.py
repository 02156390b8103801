"""Reminder rules, probed against times written out here by hand (not against the code's own tables).

- New York is UTC-4 (EDT) until Sunday 2026-11-01 02:00 local, UTC-5 (EST) after; clocks spring
  forward on Sunday 2027-03-14 at 02:00.
- Quiet hours are local, the start inclusive, the end exclusive, wrapping past midnight.
- A policy's days and business days keep the visit's local wall time; hours are hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.domain.calendar import Calendar
from shared.domain.reminders import (
    Intent,
    ReminderPolicy,
    SkipReason,
    TouchOut,
    TouchPatientView,
    TouchRule,
    default_touches,
    intent_of,
)
from shared.notify.channels import allowed_time
from shared.notify.plans import follow_ups, plan, planned_at, spread_of

NY = ZoneInfo("America/New_York")
QUIET = (time(21), time(9))


def ny(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NY).astimezone(UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


CAL = Calendar(time_zone="America/New_York", holidays=[{"date": date(2026, 11, 26), "name": "Thanksgiving"}])


def closed(at: datetime) -> bool:
    return CAL.is_holiday(CAL.local_date(at))


# ---------------------------------------------------------------- allowed times


def test_a_time_outside_quiet_hours_and_holidays_stays() -> None:
    for at in (ny(2026, 11, 24, 9), ny(2026, 11, 24, 12), ny(2026, 11, 24, 20, 59)):
        assert allowed_time(at, quiet=QUIET, zone=NY, closed=closed) == at


def test_a_time_in_quiet_hours_moves_to_their_end() -> None:
    assert allowed_time(ny(2026, 11, 24, 21), quiet=QUIET, zone=NY) == ny(2026, 11, 25, 9)
    assert allowed_time(ny(2026, 11, 24, 23, 30), quiet=QUIET, zone=NY) == ny(2026, 11, 25, 9)
    assert allowed_time(ny(2026, 11, 25, 3), quiet=QUIET, zone=NY) == ny(2026, 11, 25, 9)
    assert allowed_time(ny(2026, 11, 25, 8, 59), quiet=QUIET, zone=NY) == ny(2026, 11, 25, 9)
    # quiet hours that do not wrap (a night worker: 09:00-17:00)
    assert allowed_time(ny(2026, 11, 25, 12), quiet=(time(9), time(17)), zone=NY) == ny(2026, 11, 25, 17)
    # none: start == end
    assert allowed_time(ny(2026, 11, 25, 3), quiet=(time(0), time(0)), zone=NY) == ny(2026, 11, 25, 3)


def test_a_move_to_the_morning_is_spread_but_never_past_the_visit() -> None:
    spread = timedelta(minutes=17)
    assert allowed_time(ny(2026, 11, 25, 3), quiet=QUIET, zone=NY, spread=spread) == ny(2026, 11, 25, 9, 17)
    visit = ny(2026, 11, 25, 9, 10)  # 09:17 would be after it: 09:00 then
    assert allowed_time(ny(2026, 11, 25, 3), quiet=QUIET, zone=NY, spread=spread, before=visit) == ny(
        2026, 11, 25, 9
    )
    # a time that needed no move is not spread
    assert allowed_time(ny(2026, 11, 25, 12), quiet=QUIET, zone=NY, spread=spread) == ny(2026, 11, 25, 12)


def test_when_the_next_allowed_time_is_after_the_visit_the_last_one_before_the_quiet_hours_is_used() -> None:
    visit = ny(2026, 11, 25, 7)  # a 07:00 visit; its 2-hour touch is due at 05:00
    assert allowed_time(ny(2026, 11, 25, 5), quiet=QUIET, zone=NY, before=visit) == ny(2026, 11, 24, 20, 59)
    # ... unless that is already past
    assert (
        allowed_time(ny(2026, 11, 25, 5), quiet=QUIET, zone=NY, before=visit, not_before=ny(2026, 11, 24, 22))
        is None
    )
    # quiet evening part: the same evening's start
    late = ny(2026, 11, 24, 23)
    assert allowed_time(late, quiet=QUIET, zone=NY, before=ny(2026, 11, 25, 8)) == ny(2026, 11, 24, 20, 59)


def test_a_holiday_moves_the_time_to_the_next_day_then_out_of_the_quiet_hours() -> None:
    # Thanksgiving (Thursday 26 Nov) 10:00 -> Friday 00:00 is quiet -> Friday 09:00
    assert allowed_time(ny(2026, 11, 26, 10), quiet=QUIET, zone=NY, closed=closed) == ny(2026, 11, 27, 9)
    # a visit Friday 08:00: the last allowed minute before the holiday, Wednesday 20:59
    got = allowed_time(ny(2026, 11, 26, 10), quiet=QUIET, zone=NY, closed=closed, before=ny(2026, 11, 27, 8))
    assert got == ny(2026, 11, 25, 20, 59)


def test_quiet_hours_are_local_across_a_dst_change() -> None:
    # Saturday 31 Oct 22:00 EDT is quiet; its end is Sunday 1 Nov 09:00 EST (14:00 UTC, not 13:00)
    assert allowed_time(ny(2026, 10, 31, 22), quiet=QUIET, zone=NY) == utc("2026-11-01T14:00:00Z")
    # a quiet end inside the spring-forward gap (02:30 does not exist): the first minute after it
    gap = allowed_time(ny(2027, 3, 14, 1), quiet=(time(0), time(2, 30)), zone=NY)
    assert gap == utc("2027-03-14T07:00:00Z")  # 03:00 EDT


def test_an_aware_time_in_any_zone_is_read_in_the_patients() -> None:
    tokyo = datetime(2026, 11, 25, 13, tzinfo=ZoneInfo("Asia/Tokyo"))  # 23:00 the day before in New York
    assert allowed_time(tokyo, quiet=QUIET, zone=NY) == ny(2026, 11, 25, 9)


# ---------------------------------------------------------------- plans


def test_day_and_business_day_touches_keep_the_visits_wall_time_hours_do_not() -> None:
    visit = ny(2026, 11, 3, 10)  # Tuesday after the change
    assert planned_at(TouchRule(days=7), visit, CAL, NY) == ny(2026, 10, 27, 10)  # 14:00 UTC, EDT
    assert planned_at(TouchRule(business_days=2), visit, CAL, NY) == ny(2026, 10, 30, 10)  # Friday
    assert planned_at(TouchRule(hours=72), visit, CAL, NY) == visit - timedelta(hours=72)  # 11:00 EDT
    assert planned_at(TouchRule(days=1, hours=2), visit, CAL, NY) == ny(2026, 11, 2, 8)
    # over Thanksgiving: 2 business days before Monday 30 Nov is Wednesday 25 (Thu closed, Fri open)
    assert planned_at(TouchRule(business_days=2), ny(2026, 11, 30, 10), CAL, NY) == ny(
        2026, 11, 27, 10
    ) - timedelta(days=2)


def test_a_plan_skips_past_touches_and_puts_the_rest_in_send_order() -> None:
    visit, now = ny(2026, 11, 3, 10), ny(2026, 10, 28, 12)
    touches = plan(
        default_touches(),
        visit,
        now,
        CAL,
        visit_zone="America/New_York",
        quiet=QUIET,
        patient_zone="America/New_York",
        key="a",
    )
    assert [(t.index, t.offset, t.skip_reason) for t in touches] == [
        (0, "7d", SkipReason.PAST),
        (1, "2bd", None),
        (2, "24h", None),
        (3, "2h", None),
    ]
    assert [t.send_at for t in touches[:3]] == [None, ny(2026, 10, 30, 10), ny(2026, 11, 2, 10)]
    assert touches[3].planned_at == ny(2026, 11, 3, 8)
    assert ny(2026, 11, 3, 9) <= touches[3].send_at < ny(2026, 11, 3, 9, 30)  # type: ignore[operator]
    assert touches[3].send_at == ny(2026, 11, 3, 9) + spread_of("a#3")


def test_a_visit_booked_for_later_today_gets_the_two_hour_touch_only_if_there_is_time() -> None:
    visit = ny(2026, 11, 24, 15)
    early = plan(
        default_touches(),
        visit,
        ny(2026, 11, 24, 12),
        CAL,
        visit_zone="America/New_York",
        quiet=QUIET,
        patient_zone="America/New_York",
        key="b",
    )
    assert [(t.offset, t.send_at) for t in early if t.send_at] == [("2h", ny(2026, 11, 24, 13))]
    late = plan(
        default_touches(),
        visit,
        ny(2026, 11, 24, 13, 30),
        CAL,
        visit_zone="America/New_York",
        quiet=QUIET,
        patient_zone="America/New_York",
        key="b",
    )
    assert all(t.skip_reason is SkipReason.PAST for t in late)


def test_a_touch_with_no_allowed_minute_before_the_visit_is_skipped_as_such() -> None:
    # booked at 22:00 for 07:00 tomorrow: the 2-hour touch (05:00) has no allowed minute left
    touches = plan(
        [TouchRule(hours=2)],
        ny(2026, 11, 25, 7),
        ny(2026, 11, 24, 22),
        CAL,
        visit_zone="America/New_York",
        quiet=QUIET,
        patient_zone="America/New_York",
        key="c",
    )
    assert [(t.skip_reason, t.send_at) for t in touches] == [(SkipReason.NO_ALLOWED_TIME, None)]


def test_the_spread_is_stable_and_within_thirty_minutes() -> None:
    values = {spread_of(f"k{i}") for i in range(200)}
    assert all(timedelta(0) <= v < timedelta(minutes=30) for v in values)
    assert len(values) == 30  # every minute is used
    assert spread_of("same") == spread_of("same")


def test_referral_follow_ups_go_on_business_days_at_ten_outside_quiet_hours() -> None:
    created = ny(2026, 11, 20, 15)  # Friday
    got = follow_ups([3, 7], created, created, CAL, quiet=QUIET, patient_zone="America/Los_Angeles", key="r")
    # +3 = Monday 23 Nov 10:00 New York (07:00 in Los Angeles: quiet) -> 09:00 Los Angeles + spread
    la = ZoneInfo("America/Los_Angeles")
    assert datetime(2026, 11, 23, 9, tzinfo=la) <= got[0] < datetime(2026, 11, 23, 9, 30, tzinfo=la)
    # +7 = Friday 27 Nov, open (only Thursday is a holiday)
    assert datetime(2026, 11, 27, 9, tzinfo=la) <= got[1] < datetime(2026, 11, 27, 9, 30, tzinfo=la)
    # on Thanksgiving: the next business day; already past: dropped
    thursday = follow_ups(
        [6], created, created, CAL, quiet=(time(0), time(0)), patient_zone="America/New_York", key="r"
    )
    assert thursday == [ny(2026, 11, 27, 10)]
    assert (
        follow_ups(
            [3], created, ny(2026, 11, 24, 0), CAL, quiet=QUIET, patient_zone="America/New_York", key="r"
        )
        == []
    )


# ---------------------------------------------------------------- the policy


def test_offsets_name_the_touch() -> None:
    assert [t.offset for t in default_touches()] == ["7d", "2bd", "24h", "2h"]
    assert TouchRule(days=1, hours=12).offset == "1d12h"
    assert TouchRule(days=3).offset == "3d"


@pytest.mark.parametrize(
    "rule",
    [
        {},
        {"days": 0},
        {"business_days": 1, "hours": 2},
        {"business_days": 1, "days": 1},
        {"hours": 2, "channels": []},
        {"hours": 2, "channels": ["sms", "sms"]},
        {"hours": 2, "channels": ["voice"]},
        {"hours": 73},
        {"days": -1},
    ],
)
def test_a_touch_rule_must_say_when_and_how(rule: dict) -> None:
    with pytest.raises(ValidationError):
        TouchRule.model_validate(rule)


def test_an_appointment_type_can_have_its_own_touches() -> None:
    policy = ReminderPolicy.model_validate({"by_appointment_type": {"new-patient": [{"days": 3}], "lab": []}})
    assert [t.offset for t in policy.touches_for("new-patient")] == ["3d"]
    assert policy.touches_for("lab") == []
    assert [t.offset for t in policy.touches_for("follow-up")] == ["7d", "2bd", "24h", "2h"]
    assert [t.offset for t in policy.touches_for(None)] == ["7d", "2bd", "24h", "2h"]


def test_one_template_per_kind_language_and_channel() -> None:
    one = {"kind": "appointment", "language": "es", "channel": "sms", "text": "{clinic_name}: cita {date}"}
    ReminderPolicy.model_validate({"templates": [one, {**one, "channel": "email"}]})
    with pytest.raises(ValidationError):
        ReminderPolicy.model_validate({"templates": [one, one]})
    with pytest.raises(ValidationError):
        ReminderPolicy.model_validate({"referral_follow_up_days": [0]})


def test_a_patients_view_of_a_touch_has_no_staff_fields() -> None:
    now = ny(2026, 11, 1, 12)
    record = TouchOut(
        id="t1",
        subject_kind="appointment",
        subject_id="a1",
        patient_id="p1",
        generation=1,
        index=0,
        offset="24h",
        asks_confirmation=True,
        channels=["sms"],
        planned_at=now,
        send_at=now,
        status="failed",
        failure="provider-error",
        attempts=3,
        updated_at=now,
    )
    view = TouchPatientView.of(record).model_dump()
    assert view["status"] == "failed" and view["offset"] == "24h"
    assert not {"failure", "attempts", "patient_id", "skip_reason"} & set(view)


# ---------------------------------------------------------------- replies


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("C", Intent.CONFIRM),
        (" c ", Intent.CONFIRM),
        ("Yes!", Intent.CONFIRM),
        ("yes", Intent.CONFIRM),
        ("CONFIRM", Intent.CONFIRM),
        ("Si", Intent.CONFIRM),
        ("sí.", Intent.CONFIRM),
        ("SÍ", Intent.CONFIRM),
        ("y", Intent.CONFIRM),
        ("R", Intent.RESCHEDULE),
        ("reschedule", Intent.RESCHEDULE),
        ("STOP", Intent.STOP),
        ("stop", Intent.STOP),
        ("Unsubscribe", Intent.STOP),
        ("cancel", Intent.STOP),
        ("quit", Intent.STOP),
        ("end", Intent.STOP),
        ("STOPALL", Intent.STOP),
        ("start", Intent.START),
        ("UNSTOP", Intent.START),
        ("yes start", Intent.START),
        ("Yes   Start!", Intent.START),  # runs of spaces count as one
        ("yes\tstart", Intent.START),
        ("help", Intent.HELP),
        ("Ayuda", Intent.HELP),
        ("HELP?", Intent.HELP),
        ("yes please", Intent.OTHER),
        ("C C", Intent.OTHER),
        ("Can I come at 3?", Intent.OTHER),
        ("", Intent.OTHER),
        ("stop it now", Intent.OTHER),
        ("¿ayuda?", Intent.HELP),
        ("¡Sí!", Intent.CONFIRM),
        ("s í", Intent.OTHER),
    ],
)
def test_what_a_reply_asks_for(body: str, intent: Intent) -> None:
    assert intent_of(body) is intent


def test_a_holiday_is_the_organizations_day_not_the_patients() -> None:
    """A Los Angeles clinic closed on 25 December; a New York patient with no quiet hours. A touch due
    at 10:00 New York (07:00 in Los Angeles: the holiday) waits for the clinic's next day, which
    begins at 03:00 in New York."""
    la = Calendar(
        time_zone="America/Los_Angeles", holidays=[{"date": date(2026, 12, 25), "name": "Christmas"}]
    )
    got = allowed_time(
        ny(2026, 12, 25, 10),
        quiet=(time(0), time(0)),
        zone=NY,
        closed=lambda t: la.is_holiday(la.local_date(t)),
        closed_zone=la.zone,
    )
    assert got == ny(2026, 12, 26, 3)
