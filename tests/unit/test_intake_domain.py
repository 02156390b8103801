"""Intake's pure rules: name normalization, duplicate signatures, screening scores, active coverage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.domain.patients import (
    CareTeam,
    HumanName,
    PatientIn,
    PatientSelfView,
    PatientUpdate,
    duplicate_signatures,
    normalize_name,
    search_name,
)
from shared.domain.records import CoverageOut, active_on
from shared.domain.screening import Domain, Risk, Screening, score
from tests.support.intake import JANE, NEGATIVE_SCREEN, patient_record


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("José", "jose"),
        ("  O'Neil-Smith ", "oneilsmith"),
        ("ZOË  ann", "zoe ann"),
        ("Nguyễn", "nguyen"),
        ("Иван Петров", "иван петров"),
        ("Łukasz", "łukasz"),
        ("王 李", "王 李"),
        ("--", ""),
    ],
)
def test_names_normalize_across_accents_case_and_punctuation(raw: str, normalized: str) -> None:
    assert normalize_name(raw) == normalized


def test_search_names_are_family_first() -> None:
    assert search_name(HumanName(given=["Mary", "Ann"], family="Roe")) == "roe mary ann"


def test_duplicate_signatures_match_what_makes_two_records_one_person() -> None:
    a = duplicate_signatures(HumanName(given=["Jane"], family="Roe"), date(1961, 4, 12), "+15555550123")
    b = duplicate_signatures(HumanName(given=["JANE"], family="Röe"), date(1961, 4, 12), None)
    c = duplicate_signatures(HumanName(given=["Janet"], family="Doe"), date(1961, 4, 12), "+15555550123")
    assert a["name_birth_date"] == b["name_birth_date"]
    assert "phone_birth_date" not in b
    assert a["phone_birth_date"] == c["phone_birth_date"] and a["name_birth_date"] != c["name_birth_date"]


def test_a_future_birth_date_is_refused_against_the_clock_given() -> None:
    model = PatientIn.model_validate({**JANE, "birth_date": "2026-11-24"})
    with pytest.raises(ValueError, match="future"):
        model.check_dates(date(2026, 11, 23))
    model.check_dates(date(2026, 11, 24))


def test_phone_numbers_are_read_as_e164() -> None:
    assert (
        PatientIn.model_validate({**JANE, "contact": {"phone": "+1 (555) 555-0123"}}).contact.phone
        == "+15555550123"
    )
    with pytest.raises(ValidationError):
        PatientIn.model_validate({**JANE, "contact": {"phone": "5555550123"}})


def screening(**changes: object) -> Screening:
    return Screening.model_validate({**NEGATIVE_SCREEN, **changes})


@pytest.mark.parametrize(
    ("changes", "positive"),
    [
        ({}, []),
        ({"living_situation": {"situation": "steady_but_worried"}}, [Domain.LIVING_SITUATION]),
        ({"living_situation": {"situation": "steady", "problems": ["mold"]}}, [Domain.LIVING_SITUATION]),
        ({"food": {"worried_would_run_out": "never", "ran_out": "sometimes"}}, [Domain.FOOD]),
        ({"utilities": "already_shut_off"}, [Domain.UTILITIES]),
        ({"transportation": "yes"}, [Domain.TRANSPORTATION]),
    ],
)
def test_each_domain_is_positive_on_its_own_rule(changes: dict, positive: list[Domain]) -> None:
    result = score(screening(**changes))
    assert result.positive == positive
    assert result.risk == (Risk.MODERATE if positive else Risk.LOW)
    assert not result.urgent


@pytest.mark.parametrize(
    ("answers", "positive"),
    [
        (("sometimes", "sometimes", "sometimes", "rarely"), True),  # 3+3+3+2 = 11 > 10
        (("sometimes", "sometimes", "rarely", "rarely"), False),  # 10 is not > 10
        (("frequently", "never", "never", "never"), False),  # 8
    ],
)
def test_interpersonal_safety_uses_the_hits_threshold_and_is_urgent(answers: tuple, positive: bool) -> None:
    keys = ("physically_hurt", "insulted", "threatened", "screamed_at")
    result = score(screening(interpersonal_safety=dict(zip(keys, answers, strict=True))))
    assert (Domain.INTERPERSONAL_SAFETY in result.positive) is positive
    assert result.urgent is positive
    assert (result.risk == Risk.HIGH) is positive


def test_three_needs_are_high_risk_without_a_safety_concern() -> None:
    result = score(
        screening(
            transportation="yes", utilities="yes", food={"worried_would_run_out": "often", "ran_out": "often"}
        )
    )
    assert result.risk == Risk.HIGH and not result.urgent


def coverage(
    payer: str, start: str, end: str | None = None, rank: str = "primary", recorded: int = 0
) -> CoverageOut:
    return CoverageOut.model_validate(
        {
            "id": f"C{recorded}",
            "patient_id": "P",
            "payer": payer,
            "member_id": "M",
            "effective_start": start,
            "effective_end": end,
            "rank": rank,
            "recorded_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=recorded),
        }
    )


def test_active_coverage_is_the_latest_recorded_in_force_per_rank() -> None:
    items = [
        coverage("Old", "2025-01-01", "2025-12-31", recorded=0),
        coverage("New", "2026-01-01", recorded=1),
        coverage("Newer", "2026-03-01", recorded=2),
        coverage("Second", "2026-01-01", "2026-06-30", "secondary", 3),
    ]
    assert active_on(items, date(2025, 12, 31)).primary.payer == "Old"  # type: ignore[union-attr]
    feb = active_on(items, date(2026, 2, 1))
    assert (feb.primary.payer, feb.secondary.payer) == ("New", "Second")  # type: ignore[union-attr]
    jul = active_on(items, date(2026, 7, 1))
    assert jul.primary.payer == "Newer" and jul.secondary is None  # type: ignore[union-attr]
    assert active_on(items, date(2024, 1, 1)).primary is None


# ---------------------------------------------------------------- what a 422 says, field by field


def refusal(**changes: object) -> str:
    """The sentence a registration with ``changes`` is refused with (as the 422 lists it)."""
    with pytest.raises(ValidationError) as caught:
        PatientIn.model_validate({**JANE, **changes})
    (error,) = caught.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


def test_each_field_is_refused_with_a_sentence_naming_what_it_must_be() -> None:
    assert refusal(contact={"phone": "5555550123"}) == "must be an E.164 phone number, e.g. +15555550123"
    assert (
        refusal(contact={"email": "jane.example.com"}) == "must be an e-mail address, e.g. name@example.com"
    )
    assert refusal(time_zone="Mars/Olympus") == "must be an IANA time zone, e.g. America/Chicago"
    assert refusal(preferred_language="english") == "must be a BCP 47 language tag, e.g. en, es-MX"


def test_an_email_address_is_at_most_254_characters_and_kept_in_lower_case() -> None:
    longest = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + "." + "c" * 6  # 254 characters
    assert len(longest) == 254
    assert PatientIn.model_validate({**JANE, "contact": {"email": longest}}).contact.email == longest
    assert PatientIn.model_validate({**JANE, "contact": {"email": "Jane@Example.COM"}}).contact.email == (
        "jane@example.com"
    )
    with pytest.raises(ValidationError):
        PatientIn.model_validate({**JANE, "contact": {"email": "b" + longest}})


def test_a_birth_date_is_not_in_the_future_nor_more_than_130_years_back() -> None:
    today = date(2026, 11, 23)
    for born, problem in [
        (date(2026, 11, 24), "cannot be in the future"),
        (date(1895, 12, 31), "cannot be more than 130 years ago"),
    ]:
        with pytest.raises(ValueError) as caught:
            PatientIn.model_validate({**JANE, "birth_date": born.isoformat()}).check_dates(today)
        assert str(caught.value) == problem
    for born in (date(1896, 1, 1), today):
        PatientIn.model_validate({**JANE, "birth_date": born.isoformat()}).check_dates(today)


def test_a_staff_update_checks_a_birth_date_only_when_it_sends_one() -> None:
    today = date(2026, 11, 23)
    PatientUpdate.model_validate({"preferred_language": "es"}).check_dates(today)
    PatientUpdate.model_validate({"birth_date": "1961-04-12"}).check_dates(today)
    with pytest.raises(ValueError, match=r"^cannot be in the future$"):
        PatientUpdate.model_validate({"birth_date": "2026-11-24"}).check_dates(today)


def test_a_care_team_names_its_members_by_role() -> None:
    assert CareTeam(coordinator_id="coord-1").members() == {"coordinator": "coord-1"}
    team = CareTeam(coordinator_id="coord-1", nurse_id="nurse-2", physician_id="doc-3")
    assert team.members() == {"coordinator": "coord-1", "nurse": "nurse-2", "physician": "doc-3"}


def test_a_patient_sees_only_their_contact_language_channels_and_consent() -> None:
    record = patient_record()
    view = PatientSelfView.of(record)
    assert view.model_dump() == {
        "id": record.id,
        "version": record.version,
        "contact": record.contact.model_dump(),
        "preferred_language": record.preferred_language,
        "preferred_channels": record.preferred_channels,
        "consent": {channel: c.model_dump() for channel, c in record.consent.items()},
        "surveys": True,
    }
    opted_out = record.model_copy(update={"surveys": False})
    assert PatientSelfView.of(opted_out).surveys is False


def test_a_phone_signature_is_the_birth_date_and_the_number() -> None:
    signatures = duplicate_signatures(
        HumanName(given=["Jane"], family="Roe"), date(1961, 4, 12), "+15555550123"
    )
    assert signatures == {
        "name_birth_date": "1961-04-12|roe jane",
        "phone_birth_date": "1961-04-12|+15555550123",
    }
    assert duplicate_signatures(HumanName(given=["--"], family="--"), date(1961, 4, 12), None) == {}


def test_coverage_is_in_force_from_its_first_day_to_its_last() -> None:
    items = [coverage("Plan", "2026-03-01", "2026-03-31")]
    assert [active_on(items, date(2026, 3, d)).primary is not None for d in (1, 31)] == [True, True]
    assert active_on(items, date(2026, 2, 28)).primary is None
    assert active_on(items, date(2026, 4, 1)).primary is None
