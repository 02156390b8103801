"""Domain event models and their outbox/EventBridge form.

An event is a frozen pydantic model with a past-tense ``detail_type`` and a ``schema_version``. To
keep PHI off the bus by construction, a subclass is checked when it is defined (a ``TypeError``,
not an audit finding):
- free text is refused: a ``str`` field must be an identifier (named ``*_id``; lists ``*_ids``);
- the other fields may be codes (enums, literals), flags, numbers and instants;
- no field, of any type, may be named after something that is PHI whatever its type (a birth
  date, an age, a diagnosis, a phone number...): ``born_at: datetime`` or ``age: int`` is refused.
This is a guard against mistakes, not a proof: a reviewer still reads every new event.
"""

from __future__ import annotations

import enum
import json
import re
import types
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared import clock, ids
from shared.data import keys
from shared.data.models import OutboxEvent
from shared.logs import correlation_id

OUTBOX_TTL_SECONDS = 7 * 24 * 3600
_SCALARS = (bool, int, float, datetime)
# Words that make a value PHI whatever its type (for fields that are not opaque ids).
_PHI_WORDS = re.compile(
    r"(^|_)(birth|born|dob|age|name|phone|email|address|zip|postal|diagnos\w*|condition|medication|"
    r"allerg\w*|note|notes|text|comment|gender|sex|race|ethnicity|hiv|pregnan\w*|income)(_|$)"
)
# Identifiers that are themselves PHI (unlike Careloop's opaque ULIDs).
_PHI_IDENTIFIERS = re.compile(r"(^|_)(mrn|ssn|member|medicare|medicaid|license|account)_ids?$")


def _is_code(tp: Any) -> bool:
    return get_origin(tp) is Literal or (
        isinstance(tp, type) and issubclass(tp, enum.Enum | bool | int | float)
    )


def _field_allowed(name: str, tp: Any) -> bool:
    is_id = name.endswith(("_id", "_ids"))
    if _PHI_IDENTIFIERS.search(name) or (not is_id and _PHI_WORDS.search(name)):
        return False
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

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    detail_type: ClassVar[str]
    source: ClassVar[str]
    schema_version: ClassVar[int] = 1

    event_id: str = Field(default_factory=ids.new_id)
    organization_id: str
    occurred_at: AwareDatetime = Field(default_factory=clock.now)
    correlation_id: str | None = Field(
        default_factory=correlation_id,
        description="the request or partner delivery that caused it (API Gateway's request id, a "
        "webhook-id), carried by every event, timer and message that follows",
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, info in cls.model_fields.items():
            if name in DomainEvent.model_fields:
                continue
            if not _field_allowed(name, info.annotation):
                raise TypeError(
                    f"{cls.__name__}.{name}: events carry ids (*_id str), codes, numbers, flags and "
                    "instants only, never PHI (see shared/events/models.py)"
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


def put_events_entry(
    source: str, detail_type: str, detail: str, time: datetime, bus_name: str
) -> dict[str, Any]:
    """A ``PutEvents`` entry."""
    return {
        "Source": source,
        "DetailType": detail_type,
        "Detail": detail,
        "EventBusName": bus_name,
        "Time": time,
    }


def outbox_entry(item: OutboxEvent, bus_name: str) -> dict[str, Any]:
    """The ``PutEvents`` entry for an outbox item (what the relay publishes)."""
    at = datetime.fromisoformat(item.occurred_at.replace("Z", "+00:00"))
    return put_events_entry(item.source, item.detail_type, item.detail, at, bus_name)


def event_entry(event: DomainEvent, bus_name: str) -> dict[str, Any]:
    """The ``PutEvents`` entry for an event published directly: only for facts that change no state
    (a read, for the audit trail). State changes go through the outbox."""
    detail = json.dumps(event.detail(), separators=(",", ":"))
    return put_events_entry(event.source, event.detail_type, detail, event.occurred_at, bus_name)
