"""Base classes for domain models.

``defer_build``: pydantic builds a model's validator when it is first used, not when the module is
imported, so a cold start pays only for the models its request touches (intake's models cost ~90 ms
to build eagerly).
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

# A local wall-clock time, "HH:MM" on the wire (OpenAPI's "time" format demands an offset, which a
# weekly opening hour or a patient's quiet hours do not have).
WallTime = Annotated[
    time,
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "examples": ["09:00"]}),
]


# A code an organization names things by (an appointment type, a specialty, a template), and our ids.
Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$", examples=["cardiology"])]
Ulid = Annotated[str, Field(min_length=26, max_length=26, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)


# Characters no input of ours may hold: C0 and C1 controls (NUL, ANSI escapes...) but tab and line
# breaks, DEL, bidirectional embeddings, overrides and isolates (they make text display other than
# it reads), invisible spaces that make two names look alike (zero-width space, word joiner; not the
# zero-width joiner and non-joiner, which some scripts' names need), line and paragraph separators,
# and the byte-order mark.
_NEVER = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2060\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]"
)
_LINE_BREAKS = re.compile("[\t\n\r]")
# A field whose text may run over several lines (a note, a reason): Field(json_schema_extra=MULTILINE)
MULTILINE: dict[str, Any] = {"x-multiline": True}


def _multiline(field: FieldInfo) -> bool:
    """Marked :data:`MULTILINE` on the field, or on the type it is optional of (``Note | None``, where
    ``Note`` is ``Annotated[str, Field(json_schema_extra=MULTILINE)]``)."""
    extras = [field.json_schema_extra]
    for arg in get_args(field.annotation):
        extras += [m.json_schema_extra for m in getattr(arg, "__metadata__", ()) if isinstance(m, FieldInfo)]
    return any(isinstance(extra, dict) and "x-multiline" in extra for extra in extras)


class Strict(Model):
    """Input: unknown fields are refused (no mass assignment), strings are trimmed, and no string
    holds a control or bidirectional formatting character (names and identifiers no tab or line break
    either; free text, marked :data:`MULTILINE`, may have them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _printable(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            value = data.get(field.alias or name)
            multiline = _multiline(field)
            for text in value if isinstance(value, list) else (value,):
                if isinstance(text, str) and (
                    _NEVER.search(text) or (not multiline and _LINE_BREAKS.search(text))
                ):
                    raise PydanticCustomError(
                        "control_character",
                        "{field} holds a control or bidirectional formatting character"
                        + ("" if multiline else ", a tab or a line break"),
                        {"field": name},
                    )
        return data
