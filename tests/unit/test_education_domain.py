"""Patient education (shared/domain/education.py): materials in several languages, given in the patient's
best one, read, and assessed by teach-back (understood / partially / not understood)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.education import (
    MAX_TEACH_BACKS,
    AssignIn,
    AssignmentPatientView,
    Content,
    Learner,
    MaterialIn,
    MaterialOut,
    Method,
    TeachBackIn,
    Understanding,
    assess,
    assign,
    content_for,
    read,
)

NOW = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)


def material(*languages: str, **extra: Any) -> MaterialOut:
    contents = [{"language": tag, "title": f"Title {tag}", "text": f"Text {tag}"} for tag in languages]
    return MaterialOut.model_validate(
        {"code": "hf-daily-weights", "version": 2, "topics": ["heart-failure"], "contents": contents, **extra}
    )


def given(m: MaterialOut | None = None, language: str = "es-MX", **kw: Any) -> Any:
    return assign(
        m or material("en", "es"),
        assignment_id="as-1",
        patient_id="pat-1",
        language=language,
        by="coord-1",
        now=NOW,
        **kw,
    )


@pytest.mark.parametrize(
    ("languages", "wanted", "chosen"),
    [
        (("en", "es"), "es-MX", "es"),
        (("en", "es", "es-MX"), "es-MX", "es-MX"),
        (("en", "es-MX"), "es-mx", "es-MX"),  # tags compare without case
        (("en", "zh-Hant"), "zh-Hant-TW", "zh-Hant"),
        (("fr", "en"), "vi", "en"),  # English when theirs is missing
        (("fr", "de"), "vi", "fr"),  # the material's first when English is missing too
        (("en",), "EN", "en"),
    ],
)
def test_the_material_is_given_in_the_patient_s_best_language(
    languages: tuple[str, ...], wanted: str, chosen: str
) -> None:
    assert content_for(material(*languages), wanted).language == chosen


def test_a_material_has_each_language_once_and_text_or_a_link() -> None:
    with pytest.raises(ValidationError):
        material("en", "EN")
    with pytest.raises(ValidationError):
        Content.model_validate({"language": "en", "title": "T"})
    with pytest.raises(ValidationError):
        Content.model_validate({"language": "en", "title": "T", "url": "http://example.com/x"})
    linked = Content.model_validate({"language": "en", "title": "T", "url": "https://example.com/x"})
    assert str(linked.url) == "https://example.com/x" and linked.text is None
    m = MaterialIn.model_validate(
        {"topics": ["copd"], "contents": [{"language": "en", "title": "T", "text": "x"}]}
    )
    assert (m.reading_level, m.reteach_days) == (6, 2)
    with pytest.raises(ValidationError):
        MaterialIn.model_validate({"topics": [], "contents": [{"language": "en", "title": "T", "text": "x"}]})
    assert material("en", "es").languages == ["en", "es"]


def test_an_assignment_names_a_plan_activity_whole_or_not_at_all() -> None:
    assert AssignIn.model_validate({"material": "hf-daily-weights"}).care_plan_id is None
    with pytest.raises(ValidationError):
        AssignIn.model_validate({"material": "x1", "care_plan_id": "01J0000000000000000000000A"})
    with pytest.raises(ValidationError):
        AssignIn.model_validate({"material": "x1", "activity_id": "a"})
    both = AssignIn.model_validate(
        {"material": "x1", "care_plan_id": "01J0000000000000000000000A", "activity_id": "a"}
    )
    assert both.activity_id == "a"


def test_assigning_records_the_language_title_and_version_given() -> None:
    a = given(care_plan_id="plan-1", activity_id="act-1")
    assert (a.id, a.patient_id, a.material, a.material_version, a.language, a.title) == (
        "as-1",
        "pat-1",
        "hf-daily-weights",
        2,
        "es",
        "Title es",
    )
    assert (a.assigned_at, a.assigned_by, a.updated_at, a.version) == (NOW, "coord-1", NOW, 1)
    assert (a.care_plan_id, a.activity_id, a.read_at, a.outcome, a.teach_backs) == (
        "plan-1",
        "act-1",
        None,
        None,
        [],
    )


def test_the_first_read_counts() -> None:
    a = given()
    first = read(a, NOW + timedelta(hours=1))
    assert (first.read_at, first.updated_at) == (NOW + timedelta(hours=1), NOW + timedelta(hours=1))
    assert read(first, NOW + timedelta(days=1)) is first


def test_a_teach_back_records_who_how_and_the_first_time_it_was_understood() -> None:
    a = given()
    later = NOW + timedelta(days=1)
    partly = assess(
        a, TeachBackIn(outcome="partially-understood", note="unsure when to call"), "coord-1", later
    )
    (entry,) = partly.teach_backs
    assert (entry.outcome, entry.method, entry.learner, entry.at, entry.by_id, entry.note) == (
        Understanding.PARTIALLY,
        Method.TEACH_BACK,
        Learner.PATIENT,
        later,
        "coord-1",
        "unsure when to call",
    )
    assert (partly.outcome, partly.understood_at, partly.updated_at) == (Understanding.PARTIALLY, None, later)
    when = NOW + timedelta(hours=30)
    body = TeachBackIn(outcome="understood", method="show-me", learner="caregiver", at=when)
    understood = assess(partly, body, "nurse-1", later + timedelta(days=1))
    assert understood.outcome is Understanding.UNDERSTOOD and understood.understood_at == when
    assert understood.teach_backs[-1].learner is Learner.CAREGIVER and understood.teach_backs[-1].at == when
    slipped = assess(understood, TeachBackIn(outcome="not-understood"), "nurse-1", later + timedelta(days=9))
    assert (slipped.outcome, slipped.understood_at) == (Understanding.NOT_UNDERSTOOD, when)
    many = a
    for _ in range(MAX_TEACH_BACKS + 3):
        many = assess(many, TeachBackIn(outcome="not-understood"), "x", NOW)
    assert len(many.teach_backs) == MAX_TEACH_BACKS


def test_the_patient_reads_the_material_and_the_outcome_never_staff_notes() -> None:
    a = assess(given(), TeachBackIn(outcome="not-understood", note="confused"), "coord-1", NOW)
    m = material("en", "es")
    view = AssignmentPatientView.of(a, content_for(m, a.language))
    assert (view.title, view.text, view.url, view.language, view.outcome) == (
        "Title es",
        "Text es",
        None,
        "es",
        Understanding.NOT_UNDERSTOOD,
    )
    dump = view.model_dump_json()
    assert "confused" not in dump and "coord-1" not in dump
    listed = AssignmentPatientView.of(a, None)
    assert listed.text is None and listed.url is None
    linked = Content(language="en", title="T", url="https://example.com/x")
    assert AssignmentPatientView.of(a, linked).url == "https://example.com/x"
