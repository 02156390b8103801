"""Base classes for domain models.

``defer_build``: pydantic builds a model's validator when it is first used, not when the module is
imported, so a cold start pays only for the models its request touches (intake's models cost ~90 ms
to build eagerly).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)


class Strict(Model):
    """Input: unknown fields are refused (no mass assignment), strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
