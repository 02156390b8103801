"""Service codes (shared/domain/codes.py): what a prior authorization asks for, against the code sets'
published shapes.

- CPT (http://www.ama-assn.org/go/cpt): 5 characters; 5 digits (category I, 99213), or 4 digits and
  F (category II, 3074F), T (category III, 0042T), U (proprietary laboratory analyses, 0001U) or M
  (administrative MAAA, 0002M);
- HCPCS Level II (https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets): a section letter, then
  4 digits; the sections are A-E, G, H, J-M, P-V (no F, I, N, O, nor W-Z);
- RxNorm (http://www.nlm.nih.gov/research/umls/rxnorm): an RXCUI, 1-8 digits, no leading zero.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.domain.codes import ClinicalCode, CodeSystem, ServiceCode, ServiceSystem, is_valid

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def test_the_systems_are_the_standard_uris() -> None:
    assert [s.value for s in ServiceSystem] == [CPT, HCPCS, RXNORM]


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("99213", True),  # office visit, category I
        ("00100", True),  # anesthesia codes start with zeros
        ("97110", True),  # therapeutic exercise
        ("3074F", True),  # category II
        ("0042T", True),  # category III
        ("0001U", True),  # proprietary laboratory analysis
        ("0002M", True),  # administrative MAAA
        ("9921", False),  # too short
        ("992133", False),  # too long
        ("3074f", False),  # the letter is upper case
        ("3074X", False),  # no such category
        ("F3074", False),  # the letter comes last
        ("A4253", False),  # HCPCS Level II, not CPT
        ("99213\n", False),  # nothing after the code
        (" 99213", False),
        ("", False),
    ],
)
def test_cpt(code: str, valid: bool) -> None:
    assert is_valid(ServiceSystem.CPT, code) is valid


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("A0428", True),  # ambulance
        ("B4035", True),  # enteral feeding
        ("C1713", True),
        ("D0120", True),  # dental
        ("E0114", True),  # crutches
        ("G0283", True),
        ("H0031", True),
        ("J1885", True),  # ketorolac injection
        ("K0001", True),
        ("L3000", True),
        ("M1000", True),
        ("P9603", True),
        ("Q4081", True),
        ("R0070", True),
        ("S9083", True),
        ("T1019", True),
        ("U0003", True),
        ("V2020", True),
        ("F1234", False),  # no F section
        ("I1234", False),  # I and O look like 1 and 0
        ("N1234", False),
        ("O1234", False),
        ("W1234", False),  # past V
        ("Z1234", False),
        ("j1885", False),
        ("J188", False),
        ("J18855", False),
        ("JJ885", False),
        ("99213", False),  # CPT, not Level II
        ("J1885\n", False),
    ],
)
def test_hcpcs_level_ii(code: str, valid: bool) -> None:
    assert is_valid(ServiceSystem.HCPCS, code) is valid


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("1", True),
        ("9", True),
        ("161", True),  # acetaminophen
        ("197361", True),  # amlodipine 5 mg oral tablet
        ("12345678", True),  # 8 digits
        ("123456789", False),  # 9
        ("0161", False),  # a leading zero
        ("0", False),
        ("16a", False),
        ("161\n", False),
        ("", False),
    ],
)
def test_rxnorm(code: str, valid: bool) -> None:
    assert is_valid(ServiceSystem.RXNORM, code) is valid


def test_the_clinical_systems_are_unchanged() -> None:
    assert [s.value for s in CodeSystem] == [
        "http://snomed.info/sct",
        "http://hl7.org/fhir/sid/icd-10-cm",
        "http://loinc.org",
    ]
    assert is_valid(CodeSystem.ICD10CM, "I50.9")
    assert not is_valid(CodeSystem.ICD10CM, "99213")
    with pytest.raises(ValidationError):
        ClinicalCode.model_validate({"system": CPT, "code": "99213"})  # a diagnosis is never a procedure


def test_a_service_code_is_checked_against_its_system() -> None:
    code = ServiceCode.model_validate({"system": CPT, "code": " 97110 ", "display": "Therapeutic exercise"})
    assert code.system is ServiceSystem.CPT
    assert code.code == "97110"  # trimmed
    assert code.is_drug is False
    assert ServiceCode(system=ServiceSystem.HCPCS, code="J1885").is_drug is False
    assert ServiceCode(system=ServiceSystem.RXNORM, code="197361").is_drug is True
    with pytest.raises(ValidationError, match="not a valid code of the system it names"):
        ServiceCode(system=ServiceSystem.RXNORM, code="J1885")
    with pytest.raises(ValidationError, match="not a valid code of the system it names"):
        ServiceCode(system=ServiceSystem.HCPCS, code="99213")
    with pytest.raises(ValidationError):
        ServiceCode.model_validate({"system": "http://snomed.info/sct", "code": "84114007"})
    with pytest.raises(ValidationError):
        ServiceCode.model_validate({"system": CPT, "code": "99213", "modifier": "25"})  # unknown field
