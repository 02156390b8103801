"""Clinical codes checked against the system they claim: a SNOMED CT concept id (its Verhoeff check
digit and a concept partition), an ICD-10-CM code (its shape: letter, two characters, an optional
dotted extension), a LOINC code (its mod-10 check digit). A code that passes is well formed, not
necessarily in the current release: we hold no terminology server.

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
_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$")
_SNOMED = re.compile(r"^[1-9][0-9]{5,17}$")
_LOINC = re.compile(r"^[0-9]{1,7}-[0-9]$")
# the partition identifier (2nd and 3rd digits from the right) of a concept: short or long format
CONCEPT_PARTITIONS = frozenset({"00", "10"})


class CodeSystem(StrEnum):
    SNOMED = SNOMED
    ICD10CM = ICD10CM
    LOINC = LOINC


def is_valid(system: CodeSystem, code: str) -> bool:
    """Is ``code`` well formed in ``system``?"""
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
