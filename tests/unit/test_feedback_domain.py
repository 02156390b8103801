"""Surveys, answers and the feedback report (shared/domain/feedback.py): the rules as a coordinator
program states them, probed at their edges."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.feedback import (
    AnswerError,
    Flag,
    QuestionIn,
    ReportRow,
    ResponseIn,
    SurveyIn,
    SurveyOut,
    Trigger,
    answered_view,
    check_answers,
    figures,
    flags,
    localize,
    months,
    net_promoter_score,
    nps_answer,
    scores,
    summarize,
)

EN_ES = {"en": "x", "es": "x"}


def question(qid: str, kind: str = "scale", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": qid, "type": kind, "text": {"en": f"{qid}?", "es": f"¿{qid}?"}}
    if kind == "choice" and "choices" not in extra:
        out["choices"] = [
            {"code": "yes", "label": {"en": "Yes", "es": "Sí"}},
            {"code": "no", "label": {"en": "No", "es": "No"}},
        ]
    return {**out, **extra}


def survey(*questions: dict[str, Any], **extra: Any) -> SurveyIn:
    body: dict[str, Any] = {
        "title": {"en": "Your visit", "es": "Su visita"},
        "trigger": "visit-fulfilled",
        "questions": list(questions)
        or [
            question("recommend", nps=True),
            question("courtesy", low_at=4),
            question("on-time", "choice", flag_choices=["no"], required=False),
            question("comments", "text", required=False),
        ],
    }
    return SurveyIn.model_validate({**body, **extra})


def refused(body: dict[str, Any] | None = None, **extra: Any) -> str:
    with pytest.raises(ValidationError) as info:
        if body is not None:
            QuestionIn.model_validate(body)
        else:
            survey(**extra)
    return str(info.value)


# ---------------------------------------------------------------- definitions


def test_a_survey_takes_its_defaults_when_sending_and_expiry_are_not_said() -> None:
    s = survey()
    assert (s.delay_hours, s.expires_after_days, s.active, s.appointment_types) == (2, 14, True, None)
    assert s.languages == ["en", "es"]
    assert s.trigger is Trigger.VISIT_FULFILLED
    assert s.question("courtesy") is not None and s.question("nope") is None
    out = SurveyOut(**s.model_dump(), code="visit", version=1, updated_at=datetime(2026, 12, 1, tzinfo=UTC))
    assert out.code == "visit" and out.version == 1


def test_the_nps_question_flags_at_6_by_default_and_another_scale_only_when_told() -> None:
    s = survey()
    nps, courtesy = s.questions[0], s.questions[1]
    assert nps.low() == 6 and courtesy.low() == 4
    assert QuestionIn.model_validate(question("plain")).low() is None
    assert QuestionIn.model_validate(question("strict", nps=True, low_at=8)).low() == 8
    assert QuestionIn.model_validate(question("zero", low_at=0)).low() == 0


def test_each_question_is_one_type_with_what_that_type_takes() -> None:
    assert "only a scale question is the NPS" in refused(question("q", "text", nps=True))
    assert "low_at: only for a scale" in refused(question("q", "choice", low_at=3))
    assert "a choice question has them" in refused(question("q", "choice", choices=None))
    with_choices = question("q", "choice")["choices"]
    assert "a choice question has them" in refused(question("q", "scale", choices=with_choices))
    assert "choices: 2 to 10" in refused(question("q", "choice", choices=with_choices[:1]))
    eleven = [{"code": f"c{n:02d}", "label": {"en": "x", "es": "x"}} for n in range(11)]
    assert "choices: 2 to 10" in refused(question("q", "choice", choices=eleven))
    assert QuestionIn.model_validate(question("q", "choice", choices=eleven[:10])).choices
    twice = [with_choices[0], with_choices[0]]
    assert "each code once" in refused(question("q", "choice", choices=twice))
    assert "only codes among the choices" in refused(question("q", "choice", flag_choices=["maybe"]))
    assert "only for a choice question" in refused(question("q", "scale", flag_choices=["yes"]))
    assert "less than or equal to 10" in refused(question("q", low_at=11))
    assert "greater than or equal to 0" in refused(question("q", low_at=-1))
    assert "BCP 47" in refused(question("q", text={"EN": "a"}))


def test_a_survey_has_1_to_20_distinct_questions_and_one_nps_at_most() -> None:
    assert "at least 1 item" in refused(questions=[])
    assert "at most 20 items" in refused(questions=[question(f"q{n:02d}") for n in range(21)])
    assert len(survey(*[question(f"q{n:02d}") for n in range(20)]).questions) == 20
    assert "each id once" in refused(questions=[question("same"), question("same")])
    assert "at most one NPS" in refused(questions=[question("a", nps=True), question("b", nps=True)])
    assert "Input should be a valid string" not in refused(title={})


def test_every_question_and_choice_speaks_exactly_the_surveys_languages() -> None:
    assert "exactly the survey's languages" in refused(title={"en": "Visit"})  # questions also say es
    assert "exactly the survey's languages" in refused(title={"en": "Visit", "es": "Visita", "fr": "Visite"})
    bad_choice = question("q", "choice")
    bad_choice["choices"][1]["label"] = {"en": "No"}
    assert "questions.q: its text and choices" in refused(questions=[bad_choice])
    regional = survey(question("q", text={"es-MX": "¿q?"}), title={"es-MX": "Encuesta"})
    assert localize(regional, "es").language == "es-MX"  # the survey's only language


def test_appointment_types_filter_only_visits() -> None:
    assert "only for the visit-fulfilled trigger" in refused(
        trigger="transition-closed", appointment_types=["follow-up"]
    )
    assert survey(trigger="transition-closed").wants("anything")
    typed = survey(appointment_types=["follow-up"])
    assert typed.wants("follow-up") and not typed.wants("new-patient") and not typed.wants(None)
    assert survey().wants(None)


def test_sending_times_stay_within_their_bounds() -> None:
    assert survey(delay_hours=0, expires_after_days=1).delay_hours == 0
    assert survey(delay_hours=168, expires_after_days=90).expires_after_days == 90
    assert "less than or equal to 168" in refused(delay_hours=169)
    assert "greater than or equal to 0" in refused(delay_hours=-1)
    assert "less than or equal to 90" in refused(expires_after_days=91)
    assert "greater than or equal to 1" in refused(expires_after_days=0)


# ---------------------------------------------------------------- the patient's view


def test_the_patient_reads_the_survey_in_their_best_language_without_how_it_is_judged() -> None:
    s = survey()
    view = localize(s, "es-MX")
    assert view.title == "Su visita" and view.language == "es"
    assert [q.text for q in view.questions] == ["¿recommend?", "¿courtesy?", "¿on-time?", "¿comments?"]
    assert [(q.min, q.max) for q in view.questions] == [(0, 10), (0, 10), (None, None), (None, None)]
    assert view.questions[2].choices is not None
    assert [(c.code, c.label) for c in view.questions[2].choices] == [("yes", "Sí"), ("no", "No")]
    assert view.questions[0].choices is None
    assert [q.required for q in view.questions] == [True, True, False, False]
    dumped = view.model_dump()
    assert "nps" not in str(dumped) and "low_at" not in str(dumped) and "flag" not in str(dumped)
    assert localize(s, "fr").language == "en"  # English when theirs is not offered
    only_es = survey(question("q", text={"es": "¿q?"}), title={"es": "Encuesta"})
    assert localize(only_es, "de").title == "Encuesta"  # then the survey's first


# ---------------------------------------------------------------- answers


def problems(s: SurveyIn, answers: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(AnswerError) as info:
        check_answers(s, answers)
    return info.value.problems


def test_answers_that_fit_are_kept_with_text_trimmed_and_empty_text_left_out() -> None:
    s = survey()
    assert check_answers(s, {"recommend": 10, "courtesy": 0, "on-time": "yes", "comments": "  Kind.\n"}) == {
        "recommend": 10,
        "courtesy": 0,
        "on-time": "yes",
        "comments": "Kind.",
    }
    assert check_answers(s, {"recommend": 7, "courtesy": 7, "comments": "   "}) == {
        "recommend": 7,
        "courtesy": 7,
    }
    long = "a" * 2000
    assert check_answers(s, {"recommend": 7, "courtesy": 7, "comments": long})["comments"] == long


def test_answers_that_do_not_fit_name_the_question_and_never_the_value() -> None:
    s = survey()
    found = problems(
        s,
        {"recommend": 11, "courtesy": -1, "on-time": "maybe", "comments": "x" * 2001, "secret-q": 1},
    )
    assert found == [
        ("recommend", "must be a whole number from 0 to 10"),
        ("courtesy", "must be a whole number from 0 to 10"),
        ("on-time", "must be a code among the choices"),
        ("comments", "must be at most 2000 characters"),
        ("secret-q", "no such question in this survey"),
    ]
    assert "maybe" not in str(found) and "secret" in str(found)
    assert problems(s, {"recommend": "9", "courtesy": 5}) == [
        ("recommend", "must be a whole number from 0 to 10")
    ]
    assert problems(s, {"recommend": 9, "courtesy": 5, "on-time": 1}) == [
        ("on-time", "must be a code among the choices")
    ]
    assert problems(s, {"recommend": 9, "courtesy": 5, "comments": 3}) == [("comments", "must be text")]
    assert problems(s, {"recommend": 9, "courtesy": 5, "comments": "bad\x1b[31m"}) == [
        ("comments", "must be text without control or bidirectional formatting characters")
    ]
    assert problems(s, {"recommend": 9, "courtesy": 5, "comments": "a\u202eb"})[0][0] == "comments"
    assert check_answers(s, {"recommend": 9, "courtesy": 5, "comments": "line\nnext\ttab"})["comments"]


def test_required_questions_must_be_answered_and_an_empty_response_is_refused() -> None:
    s = survey()
    assert problems(s, {"courtesy": 5}) == [("recommend", "is required")]
    assert problems(s, {"recommend": 12}) == [
        ("recommend", "must be a whole number from 0 to 10"),
        ("courtesy", "is required"),
    ]
    optional = survey(question("q", "text", required=False))
    assert problems(optional, {}) == [("answers", "answer at least one question")]
    assert problems(optional, {"q": "  "}) == [("answers", "answer at least one question")]
    required_text = survey(question("q", "text"))
    assert problems(required_text, {"q": " "}) == [("q", "is required")]


def test_a_response_body_takes_whole_numbers_and_text_and_says_who_answered() -> None:
    body = ResponseIn.model_validate({"answers": {"recommend": 3, "comments": "ok"}})
    assert body.answers == {"recommend": 3, "comments": "ok"} and body.answered_by == "patient"
    assert ResponseIn.model_validate({"answers": {}, "answered_by": "caregiver"}).answered_by == "caregiver"
    for bad in (
        {"answers": {"recommend": 3.5}},
        {"answers": {"recommend": True}},
        {"answers": {"Bad Id": 1}},
    ):
        with pytest.raises(ValidationError):
            ResponseIn.model_validate(bad)
    with pytest.raises(ValidationError):
        ResponseIn.model_validate({"answers": {}, "answered_by": "staff"})


def test_a_low_score_or_a_flagged_choice_flags_the_response() -> None:
    s = survey()
    assert flags(s, {"recommend": 3, "courtesy": 5, "on-time": "no"}) == [
        Flag("recommend", "low-score"),
        Flag("on-time", "flagged-choice"),
    ]
    assert flags(s, {"recommend": 6, "courtesy": 4}) == [
        Flag("recommend", "low-score"),
        Flag("courtesy", "low-score"),
    ]
    assert flags(s, {"recommend": 7, "courtesy": 5, "on-time": "yes", "comments": "awful"}) == []
    assert flags(s, {"courtesy": 10}) == []
    plain = survey(question("q"))
    assert flags(plain, {"q": 0}) == []  # a scale with no threshold never flags


def test_scores_and_the_nps_answer_are_the_numbers_a_report_reads() -> None:
    s = survey()
    answers: dict[str, int | str] = {"recommend": 9, "courtesy": 2, "on-time": "no", "comments": "x"}
    assert scores(s, answers) == {"recommend": 9, "courtesy": 2}
    assert nps_answer(s, answers) == 9
    assert nps_answer(s, {"courtesy": 2}) is None
    assert nps_answer(survey(question("q")), {"q": 9}) is None


def test_the_answers_read_back_in_the_survey_s_order_with_their_words_in_the_reader_s_language() -> None:
    s = survey()
    answers: dict[str, int | str] = {"comments": "Bien", "on-time": "yes", "recommend": 0}
    shown = answered_view(s, answers, "es-MX")
    assert [(a.question_id, a.question, a.answer) for a in shown] == [
        ("recommend", "¿recommend?", 0),
        ("on-time", "¿on-time?", "Sí"),
        ("comments", "¿comments?", "Bien"),
    ]
    english = answered_view(s, {"on-time": "no", "courtesy": 7}, "fr")
    assert [(a.question_id, a.question, a.answer) for a in english] == [
        ("courtesy", "courtesy?", 7),
        ("on-time", "on-time?", "No"),
    ]
    assert answered_view(s, {}, "en") == []


# ---------------------------------------------------------------- report


def test_nps_is_promoters_minus_detractors_in_percent() -> None:
    assert net_promoter_score([]) is None
    assert net_promoter_score([10, 9, 8, 7, 6, 0]) == round(100 * (2 - 2) / 6, 1) == 0.0
    assert net_promoter_score([10, 9, 9, 7]) == 75.0
    assert net_promoter_score([6, 6, 8]) == -66.7
    assert net_promoter_score([9]) == 100.0 and net_promoter_score([8]) == 0.0
    assert net_promoter_score([7]) == 0.0 and net_promoter_score([6]) == -100.0


def test_figures_count_sent_and_answered_and_average_each_scale_question() -> None:
    rows = [
        ReportRow(survey_code="visit", answered=True, scores={"recommend": 10, "courtesy": 5}, nps=10),
        ReportRow(survey_code="visit", answered=True, scores={"recommend": 3}, nps=3),
        ReportRow(survey_code="visit", answered=False),
        ReportRow(survey_code="home", answered=True, scores={"courtesy": 8}),
    ]
    out = figures(rows)
    assert (out.sent, out.answered, out.response_rate) == (4, 3, 0.75)
    assert (out.nps, out.nps_responses) == (0.0, 2)
    assert [(m.survey_code, m.question_id, m.mean, m.responses) for m in out.means] == [
        ("home", "courtesy", 8.0, 1),
        ("visit", "courtesy", 5.0, 1),
        ("visit", "recommend", 6.5, 2),
    ]
    empty = figures([])
    assert (empty.sent, empty.answered, empty.response_rate, empty.nps, empty.means) == (0, 0, None, None, [])
    assert (
        figures(
            [
                ReportRow(survey_code="v"),
                ReportRow(survey_code="v"),
                ReportRow(survey_code="v", answered=True),
            ]
        ).response_rate
        == 0.333
    )


def test_the_report_groups_by_provider_and_appointment_type_and_counts_recovery() -> None:
    rows = [
        ReportRow(survey_code="visit", provider_id="p2", appointment_type="follow-up", answered=True, nps=10),
        ReportRow(survey_code="visit", provider_id="p1", appointment_type="follow-up", answered=True, nps=2),
        ReportRow(survey_code="visit", provider_id="p1", appointment_type="new-patient"),
        ReportRow(survey_code="home"),  # a transition's survey: no provider, no type
    ]
    report = summarize(date(2026, 12, 1), date(2026, 12, 31), rows, opened=1, closed=2)
    assert (report.start, report.end) == (date(2026, 12, 1), date(2026, 12, 31))
    assert (report.overall.sent, report.overall.answered, report.overall.nps) == (4, 2, 0.0)
    assert [(p.provider_id, p.sent, p.answered, p.nps) for p in report.by_provider] == [
        ("p1", 2, 1, -100.0),
        ("p2", 1, 1, 100.0),
    ]
    assert [(t.appointment_type, t.sent, t.response_rate) for t in report.by_appointment_type] == [
        ("follow-up", 2, 1.0),
        ("new-patient", 1, 0.0),
    ]
    assert (report.recovery.opened, report.recovery.closed) == (1, 2)


def test_a_report_period_is_read_month_by_month() -> None:
    assert months(date(2026, 11, 30), date(2027, 2, 1)) == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert months(date(2026, 12, 5), date(2026, 12, 6)) == ["2026-12"]
