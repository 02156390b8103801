"""What shared.fhir needs of the FHIR library: a resource's model class by name, validation, and the
FHIR path of a validation problem without the value that caused it.

Resource modules are loaded on first use (by name, through ``get_fhir_model_class``): each costs
tens of milliseconds to import, and a partner that sends only Observations needs no Appointment.
"""

from __future__ import annotations

import re
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import ValidationError
from pydantic_core import ErrorDetails

_RESOURCE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
_ABSTRACT = frozenset({"Resource", "DomainResource"})
# an element name as FHIR spells one (``_status`` carries a primitive's extensions)
_ELEMENT = re.compile(r"_?[a-z][A-Za-z0-9]{0,63}")


class Invalid(ValueError):
    """The library refused a resource: ``path`` says where (the first problem), never with what."""

    def __init__(self, path: str) -> None:
        super().__init__(f"invalid FHIR at {path}")
        self.path = path


def resource_class(name: object) -> type[FHIRAbstractModel] | None:
    """The R4B model of the resource called ``name``, or ``None`` when R4B has no such resource."""
    if not isinstance(name, str) or not _RESOURCE_NAME.fullmatch(name) or name in _ABSTRACT:
        return None
    try:
        klass = get_fhir_model_class(name)
    except ValueError:
        return None
    return klass if klass.has_resource_base() else None


def element(key: object) -> str:
    """A key of the JSON as it may appear in a path: a partner's unknown key could say anything."""
    return key if isinstance(key, str) and _ELEMENT.fullmatch(key) else "[unknown]"


def validate(klass: type[FHIRAbstractModel], data: dict[str, Any], root: str) -> FHIRAbstractModel:
    """``data`` as a ``klass``, or :class:`Invalid` naming the path of the first problem under
    ``root`` (``Bundle``, ``Observation``...). The library's error, which quotes the value, is dropped:
    :class:`Invalid` is raised outside the ``except`` so it does not even chain to it."""
    try:
        return klass.model_validate(data)
    except ValidationError as error:
        path = path_of(root, error.errors(include_url=False, include_input=False)[0])
    except (KeyError, TypeError):
        # the library looks nested resources up by their resourceType and fails this way on some it
        # cannot place (one embedded as a JSON string, say): the resource as a whole is malformed
        path = root
    raise Invalid(path)


def path_of(root: str, error: ErrorDetails) -> str:
    """``Bundle.entry[2].resource.valueQuantity.value`` from the error's ``loc``: list indexes in
    brackets, element names after dots, the library's own markers (``root``, union tags) left out, and
    an unknown key (``extra_forbidden``) shown only if it is shaped like an element name."""
    path = root
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "root" and _ELEMENT.fullmatch(part):
            path += f".{part}"
        elif error["type"] == "extra_forbidden":
            path += ".[unknown]"
    return path
