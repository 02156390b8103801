"""What text an input may hold: free text marked MULTILINE keeps its line breaks, also when the field is
optional of a multiline type (``Note | None``); a name or an identifier never does."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, ValidationError

from shared.domain.base import MULTILINE, Strict
from shared.domain.careplans import PlanProblemIn

Note = Annotated[str, Field(max_length=200, json_schema_extra=MULTILINE)]


class Form(Strict):
    name: str | None = None
    note: Note | None = None
    summary: str | None = Field(None, json_schema_extra=MULTILINE)
    notes: list[Note] = Field(default_factory=list)


@pytest.mark.parametrize("field", ["note", "summary"])
def test_free_text_keeps_its_line_breaks_whether_marked_on_the_type_or_the_field(field: str) -> None:
    assert (
        getattr(Form.model_validate({field: "Called twice.\nNo answer."}), field)
        == "Called twice.\nNo answer."
    )


def test_a_name_holds_no_line_break_and_nothing_holds_a_control_character() -> None:
    with pytest.raises(ValidationError, match="a tab or a line break"):
        Form(name="Ana\nRoe")
    with pytest.raises(ValidationError, match="control or bidirectional"):
        Form(note="a\x1b[31mred")


def test_a_care_plan_problem_s_note_keeps_its_lines() -> None:
    icd = {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}
    assert PlanProblemIn.model_validate({"code": icd, "note": "A1c 8.1\nstarted metformin"}).note == (
        "A1c 8.1\nstarted metformin"
    )
