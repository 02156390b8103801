"""Domain event models and their outbox/EventBridge form.

An event is a frozen pydantic model with a past-tense ``detail_type`` and a ``schema_version``. To
keep PHI out of the bus by construction, a subclass may only declare fields that hold identifiers
(``*_id`` / ``*_ids`` strings), codes (enums, literals), flags, numbers and instants: a field named
``name`` or ``phone`` is a ``TypeError`` when the class is defined, not a finding in an audit.
"""

from __future__ import annotations

import enum
import json
import types
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared import clock, ids
from shared.data import keys
from shared.data.models import OutboxEvent

OUTBOX_TTL_SECONDS = 7 * 24 * 3600
_SCALARS = (bool, int, float, datetime)


def _is_code(tp: Any) -> bool:
    return get_origin(tp) is Literal or (
        isinstance(tp, type) and issubclass(tp, enum.Enum | bool | int | float)
    )


def _field_allowed(name: str, tp: Any) -> bool:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return all(a is type(None) or _field_allowed(name, a) for a in get_args(tp))
    if tp is str:
        return name.endswith("_id")
    if origin in (list, tuple, frozenset, set):
        return all(a is Ellipsis or _field_allowed(name.removesuffix("s"), a) for a in get_args(tp))
    if isinstance(tp, type) and issubclass(tp, _SCALARS):
        return True
    return _is_code(tp)


class DomainEvent(BaseModel):
    """Base of every domain event. Subclasses set ``detail_type`` (past tense) and ``source``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detail_type: ClassVar[str]
    source: ClassVar[str]
    schema_version: ClassVar[int] = 1

    event_id: str = Field(default_factory=ids.new_id)
    organization_id: str
    occurred_at: AwareDatetime = Field(default_factory=clock.now)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, info in cls.model_fields.items():
            if name in DomainEvent.model_fields:
                continue
            if not _field_allowed(name, info.annotation):
                raise TypeError(
                    f"{cls.__name__}.{name}: events carry ids (*_id str), codes, numbers, flags and "
                    "instants only, never PHI"
                )

    def detail(self) -> dict[str, Any]:
        """The EventBridge ``detail``: the fields plus the schema version."""
        body = self.model_dump(mode="json")
        body["schema_version"] = self.schema_version
        return body

    def to_outbox(self) -> OutboxEvent:
        """The outbox item to write in the same transaction as the change this event reports."""
        at = self.occurred_at
        return OutboxEvent(
            keys.outbox_pk(self.organization_id, self.event_id),
            keys.OUTBOX_SK,
            source=self.source,
            detail_type=self.detail_type,
            detail=json.dumps(self.detail(), separators=(",", ":")),
            occurred_at=clock.isoformat(at),
            ttl=at + timedelta(seconds=OUTBOX_TTL_SECONDS),
        )


def put_events_entry(item: OutboxEvent, bus_name: str) -> dict[str, Any]:
    """The ``PutEvents`` entry for an outbox item."""
    return {
        "Source": item.source,
        "DetailType": item.detail_type,
        "Detail": item.detail,
        "EventBusName": bus_name,
        "Time": datetime.fromisoformat(item.occurred_at.replace("Z", "+00:00")),
    }
