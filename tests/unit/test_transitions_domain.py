"""Transitions of care (shared/domain/transitions.py), against Medicare's TCM rules written out here.

The rules (CPT 99495 moderate, 99496 high complexity):
- day 0 is the discharge date on the organization's wall clock; day N is day 0 plus N days; a day's
  deadline is the local midnight after it, a business deadline the close of that day's hours;
- the interactive contact is due at the close of business of the 2nd business day after day 0 (a
  Thursday discharge: Monday 17:00; a Friday one with Monday a holiday: Wednesday 17:00); two
  unsuccessful attempts, both by that deadline, meet it too;
- the face-to-face visit is due by the end of day 7 (high) or day 14 (moderate); a visit should be
  booked inside that window by the end of day 3; a booking outside it is kept, with a warning;
- the medication reconciliation is due by the end of the visit's day (the window's end while no
  visit is booked);
- the 30-day period ends with day 29; a readmission pauses the episode: nothing is missed meanwhile;
- an episode qualifies when the contact was on time, the visit came by day 14 (99496 for a high
  complexity episode seen by day 7, 99495 otherwise), the reconciliation by the visit's date, there
  was no readmission and it was not ended early (declined, deceased, moved, other).

The calendar is New York's, Monday to Friday 08:00-17:00. The tests run in UTC, so a deadline worked
out in the wrong zone shows. EST is UTC-5, EDT UTC-4; DST starts 2027-03-14 and ends 2026-11-01.
The main episode: discharged Thursday 2026-12-03 at 15:00 New York time (20:00Z).
"""

from __future__ import annotations

import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.domain.calendar import Calendar
from shared.domain.tasks import risk_from
from shared.domain.transitions import (
    MAX_ATTEMPTS,
    MAX_WARNINGS,
    Closed,
    CloseReason,
    Complexity,
    ContactAttempt,
    ContactChannel,
    Eligibility,
    EpisodeStatus,
    Failure,
    StepName,
    StepStatus,
    TcmCode,
    TransitionOut,
    WarningCode,
    book_visit,
    close,
    close_of_business,
    completed,
    contact_due,
    eligibility,
    end_of_day,
    hold_visit,
    in_window,
    next_check,
    open_episode,
    readmit,
    reconcile,
    reconciliation_due,
    record_contact,
    report,
    sweep,
    unbook_visit,
    visit_due,
    with_complexity,
)

HIGH, MODERATE = Complexity.HIGH, Complexity.MODERATE
S = StepStatus

DAY0 = date(2026, 12, 3)  # a Thursday
DISCHARGED = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)  # Thursday 15:00 EST
OPENED = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
CONTACT_DUE = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)  # Monday 2026-12-07 17:00 EST
BOOKING_DUE = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # the end of day 3 (Sunday 12-06)
HIGH_DUE = datetime(2026, 12, 11, 5, 0, tzinfo=UTC)  # the end of day 7 (Thursday 12-10)
MODERATE_DUE = datetime(2026, 12, 18, 5, 0, tzinfo=UTC)  # the end of day 14 (Thursday 12-17)
PERIOD_LAST = date(2027, 1, 1)  # day 29
CLOSE_DUE = datetime(2027, 1, 2, 5, 0, tzinfo=UTC)  # the end of day 29
US = timedelta(microseconds=1)


def ny(*holidays: date, hours: list[dict[str, object]] | None = None) -> Calendar:
    data: dict[str, object] = {
        "time_zone": "America/New_York",
        "holidays": [{"date": d, "name": f"Holiday {d}"} for d in holidays],
    }
    if hours is not None:
        data["business_hours"] = hours
    return Calendar.model_validate(data)


def on_day(n: int, hour: int = 12, minute: int = 0) -> datetime:
    """``hour``:``minute`` New York time (EST, December) on day ``n`` of the main episode, in UTC."""
    return datetime(2026, 12, 3, tzinfo=UTC) + timedelta(days=n, hours=hour + 5, minutes=minute)


def episode(
    complexity: Complexity = MODERATE,
    discharged_at: datetime = DISCHARGED,
    calendar: Calendar | None = None,
    **details: object,
) -> TransitionOut:
    return open_episode(
        episode_id="tr-1",
        patient_id="pat-1",
        discharged_at=discharged_at,
        complexity=complexity,
        calendar=calendar or ny(),
        now=OPENED,
        opened_by="coord-1",
        **details,
    )


def attempt(at: datetime, reached: bool = False, by: str = "coord-1") -> ContactAttempt:
    return ContactAttempt(at=at, channel=ContactChannel.PHONE, reached=reached, by_id=by)


def contacted(e: TransitionOut, at: datetime = DISCHARGED + timedelta(days=1)) -> TransitionOut:
    return record_contact(e, attempt(at, reached=True))[0]


def seen(e: TransitionOut, day: int, hour: int = 12) -> TransitionOut:
    """The visit held on ``day`` at ``hour``, booked the day after discharge."""
    booked, _ = book_visit(e, "appt-1", on_day(day, hour), on_day(1), ny())
    return hold_visit(booked, "appt-1", on_day(day, hour), "doc-1", ny())


def reconciled(e: TransitionOut, day: int, hour: int = 18) -> TransitionOut:
    return reconcile(e, on_day(day, hour), "nurse-1", 2, None)


def qualifying(complexity: Complexity = MODERATE, visit_day: int = 10) -> TransitionOut:
    """Contact on day 1, visit on ``visit_day`` at noon, reconciliation that evening."""
    return reconciled(seen(contacted(episode(complexity)), visit_day), visit_day)


@pytest.fixture
def foreign_host_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host's own zone far from New York and UTC: a deadline must not depend on it."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time_module.tzset()
    yield
    monkeypatch.undo()
    time_module.tzset()


# ---------------------------------------------------------------- deadlines


def test_the_end_of_a_day_is_the_next_local_midnight_as_a_utc_instant(foreign_host_zone: None) -> None:
    cal = ny()
    end = end_of_day(DAY0, cal)
    assert end == datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
    assert end.isoformat() == "2026-12-04T05:00:00+00:00"
    assert end_of_day(date(2026, 12, 31), cal).isoformat() == "2027-01-01T05:00:00+00:00"


def test_the_close_of_business_is_the_end_of_the_day_s_hours_as_a_utc_instant(
    foreign_host_zone: None,
) -> None:
    cal = ny()
    assert close_of_business(DAY0, cal).isoformat() == "2026-12-03T22:00:00+00:00"  # 17:00 EST


def test_spring_forward_days_end_and_close_at_their_own_offset() -> None:
    cal = ny()
    saturday, sunday, monday = date(2027, 3, 13), date(2027, 3, 14), date(2027, 3, 15)
    assert end_of_day(saturday, cal) == datetime(2027, 3, 14, 5, 0, tzinfo=UTC)  # 00:00 EST
    assert end_of_day(sunday, cal) == datetime(2027, 3, 15, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert end_of_day(sunday, cal) - end_of_day(saturday, cal) == timedelta(hours=23)
    assert close_of_business(date(2027, 3, 12), cal) == datetime(2027, 3, 12, 22, 0, tzinfo=UTC)  # EST
    assert close_of_business(monday, cal) == datetime(2027, 3, 15, 21, 0, tzinfo=UTC)  # 17:00 EDT


def test_fall_back_days_end_and_close_at_their_own_offset() -> None:
    cal = ny()
    saturday, sunday = date(2026, 10, 31), date(2026, 11, 1)
    assert end_of_day(saturday, cal) == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert end_of_day(sunday, cal) == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # 00:00 EST
    assert end_of_day(sunday, cal) - end_of_day(saturday, cal) == timedelta(hours=25)
    assert close_of_business(date(2026, 10, 30), cal) == datetime(2026, 10, 30, 21, 0, tzinfo=UTC)  # EDT
    assert close_of_business(date(2026, 11, 2), cal) == datetime(2026, 11, 2, 22, 0, tzinfo=UTC)  # EST


def test_a_day_without_hours_closes_at_its_end() -> None:
    saturday, holiday = date(2026, 12, 5), date(2026, 12, 7)
    cal = ny(holiday)
    assert close_of_business(saturday, cal) == datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
    assert close_of_business(holiday, cal) == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)


def test_a_split_day_closes_when_its_last_window_does() -> None:
    cal = ny(
        hours=[
            {"weekday": 1, "start": "13:00", "end": "18:30"},
            {"weekday": 1, "start": "08:00", "end": "12:00"},
        ]
    )
    assert close_of_business(date(2026, 12, 7), cal) == datetime(2026, 12, 7, 23, 30, tzinfo=UTC)


def test_the_contact_is_due_at_the_close_of_the_second_business_day() -> None:
    cal = ny()
    assert contact_due(DAY0, cal) == CONTACT_DUE  # Thursday -> Monday 17:00
    assert contact_due(date(2026, 12, 4), cal) == datetime(2026, 12, 8, 22, 0, tzinfo=UTC)  # Fri -> Tue
    assert contact_due(date(2026, 12, 5), cal) == datetime(2026, 12, 8, 22, 0, tzinfo=UTC)  # Sat -> Tue
    assert contact_due(date(2026, 12, 1), cal) == datetime(2026, 12, 3, 22, 0, tzinfo=UTC)  # Tue -> Thu


def test_a_holiday_pushes_the_contact_back() -> None:
    monday = date(2026, 12, 7)
    # Friday, with Monday a holiday: Tuesday is the first business day, Wednesday the second
    assert contact_due(date(2026, 12, 4), ny(monday)) == datetime(2026, 12, 9, 22, 0, tzinfo=UTC)
    # Thursday 12-24, Christmas on the Friday: Monday and Tuesday
    christmas = date(2026, 12, 25)
    assert contact_due(date(2026, 12, 24), ny(christmas)) == datetime(2026, 12, 29, 22, 0, tzinfo=UTC)


def test_the_contact_deadline_across_dst_changes() -> None:
    cal = ny()
    # Thursday 2027-03-11 (EST) -> Monday 03-15 17:00 EDT
    assert contact_due(date(2027, 3, 11), cal) == datetime(2027, 3, 15, 21, 0, tzinfo=UTC)
    # Thursday 2026-10-29 (EDT) -> Monday 11-02 17:00 EST
    assert contact_due(date(2026, 10, 29), cal) == datetime(2026, 11, 2, 22, 0, tzinfo=UTC)


def test_the_visit_is_due_by_the_end_of_day_7_or_day_14() -> None:
    cal = ny()
    assert visit_due(DAY0, HIGH, cal) == HIGH_DUE
    assert visit_due(DAY0, MODERATE, cal) == MODERATE_DUE
    # discharged Friday 2027-03-12, before spring forward: day 7 and day 14 end on EDT midnights
    assert visit_due(date(2027, 3, 12), HIGH, cal) == datetime(2027, 3, 20, 4, 0, tzinfo=UTC)
    assert visit_due(date(2027, 3, 12), MODERATE, cal) == datetime(2027, 3, 27, 4, 0, tzinfo=UTC)


def test_the_reconciliation_is_due_by_the_visit_s_local_date_or_the_window_s_end() -> None:
    cal = ny()
    e = episode()
    assert reconciliation_due(e.visit, cal) == MODERATE_DUE
    # 23:30 in New York on day 7 is already day 8 in UTC: still due by the end of day 7
    late_evening = e.visit.model_copy(update={"visit_at": on_day(7, 23, 30)})
    assert reconciliation_due(late_evening, cal) == HIGH_DUE


# ---------------------------------------------------------------- opening


def test_an_episode_opens_with_its_four_deadlines() -> None:
    e = episode(encounter_id="enc-1", owner_id="coord-7", patient_name="Ada L.", disposition="home")
    assert (e.id, e.version, e.patient_id, e.status, e.complexity) == (
        "tr-1",
        1,
        "pat-1",
        EpisodeStatus.OPEN,
        MODERATE,
    )
    assert (e.discharged_at, e.discharge_date, e.period_ends_on) == (DISCHARGED, DAY0, PERIOD_LAST)
    assert e.time_zone == "America/New_York"  # the zone its days are counted in
    assert (e.opened_by, e.created_at, e.updated_at) == ("coord-1", OPENED, OPENED)
    assert (e.encounter_id, e.owner_id, e.patient_name, e.disposition) == (
        "enc-1",
        "coord-7",
        "Ada L.",
        "home",
    )
    assert (e.contact.status, e.contact.due_at, e.contact.attempts, e.contact.met_by) == (
        S.PENDING,
        CONTACT_DUE,
        [],
        None,
    )
    assert (e.visit.status, e.visit.due_at, e.visit.booking_due_at) == (S.PENDING, MODERATE_DUE, BOOKING_DUE)
    assert (e.visit.appointment_id, e.visit.visit_at, e.visit.in_window) == (None, None, None)
    assert (e.medication.status, e.medication.due_at) == (S.PENDING, MODERATE_DUE)
    assert (e.close.status, e.close.due_at) == (S.PENDING, CLOSE_DUE)
    assert (e.warnings, e.readmission, e.close_reason, e.closed_at, e.eligibility) == (
        [],
        None,
        None,
        None,
        None,
    )
    assert (e.previous_id, e.next_id) == (None, None)


def test_a_high_complexity_episode_has_the_seven_day_window() -> None:
    e = episode(HIGH)
    assert (e.complexity, e.visit.due_at, e.medication.due_at) == (HIGH, HIGH_DUE, HIGH_DUE)
    assert e.visit.booking_due_at == BOOKING_DUE


def test_day_0_is_the_local_date_of_the_discharge() -> None:
    # 22:30 on Thursday in New York is 03:30 on Friday in UTC: day 0 is still Thursday
    e = episode(discharged_at=datetime(2026, 12, 4, 3, 30, tzinfo=UTC))
    assert (e.discharge_date, e.period_ends_on) == (DAY0, PERIOD_LAST)
    assert (e.contact.due_at, e.visit.due_at, e.close.due_at) == (CONTACT_DUE, MODERATE_DUE, CLOSE_DUE)


def test_an_episode_opened_before_spring_forward() -> None:
    # Friday 2027-03-12 14:00 EST
    e = episode(HIGH, discharged_at=datetime(2027, 3, 12, 19, 0, tzinfo=UTC))
    assert e.discharge_date == date(2027, 3, 12)
    assert e.contact.due_at == datetime(2027, 3, 16, 21, 0, tzinfo=UTC)  # Tuesday 17:00 EDT
    assert e.visit.booking_due_at == datetime(2027, 3, 16, 4, 0, tzinfo=UTC)  # the end of Monday, EDT
    assert e.visit.due_at == datetime(2027, 3, 20, 4, 0, tzinfo=UTC)
    assert e.period_ends_on == date(2027, 4, 10)
    assert e.close.due_at == datetime(2027, 4, 11, 4, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the contact


def test_a_reached_patient_completes_the_contact() -> None:
    e, done = record_contact(episode(), attempt(on_day(1), reached=True, by="coord-2"))
    assert done is True
    c = e.contact
    assert (c.status, c.met_by, c.completed_at, c.on_time, c.by_id) == (
        S.COMPLETED,
        "reached",
        on_day(1),
        True,
        "coord-2",
    )
    assert [(a.at, a.reached) for a in c.attempts] == [(on_day(1), True)]


def test_the_second_unsuccessful_attempt_in_the_window_completes_the_contact() -> None:
    first, done = record_contact(episode(), attempt(on_day(1), by="coord-2"))
    assert done is False
    assert (first.contact.status, first.contact.completed_at, first.contact.met_by) == (S.PENDING, None, None)
    second, done = record_contact(first, attempt(on_day(2), by="coord-3"))
    assert done is True
    c = second.contact
    assert (c.status, c.met_by, c.completed_at, c.on_time, c.by_id) == (
        S.COMPLETED,
        "attempts",
        on_day(2),
        True,
        "coord-3",
    )
    assert len(c.attempts) == 2


def test_an_attempt_exactly_at_the_deadline_still_counts() -> None:
    first, _ = record_contact(episode(), attempt(CONTACT_DUE - timedelta(hours=1)))
    second, done = record_contact(first, attempt(CONTACT_DUE))
    assert done is True and second.contact.met_by == "attempts" and second.contact.on_time is True
    # both exactly at the deadline: both count
    both, _ = record_contact(episode(), attempt(CONTACT_DUE))
    both, done = record_contact(both, attempt(CONTACT_DUE))
    assert done is True and both.contact.completed_at == CONTACT_DUE


def test_an_attempt_after_the_deadline_does_not_count() -> None:
    first, _ = record_contact(episode(), attempt(on_day(1)))
    late, done = record_contact(first, attempt(CONTACT_DUE + US))
    assert done is False and late.contact.status is S.PENDING and len(late.contact.attempts) == 2
    # a late first attempt and an in-window second one: only one counts
    late_first, _ = record_contact(episode(), attempt(CONTACT_DUE + US))
    in_window_second, done = record_contact(late_first, attempt(on_day(1)))
    assert done is False and in_window_second.contact.status is S.PENDING


def test_attempts_recorded_late_count_by_when_they_were_made() -> None:
    missed, _ = sweep(episode(), CONTACT_DUE)
    assert missed.contact.status is S.MISSED
    one, _ = record_contact(missed, attempt(on_day(1)))
    two, done = record_contact(one, attempt(on_day(2)))
    assert done is True
    assert (two.contact.status, two.contact.on_time, two.contact.missed_at) == (
        S.COMPLETED,
        True,
        CONTACT_DUE,
    )


def test_a_patient_reached_late_completes_the_contact_late() -> None:
    missed, _ = sweep(episode(), CONTACT_DUE)
    late, done = record_contact(missed, attempt(on_day(5), reached=True))
    assert done is True
    assert (late.contact.status, late.contact.on_time, late.contact.met_by) == (S.COMPLETED, False, "reached")
    assert late.contact.missed_at == CONTACT_DUE


def test_attempts_after_the_contact_is_done_are_kept_and_change_nothing() -> None:
    first, _ = record_contact(episode(), attempt(on_day(1)))
    done_by_attempts, _ = record_contact(first, attempt(on_day(2)))
    after, done = record_contact(done_by_attempts, attempt(on_day(3), reached=True, by="coord-9"))
    assert done is False
    assert after.contact.model_dump(exclude={"attempts"}) == done_by_attempts.contact.model_dump(
        exclude={"attempts"}
    )
    assert [a.at for a in after.contact.attempts] == [on_day(1), on_day(2), on_day(3)]
    reached = contacted(episode())
    again, done = record_contact(reached, attempt(on_day(2)))
    assert done is False and again.contact.completed_at == reached.contact.completed_at


def test_only_the_latest_attempts_are_kept() -> None:
    e = episode()
    times = [CONTACT_DUE + timedelta(minutes=i + 1) for i in range(MAX_ATTEMPTS + 1)]
    for at in times:
        e, done = record_contact(e, attempt(at))
        assert done is False
    assert MAX_ATTEMPTS == 20
    assert [a.at for a in e.contact.attempts] == times[1:]


# ---------------------------------------------------------------- the visit


def test_the_window_runs_from_the_discharge_to_the_visit_deadline() -> None:
    e = episode()
    assert in_window(e, DISCHARGED)
    assert not in_window(e, DISCHARGED - US)
    assert in_window(e, MODERATE_DUE - US)
    assert not in_window(e, MODERATE_DUE)
    assert not in_window(episode(HIGH), HIGH_DUE)
    assert in_window(episode(HIGH), HIGH_DUE - US)


def test_a_booking_inside_the_window_meets_the_booking_part() -> None:
    e, met = book_visit(episode(), "appt-1", on_day(5, 10), on_day(1), ny())
    assert met is True
    v = e.visit
    assert (v.status, v.appointment_id, v.visit_at, v.booked_at, v.in_window) == (
        S.BOOKED,
        "appt-1",
        on_day(5, 10),
        on_day(1),
        True,
    )
    assert e.warnings == []
    assert e.medication.due_at == datetime(2026, 12, 9, 5, 0, tzinfo=UTC)  # the end of day 5


def test_a_booking_outside_the_window_is_kept_with_a_warning() -> None:
    e, met = book_visit(episode(), "appt-1", on_day(16), on_day(1), ny())
    assert met is False
    assert (e.visit.status, e.visit.appointment_id, e.visit.in_window) == (S.BOOKED, "appt-1", False)
    assert [(w.code, w.at, w.appointment_id) for w in e.warnings] == [
        (WarningCode.VISIT_OUTSIDE_WINDOW, on_day(1), "appt-1")
    ]
    assert e.medication.due_at == datetime(2026, 12, 20, 5, 0, tzinfo=UTC)  # the end of day 16


def test_a_booking_exactly_at_the_discharge_or_the_deadline() -> None:
    at_discharge, met = book_visit(episode(), "appt-1", DISCHARGED, on_day(1), ny())
    assert met is True and at_discharge.visit.in_window is True
    at_deadline, met = book_visit(episode(), "appt-1", MODERATE_DUE, on_day(1), ny())
    assert met is False and at_deadline.visit.in_window is False
    assert [w.code for w in at_deadline.warnings] == [WarningCode.VISIT_OUTSIDE_WINDOW]


def test_the_booked_visit_moved_keeps_when_it_was_booked() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(5), on_day(1), ny())
    moved, met = book_visit(booked, "appt-1", on_day(9), on_day(2), ny())
    assert met is False  # the booking part was already met
    assert (moved.visit.visit_at, moved.visit.booked_at, moved.visit.in_window) == (
        on_day(9),
        on_day(1),
        True,
    )
    assert moved.medication.due_at == datetime(2026, 12, 13, 5, 0, tzinfo=UTC)  # the end of day 9


def test_a_booked_visit_rescheduled_outside_the_window_and_back() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(5), on_day(1), ny())
    out, met = book_visit(booked, "appt-1", on_day(20), on_day(2), ny())
    assert met is False
    assert (out.visit.status, out.visit.in_window, out.visit.booked_at) == (S.BOOKED, False, on_day(1))
    assert [(w.code, w.at) for w in out.warnings] == [(WarningCode.VISIT_OUTSIDE_WINDOW, on_day(2))]
    back, met = book_visit(out, "appt-1", on_day(6), on_day(3), ny())
    assert met is True and back.visit.in_window is True
    assert len(back.warnings) == 1


def test_another_appointment_does_not_replace_one_booked_inside_the_window() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(5), on_day(1), ny())
    for when in (on_day(4), on_day(20)):
        same, met = book_visit(booked, "appt-2", when, on_day(2), ny())
        assert met is False and same is booked


def test_one_inside_the_window_replaces_one_booked_outside_it() -> None:
    outside, _ = book_visit(episode(), "appt-1", on_day(20), on_day(1), ny())
    later, met = book_visit(outside, "appt-2", on_day(21), on_day(2), ny())
    assert met is False and later is outside  # outside for outside: no better
    better, met = book_visit(outside, "appt-2", on_day(8), on_day(2), ny())
    assert met is True
    v = better.visit
    assert (v.appointment_id, v.visit_at, v.booked_at, v.in_window) == ("appt-2", on_day(8), on_day(2), True)
    assert len(better.warnings) == 1  # only the first booking's


def test_a_chosen_appointment_replaces_any() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(5), on_day(1), ny())
    chosen, met = book_visit(booked, "appt-2", on_day(20), on_day(2), ny(), chosen=True)
    assert met is False
    assert (chosen.visit.appointment_id, chosen.visit.in_window, chosen.visit.booked_at) == (
        "appt-2",
        False,
        on_day(2),
    )
    assert [w.appointment_id for w in chosen.warnings] == ["appt-2"]
    inside, met = book_visit(booked, "appt-3", on_day(6), on_day(2), ny(), chosen=True)
    assert met is False  # one inside the window was booked already
    assert (inside.visit.appointment_id, inside.visit.visit_at) == ("appt-3", on_day(6))
    back, met = book_visit(chosen, "appt-3", on_day(6), on_day(3), ny(), chosen=True)
    assert met is True and back.visit.in_window is True


def test_a_held_visit_is_not_rebooked() -> None:
    held = seen(episode(), 5)
    for chosen in (False, True):
        same, met = book_visit(held, "appt-2", on_day(6), on_day(6), ny(), chosen=chosen)
        assert met is False and same is held


def test_booking_after_the_visit_was_missed_keeps_it_missed() -> None:
    missed, _ = sweep(episode(), MODERATE_DUE)
    booked, met = book_visit(missed, "appt-1", on_day(16), on_day(15), ny())
    assert met is False
    assert (booked.visit.status, booked.visit.appointment_id, booked.visit.missed_at) == (
        S.MISSED,
        "appt-1",
        MODERATE_DUE,
    )


def test_only_the_latest_warnings_are_kept() -> None:
    e = episode()
    for i in range(MAX_WARNINGS + 1):
        e, _ = book_visit(e, "appt-1", on_day(20), on_day(1) + timedelta(minutes=i), ny())
    assert MAX_WARNINGS == 20
    assert [w.at for w in e.warnings] == [
        on_day(1) + timedelta(minutes=i) for i in range(1, MAX_WARNINGS + 1)
    ]


def test_a_cancelled_visit_waits_for_another_booking() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(5), on_day(1), ny())
    freed = unbook_visit(booked, "appt-1", WarningCode.VISIT_CANCELLED, on_day(2), ny())
    v = freed.visit
    assert (v.status, v.appointment_id, v.visit_at, v.booked_at, v.in_window) == (
        S.PENDING,
        None,
        None,
        None,
        None,
    )
    assert [(w.code, w.at, w.appointment_id) for w in freed.warnings] == [
        (WarningCode.VISIT_CANCELLED, on_day(2), "appt-1")
    ]
    assert freed.medication.due_at == MODERATE_DUE
    rebooked, met = book_visit(freed, "appt-2", on_day(6), on_day(3), ny())
    assert met is True and rebooked.visit.booked_at == on_day(3)


def test_a_no_show_after_the_deadline_leaves_the_visit_missed() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(14, 9), on_day(1), ny())
    missed, _ = sweep(booked, MODERATE_DUE)
    freed = unbook_visit(missed, "appt-1", WarningCode.VISIT_NO_SHOW, on_day(15), ny())
    assert (freed.visit.status, freed.visit.appointment_id, freed.visit.missed_at) == (
        S.MISSED,
        None,
        MODERATE_DUE,
    )
    assert [w.code for w in freed.warnings] == [WarningCode.VISIT_NO_SHOW]


def test_only_the_visit_s_own_appointment_unbooks_it() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(5), on_day(1), ny())
    assert unbook_visit(booked, "appt-2", WarningCode.VISIT_CANCELLED, on_day(2), ny()) is booked
    held = seen(episode(), 5)
    assert unbook_visit(held, "appt-1", WarningCode.VISIT_CANCELLED, on_day(6), ny()) is held
    shut = close(booked, CloseReason.DECLINED, on_day(2), "coord-1", ny())
    assert unbook_visit(shut, "appt-1", WarningCode.VISIT_CANCELLED, on_day(3), ny()) is shut


def test_a_visit_held_in_the_window_completes_the_step() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(6, 9), on_day(1), ny())
    held = hold_visit(booked, "appt-1", on_day(6, 9), "doc-1", ny())
    v = held.visit
    assert (v.status, v.completed_at, v.on_time, v.by_id, v.appointment_id, v.visit_at, v.in_window) == (
        S.COMPLETED,
        on_day(6, 9),
        True,
        "doc-1",
        "appt-1",
        on_day(6, 9),
        True,
    )
    assert held.medication.due_at == datetime(2026, 12, 10, 5, 0, tzinfo=UTC)  # the end of day 6


def test_a_visit_held_without_a_booking_or_late() -> None:
    walk_in = hold_visit(episode(), "appt-9", on_day(4), None, ny())
    assert (walk_in.visit.status, walk_in.visit.appointment_id, walk_in.visit.by_id) == (
        S.COMPLETED,
        "appt-9",
        None,
    )
    late = hold_visit(episode(), "appt-1", on_day(15), "doc-1", ny())
    assert (late.visit.on_time, late.visit.in_window) == (False, False)
    assert late.medication.due_at == datetime(2026, 12, 19, 5, 0, tzinfo=UTC)  # the end of day 15
    assert hold_visit(late, "appt-2", on_day(16), "doc-2", ny()) is late  # held once


def test_a_visit_just_inside_the_window() -> None:
    held = hold_visit(episode(), "appt-1", MODERATE_DUE - US, "doc-1", ny())
    assert (held.visit.on_time, held.visit.in_window) == (True, True)


def test_a_visit_exactly_at_the_deadline_is_on_time_only_if_in_the_window() -> None:
    held = hold_visit(episode(), "appt-1", MODERATE_DUE, "doc-1", ny())
    assert held.visit.on_time == held.visit.in_window


def test_a_reconciliation_exactly_at_its_deadline_is_on_time_only_if_eligibility_agrees() -> None:
    held = seen(contacted(episode()), 10)
    done = reconcile(held, held.medication.due_at, "nurse-1", None, None)
    outcome = eligibility(done, CloseReason.COMPLETED, ny())
    assert done.medication.on_time is (Failure.RECONCILIATION_MISSING not in outcome.failures)


# ---------------------------------------------------------------- medication reconciliation


def test_a_reconciliation_by_the_visit_s_date_is_on_time() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(5), on_day(1), ny())
    done = reconcile(booked, on_day(5, 23), "nurse-1", 3, "two stopped, one new")
    m = done.medication
    assert (m.status, m.completed_at, m.on_time, m.by_id, m.changes, m.note) == (
        S.COMPLETED,
        on_day(5, 23),
        True,
        "nurse-1",
        3,
        "two stopped, one new",
    )
    late = reconcile(booked, on_day(6), "nurse-1", None, None)
    assert (late.medication.on_time, late.medication.changes, late.medication.note) == (False, None, None)


def test_a_later_reconciliation_updates_the_changes_and_keeps_when_the_step_was_met() -> None:
    """A follow-up change after the visit must not make a reconciliation done on time late."""
    first = reconcile(episode(), on_day(2), "nurse-1", 1, "a")
    second = reconcile(first, on_day(20), "nurse-2", None, "b")
    m = second.medication
    assert (m.completed_at, m.by_id, m.changes, m.note, m.on_time) == (on_day(2), "nurse-1", None, "b", True)


def test_a_done_reconciliation_keeps_its_deadline_when_the_visit_moves() -> None:
    done = reconcile(episode(), on_day(2), "nurse-1", None, None)
    booked, _ = book_visit(done, "appt-1", on_day(5), on_day(3), ny())
    assert booked.medication.due_at == MODERATE_DUE
    held = hold_visit(booked, "appt-1", on_day(5), None, ny())
    assert held.medication == done.medication


# ---------------------------------------------------------------- complexity


def test_high_complexity_shortens_the_window() -> None:
    high = with_complexity(episode(), HIGH, ny())
    assert (high.complexity, high.visit.due_at, high.medication.due_at) == (HIGH, HIGH_DUE, HIGH_DUE)
    assert high.visit.status is S.PENDING
    back = with_complexity(high, MODERATE, ny())
    assert (back.complexity, back.visit.due_at, back.medication.due_at) == (
        MODERATE,
        MODERATE_DUE,
        MODERATE_DUE,
    )


def test_a_booked_visit_is_in_or_out_of_the_window_by_the_complexity() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(10), on_day(1), ny())
    high = with_complexity(booked, HIGH, ny())
    assert (high.visit.in_window, high.visit.status, high.visit.due_at) == (False, S.BOOKED, HIGH_DUE)
    assert high.medication.due_at == datetime(2026, 12, 14, 5, 0, tzinfo=UTC)  # still the visit's day
    assert with_complexity(high, MODERATE, ny()).visit.in_window is True
    # the window's bounds: the discharge itself is in, the deadline out
    at_discharge, _ = book_visit(episode(), "appt-1", DISCHARGED, on_day(1), ny())
    assert with_complexity(at_discharge, HIGH, ny()).visit.in_window is True
    at_deadline, _ = book_visit(episode(), "appt-1", HIGH_DUE, on_day(1), ny())
    assert with_complexity(at_deadline, HIGH, ny()).visit.in_window is False
    assert with_complexity(at_deadline, MODERATE, ny()).visit.in_window is True


def test_a_visit_missed_under_the_short_window_opens_again_under_the_long_one() -> None:
    missed, _ = sweep(episode(HIGH), HIGH_DUE)
    assert missed.visit.status is S.MISSED
    again = with_complexity(missed, MODERATE, ny())
    assert (again.visit.status, again.visit.missed_at, again.visit.due_at) == (S.PENDING, None, MODERATE_DUE)
    assert again.medication.status is S.MISSED  # a missed reconciliation stays missed
    booked, _ = book_visit(episode(HIGH), "appt-1", on_day(9), on_day(1), ny())
    missed_booked, _ = sweep(booked, HIGH_DUE)
    assert with_complexity(missed_booked, MODERATE, ny()).visit.status is S.BOOKED


def test_a_missed_visit_stays_missed_when_the_window_does_not_grow() -> None:
    missed, _ = sweep(episode(MODERATE), MODERATE_DUE)
    same = with_complexity(missed, MODERATE, ny())
    assert (same.visit.status, same.visit.missed_at) == (S.MISSED, MODERATE_DUE)
    shorter = with_complexity(missed, HIGH, ny())
    assert (shorter.visit.status, shorter.visit.missed_at, shorter.visit.due_at) == (
        S.MISSED,
        MODERATE_DUE,
        HIGH_DUE,
    )


def test_a_held_visit_s_timeliness_follows_the_complexity() -> None:
    held = hold_visit(episode(HIGH), "appt-1", on_day(10), "doc-1", ny())
    assert (held.visit.on_time, held.visit.in_window) == (False, False)
    moderate = with_complexity(held, MODERATE, ny())
    assert (moderate.visit.on_time, moderate.visit.in_window) == (True, True)


# ---------------------------------------------------------------- the timer


def test_nothing_is_missed_before_its_deadline() -> None:
    e = episode()
    same, missed = sweep(e, BOOKING_DUE - US)
    assert same is e and missed == []


def test_each_deadline_is_missed_at_its_instant() -> None:
    e, missed = sweep(episode(), BOOKING_DUE)
    assert missed == ["visit-booking"]
    assert (e.visit.booking_missed_at, e.visit.status, e.contact.status) == (
        BOOKING_DUE,
        S.PENDING,
        S.PENDING,
    )
    same, missed = sweep(e, CONTACT_DUE - US)
    assert missed == [] and same is e
    e, missed = sweep(e, CONTACT_DUE)
    assert missed == ["contact"]
    assert (e.contact.status, e.contact.missed_at, e.visit.booking_missed_at) == (
        S.MISSED,
        CONTACT_DUE,
        BOOKING_DUE,
    )
    e, missed = sweep(e, MODERATE_DUE)
    assert missed == ["visit", "medication-reconciliation"]
    assert (e.visit.status, e.visit.missed_at) == (S.MISSED, MODERATE_DUE)
    assert (e.medication.status, e.medication.missed_at) == (S.MISSED, MODERATE_DUE)
    again, missed = sweep(e, CLOSE_DUE)
    assert missed == [] and again is e


def test_one_late_sweep_misses_everything_at_once() -> None:
    e, missed = sweep(episode(), on_day(20))
    assert missed == ["contact", "visit-booking", "visit", "medication-reconciliation"]
    assert (e.contact.missed_at, e.visit.booking_missed_at, e.visit.missed_at, e.medication.missed_at) == (
        on_day(20),
        on_day(20),
        on_day(20),
        on_day(20),
    )


def test_a_visit_booked_in_time_is_not_missed_on_day_3_but_is_when_not_held() -> None:
    booked, _ = book_visit(episode(), "appt-1", on_day(5), on_day(1), ny())
    e, missed = sweep(booked, BOOKING_DUE)
    assert missed == [] and e.visit.booking_missed_at is None
    e, missed = sweep(booked, datetime(2026, 12, 9, 5, 0, tzinfo=UTC))  # the end of day 5
    assert missed == ["contact", "medication-reconciliation"]
    e, missed = sweep(e, MODERATE_DUE)
    assert missed == ["visit"] and e.visit.status is S.MISSED


def test_a_visit_booked_outside_the_window_is_still_a_missed_booking_on_day_3() -> None:
    # the booking outside the window is a warning, and no visit is booked in the window yet
    booked, _ = book_visit(episode(), "appt-1", on_day(20), on_day(1), ny())
    assert next_check(booked) == BOOKING_DUE
    _, missed = sweep(booked, BOOKING_DUE)
    assert missed == ["visit-booking"]


def test_done_steps_are_not_missed() -> None:
    e = reconciled(seen(contacted(episode()), 2), 2)
    same, missed = sweep(e, on_day(20))
    assert missed == [] and same is e


def test_a_paused_or_closed_episode_misses_nothing() -> None:
    paused = readmit(episode(), on_day(1), "enc-2")
    same, missed = sweep(paused, on_day(20))
    assert missed == [] and same is paused
    shut = close(episode(), CloseReason.OTHER, on_day(1), "coord-1", ny())
    same, missed = sweep(shut, on_day(20))
    assert missed == [] and same is shut


def test_the_timer_fires_at_the_nearest_deadline_neither_done_nor_missed() -> None:
    e = episode()
    assert next_check(e) == BOOKING_DUE
    booked, _ = book_visit(e, "appt-1", on_day(10), on_day(1), ny())
    assert next_check(booked) == CONTACT_DUE
    done = contacted(booked)
    assert next_check(done) == datetime(2026, 12, 14, 5, 0, tzinfo=UTC)  # reconciliation: the end of day 10
    assert next_check(reconcile(done, on_day(2), "nurse-1", None, None)) == MODERATE_DUE  # the booked visit
    all_done = reconciled(seen(contacted(episode()), 5), 5)
    assert next_check(all_done) == CLOSE_DUE


def test_missed_deadlines_do_not_hold_the_timer() -> None:
    swept, _ = sweep(episode(), CONTACT_DUE)
    assert next_check(swept) == MODERATE_DUE
    swept, _ = sweep(swept, MODERATE_DUE)
    assert next_check(swept) == CLOSE_DUE


def test_a_paused_episode_waits_for_the_period_s_end_and_a_closed_one_for_nothing() -> None:
    paused = readmit(episode(), on_day(1), None)
    assert next_check(paused) == CLOSE_DUE
    assert next_check(close(episode(), CloseReason.MOVED, on_day(1), "coord-1", ny())) is None


# ---------------------------------------------------------------- readmission


def test_a_readmission_pauses_the_episode() -> None:
    e = contacted(episode())
    paused = readmit(e, on_day(4), "enc-2")
    assert paused.status is EpisodeStatus.PAUSED
    assert paused.readmission is not None
    assert (paused.readmission.admitted_at, paused.readmission.encounter_id) == (on_day(4), "enc-2")
    assert paused.steps() == e.steps()
    again = readmit(paused, on_day(6), None)
    assert again.readmission is not None and again.readmission.admitted_at == on_day(6)


# ---------------------------------------------------------------- eligibility and closing


def outcome(
    e: TransitionOut, reason: CloseReason = CloseReason.COMPLETED
) -> tuple[TcmCode | None, list[Failure]]:
    result = eligibility(e, reason, ny())
    assert result.qualifies is (result.code is not None)
    return result.code, result.failures


@pytest.mark.parametrize(
    ("complexity", "day", "code"),
    [
        (HIGH, 0, TcmCode.HIGH),
        (HIGH, 7, TcmCode.HIGH),
        (HIGH, 8, TcmCode.MODERATE),  # too late for 99496, in time for 99495
        (HIGH, 14, TcmCode.MODERATE),
        (MODERATE, 5, TcmCode.MODERATE),
        (MODERATE, 14, TcmCode.MODERATE),
    ],
)
def test_the_code_an_episode_qualifies_for(complexity: Complexity, day: int, code: TcmCode) -> None:
    e = qualifying(complexity, day)
    assert outcome(e) == (code, [])
    assert eligibility(e, CloseReason.PERIOD_ENDED, ny()) == Eligibility(qualifies=True, code=code)


@pytest.mark.parametrize("complexity", [HIGH, MODERATE])
def test_a_visit_on_day_15_is_late_for_either_code(complexity: Complexity) -> None:
    assert outcome(qualifying(complexity, 15)) == (None, [Failure.VISIT_LATE])


def test_the_visit_s_day_is_its_local_date() -> None:
    # 23:30 in New York on day 7 (04:30Z on day 8): day 7, 99496
    late_evening = reconcile(seen(contacted(episode(HIGH)), 7, 23), on_day(7, 23, 45), "n", None, None)
    assert outcome(late_evening) == (TcmCode.HIGH, [])
    on_day_14 = reconcile(seen(contacted(episode()), 14, 23), on_day(14, 23, 45), "n", None, None)
    assert outcome(on_day_14) == (TcmCode.MODERATE, [])


def test_a_late_or_missing_contact_fails() -> None:
    late = reconciled(seen(contacted(episode(), on_day(5)), 6), 6)
    assert outcome(late) == (None, [Failure.CONTACT_LATE])
    none = reconciled(seen(episode(), 6), 6)
    assert outcome(none) == (None, [Failure.CONTACT_LATE])
    first, _ = record_contact(episode(), attempt(on_day(1)))
    by_attempts, _ = record_contact(first, attempt(on_day(2)))
    assert outcome(reconciled(seen(by_attempts, 6), 6)) == (TcmCode.MODERATE, [])


def test_the_reconciliation_is_due_by_the_visit_s_date() -> None:
    held = seen(contacted(episode()), 10)
    assert outcome(reconciled(held, 9)) == (TcmCode.MODERATE, [])  # before the visit
    assert outcome(reconciled(held, 10, 23)) == (TcmCode.MODERATE, [])
    assert outcome(reconciled(held, 11, 0)) == (None, [Failure.RECONCILIATION_MISSING])
    assert outcome(held) == (None, [Failure.RECONCILIATION_MISSING])


def test_without_a_visit_the_reconciliation_is_due_by_the_window_s_last_day() -> None:
    e = contacted(episode())
    assert outcome(reconciled(e, 14, 23)) == (None, [Failure.VISIT_LATE])
    assert outcome(reconciled(e, 15, 0)) == (None, [Failure.VISIT_LATE, Failure.RECONCILIATION_MISSING])
    high = contacted(episode(HIGH))
    assert outcome(reconciled(high, 7, 23)) == (None, [Failure.VISIT_LATE])
    assert outcome(reconciled(high, 8, 0)) == (None, [Failure.VISIT_LATE, Failure.RECONCILIATION_MISSING])


def test_a_readmission_fails_whatever_the_reason() -> None:
    paused = readmit(qualifying(), on_day(12), "enc-2")
    assert outcome(paused, CloseReason.PERIOD_ENDED) == (None, [Failure.READMITTED])
    assert outcome(qualifying(), CloseReason.READMITTED) == (None, [Failure.READMITTED])


@pytest.mark.parametrize(
    ("reason", "failures"),
    [
        (CloseReason.COMPLETED, []),
        (CloseReason.PERIOD_ENDED, []),
        (CloseReason.READMITTED, [Failure.READMITTED]),
        (CloseReason.DECLINED, [Failure.ENDED_EARLY]),
        (CloseReason.DECEASED, [Failure.ENDED_EARLY]),
        (CloseReason.MOVED, [Failure.ENDED_EARLY]),
        (CloseReason.OTHER, [Failure.ENDED_EARLY]),
    ],
)
def test_ending_early_fails(reason: CloseReason, failures: list[Failure]) -> None:
    assert outcome(qualifying(), reason) == (None if failures else TcmCode.MODERATE, failures)


def test_every_rule_failed_is_named_in_order() -> None:
    nothing = readmit(episode(), on_day(1), None)
    assert eligibility(nothing, CloseReason.DECLINED, ny()) == Eligibility(
        qualifies=False,
        failures=[
            Failure.CONTACT_LATE,
            Failure.VISIT_LATE,
            Failure.RECONCILIATION_MISSING,
            Failure.READMITTED,
            Failure.ENDED_EARLY,
        ],
    )


def test_closing_records_the_outcome() -> None:
    e = qualifying(HIGH, 5)
    shut = close(e, CloseReason.COMPLETED, on_day(6), "coord-2", ny())
    assert (shut.status, shut.close_reason, shut.closed_at) == (
        EpisodeStatus.CLOSED,
        CloseReason.COMPLETED,
        on_day(6),
    )
    c = shut.close
    assert (c.status, c.completed_at, c.on_time, c.by_id, c.due_at) == (
        S.COMPLETED,
        on_day(6),
        True,
        "coord-2",
        CLOSE_DUE,
    )
    assert shut.eligibility == Eligibility(qualifies=True, code=TcmCode.HIGH)
    assert shut.steps()[StepName.VISIT] == e.visit
    at_end = close(e, CloseReason.PERIOD_ENDED, CLOSE_DUE, "system", ny())
    assert at_end.close.on_time is True
    after = close(e, CloseReason.PERIOD_ENDED, CLOSE_DUE + US, "system", ny())
    assert after.close.on_time is False


def test_a_closed_episode_takes_nothing_more() -> None:
    shut = close(episode(), CloseReason.DECLINED, on_day(1), "coord-1", ny())
    assert shut.eligibility is not None and Failure.ENDED_EARLY in shut.eligibility.failures
    attempts = [
        lambda: record_contact(shut, attempt(on_day(2), reached=True)),
        lambda: book_visit(shut, "appt-1", on_day(5), on_day(2), ny()),
        lambda: book_visit(shut, "appt-1", on_day(5), on_day(2), ny(), chosen=True),
        lambda: hold_visit(shut, "appt-1", on_day(5), None, ny()),
        lambda: reconcile(shut, on_day(2), "nurse-1", None, None),
        lambda: with_complexity(shut, HIGH, ny()),
        lambda: readmit(shut, on_day(2), None),
        lambda: close(shut, CloseReason.OTHER, on_day(2), "coord-1", ny()),
    ]
    for call in attempts:
        with pytest.raises(Closed, match=r"^closed$"):
            call()


# ---------------------------------------------------------------- what a change amounts to


def test_the_contact_completed_on_time_or_late() -> None:
    e = episode()
    assert completed(e, contacted(e)) == [("contact", True)]
    assert completed(e, contacted(e, on_day(6))) == [("contact", False)]
    done = contacted(e)
    assert completed(done, record_contact(done, attempt(on_day(2), reached=True))[0]) == []
    first, _ = record_contact(e, attempt(on_day(1)))
    assert completed(e, first) == []


def test_the_booking_part_met_in_time_or_late() -> None:
    e = episode()
    booked, _ = book_visit(e, "appt-1", on_day(5), on_day(1), ny())
    assert completed(e, booked) == [("visit-booking", True)]
    late_check, _ = sweep(e, BOOKING_DUE)
    booked_late, _ = book_visit(late_check, "appt-1", on_day(5), on_day(4), ny())
    assert completed(late_check, booked_late) == [("visit-booking", False)]
    outside, _ = book_visit(e, "appt-1", on_day(20), on_day(1), ny())
    assert completed(e, outside) == []
    moved, _ = book_visit(booked, "appt-1", on_day(6), on_day(2), ny())
    assert completed(booked, moved) == []
    brought_in, _ = book_visit(outside, "appt-1", on_day(6), on_day(2), ny())
    assert completed(outside, brought_in) == [("visit-booking", True)]


def test_the_visit_held() -> None:
    e = episode()
    booked, _ = book_visit(e, "appt-1", on_day(5), on_day(1), ny())
    assert completed(booked, hold_visit(booked, "appt-1", on_day(5), None, ny())) == [("visit", True)]
    # held without a booking: the booking part is met with it
    assert completed(e, hold_visit(e, "appt-1", on_day(5), None, ny())) == [
        ("visit-booking", True),
        ("visit", True),
    ]
    # held late with none booked in the window: the booking part is met late too (closes its escalation)
    late = [("visit-booking", False), ("visit", False)]
    assert completed(e, hold_visit(e, "appt-1", on_day(15), None, ny())) == late


def test_a_held_visit_brought_into_the_window_is_no_new_booking() -> None:
    held = hold_visit(episode(HIGH), "appt-1", on_day(10), None, ny())
    moderate = with_complexity(held, MODERATE, ny())
    assert moderate.visit.in_window is True
    assert completed(held, moderate) == []


def test_the_reconciliation_done_once() -> None:
    e = episode()
    done = reconcile(e, on_day(2), "nurse-1", None, None)
    assert completed(e, done) == [("medication-reconciliation", True)]
    assert completed(done, reconcile(done, on_day(3), "nurse-1", None, None)) == []
    late = reconcile(e, on_day(15), "nurse-1", None, None)
    assert completed(e, late) == [("medication-reconciliation", False)]
    assert completed(e, e) == []


# ---------------------------------------------------------------- what a list shows


def test_the_steps_in_order() -> None:
    e = episode()
    steps = e.steps()
    assert list(steps) == [StepName.CONTACT, StepName.VISIT, StepName.MEDICATION, StepName.CLOSE]
    assert (
        steps[StepName.CONTACT],
        steps[StepName.VISIT],
        steps[StepName.MEDICATION],
        steps[StepName.CLOSE],
    ) == (
        e.contact,
        e.visit,
        e.medication,
        e.close,
    )


def test_an_episode_sorts_by_its_nearest_undone_deadline() -> None:
    e = episode()
    assert e.sort_at() == CONTACT_DUE
    missed, _ = sweep(e, CONTACT_DUE)
    assert missed.sort_at() == CONTACT_DUE  # a missed step first
    done = contacted(e)
    assert done.sort_at() == MODERATE_DUE
    booked, _ = book_visit(done, "appt-1", on_day(5), on_day(1), ny())
    assert booked.sort_at() == datetime(2026, 12, 9, 5, 0, tzinfo=UTC)  # the reconciliation, by the visit
    all_done = reconciled(seen(done, 5), 5)
    assert all_done.sort_at() == CLOSE_DUE
    shut = close(all_done, CloseReason.COMPLETED, on_day(6), "coord-1", ny())
    assert shut.sort_at() == CLOSE_DUE  # nothing undone: the period's end


def test_as_seen_the_next_deadline_and_the_local_days_left() -> None:
    e = episode()
    view = e.as_seen(on_day(1), ny())
    assert (view.next_due_at, view.days_left, view.at_risk) == (CONTACT_DUE, 3, [])
    # 22:00 on Sunday in New York is Monday in UTC: one local day left
    sunday_night = e.as_seen(on_day(3, 22), ny())
    assert sunday_night.days_left == 1
    overdue = e.as_seen(on_day(6), ny())
    assert (overdue.next_due_at, overdue.days_left) == (CONTACT_DUE, -2)
    assert e.next_due_at is None  # the record itself is left as it was


def test_a_step_is_at_risk_in_its_last_quarter_or_once_missed() -> None:
    e = episode()
    contact_risk = risk_from(DISCHARGED, CONTACT_DUE)
    assert contact_risk == datetime(2026, 12, 6, 21, 30, tzinfo=UTC)  # 98 hours, the last 24.5
    assert e.as_seen(contact_risk - US, ny()).at_risk == []
    assert e.as_seen(contact_risk, ny()).at_risk == [StepName.CONTACT]
    visit_risk = datetime(2026, 12, 14, 14, 45, tzinfo=UTC)  # 345 hours, the last 86.25
    assert e.as_seen(visit_risk - US, ny()).at_risk == [StepName.CONTACT]
    assert e.as_seen(visit_risk, ny()).at_risk == [StepName.CONTACT, StepName.VISIT, StepName.MEDICATION]
    close_risk = datetime(2026, 12, 25, 20, 45, tzinfo=UTC)  # 705 hours, the last 176.25
    assert StepName.CLOSE not in e.as_seen(close_risk - US, ny()).at_risk
    assert StepName.CLOSE in e.as_seen(close_risk, ny()).at_risk


def test_a_missed_step_is_at_risk_a_booked_or_done_one_is_not() -> None:
    swept, _ = sweep(episode(), CONTACT_DUE)
    assert swept.as_seen(CONTACT_DUE, ny()).at_risk == [StepName.CONTACT]
    booked, _ = book_visit(contacted(episode()), "appt-1", on_day(13), on_day(1), ny())
    # the reconciliation, due by the end of day 13, is at risk from 80.25 hours before it
    assert booked.as_seen(datetime(2026, 12, 13, 22, 45, tzinfo=UTC), ny()).at_risk == [StepName.MEDICATION]
    done = reconcile(booked, on_day(2), "nurse-1", None, None)
    view = done.as_seen(on_day(12), ny())  # past the visit's last quarter, but it is booked
    assert view.at_risk == []
    assert (view.next_due_at, view.days_left) == (MODERATE_DUE, 3)  # the booked visit, by the end of day 14


def test_a_closed_episode_shows_no_deadline() -> None:
    open_view = episode().as_seen(on_day(6), ny())
    assert open_view.next_due_at is not None and open_view.at_risk
    shut = close(open_view, CloseReason.OTHER, on_day(6), "coord-1", ny())
    view = shut.as_seen(on_day(6), ny())
    assert (view.next_due_at, view.days_left, view.at_risk) == (None, None, [])


# ---------------------------------------------------------------- the report


def test_an_empty_report() -> None:
    out = report([], DAY0, PERIOD_LAST)
    assert out.model_dump() == {
        "first_day": DAY0,
        "last_day": PERIOD_LAST,
        "episodes": 0,
        "open": 0,
        "closed": 0,
        "contact_on_time": 0,
        "contact_rate": None,
        "visit_in_window": 0,
        "visit_rate": None,
        "readmissions": 0,
        "qualifying": {TcmCode.MODERATE: 0, TcmCode.HIGH: 0},
        "not_qualifying": dict.fromkeys(Failure, 0),
    }


def test_the_report_of_closed_episodes() -> None:
    cal = ny()
    high = close(qualifying(HIGH, 5), CloseReason.COMPLETED, on_day(6), "c", cal)
    first, _ = record_contact(episode(), attempt(on_day(1)))
    by_attempts, _ = record_contact(first, attempt(on_day(2)))
    late_visit = close(reconciled(seen(by_attempts, 15), 15), CloseReason.PERIOD_ENDED, CLOSE_DUE, "s", cal)
    declined = close(contacted(episode(), on_day(5)), CloseReason.DECLINED, on_day(6), "c", cal)
    out = report([high, late_visit, declined], DAY0, PERIOD_LAST)
    assert (out.episodes, out.open, out.closed, out.readmissions) == (3, 0, 3, 0)
    assert (out.contact_on_time, out.contact_rate) == (2, 0.6667)
    assert (out.visit_in_window, out.visit_rate) == (1, 0.3333)
    assert out.qualifying == {TcmCode.MODERATE: 0, TcmCode.HIGH: 1}
    assert out.not_qualifying == {
        Failure.CONTACT_LATE: 1,
        Failure.VISIT_LATE: 2,
        Failure.RECONCILIATION_MISSING: 1,
        Failure.READMITTED: 0,
        Failure.ENDED_EARLY: 1,
    }


def test_the_report_counts_only_decided_steps_of_open_episodes() -> None:
    cal = ny()
    fresh = episode()
    booked, _ = book_visit(contacted(episode()), "appt-1", on_day(5), on_day(1), cal)
    out = report([booked, fresh], DAY0, PERIOD_LAST)
    assert (out.open, out.closed, out.contact_on_time, out.contact_rate) == (2, 0, 1, 1.0)
    assert (out.visit_in_window, out.visit_rate) == (0, None)  # booked is not decided
    swept, _ = sweep(episode(), MODERATE_DUE)
    held = seen(episode(), 5)
    shut = close(episode(), CloseReason.MOVED, on_day(1), "c", cal)
    out = report([held, swept, fresh, shut], DAY0, PERIOD_LAST)
    assert (out.contact_on_time, out.contact_rate) == (0, 0.0)  # swept (missed) and shut: decided
    assert (out.visit_in_window, out.visit_rate) == (1, 0.3333)  # held, swept (missed), shut
    assert (out.open, out.closed) == (3, 1)
    assert out.qualifying == {TcmCode.MODERATE: 0, TcmCode.HIGH: 0}
    assert out.not_qualifying[Failure.ENDED_EARLY] == 1


def test_the_report_counts_readmissions() -> None:
    cal = ny()
    paused = readmit(episode(), on_day(3), "enc-2")
    closed_readmitted = close(episode(), CloseReason.READMITTED, on_day(4), "s", cal)
    paused_then_closed = close(
        readmit(episode(), on_day(3), None), CloseReason.READMITTED, CLOSE_DUE, "s", cal
    )
    out = report([paused, closed_readmitted, paused_then_closed, episode()], DAY0, PERIOD_LAST)
    assert out.readmissions == 3
    assert out.not_qualifying[Failure.READMITTED] == 2


def test_the_report_counts_every_qualifying_episode() -> None:
    cal = ny()
    moderate = [close(qualifying(MODERATE, d), CloseReason.COMPLETED, on_day(20), "c", cal) for d in (3, 9)]
    high = close(qualifying(HIGH, 4), CloseReason.COMPLETED, on_day(5), "c", cal)
    out = report([*moderate, high], DAY0, PERIOD_LAST)
    assert out.qualifying == {TcmCode.MODERATE: 2, TcmCode.HIGH: 1}
    assert out.not_qualifying == dict.fromkeys(Failure, 0)
    assert (out.contact_rate, out.visit_rate) == (1.0, 1.0)


def test_the_contact_deadline_is_inclusive_and_a_days_is_not() -> None:
    """Close of business counts (a call at 17:00 on the 2nd business day is on time, reached or the
    second attempt); a visit at the window's last instant (local midnight) is the next day."""
    reached, _ = record_contact(episode(), attempt(CONTACT_DUE, reached=True))
    assert (reached.contact.met_by, reached.contact.on_time) == ("reached", True)
    once, _ = record_contact(episode(), attempt(CONTACT_DUE - timedelta(hours=1)))
    twice, done = record_contact(once, attempt(CONTACT_DUE))
    assert (done, twice.contact.met_by, twice.contact.on_time) == (True, "attempts", True)
    high = episode(HIGH)
    at_midnight = hold_visit(high, "appt-1", high.visit.due_at, "doc-1", ny())
    assert (at_midnight.visit.on_time, at_midnight.visit.in_window) == (False, False)
    moderate = with_complexity(at_midnight, MODERATE, ny())
    switched = with_complexity(hold_visit(episode(), "appt-1", high.visit.due_at, None, ny()), HIGH, ny())
    assert moderate.visit.on_time is True and switched.visit.on_time is False
    edge = hold_visit(episode(), "appt-1", on_day(7, 23, 59), None, ny())
    assert with_complexity(edge, HIGH, ny()).visit.on_time is True
