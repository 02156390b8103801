"""Care plans (shared/domain/careplans.py) and clinical codes (shared/domain/codes.py), against FHIR
CarePlan/Goal/Condition and the protocols' timing written out here.

- A plan's status: draft → active ⇄ on-hold → completed | revoked (FHIR CarePlan.status); ending it
  cancels what is not done, and a measurement completes with a completed plan.
- A template's times are relative to the plan's start: ``within_days`` 14 from Thursday 2026-12-03 is
  Thursday 2026-12-17.
- A task's deadline is the close of business of the last business day on or before its activity's
  due date: New York, Monday to Friday 08:00-17:00 (EST, UTC-5).
- Activities move with what carries them out: a booking of the activity's type → scheduled, the visit
  held → completed, cancelled or a no-show → not started again; a task activity with its task; a
  referral with its referral; education with its teach-back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.calendar import Calendar
from shared.domain.careplans import (
    DEFAULT_REVIEW_DAYS,
    MAX_ACTIVITIES,
    MAX_GOALS,
    MAX_HISTORY,
    MAX_PROBLEMS,
    Achievement,
    Activity,
    ActivityIn,
    ActivityKind,
    ActivityPatch,
    ActivityStatus,
    CarePlanIn,
    CarePlanOut,
    CarePlanPatientView,
    CarePlanTemplateOut,
    Category,
    ClinicalStatus,
    GoalIn,
    GoalLifecycle,
    GoalPatch,
    IllegalChange,
    PlanProblemIn,
    PlanProblemPatch,
    PlanStatus,
    Target,
    add_parts,
    add_social_need,
    booking_day,
    edit_activity,
    edit_goal,
    edit_problem,
    link_appointment,
    move,
    needs_work,
    new_plan,
    on_appointment,
    on_education,
    on_referral,
    on_task,
    review_due,
    reviewed,
    social_plan,
    started,
    task_due,
    with_history,
)
from shared.domain.codes import ClinicalCode, CodeSystem, is_valid
from shared.domain.screening import Domain

THURSDAY = date(2026, 12, 3)
NOW = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)  # Thursday 12:00 in New York
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
WEIGHT = {"system": LOINC, "code": "29463-7", "display": "Body weight"}


def ny(*holidays: date) -> Calendar:
    return Calendar.model_validate(
        {"time_zone": "America/New_York", "holidays": [{"date": d, "name": "Holiday"} for d in holidays]}
    )


def close_of(day: date) -> datetime:
    """17:00 New York (EST) on ``day``, in UTC."""
    return datetime(day.year, day.month, day.day, 22, 0, tzinfo=UTC)


def ids() -> Any:
    n = count(1)
    return lambda: f"id-{next(n)}"


def template(**extra: Any) -> CarePlanTemplateOut:
    body: dict[str, Any] = {
        "code": "hf",
        "version": 3,
        "title": "Heart failure",
        "category": "post-discharge",
        "duration_days": 30,
        "review_after_days": 30,
        "problems": [{"code": {"system": ICD, "code": "I50.9"}}],
        "goals": [
            {
                "description": "Steady weight",
                "target": {"measure": WEIGHT, "detail": "within 2 lb"},
                "due_after_days": 30,
            },
            {"description": "Know the signs"},
        ],
        "activities": [
            {
                "kind": "appointment",
                "title": "Visit",
                "appointment_type": "follow-up",
                "within_days": 14,
                "goals": [1],
            },
            {"kind": "measurement", "title": "Weigh", "measure": WEIGHT, "frequency": "daily", "goals": [0]},
            {"kind": "education", "title": "Learn", "material": "hf-daily-weights", "within_days": 7},
            {"kind": "task", "title": "Call", "task_code": "call-patient", "within_days": 3},
            {"kind": "referral", "title": "Rehab", "specialty": "cardiac-rehab", "within_days": 30},
        ],
        **extra,
    }
    return CarePlanTemplateOut.model_validate(body)


def plan(
    body: dict[str, Any] | None = None, tpl: CarePlanTemplateOut | None = None, **kw: Any
) -> CarePlanOut:
    return new_plan(
        CarePlanIn.model_validate(body or {"template": "hf"}),
        plan_id="plan-1",
        patient_id="pat-1",
        today=THURSDAY,
        author_id="coord-1",
        now=NOW,
        new_id=kw.pop("new_id", ids()),
        template=tpl if tpl is not None else (template() if body is None or "template" in body else None),
    )


def by_kind(p: CarePlanOut, kind: str) -> Activity:
    return next(a for a in p.activities if a.kind.value == kind)


# ---------------------------------------------------------------- codes


@pytest.mark.parametrize(
    ("system", "code", "valid"),
    [
        (CodeSystem.SNOMED, "84114007", True),  # heart failure
        (CodeSystem.SNOMED, "733423003", True),  # food insecurity
        (CodeSystem.SNOMED, "84114008", False),  # check digit off by one
        (CodeSystem.SNOMED, "84114", False),  # too short
        (CodeSystem.SNOMED, "084114007", False),  # a leading zero
        (CodeSystem.SNOMED, "100000000126107", False),  # a description id (partition 12), not a concept
        (CodeSystem.SNOMED, "1156191002", True),  # long format: partition 10
        (CodeSystem.ICD10CM, "I50.9", True),
        (CodeSystem.ICD10CM, "Z59.41", True),
        (CodeSystem.ICD10CM, "S72.001A", True),
        (CodeSystem.ICD10CM, "E11", True),
        (CodeSystem.ICD10CM, "U07.1", True),  # COVID-19: ICD-10-CM took WHO's U codes (U07.1, U09.9)
        (CodeSystem.ICD10CM, "i50.9", False),
        (CodeSystem.ICD10CM, "I50.", False),
        (CodeSystem.ICD10CM, "I5", False),
        (CodeSystem.ICD10CM, "I50.12345", False),
        (CodeSystem.LOINC, "29463-7", True),
        (CodeSystem.LOINC, "4548-4", True),
        (CodeSystem.LOINC, "29463-6", False),
        (CodeSystem.LOINC, "294637", False),
        (CodeSystem.LOINC, "12345678-9", False),
    ],
)
def test_codes_are_checked_against_the_system_they_claim(system: CodeSystem, code: str, valid: bool) -> None:
    assert is_valid(system, code) is valid


def test_a_code_that_is_not_of_its_system_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as exc:
        ClinicalCode.model_validate({"system": ICD, "code": "84114007"})
    assert "84114007" not in str(exc.value.errors()[0]["msg"])
    assert ClinicalCode.model_validate({"system": ICD, "code": "I50.9"}).code == "I50.9"


def test_a_problem_is_a_condition_code_and_a_measure_a_loinc_code() -> None:
    with pytest.raises(ValidationError):
        PlanProblemIn.model_validate({"code": WEIGHT})
    assert PlanProblemIn.model_validate({"code": {"system": CodeSystem.SNOMED.value, "code": "84114007"}})
    with pytest.raises(ValidationError):
        Target.model_validate({"measure": {"system": ICD, "code": "I50.9"}, "detail": "x"})
    with pytest.raises(ValidationError):
        ActivityIn.model_validate(
            {
                "kind": "measurement",
                "title": "W",
                "measure": {"system": ICD, "code": "I50.9"},
                "frequency": "daily",
            }
        )


# ---------------------------------------------------------------- targets and activities' shapes


def test_a_target_is_a_comparison_or_words() -> None:
    hba1c = {"system": LOINC, "code": "4548-4", "display": "HbA1c"}
    assert Target(measure=hba1c, comparator="<", value=7, unit="%").words() == "HbA1c < 7 %"
    assert Target(comparator=">=", value=90.5).words() == "Result >= 90.5"
    assert (
        Target(measure={"system": LOINC, "code": "4548-4"}, comparator="<", value=7).words() == "Result < 7"
    )
    assert Target(detail="within 2 lb of dry weight").words() == "within 2 lb of dry weight"
    for bad in ({"comparator": "<"}, {"value": 7}, {}, {"measure": hba1c}):
        with pytest.raises(ValidationError):
            Target.model_validate(bad)


@pytest.mark.parametrize(
    ("kind", "needs"),
    [
        ("appointment", {"appointment_type": "follow-up"}),
        ("referral", {"specialty": "cardiology"}),
        ("education", {"material": "hf-daily-weights"}),
        ("task", {"task_code": "call-patient"}),
        ("measurement", {"measure": WEIGHT, "frequency": "daily"}),
    ],
)
def test_an_activity_takes_the_field_its_kind_needs_and_no_other_kinds(
    kind: str, needs: dict[str, Any]
) -> None:
    assert ActivityIn.model_validate({"kind": kind, "title": "Do it", **needs}).kind.value == kind
    for name in needs:
        with pytest.raises(ValidationError):
            ActivityIn.model_validate(
                {"kind": kind, "title": "Do it", **{k: v for k, v in needs.items() if k != name}}
            )
    other = {"specialty": "cardiology"} if kind != "referral" else {"material": "x1"}
    with pytest.raises(ValidationError):
        ActivityIn.model_validate({"kind": kind, "title": "Do it", **needs, **other})


def test_a_plan_needs_a_template_or_a_title_and_category() -> None:
    assert CarePlanIn.model_validate({"template": "hf"}).title is None
    assert CarePlanIn.model_validate({"title": "T", "category": "preventive"}).template is None
    for bad in ({}, {"title": "T"}, {"category": "preventive"}):
        with pytest.raises(ValidationError):
            CarePlanIn.model_validate(bad)


def test_a_template_s_activity_names_only_goals_it_has() -> None:
    with pytest.raises(ValidationError):
        template(
            goals=[], activities=[{"kind": "task", "title": "C", "task_code": "call-patient", "goals": [0]}]
        )
    tpl = template(
        goals=[{"description": "g"}],
        activities=[{"kind": "task", "title": "C", "task_code": "call-patient", "goals": [0]}],
    )
    assert tpl.activities[0].goals == [0]


# ---------------------------------------------------------------- stamping a plan


def test_a_template_stamps_its_parts_with_dates_from_the_start() -> None:
    p = plan()
    assert (p.title, p.category, p.status) == ("Heart failure", Category.POST_DISCHARGE, PlanStatus.ACTIVE)
    assert (p.start, p.end, p.review_date) == (THURSDAY, date(2027, 1, 2), date(2027, 1, 2))
    assert (p.template, p.template_version) == ("hf", 3)
    assert [x.code.code for x in p.problems] == ["I50.9"]
    assert [g.due_date for g in p.goals] == [date(2027, 1, 2), None]
    assert p.goals[0].addresses == [p.problems[0].id] and p.goals[0].lifecycle_status is GoalLifecycle.ACTIVE
    visit = by_kind(p, "appointment")
    assert (visit.due_date, visit.goal_ids, visit.status) == (
        date(2026, 12, 17),
        [p.goals[1].id],
        ActivityStatus.NOT_STARTED,
    )
    assert by_kind(p, "education").due_date == date(2026, 12, 10)
    assert by_kind(p, "measurement").due_date is None and by_kind(p, "measurement").goal_ids == [
        p.goals[0].id
    ]
    assert len({a.id for a in p.activities} | {g.id for g in p.goals} | {x.id for x in p.problems}) == 8
    assert (p.version, p.author_id, p.patient_id, p.id) == (1, "coord-1", "pat-1", "plan-1")
    assert p.created_at == p.updated_at == NOW


def test_the_body_s_own_parts_follow_the_template_s_and_its_fields_win() -> None:
    body = {
        "template": "hf",
        "title": "Mrs R's heart plan",
        "category": "chronic-condition",
        "start": "2026-12-07",
        "end": "2026-12-31",
        "review_date": "2026-12-20",
        "care_team": ["nurse-1"],
        "problems": [{"code": {"system": ICD, "code": "E11.9"}, "note": "since 2019"}],
        "goals": [{"description": "Walk daily"}],
        "note": "lives alone",
    }
    p = plan(body)
    assert (p.title, p.category, p.start, p.end, p.review_date) == (
        "Mrs R's heart plan",
        Category.CHRONIC_CONDITION,
        date(2026, 12, 7),
        date(2026, 12, 31),
        date(2026, 12, 20),
    )
    assert [x.code.code for x in p.problems] == ["I50.9", "E11.9"]
    assert [g.description for g in p.goals] == ["Steady weight", "Know the signs", "Walk daily"]
    assert by_kind(p, "appointment").due_date == date(2026, 12, 21)  # 14 days from the 7th
    assert (p.care_team, p.note) == (["nurse-1"], "lives alone")


def test_a_plan_by_hand_takes_its_defaults() -> None:
    p = plan({"title": "Prevent falls", "category": "preventive", "status": "draft"})
    assert (p.status, p.start, p.end, p.template, p.template_version) == (
        PlanStatus.DRAFT,
        THURSDAY,
        None,
        None,
        None,
    )
    assert p.review_date == THURSDAY + timedelta(days=DEFAULT_REVIEW_DAYS)
    assert (p.problems, p.goals, p.activities) == ([], [], [])


def test_a_plan_refuses_what_does_not_hold_together() -> None:
    base = {"title": "T", "category": "preventive"}
    with pytest.raises(ValueError, match=r"^goals: "):
        plan({**base, "goals": [{"description": "g", "addresses": ["nope"]}]})
    with pytest.raises(ValueError, match=r"^activities: goal_ids"):
        plan(
            {
                **base,
                "activities": [{"kind": "task", "title": "t", "task_code": "other", "goal_ids": ["nope"]}],
            }
        )
    with pytest.raises(ValueError, match=r"^end: "):
        plan({**base, "start": "2026-12-10", "end": "2026-12-09"})
    with pytest.raises(ValueError, match=r"^review_date: "):
        plan({**base, "start": "2026-12-10", "review_date": "2026-12-09"})
    assert plan(
        {**base, "start": "2026-12-10", "end": "2026-12-10", "review_date": "2026-12-10"}
    ).end == date(2026, 12, 10)
    task = {"kind": "task", "title": "t", "task_code": "other"}
    with pytest.raises(ValueError, match=rf"^activities: a plan holds at most {MAX_ACTIVITIES}"):
        plan({"template": "hf", "activities": [task] * (MAX_ACTIVITIES - 4)})
    assert (
        len(plan({"template": "hf", "activities": [task] * (MAX_ACTIVITIES - 5)}).activities)
        == MAX_ACTIVITIES
    )
    with_refs = plan({**base, "problems": [{"code": {"system": ICD, "code": "E11.9"}}]}, new_id=ids())
    goal = {"description": "g", "addresses": [with_refs.problems[0].id]}
    assert plan({**base, "problems": [{"code": {"system": ICD, "code": "E11.9"}}], "goals": [goal]}).goals[
        0
    ].addresses == ["id-1"]


# ---------------------------------------------------------------- status


def test_a_plan_moves_as_fhir_says_and_no_other_way() -> None:
    draft = plan({"title": "T", "category": "preventive", "status": "draft"})
    assert move(draft, PlanStatus.DRAFT, NOW) is draft
    active = move(draft, PlanStatus.ACTIVE, NOW)
    held = move(active, PlanStatus.ON_HOLD, NOW)
    assert move(held, PlanStatus.ACTIVE, NOW).status is PlanStatus.ACTIVE
    assert move(held, PlanStatus.COMPLETED, NOW).status is PlanStatus.COMPLETED
    for frm, to in [
        (draft, PlanStatus.ON_HOLD),
        (draft, PlanStatus.COMPLETED),
        (active, PlanStatus.DRAFT),
        (move(active, PlanStatus.REVOKED, NOW), PlanStatus.ACTIVE),
        (move(active, PlanStatus.COMPLETED, NOW), PlanStatus.ACTIVE),
    ]:
        with pytest.raises(IllegalChange):
            move(frm, to, NOW)
    assert move(draft, PlanStatus.REVOKED, NOW).status is PlanStatus.REVOKED


def test_ending_a_plan_cancels_what_is_not_done_and_completes_its_measurements() -> None:
    p = plan()
    done = on_task(
        p.model_copy(
            update={
                "activities": [
                    a.model_copy(update={"task_id": "t1"}) if a.kind is ActivityKind.TASK else a
                    for a in p.activities
                ]
            }
        ),
        "t1",
        "completed",
        NOW,
    )
    later = NOW + timedelta(days=1)
    completed = move(done, PlanStatus.COMPLETED, later)
    assert by_kind(completed, "measurement").status is ActivityStatus.COMPLETED
    assert by_kind(completed, "measurement").completed_at == later
    assert by_kind(completed, "task").completed_at == NOW  # done before: left as it was
    assert by_kind(completed, "appointment").status is ActivityStatus.CANCELLED
    assert by_kind(completed, "appointment").completed_at is None
    revoked = move(done, PlanStatus.REVOKED, later)
    assert by_kind(revoked, "measurement").status is ActivityStatus.CANCELLED
    assert by_kind(revoked, "task").status is ActivityStatus.COMPLETED
    held = move(done, PlanStatus.ON_HOLD, later)
    assert held.activities == done.activities


# ---------------------------------------------------------------- the work an active plan needs


def test_an_active_plan_needs_work_for_each_activity_not_linked_and_not_done() -> None:
    p = plan()
    assert [a.kind.value for a in needs_work(p)] == ["appointment", "education", "task", "referral"]
    assert needs_work(move(p, PlanStatus.ON_HOLD, NOW)) == []
    assert needs_work(plan({"template": "hf", "status": "draft"})) == []
    linked = {
        ActivityKind.APPOINTMENT: {"task_id": "t"},
        ActivityKind.EDUCATION: {"task_id": "t", "assignment_id": "a"},
        ActivityKind.TASK: {"task_id": "t"},
        ActivityKind.REFERRAL: {"referral_id": "r"},
        ActivityKind.MEASUREMENT: {},
    }
    made = p.model_copy(update={"activities": [a.model_copy(update=linked[a.kind]) for a in p.activities]})
    assert needs_work(made) == []
    booked = p.model_copy(
        update={
            "activities": [
                a.model_copy(update={"appointment_id": "ap"}) if a.kind is ActivityKind.APPOINTMENT else a
                for a in p.activities
            ]
        }
    )
    assert ActivityKind.APPOINTMENT not in {a.kind for a in needs_work(booked)}
    referral_task = p.model_copy(
        update={
            "activities": [
                a.model_copy(update={"task_id": "t"}) if a.kind is ActivityKind.REFERRAL else a
                for a in p.activities
            ]
        }
    )
    assert ActivityKind.REFERRAL in {a.kind for a in needs_work(referral_task)}
    quiet = p.model_copy(
        update={
            "activities": [
                a.model_copy(update={"status": s})
                for a, s in zip(
                    p.activities,
                    [
                        ActivityStatus.ON_HOLD,
                        ActivityStatus.COMPLETED,
                        ActivityStatus.CANCELLED,
                        ActivityStatus.ON_HOLD,
                        ActivityStatus.CANCELLED,
                    ],
                    strict=True,
                )
            ]
        }
    )
    assert needs_work(quiet) == []


def test_an_active_plan_s_measurements_start() -> None:
    p = started(plan(), NOW)
    assert by_kind(p, "measurement").status is ActivityStatus.IN_PROGRESS
    assert by_kind(p, "appointment").status is ActivityStatus.NOT_STARTED
    draft = plan({"template": "hf", "status": "draft"})
    assert started(draft, NOW) is draft
    again = started(p, NOW + timedelta(days=2))
    assert by_kind(again, "measurement").status is ActivityStatus.IN_PROGRESS


def test_a_task_is_due_at_the_close_of_the_last_business_day_on_or_before_its_day() -> None:
    cal = ny()
    assert task_due(date(2026, 12, 10), THURSDAY, cal, NOW) == close_of(date(2026, 12, 10))
    assert task_due(date(2026, 12, 6), THURSDAY, cal, NOW) == close_of(date(2026, 12, 4))  # Sunday → Friday
    holiday = ny(date(2026, 12, 4))
    assert task_due(date(2026, 12, 6), THURSDAY, holiday, NOW) == close_of(THURSDAY)
    assert task_due(None, THURSDAY, cal, NOW) == close_of(date(2026, 12, 7))  # 2 business days: Monday
    assert task_due(date(2026, 11, 30), THURSDAY, cal, NOW) == close_of(THURSDAY)  # a day gone: today
    evening = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)  # Thursday 18:00, closed for the day
    assert task_due(THURSDAY, THURSDAY, cal, evening) == datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
    assert task_due(date(2026, 12, 4), THURSDAY, cal, evening) == close_of(date(2026, 12, 4))
    saturday = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    assert task_due(date(2026, 12, 5), date(2026, 12, 5), cal, saturday) == datetime(
        2026, 12, 6, 5, 0, tzinfo=UTC
    )


def test_booking_a_visit_is_due_in_two_business_days_or_by_its_own_date() -> None:
    p = plan()
    visit = by_kind(p, "appointment")
    assert booking_day(visit, THURSDAY, ny()) == date(2026, 12, 7)
    soon = visit.model_copy(update={"due_date": date(2026, 12, 4)})
    assert booking_day(soon, THURSDAY, ny()) == date(2026, 12, 4)
    assert booking_day(visit.model_copy(update={"due_date": None}), THURSDAY, ny(date(2026, 12, 7))) == date(
        2026, 12, 8
    )


# ---------------------------------------------------------------- what carries activities out


def test_a_booking_of_the_activity_s_type_schedules_it_and_the_visit_held_completes_it() -> None:
    p = plan()
    wrong_type, lost = on_appointment(p, "ap-1", "booked", "new-patient", date(2026, 12, 10), NOW)
    assert wrong_type is p and lost is None
    too_early, _ = on_appointment(p, "ap-1", "booked", "follow-up", date(2026, 12, 2), NOW)
    assert too_early is p
    booked, lost = on_appointment(p, "ap-1", "pending", "follow-up", THURSDAY, NOW)
    visit = by_kind(booked, "appointment")
    assert (visit.appointment_id, visit.status, lost) == ("ap-1", ActivityStatus.SCHEDULED, None)
    moved, _ = on_appointment(booked, "ap-1", "booked", "follow-up", date(2026, 12, 11), NOW)
    assert by_kind(moved, "appointment") == visit
    held, _ = on_appointment(
        booked, "ap-1", "fulfilled", "follow-up", date(2026, 12, 10), NOW + timedelta(days=7)
    )
    assert by_kind(held, "appointment").status is ActivityStatus.COMPLETED
    assert by_kind(held, "appointment").completed_at == NOW + timedelta(days=7)
    after, _ = on_appointment(held, "ap-1", "cancelled", "follow-up", date(2026, 12, 10), NOW)
    assert after is held  # done stays done


def test_a_visit_held_without_a_booking_we_saw_still_completes_its_activity() -> None:
    p = plan()
    held, _ = on_appointment(p, "ap-9", "fulfilled", "follow-up", date(2026, 12, 9), NOW)
    assert (by_kind(held, "appointment").appointment_id, by_kind(held, "appointment").status) == (
        "ap-9",
        ActivityStatus.COMPLETED,
    )


def test_a_cancelled_or_missed_visit_frees_its_activity_for_another_booking() -> None:
    p = plan()
    with_task = p.model_copy(
        update={
            "activities": [
                a.model_copy(update={"task_id": "book-1"}) if a.kind is ActivityKind.APPOINTMENT else a
                for a in p.activities
            ]
        }
    )
    booked, _ = on_appointment(with_task, "ap-1", "booked", "follow-up", date(2026, 12, 10), NOW)
    for status in ("cancelled", "noshow", "entered-in-error"):
        freed, lost = on_appointment(booked, "ap-1", status, "follow-up", date(2026, 12, 10), NOW)
        visit = by_kind(freed, "appointment")
        assert (visit.appointment_id, visit.status, visit.task_id) == (None, ActivityStatus.NOT_STARTED, None)
        assert lost == visit
    cancelled_first, lost = on_appointment(p, "ap-2", "cancelled", "follow-up", date(2026, 12, 10), NOW)
    assert cancelled_first is p and lost is None


def test_a_booking_goes_to_the_open_activity_of_its_type_due_first() -> None:
    p = plan(
        {
            "title": "T",
            "category": "preventive",
            "activities": [
                {
                    "kind": "appointment",
                    "title": "Later",
                    "appointment_type": "follow-up",
                    "due_date": "2027-01-30",
                },
                {"kind": "appointment", "title": "Undated", "appointment_type": "follow-up"},
                {
                    "kind": "appointment",
                    "title": "Sooner",
                    "appointment_type": "follow-up",
                    "due_date": "2026-12-20",
                },
                {
                    "kind": "appointment",
                    "title": "Other",
                    "appointment_type": "new-patient",
                    "due_date": "2026-12-05",
                },
            ],
        }
    )
    first, _ = on_appointment(p, "a1", "booked", "follow-up", THURSDAY, NOW)
    second, _ = on_appointment(first, "a2", "booked", "follow-up", THURSDAY, NOW)
    third, _ = on_appointment(second, "a3", "booked", "follow-up", THURSDAY, NOW)
    assert [a.appointment_id for a in third.activities] == ["a2", "a3", "a1", None]
    fourth, _ = on_appointment(third, "a4", "booked", "follow-up", THURSDAY, NOW)
    assert fourth is third
    on_hold = edit_activity(p, p.activities[2].id, ActivityPatch(status="on-hold"), NOW)
    skipped, _ = on_appointment(on_hold, "a1", "booked", "follow-up", THURSDAY, NOW)
    assert skipped.activities[0].appointment_id == "a1"
    done = edit_activity(p, p.activities[2].id, ActivityPatch(status="completed"), NOW)
    assert (
        on_appointment(done, "a1", "booked", "follow-up", THURSDAY, NOW)[0].activities[2].appointment_id
        is None
    )


def test_an_ended_plan_links_no_new_booking_but_a_held_plan_does() -> None:
    p = plan()
    draft = plan({"template": "hf", "status": "draft"})
    assert on_appointment(draft, "a1", "booked", "follow-up", THURSDAY, NOW)[0] is draft
    held = move(p, PlanStatus.ON_HOLD, NOW)
    assert (
        by_kind(
            on_appointment(held, "a1", "booked", "follow-up", THURSDAY, NOW)[0], "appointment"
        ).appointment_id
        == "a1"
    )


def test_staff_link_a_booking_to_an_appointment_activity_only() -> None:
    p = plan()
    visit = by_kind(p, "appointment")
    linked = link_appointment(p, visit.id, "ap-1")
    assert by_kind(linked, "appointment").appointment_id == "ap-1"
    assert by_kind(linked, "appointment").status is ActivityStatus.NOT_STARTED
    assert link_appointment(linked, visit.id, "ap-1") == linked
    with pytest.raises(ValueError, match=r"^appointment_id: "):
        link_appointment(p, by_kind(p, "task").id, "ap-1")
    with pytest.raises(ValueError, match=r"^appointment_id: "):
        link_appointment(p, "missing", "ap-1")
    two = add_parts(
        linked,
        ids(),
        activities=[ActivityIn(kind="appointment", title="Again", appointment_type="follow-up")],
    )
    with pytest.raises(IllegalChange):
        link_appointment(two, two.activities[-1].id, "ap-1")
    done = edit_activity(p, visit.id, ActivityPatch(status="cancelled"), NOW)
    with pytest.raises(IllegalChange):
        link_appointment(done, visit.id, "ap-2")


def test_a_task_activity_follows_its_task() -> None:
    p = plan()
    task = by_kind(p, "task").model_copy(update={"task_id": "t1"})
    visit = by_kind(p, "appointment").model_copy(update={"task_id": "t2"})
    p = p.model_copy(
        update={
            "activities": [
                task if a.id == task.id else visit if a.id == visit.id else a for a in p.activities
            ]
        }
    )
    done = on_task(p, "t1", "completed", NOW)
    assert (by_kind(done, "task").status, by_kind(done, "task").completed_at) == (
        ActivityStatus.COMPLETED,
        NOW,
    )
    assert on_task(done, "t1", "cancelled", NOW) is done
    cancelled = on_task(p, "t1", "cancelled", NOW)
    assert (by_kind(cancelled, "task").status, by_kind(cancelled, "task").completed_at) == (
        ActivityStatus.CANCELLED,
        None,
    )
    assert on_task(p, "t1", "in-progress", NOW) is p
    assert on_task(p, "t2", "completed", NOW) is p  # the booking task done: the visit decides
    assert on_task(p, "nope", "completed", NOW) is p


def test_a_referral_activity_follows_its_referral() -> None:
    p = plan()
    ref = by_kind(p, "referral").model_copy(update={"referral_id": "r1"})
    p = p.model_copy(update={"activities": [ref if a.id == ref.id else a for a in p.activities]})
    scheduled = on_referral(p, "r1", "scheduled", NOW)
    assert by_kind(scheduled, "referral").status is ActivityStatus.SCHEDULED
    unscheduled = on_referral(scheduled, "r1", "unscheduled", NOW)
    assert by_kind(unscheduled, "referral").status is ActivityStatus.NOT_STARTED
    assert by_kind(on_referral(p, "r1", "completed", NOW), "referral").completed_at == NOW
    assert by_kind(on_referral(p, "r1", "cancelled", NOW), "referral").status is ActivityStatus.CANCELLED
    assert by_kind(on_referral(p, "r1", "closed", NOW), "referral").status is ActivityStatus.CANCELLED
    assert on_referral(p, "r1", "sent", NOW) is p
    assert on_referral(p, "r2", "completed", NOW) is p
    done = on_referral(p, "r1", "completed", NOW)
    assert on_referral(done, "r1", "cancelled", NOW) is done


def test_an_education_activity_follows_its_teach_back() -> None:
    p = plan()
    edu = by_kind(p, "education").model_copy(
        update={"assignment_id": "as1", "status": ActivityStatus.SCHEDULED}
    )
    p = p.model_copy(update={"activities": [edu if a.id == edu.id else a for a in p.activities]})
    partly = on_education(p, "as1", False, NOW)
    assert (by_kind(partly, "education").status, by_kind(partly, "education").completed_at) == (
        ActivityStatus.IN_PROGRESS,
        None,
    )
    understood = on_education(partly, "as1", True, NOW)
    assert (by_kind(understood, "education").status, by_kind(understood, "education").completed_at) == (
        ActivityStatus.COMPLETED,
        NOW,
    )
    assert on_education(understood, "as1", False, NOW) is understood
    assert on_education(p, "other", True, NOW) is p


# ---------------------------------------------------------------- staff's edits


def test_staff_hold_resume_complete_and_cancel_an_activity() -> None:
    p = plan()
    aid = by_kind(p, "task").id
    held = edit_activity(p, aid, ActivityPatch(status="on-hold"), NOW)
    assert held.activity(aid).status is ActivityStatus.ON_HOLD  # type: ignore[union-attr]
    resumed = edit_activity(held, aid, ActivityPatch(status="not-started"), NOW)
    assert resumed.activity(aid).status is ActivityStatus.NOT_STARTED  # type: ignore[union-attr]
    assert edit_activity(p, aid, ActivityPatch(status="not-started"), NOW) == p
    booked, _ = on_appointment(p, "ap-1", "booked", "follow-up", THURSDAY, NOW)
    with pytest.raises(IllegalChange):
        edit_activity(booked, by_kind(p, "appointment").id, ActivityPatch(status="not-started"), NOW)
    done = edit_activity(p, aid, ActivityPatch(status="completed"), NOW)
    assert done.activity(aid).completed_at == NOW  # type: ignore[union-attr]
    with pytest.raises(IllegalChange):
        edit_activity(done, aid, ActivityPatch(status="cancelled"), NOW)
    assert edit_activity(done, aid, ActivityPatch(status="completed"), NOW) == done
    dated = edit_activity(done, aid, ActivityPatch(due_date=date(2026, 12, 24), note="called twice"), NOW)
    assert (dated.activity(aid).due_date, dated.activity(aid).note) == (date(2026, 12, 24), "called twice")  # type: ignore[union-attr]
    cleared = edit_activity(dated, aid, ActivityPatch.model_validate({"due_date": None}), NOW)
    assert cleared.activity(aid).due_date is None and cleared.activity(aid).note == "called twice"  # type: ignore[union-attr]
    with pytest.raises(LookupError):
        edit_activity(p, "missing", ActivityPatch(status="on-hold"), NOW)


def test_a_goal_achieved_says_so_once_and_a_closed_goal_must_be_reopened() -> None:
    p = plan()
    gid = p.goals[0].id
    improving, achieved = edit_goal(p, gid, GoalPatch(achievement_status="improving"), NOW)
    assert (improving.goals[0].achievement_status, achieved) == (Achievement.IMPROVING, False)
    done, achieved = edit_goal(improving, gid, GoalPatch(achievement_status="achieved"), NOW)
    goal = done.goals[0]
    assert (goal.lifecycle_status, goal.achieved_at, achieved) == (GoalLifecycle.ACHIEVED, NOW, True)
    by_lifecycle, achieved = edit_goal(p, gid, GoalPatch(lifecycle_status="achieved"), NOW)
    assert (by_lifecycle.goals[0].achievement_status, achieved) == (Achievement.ACHIEVED, True)
    with pytest.raises(IllegalChange):
        edit_goal(done, gid, GoalPatch(description="other"), NOW)
    with pytest.raises(IllegalChange):
        edit_goal(done, gid, GoalPatch(lifecycle_status="achieved"), NOW)
    reopened, achieved = edit_goal(done, gid, GoalPatch(lifecycle_status="active"), NOW)
    goal = reopened.goals[0]
    assert (goal.lifecycle_status, goal.achievement_status, goal.achieved_at, achieved) == (
        GoalLifecycle.ACTIVE,
        Achievement.IN_PROGRESS,
        None,
        False,
    )
    again, achieved = edit_goal(
        reopened, gid, GoalPatch(achievement_status="achieved"), NOW + timedelta(days=1)
    )
    assert (again.goals[0].achieved_at, achieved) == (NOW + timedelta(days=1), True)
    worse, _ = edit_goal(done, gid, GoalPatch(lifecycle_status="active", achievement_status="worsening"), NOW)
    assert worse.goals[0].achievement_status is Achievement.WORSENING
    cancelled, achieved = edit_goal(p, gid, GoalPatch(lifecycle_status="cancelled"), NOW)
    assert (cancelled.goals[0].lifecycle_status, achieved) == (GoalLifecycle.CANCELLED, False)
    assert cancelled.goals[1] == p.goals[1]
    with pytest.raises(IllegalChange):
        edit_goal(cancelled, gid, GoalPatch(due_date=date(2027, 1, 1)), NOW)
    with pytest.raises(LookupError):
        edit_goal(p, "missing", GoalPatch(description="x"), NOW)
    kept, achieved = edit_goal(
        done,
        gid,
        GoalPatch(achievement_status="achieved", lifecycle_status="active"),
        NOW + timedelta(days=3),
    )
    assert (kept.goals[0].achieved_at, achieved) == (NOW, False)


def test_a_plan_made_with_its_template_holds_no_more_parts_than_one_built_part_by_part() -> None:
    problem = {"code": {"system": ICD, "code": "E11.9"}}
    with pytest.raises(ValueError, match=rf"^problems: a plan holds at most {MAX_PROBLEMS}"):
        plan({"template": "hf", "problems": [problem] * MAX_PROBLEMS})
    assert len(plan({"template": "hf", "problems": [problem] * (MAX_PROBLEMS - 1)}).problems) == MAX_PROBLEMS
    with pytest.raises(ValueError, match=rf"^goals: a plan holds at most {MAX_GOALS}"):
        plan({"template": "hf", "goals": [{"description": "g"}] * (MAX_GOALS - 1)})
    assert len(plan({"template": "hf", "goals": [{"description": "g"}] * (MAX_GOALS - 2)}).goals) == MAX_GOALS


def test_a_problem_s_clinical_status_and_note_are_edited_and_the_rest_kept() -> None:
    p = plan(
        {"template": "hf", "problems": [{"code": {"system": ICD, "code": "E11.9"}, "note": "since 2019"}]}
    )
    pid = p.problems[1].id
    resolved = edit_problem(p, pid, PlanProblemPatch(clinical_status="resolved"))
    assert (resolved.problems[1].clinical_status, resolved.problems[1].note) == (
        ClinicalStatus.RESOLVED,
        "since 2019",
    )
    assert resolved.problems[1].code == p.problems[1].code and resolved.problems[0] == p.problems[0]
    noted = edit_problem(p, pid, PlanProblemPatch.model_validate({"note": None}))
    assert (noted.problems[1].note, noted.problems[1].clinical_status) == (None, ClinicalStatus.ACTIVE)
    with pytest.raises(ValueError, match=r"^clinical_status: may not be null"):
        edit_problem(p, pid, PlanProblemPatch.model_validate({"clinical_status": None}))
    with pytest.raises(LookupError):
        edit_problem(p, "missing", PlanProblemPatch(clinical_status="resolved"))


def test_a_goal_s_words_and_statuses_may_not_be_emptied() -> None:
    p = plan()
    gid = p.goals[0].id
    for name in ("description", "lifecycle_status", "achievement_status"):
        with pytest.raises(ValueError, match=rf"^{name}: may not be null"):
            edit_goal(p, gid, GoalPatch.model_validate({name: None}), NOW)
    cleared, _ = edit_goal(p, gid, GoalPatch.model_validate({"target": None, "due_date": None}), NOW)
    assert (cleared.goals[0].target, cleared.goals[0].due_date) == (None, None)


def test_parts_are_added_with_their_references_checked() -> None:
    p = plan({"title": "T", "category": "preventive"})
    new = ids()
    with_problem = add_parts(p, new, problems=[PlanProblemIn(code={"system": ICD, "code": "E11.9"})])
    pid = with_problem.problems[0].id
    with_goal = add_parts(with_problem, new, goals=[GoalIn(description="A1c", addresses=[pid])])
    gid = with_goal.goals[0].id
    with_activity = add_parts(
        with_goal, new, activities=[ActivityIn(kind="task", title="t", task_code="other", goal_ids=[gid])]
    )
    assert (
        with_activity.activities[0].goal_ids == [gid]
        and with_activity.activities[0].status is ActivityStatus.NOT_STARTED
    )
    with pytest.raises(ValueError, match=r"^addresses: "):
        add_parts(p, new, goals=[GoalIn(description="g", addresses=["nope"])])
    with pytest.raises(ValueError, match=r"^goal_ids: "):
        add_parts(
            p, new, activities=[ActivityIn(kind="task", title="t", task_code="other", goal_ids=["nope"])]
        )
    full = add_parts(
        p, new, activities=[ActivityIn(kind="task", title="t", task_code="other")] * MAX_ACTIVITIES
    )
    with pytest.raises(ValueError, match=r"^activities: "):
        add_parts(full, new, activities=[ActivityIn(kind="task", title="t", task_code="other")])
    for status in (PlanStatus.COMPLETED, PlanStatus.REVOKED):
        with pytest.raises(IllegalChange):
            add_parts(move(p, status, NOW), new, goals=[GoalIn(description="g")])
    assert (
        add_parts(move(p, PlanStatus.ON_HOLD, NOW), new, goals=[GoalIn(description="g")])
        .goals[-1]
        .description
        == "g"
    )
    assert add_parts(
        plan({"title": "T", "category": "preventive", "status": "draft"}),
        new,
        goals=[GoalIn(description="g")],
    ).goals


def test_each_change_is_a_version_in_the_history() -> None:
    p = with_history(plan(), "coord-1", "create", NOW)
    assert p.version == 1 and [(h.version, h.action, h.by) for h in p.history] == [(1, "create", "coord-1")]
    later = NOW + timedelta(hours=1)
    q = with_history(move(p, PlanStatus.ON_HOLD, later), "nurse-1", "edit", later)
    assert q.version == 2 and q.updated_at == later
    assert [(h.version, h.action, h.status) for h in q.history][-1] == (2, "edit", PlanStatus.ON_HOLD)
    for n in range(MAX_HISTORY + 5):
        q = with_history(q, "x", f"e{n}", later)
    assert len(q.history) == MAX_HISTORY and q.history[-1].action == f"e{MAX_HISTORY + 4}"
    assert q.version == 2 + MAX_HISTORY + 5


# ---------------------------------------------------------------- social needs


def test_a_positive_domain_adds_its_problem_and_referral_task_once() -> None:
    p = social_plan("pat-1", "plan-9", THURSDAY, NOW, "system:careplans")
    assert (p.category, p.status, p.title, p.screens_add_here) == (
        Category.SOCIAL_NEEDS,
        PlanStatus.ACTIVE,
        "Social needs",
        True,
    )
    assert p.review_date == THURSDAY + timedelta(days=DEFAULT_REVIEW_DAYS)
    added = add_social_need(p, "as-1", Domain.FOOD, date(2026, 12, 8), ids())
    assert added is not None
    q, activity = added
    assert [(x.code.system.value, x.code.code, x.source) for x in q.problems] == [
        (ICD, "Z59.41", "assessment:as-1:food")
    ]
    assert (activity.kind, activity.task_code.value, activity.due_date) == (
        ActivityKind.TASK,
        "connect-resource",
        date(2026, 12, 8),
    )  # type: ignore[union-attr]
    assert q.activities == [activity]
    assert add_social_need(q, "as-1", Domain.FOOD, date(2026, 12, 8), ids()) is None
    both = add_social_need(q, "as-1", Domain.TRANSPORTATION, date(2026, 12, 8), ids())
    assert both is not None and [x.code.code for x in both[0].problems] == ["Z59.41", "Z59.82"]
    next_screen = add_social_need(q, "as-2", Domain.FOOD, date(2026, 12, 8), ids())
    assert next_screen is not None and len(next_screen[0].problems) == 2
    assert add_social_need(p, "as-1", Domain.INTERPERSONAL_SAFETY, THURSDAY, ids()) is None
    codes = {
        d: add_social_need(p, "a", d, THURSDAY, ids()) for d in (Domain.LIVING_SITUATION, Domain.UTILITIES)
    }
    assert [c[0].problems[0].code.code for c in codes.values() if c] == ["Z59.819", "Z59.12"]


def test_a_full_plan_takes_no_more_needs() -> None:
    p = social_plan("pat-1", "plan-9", THURSDAY, NOW, "system:careplans")
    task = ActivityIn(kind="task", title="t", task_code="other")
    full = add_parts(p, ids(), activities=[task] * MAX_ACTIVITIES)
    assert add_social_need(full, "as-1", Domain.FOOD, THURSDAY, ids()) is None
    almost = add_parts(p, ids(), activities=[task] * (MAX_ACTIVITIES - 1))
    assert add_social_need(almost, "as-1", Domain.FOOD, THURSDAY, ids()) is not None


# ---------------------------------------------------------------- reviews


def test_a_live_plan_is_due_its_review_on_its_date() -> None:
    p = plan({"title": "T", "category": "preventive", "review_date": "2026-12-10"})
    assert not review_due(p, date(2026, 12, 9))
    assert review_due(p, date(2026, 12, 10)) and review_due(p, date(2026, 12, 11))
    assert review_due(move(p, PlanStatus.ON_HOLD, NOW), date(2026, 12, 10))
    assert not review_due(move(p, PlanStatus.COMPLETED, NOW), date(2026, 12, 10))
    assert not review_due(
        plan({"title": "T", "category": "preventive", "status": "draft", "review_date": "2026-12-10"}),
        date(2026, 12, 10),
    )


def test_a_review_sets_the_next_date() -> None:
    p = plan({"title": "T", "category": "preventive", "review_date": "2026-12-10"})
    today = date(2026, 12, 10)
    done = reviewed(p, None, today, NOW)
    assert (done.review_date, done.reviewed_at) == (today + timedelta(days=DEFAULT_REVIEW_DAYS), NOW)
    assert reviewed(p, date(2026, 12, 11), today, NOW).review_date == date(2026, 12, 11)
    with pytest.raises(ValueError, match=r"^next_review_date: "):
        reviewed(p, today, today, NOW)
    with pytest.raises(IllegalChange):
        reviewed(move(p, PlanStatus.REVOKED, NOW), None, today, NOW)
    assert reviewed(move(p, PlanStatus.ON_HOLD, NOW), None, today, NOW).reviewed_at == NOW


# ---------------------------------------------------------------- the patient's view


def test_the_patient_reads_goals_activities_and_what_is_next_never_staff_notes() -> None:
    p = plan(
        {
            "template": "hf",
            "note": "lives alone",
            "care_team": ["nurse-1"],
            "problems": [{"code": {"system": ICD, "code": "E11.9"}, "note": "secret"}],
        }
    )
    gid = p.goals[1].id
    p, _ = edit_goal(p, gid, GoalPatch(lifecycle_status="cancelled"), NOW)
    cancelled = by_kind(p, "referral").id
    p = edit_activity(p, cancelled, ActivityPatch(status="cancelled", note="patient declined"), NOW)
    view = CarePlanPatientView.of(p)
    assert [g.description for g in view.goals] == ["Steady weight"]
    assert view.goals[0].target == "within 2 lb" and view.goals[0].due_date == date(2027, 1, 2)
    assert view.goals[0].status is Achievement.IN_PROGRESS
    assert [a.title for a in view.activities] == ["Visit", "Weigh", "Learn", "Call"]
    assert view.next is not None and view.next.title == "Call"  # due Sunday the 6th, first
    dump = view.model_dump_json()
    for staff_only in ("lives alone", "nurse-1", "secret", "patient declined", "coord-1", "I50.9", "review"):
        assert staff_only not in dump
    assert (view.id, view.title, view.category, view.status, view.start, view.end) == (
        p.id,
        p.title,
        p.category,
        p.status,
        p.start,
        p.end,
    )
    done = p
    for a in p.activities:
        if a.status not in (ActivityStatus.CANCELLED,):
            done = edit_activity(done, a.id, ActivityPatch(status="completed"), NOW)
    assert CarePlanPatientView.of(done).next is None
    undated = plan(
        {
            "title": "T",
            "category": "preventive",
            "activities": [
                {"kind": "task", "title": "Undated", "task_code": "other"},
                {"kind": "task", "title": "Dated", "task_code": "other", "due_date": "2027-02-01"},
            ],
        }
    )
    assert CarePlanPatientView.of(undated).next.title == "Dated"  # type: ignore[union-attr]
    no_target = CarePlanPatientView.of(
        plan({"title": "T", "category": "preventive", "goals": [{"description": "g"}]})
    )
    assert no_target.goals[0].target is None
    linked = on_appointment(plan(), "ap-1", "booked", "follow-up", THURSDAY, NOW)[0]
    assert (
        next(
            a for a in CarePlanPatientView.of(linked).activities if a.kind is ActivityKind.APPOINTMENT
        ).appointment_id
        == "ap-1"
    )
