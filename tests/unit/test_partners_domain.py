"""Partners and lab results (shared/domain/partners.py, shared/domain/results.py), against rules
written out here.

The rules:
- a result is critical when the lab says HH, LL or AA (any case), or when its value is at or past a
  critical low or high the organization names for its LOINC code, in the same unit (never across
  units, codes or code systems; no value, no limit); else abnormal when the lab says H, L, A, HU or
  LU; else normal;
- a critical value names a LOINC code, a unit and a low, a high or both (low below high);
- a patient's view of a result has no partner ids and no staff, and says whether it was reviewed;
- a result corrects the one we hold when it is corrected or amended;
- outbound deliveries are retried on Standard Webhooks' schedule (5 s, 5 min, 30 min, 2 h, 5 h,
  10 h, 10 h after each failure), then given up; only a 2xx is an answer;
- a partner names its resource types once each, and its patients by a URI system; a patch changes
  what it gives (a null is not given), and makes a new version;
- a patient has one identifier per system; a subscription names each event type once, and every
  event type is one some event of ours is delivered as.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

import shared.events.intake
import shared.events.partners
import shared.events.reminders
import shared.events.scheduling
import shared.events.tasks  # noqa: F401 (the event classes, for their detail types)
from shared.domain.clinical import Coding, ResultRecord
from shared.domain.partners import (
    EVENT_TYPES,
    MAX_ATTEMPTS,
    EventType,
    Identifier,
    IdentifiersIn,
    PartnerIn,
    PartnerKind,
    PartnerOut,
    PartnerPatch,
    SubscriptionIn,
    answered_ok,
    patched,
    retry_at,
)
from shared.domain.results import (
    CriticalValue,
    Flag,
    ResultOut,
    ResultPatientView,
    corrects,
    default_critical_values,
    flag,
)
from shared.events.models import DomainEvent

T = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)
LOINC = "http://loinc.org"
POTASSIUM = "2823-3"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.42"


def result(
    value: float | None = None,
    interpretation: str | None = None,
    code: str = POTASSIUM,
    unit: str | None = "mmol/L",
    system: str | None = LOINC,
    status: str = "final",
) -> ResultRecord:
    return ResultRecord(
        source_id="obs-1",
        status=status,
        code=Coding(system=system, code=code),
        value=value,
        unit=unit,
        interpretation=interpretation,
    )


def refused(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[str, str]]:
    """Where and why ``data`` is refused: a validator's own message, else pydantic's error type."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [
        (".".join(map(str, e["loc"])), e["msg"] if e["type"] == "value_error" else e["type"])
        for e in caught.value.errors()
    ]


# ---------------------------------------------------------------- results: flag


@pytest.mark.parametrize(
    ("interpretation", "expected"),
    [
        ("H", Flag.ABNORMAL),
        ("L", Flag.ABNORMAL),
        ("A", Flag.ABNORMAL),
        ("HU", Flag.ABNORMAL),
        ("LU", Flag.ABNORMAL),
        ("HH", Flag.CRITICAL),
        ("LL", Flag.CRITICAL),
        ("AA", Flag.CRITICAL),
        ("h", Flag.ABNORMAL),
        ("l", Flag.ABNORMAL),
        ("hh", Flag.CRITICAL),
        ("aa", Flag.CRITICAL),
        ("Ll", Flag.CRITICAL),
        ("N", Flag.NORMAL),
        ("n", Flag.NORMAL),
        ("", Flag.NORMAL),
        (None, Flag.NORMAL),
        ("X", Flag.NORMAL),
    ],
)
def test_the_labs_interpretation_flags_a_result(interpretation: str | None, expected: Flag) -> None:
    limits = default_critical_values()
    assert flag(result(interpretation=interpretation), limits) is expected  # no value: only the flag
    assert flag(result(value=4.0, interpretation=interpretation), limits) is expected  # within limits
    assert flag(result(interpretation=interpretation), []) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, Flag.CRITICAL),
        (2.7, Flag.CRITICAL),
        (2.8, Flag.CRITICAL),  # at the low limit
        (2.81, Flag.NORMAL),
        (4.0, Flag.NORMAL),
        (6.19, Flag.NORMAL),
        (6.2, Flag.CRITICAL),  # at the high limit
        (6.8, Flag.CRITICAL),
        (12.0, Flag.CRITICAL),
    ],
)
def test_a_value_at_or_past_a_critical_limit_is_critical_whatever_the_lab_flagged(
    value: float, expected: Flag
) -> None:
    limits = default_critical_values()
    assert flag(result(value=value), limits) is expected
    assert flag(result(value=value, interpretation="N"), limits) is expected
    # an abnormal flag stays abnormal inside the limits, and becomes critical past them
    assert flag(result(value=value, interpretation="H"), limits) is (
        Flag.CRITICAL if expected is Flag.CRITICAL else Flag.ABNORMAL
    )


def test_a_critical_flag_is_critical_even_inside_the_limits() -> None:
    assert flag(result(value=4.0, interpretation="HH"), default_critical_values()) is Flag.CRITICAL
    assert flag(result(value=4.0, interpretation="LL"), []) is Flag.CRITICAL


@pytest.mark.parametrize(
    ("name", "code", "unit", "low", "high"),
    [
        ("potassium, serum/plasma", "2823-3", "mmol/L", 2.8, 6.2),
        ("potassium, blood", "6298-4", "mmol/L", 2.8, 6.2),
        ("sodium", "2951-2", "mmol/L", 120, 160),
        ("glucose", "2345-7", "mg/dL", 40, 450),
        ("calcium", "17861-6", "mg/dL", 6.0, 13.0),
        ("hemoglobin", "718-7", "g/dL", 7.0, 20.0),
        ("platelets", "777-3", "10*3/uL", 20, 1000),
        ("INR", "6301-6", "{INR}", None, 5.0),
    ],
)
def test_the_default_critical_limits(name: str, code: str, unit: str, low: float | None, high: float) -> None:
    # the defaults are made here, in the test, not once at import: a mutation run changes them per test
    limits = default_critical_values()

    def of(value: float) -> Flag:
        return flag(result(value=value, code=code, unit=unit), limits)

    assert of(high) is Flag.CRITICAL, name
    assert of(high + 1) is Flag.CRITICAL, name
    assert of(high - 0.1) is Flag.NORMAL, name
    if low is None:
        assert of(0.1) is Flag.NORMAL, name  # no low limit: nothing is too low
    else:
        assert of(low) is Flag.CRITICAL, name
        assert of(low - 1) is Flag.CRITICAL, name
        assert of(low + 0.1) is Flag.NORMAL, name
    # the same value in another unit, or for another test, is never compared with the limit
    assert flag(result(value=high, code=code, unit=unit + "x"), limits) is Flag.NORMAL, name
    assert flag(result(value=high, code="2160-0", unit=unit), limits) is Flag.NORMAL, name


def test_the_defaults_name_each_limit_once() -> None:
    limits = default_critical_values()
    assert len({v.code for v in limits}) == len(limits) == 8


def test_critical_limits_are_never_compared_across_units_codes_or_code_systems() -> None:
    limits = [CriticalValue(code=POTASSIUM, unit="mmol/L", low=2.8, high=6.2)]
    assert flag(result(value=6.8), limits) is Flag.CRITICAL
    # another unit (6.8 mEq/L is the same amount, but we do not convert), or none
    assert flag(result(value=6.8, unit="mEq/L"), limits) is Flag.NORMAL
    assert flag(result(value=6.8, unit="mmol/l"), limits) is Flag.NORMAL
    assert flag(result(value=6.8, unit=None), limits) is Flag.NORMAL
    assert flag(result(value=1.0, unit="mEq/L", interpretation="L"), limits) is Flag.ABNORMAL
    # another LOINC code
    assert flag(result(value=6.8, code="6298-4"), limits) is Flag.NORMAL
    # the same code in another code system is another test; a code without a system is read as LOINC
    assert flag(result(value=6.8, system="http://acme-lab.example/codes"), limits) is Flag.NORMAL
    assert flag(result(value=6.8, system="urn:oid:2.16.840.1.113883.6.1"), limits) is Flag.NORMAL
    assert flag(result(value=6.8, system=None), limits) is Flag.CRITICAL
    assert flag(result(value=1.0, system=None), limits) is Flag.CRITICAL


def test_the_limit_of_the_results_own_code_applies_wherever_it_is_listed() -> None:
    sodium = CriticalValue(code="2951-2", unit="mmol/L", low=120, high=160)
    potassium = CriticalValue(code=POTASSIUM, unit="mmol/L", low=2.8, high=6.2)
    # a potassium of 130 mmol/L is far past potassium's limits; within sodium's does not matter
    assert flag(result(value=130.0), [sodium, potassium]) is Flag.CRITICAL
    assert flag(result(value=4.0), [sodium, potassium]) is Flag.NORMAL
    assert flag(result(value=118.0, code="2951-2"), [potassium, sodium]) is Flag.CRITICAL
    assert flag(result(value=6.8), []) is Flag.NORMAL  # no limits named: only the flag counts
    # two limits for the same code in two units: each value against its own unit's
    mg = CriticalValue(code=POTASSIUM, unit="mg/dL", high=24.0)
    assert flag(result(value=6.8, unit="mg/dL"), [potassium, mg]) is Flag.NORMAL
    assert flag(result(value=25.0, unit="mg/dL"), [potassium, mg]) is Flag.CRITICAL


def test_a_result_without_a_value_is_never_critical_by_limits() -> None:
    text = ResultRecord(
        source_id="obs-2",
        status="final",
        code=Coding(system=LOINC, code=POTASSIUM),
        unit="mmol/L",
        value_text="hemolyzed, 6.8?",
    )
    limits = default_critical_values()
    assert flag(text, limits) is Flag.NORMAL
    assert flag(text.model_copy(update={"interpretation": "A"}), limits) is Flag.ABNORMAL
    assert flag(text.model_copy(update={"interpretation": "AA"}), limits) is Flag.CRITICAL


# ---------------------------------------------------------------- results: critical values


def test_a_critical_value_names_a_low_a_high_or_both() -> None:
    assert refused(CriticalValue, {"code": POTASSIUM, "unit": "mmol/L"}) == [
        ("", "Value error, a critical value names low, high or both")
    ]
    assert CriticalValue(code=POTASSIUM, unit="mmol/L", low=2.8).high is None
    assert CriticalValue(code=POTASSIUM, unit="mmol/L", high=6.2).low is None
    both = CriticalValue(code=POTASSIUM, unit="mmol/L", low=2.8, high=6.2)
    assert (both.low, both.high) == (2.8, 6.2)
    assert CriticalValue(code=POTASSIUM, unit="mmol/L", low=-1, high=0).low == -1


@pytest.mark.parametrize(("low", "high"), [(6.2, 6.2), (6.2, 2.8), (0, -1)])
def test_a_critical_low_is_below_the_high(low: float, high: float) -> None:
    assert refused(CriticalValue, {"code": POTASSIUM, "unit": "mmol/L", "low": low, "high": high}) == [
        ("", "Value error, low must be below high")
    ]


@pytest.mark.parametrize("code", ["2823-3", "17861-6", "1-0", "1234567-8"])
def test_a_critical_value_names_a_loinc_code(code: str) -> None:
    assert CriticalValue(code=code, unit="mmol/L", high=6.2).code == code


@pytest.mark.parametrize("code", ["2823", "2823-", "2823-33", "12345678-1", "-3", "K-3", "2823 -3", "LP1-0"])
def test_a_critical_value_refuses_what_is_not_a_loinc_code(code: str) -> None:
    assert refused(CriticalValue, {"code": code, "unit": "mmol/L", "high": 6.2}) == [
        ("code", "string_pattern_mismatch")
    ]


def test_a_critical_value_needs_a_unit() -> None:
    assert refused(CriticalValue, {"code": POTASSIUM, "unit": " ", "high": 6.2}) == [
        ("unit", "string_too_short")
    ]


# ---------------------------------------------------------------- results: views and corrections


def stored(**changes: Any) -> ResultOut:
    return ResultOut.model_validate(
        {
            "id": "R1",
            "version": 3,
            "code": {"system": LOINC, "code": POTASSIUM, "display": "Potassium"},
            "value": 6.8,
            "unit": "mmol/L",
            "low": 3.5,
            "high": 5.1,
            "interpretation": "HH",
            "flag": "critical",
            "status": "corrected",
            "kind": "Observation",
            "issued": T,
            "effective": T - timedelta(hours=2),
            "report_id": "REP1",
            "corrected": True,
            "previous": {"status": "final", "value": 5.0, "unit": "mmol/L", "flag": "normal", "issued": T},
            "partner_id": "PARTNER1",
            "source_id": "obs-1",
            "received_at": T + timedelta(minutes=1),
            "acknowledged_at": T + timedelta(minutes=9),
            "acknowledged_by": "dr-house",
            **changes,
        }
    )


def test_a_patient_reads_their_result_without_partner_ids_or_staff() -> None:
    staff = stored()
    view = ResultPatientView.of(staff).model_dump()
    hidden = {"version", "partner_id", "source_id", "received_at", "acknowledged_at", "acknowledged_by"}
    assert not hidden & set(view)
    assert view == {**staff.model_dump(exclude=hidden), "reviewed": True}
    assert "PARTNER1" not in ResultPatientView.of(staff).model_dump_json()
    assert "dr-house" not in ResultPatientView.of(staff).model_dump_json()


def test_a_result_is_reviewed_once_a_clinician_acknowledged_it() -> None:
    assert ResultPatientView.of(stored()).reviewed is True
    assert ResultPatientView.of(stored(acknowledged_at=None, acknowledged_by=None)).reviewed is False


@pytest.mark.parametrize(
    ("status", "expected"),
    [("corrected", True), ("amended", True), ("final", False), ("preliminary", False), ("cancelled", False)],
)
def test_a_corrected_or_amended_result_corrects_the_one_we_hold(status: str, expected: bool) -> None:
    assert corrects(stored(status="final"), result(value=5.0, status=status)) is expected
    assert corrects(None, result(value=5.0, status=status)) is False  # nothing held: nothing to correct


# ---------------------------------------------------------------- partners: deliveries


def test_a_failed_delivery_is_retried_on_the_standard_webhooks_schedule() -> None:
    waits = [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    ]
    assert [retry_at(n, T) for n in range(1, 8)] == [T + wait for wait in waits]
    assert MAX_ATTEMPTS == 8
    assert retry_at(8, T) is None  # the eighth attempt failed: given up
    assert retry_at(9, T) is None
    assert retry_at(0, T) is None  # nothing failed yet: no retry
    assert retry_at(-1, T) is None
    # the waits add up to a little over a day
    at, tries = T, 1
    while (after := retry_at(tries, at)) is not None:
        at, tries = after, tries + 1
    assert (tries, at - T) == (8, timedelta(hours=27, minutes=35, seconds=5))


@pytest.mark.parametrize(
    ("status", "ok"),
    [
        *[(100, False), (199, False), (200, True), (201, True), (204, True), (299, True), (300, False)],
        *[(301, False), (400, False), (410, False), (429, False), (500, False), (503, False)],
    ],
)
def test_only_a_2xx_answer_is_a_delivery(status: int, ok: bool) -> None:
    assert answered_ok(status) is ok


# ---------------------------------------------------------------- partners: partners


def partner_in(**changes: Any) -> dict[str, Any]:
    return {
        "name": "St. Mary's Hospital",
        "kind": "hospital",
        "resource_types": ["Encounter", "Observation"],
        "identifier_system": MRN_SYSTEM,
        **changes,
    }


def test_a_partner_is_named_with_what_it_sends_and_how_it_names_patients() -> None:
    partner = PartnerIn.model_validate(partner_in(name="  St. Mary's Hospital "))
    assert partner.name == "St. Mary's Hospital"
    assert partner.kind is PartnerKind.HOSPITAL
    assert partner.resource_types == ["Encounter", "Observation"]
    assert partner.identifier_system == MRN_SYSTEM
    assert partner.active is True
    every = ["Encounter", "Observation", "DiagnosticReport", "Appointment"]
    assert PartnerIn.model_validate(partner_in(resource_types=every)).resource_types == every


@pytest.mark.parametrize("model", [PartnerIn, PartnerPatch])
def test_a_partner_names_each_resource_type_once(model: type[BaseModel]) -> None:
    data = partner_in(resource_types=["Observation", "Encounter", "Observation"])
    assert refused(model, data if model is PartnerIn else {"resource_types": data["resource_types"]}) == [
        ("resource_types", "Value error, resource types must be distinct")
    ]
    assert PartnerPatch(resource_types=["Observation"]).resource_types == ["Observation"]


@pytest.mark.parametrize(
    "system",
    [
        MRN_SYSTEM,
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "https://hospital.example/mrn",
        "http://x.y",
    ],
)
def test_an_identifier_system_is_a_uri(system: str) -> None:
    assert PartnerIn.model_validate(partner_in(identifier_system=system)).identifier_system == system
    assert PartnerPatch(identifier_system=system).identifier_system == system
    assert Identifier(system=system, value="MRN-0042").system == system


@pytest.mark.parametrize(
    "system",
    [
        "MRN",
        "hospital.example/mrn",
        "ftp://hospital.example/mrn",
        "urn:oid:2.16 .840",
        "https://hospital.example/m rn",
        "https://hospital.example/mrn|x",
        "urn:",
        "",
    ],
)
def test_an_identifier_system_that_is_not_a_uri_is_refused(system: str) -> None:
    for model, data in [
        (PartnerIn, partner_in(identifier_system=system)),
        (PartnerPatch, {"identifier_system": system}),
        (Identifier, {"system": system, "value": "MRN-0042"}),
    ]:
        ((where, why),) = refused(model, data)
        assert where.endswith("system")
        assert why in {"string_pattern_mismatch", "string_too_short"}


@pytest.mark.parametrize("model", [PartnerIn, PartnerPatch])
def test_a_partners_name_is_1_to_120_characters(model: type[BaseModel]) -> None:
    def data(name: str) -> dict[str, Any]:
        return partner_in(name=name) if model is PartnerIn else {"name": name}

    assert model.model_validate(data("x" * 120)).model_dump()["name"] == "x" * 120
    assert model.model_validate(data("M")).model_dump()["name"] == "M"
    assert refused(model, data("x" * 121)) == [("name", "string_too_long")]
    assert refused(model, data("")) == [("name", "string_too_short")]
    assert refused(model, data("   ")) == [("name", "string_too_short")]


def test_a_partner_refuses_what_it_does_not_know() -> None:
    assert refused(PartnerIn, partner_in(resource_types=["Patient"])) == [
        ("resource_types.0", "literal_error")
    ]
    assert refused(PartnerIn, partner_in(resource_types=[])) == [("resource_types", "too_short")]
    assert refused(PartnerIn, partner_in(kind="pharmacy")) == [("kind", "enum")]
    assert refused(PartnerIn, partner_in(secret="whsec_x")) == [("secret", "extra_forbidden")]
    assert refused(PartnerPatch, {"kind": "lab"}) == [("kind", "extra_forbidden")]


def partner(**changes: Any) -> PartnerOut:
    return PartnerOut.model_validate(
        {
            "id": "PARTNER1",
            "version": 4,
            "name": "St. Mary's Hospital",
            "kind": "hospital",
            "resource_types": ["Encounter"],
            "identifier_system": MRN_SYSTEM,
            "active": True,
            "secrets": [{"id": "S1", "use": "inbound", "created_at": T, "created_by": "admin-1"}],
            "webhook_path": "/webhooks/PARTNER1",
            "created_at": T - timedelta(days=30),
            "updated_at": T - timedelta(days=1),
            **changes,
        }
    )


def test_a_patch_changes_only_what_it_gives_and_makes_a_new_version() -> None:
    held, now = partner(), T + timedelta(minutes=5)
    renamed = patched(held, PartnerPatch(name="St. Mary's Medical Center"), now)
    assert renamed.model_dump() == {
        **held.model_dump(),
        "name": "St. Mary's Medical Center",
        "version": 5,
        "updated_at": now,
    }
    both = patched(
        held, PartnerPatch(resource_types=["Encounter", "Appointment"], active=False), now
    ).model_dump()
    assert both == {
        **held.model_dump(),
        "resource_types": ["Encounter", "Appointment"],
        "active": False,  # false is given, not left out
        "version": 5,
        "updated_at": now,
    }
    assert held.version == 4 and held.name == "St. Mary's Hospital"  # the record held is left alone


def test_a_patch_of_nulls_or_nothing_changes_nothing_but_the_version() -> None:
    held, now = partner(), T + timedelta(minutes=5)
    nulls = PartnerPatch.model_validate({"name": None, "identifier_system": None, "active": None})
    for patch in (nulls, PartnerPatch()):
        assert patched(held, patch, now).model_dump() == {
            **held.model_dump(),
            "version": 5,
            "updated_at": now,
        }
    assert patched(patched(held, nulls, now), nulls, now).version == 6


def test_a_null_resource_types_in_a_patch_is_not_given() -> None:
    patch = PartnerPatch.model_validate({"resource_types": None})
    now = T + timedelta(minutes=5)
    assert patched(partner(), patch, now).resource_types == ["Encounter"]


# ---------------------------------------------------------------- partners: patient identifiers


def test_a_patient_has_one_identifier_per_system() -> None:
    two = [
        {"system": MRN_SYSTEM, "value": "MRN-0042"},
        {"system": "https://lab.example/patients", "value": "P-7"},
    ]
    assert [i.token for i in IdentifiersIn.model_validate({"identifiers": two}).identifiers] == [
        f"{MRN_SYSTEM}|MRN-0042",
        "https://lab.example/patients|P-7",
    ]
    assert IdentifiersIn(identifiers=[]).identifiers == []
    again = [*two, {"system": MRN_SYSTEM, "value": "MRN-0043"}]
    assert refused(IdentifiersIn, {"identifiers": again}) == [("", "Value error, one identifier per system")]
    same = [two[0], two[0]]
    assert refused(IdentifiersIn, {"identifiers": same}) == [("", "Value error, one identifier per system")]


def test_an_identifiers_token_is_its_system_and_value() -> None:
    assert Identifier(system=MRN_SYSTEM, value="MRN-0042").token == "urn:oid:2.16.840.1.113883.3.42|MRN-0042"
    assert Identifier(system=" http://x.y ", value=" 42 ").token == "http://x.y|42"  # trimmed


@pytest.mark.parametrize("value", ["MRN 0042", "MRN|0042", "", "x" * 65])
def test_an_identifier_value_has_no_spaces_or_bars(value: str) -> None:
    ((where, _),) = refused(Identifier, {"system": MRN_SYSTEM, "value": value})
    assert where == "value"


# ---------------------------------------------------------------- partners: subscriptions


def test_a_subscription_names_each_event_type_once() -> None:
    every = list(get_args(EventType))
    assert SubscriptionIn(url="https://partner.example/hook", event_types=every).event_types == every
    one = SubscriptionIn(url="https://partner.example/hook", event_types=["task.completed"])
    assert one.event_types == ["task.completed"]
    twice = ["appointment.booked", "task.completed", "appointment.booked"]
    assert refused(SubscriptionIn, {"url": "https://partner.example/hook", "event_types": twice}) == [
        ("event_types", "Value error, event types must be distinct")
    ]
    assert refused(SubscriptionIn, {"url": "https://partner.example/hook", "event_types": []}) == [
        ("event_types", "too_short")
    ]
    assert refused(
        SubscriptionIn, {"url": "https://partner.example/hook", "event_types": ["result.critical"]}
    ) == [("event_types.0", "literal_error")]


def detail_types() -> set[str]:
    def walk(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *walk(sub))]

    return {c.__dict__["detail_type"] for c in walk(DomainEvent) if "detail_type" in c.__dict__}


def test_every_event_type_a_partner_can_subscribe_to_is_delivered_from_our_events() -> None:
    assert set(EVENT_TYPES.values()) == set(get_args(EventType))  # none can be subscribed to in vain
    assert set(EVENT_TYPES) <= detail_types()  # each key is an event we publish
    assert EVENT_TYPES["ResultAcknowledged"] == "result.acknowledged"
    assert {k for k, v in EVENT_TYPES.items() if v == "referral.status"} == {
        "ReferralSent",
        "ReferralAccepted",
        "ReferralRejected",
        "ReferralScheduled",
        "ReferralUnscheduled",
        "ReferralCompleted",
        "ReferralClosed",
        "ReferralCancelled",
        "ReferralOverdue",
    }
    # nothing about a result's value is delivered: critical and abnormal results stay ours
    assert "ResultCritical" not in EVENT_TYPES and "ResultAbnormal" not in EVENT_TYPES
