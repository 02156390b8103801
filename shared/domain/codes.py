"""Clinical codes checked against the system they claim: a SNOMED CT concept id (its Verhoeff check
digit and a concept partition), an ICD-10-CM code (its shape: letter, two characters, an optional
dotted extension), a LOINC code (its mod-10 check digit). A code that passes is well formed, not
necessarily in the current release: we hold no terminology server.

What a prior authorization asks for is a **service** code, in a system of its own (:class:`ServiceSystem`,
kept apart from :class:`CodeSystem` so a problem, a goal's measure or a diagnosis is never a procedure
or a drug): a procedure in CPT (5 characters: 5 digits for category I; 4 digits and ``F`` for category
II, ``T`` for category III, ``U`` for a proprietary laboratory analysis, ``M`` for an administrative
MAAA code) or HCPCS Level II (a section letter, then 4 digits; the sections are A-E, G, H, J-M, P-V:
no F, I, N or O), or a drug as an RxNorm concept (an RXCUI: 1 to 8 digits, no leading zero).

python-stdnum does the check-digit arithmetic (the same Verhoeff and Luhn a terminology loader runs).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field, model_validator

from shared.domain.base import Strict
from shared.fhir.systems import LOINC, SNOMED

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
# ICD-10-CM: a letter (not U, which WHO reserves), a digit, a digit or A/B, then up to four more
# characters after the dot (Z59.41, I50.9, E11.65, S72.001A)
_ICD10 = re.compile(r"^[A-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$")  # U too: U07.1 COVID-19, U09.9
_SNOMED = re.compile(r"^[1-9][0-9]{5,17}$")
_LOINC = re.compile(r"^[0-9]{1,7}-[0-9]$")
# the partition identifier (2nd and 3rd digits from the right) of a concept: short or long format
CONCEPT_PARTITIONS = frozenset({"00", "10"})

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


class CodeSystem(StrEnum):
    SNOMED = SNOMED
    ICD10CM = ICD10CM
    LOINC = LOINC


class ServiceSystem(StrEnum):
    """The systems a service (what a payer authorizes) is coded in."""

    CPT = CPT
    HCPCS = HCPCS
    RXNORM = RXNORM


# whole-string shapes (fullmatch: no trailing line break slips through)
_SERVICE = {
    ServiceSystem.CPT: re.compile(r"[0-9]{4}[0-9FTUM]"),
    ServiceSystem.HCPCS: re.compile(r"[A-EGHJ-MP-V][0-9]{4}"),
    ServiceSystem.RXNORM: re.compile(r"[1-9][0-9]{0,7}"),
}


def is_valid(system: CodeSystem | ServiceSystem, code: str) -> bool:
    """Is ``code`` well formed in ``system``?"""
    if isinstance(system, ServiceSystem):
        return bool(_SERVICE[system].fullmatch(code))
    if system is CodeSystem.ICD10CM:
        return bool(_ICD10.match(code))
    if system is CodeSystem.SNOMED:
        from stdnum import verhoeff  # here: the package's import costs ~40 ms (it loads pydoc)

        return bool(_SNOMED.match(code)) and code[-3:-1] in CONCEPT_PARTITIONS and verhoeff.is_valid(code)
    from stdnum import luhn

    return bool(_LOINC.match(code)) and luhn.is_valid(code.replace("-", ""))


class ClinicalCode(Strict):
    """A code in a named system, with the words people read for it."""

    system: CodeSystem
    code: str = Field(min_length=1, max_length=20, examples=["Z59.41"])
    display: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _valid(self) -> ClinicalCode:
        if not is_valid(self.system, self.code):
            raise ValueError("not a valid code of the system it names")
        return self


class ServiceCode(Strict):
    """What a prior authorization is for: a procedure (CPT, HCPCS Level II) or a drug (RxNorm)."""

    system: ServiceSystem
    code: str = Field(min_length=1, max_length=8, examples=["97110"])
    display: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _valid(self) -> ServiceCode:
        if not is_valid(self.system, self.code):
            raise ValueError("not a valid code of the system it names")
        return self

    @property
    def is_drug(self) -> bool:
        return self.system is ServiceSystem.RXNORM
