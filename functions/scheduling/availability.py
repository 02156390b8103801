"""``GET /availability``: free slots, from each provider's weekly hours minus holidays, time off,
bookings and live holds.

The work is proportional to the page, not the range: each provider's slots are generated lazily in
start order and merged (:func:`shared.domain.scheduling.first_slots`), stopping at ``limit + 1``; a
cursor carries the last ``(start, provider_id)`` and the next page starts generating there. One call
examines at most :data:`~shared.domain.scheduling.MAX_UNITS_PER_CALL` units (plus each provider's
first day): when that runs out first, the page is what was found, possibly short or empty, with a
``next_cursor`` that means "continue".

DynamoDB: one BatchGetItem (calendar, type, provider), for a specialty one Query of its providers,
then per provider one Query of the time held over the first day generation needs, and a further Query
for the next 2, 4, 8... days only if the page runs on past them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import clock
from shared.data import scheduling as repo
from shared.domain.calendar import Day
from shared.domain.scheduling import (
    MAX_RANGE_DAYS,
    Budget,
    Code,
    Held,
    Slot,
    Ulid,
    first_slots,
    local_instant,
    provider_slots,
)
from shared.errors import BadRequest, NotFound
from shared.http.auth import EVERYONE, allow, principal_of
from shared.http.caller import invalid
from shared.http.pagination import Cursor, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
MAX_PROVIDERS = 50


def _instant(value: str) -> datetime:
    """The start a cursor carries: an aware instant, or the cursor is not one this API issued."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise BadRequest("The cursor is not one this API issued for this list; start again without it.")
    return at


SlotPage = Page[Slot]


@router.get(
    "/availability",
    summary="Free slots for an appointment type, with one provider or any of a specialty",
    tags=["scheduling"],
    operation_id="getAvailability",
)
@allow(EVERYONE)
def availability(
    appointment_type: Annotated[Code, Query()],
    from_: Annotated[Day, Query(alias="from", description="first local date")],
    to: Annotated[Day, Query(description="last local date (inclusive)")],
    provider_id: Annotated[Ulid | None, Query()] = None,
    specialty: Annotated[Code | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> SlotPage:
    """Dates are each provider's local dates; ``start``/``end`` are UTC and ``local_start`` is the
    provider's wall clock. Slots are ordered by start, then provider."""
    org = principal_of(router).organization_id
    if (provider_id is None) == (specialty is None):
        raise invalid("provider_id", "give either provider_id or specialty", "query")
    if to < from_:
        raise invalid("to", "must not be before from", "query")
    if (to - from_).days >= MAX_RANGE_DAYS:
        raise invalid("to", f"a search covers at most {MAX_RANGE_DAYS} days", "query")
    list_id = f"availability:{provider_id or ''}:{specialty or ''}:{appointment_type}:{from_}:{to}"
    after = decode_cursor(cursor, list_id, {}, ("start", "provider_id"), tenant=org)

    wanted = [repo.calendar_key(org), repo.type_key(org, appointment_type)]
    if provider_id:
        wanted.append(repo.provider_key(org, provider_id))
    found = repo.get_many(wanted)
    calendar = repo.calendar_of(found.get(repo.calendar_key(org)))
    atype = found.get(repo.type_key(org, appointment_type))
    if atype is None:
        raise invalid("appointment_type", "no appointment type with this code", "query")
    if provider_id:
        provider = found.get(repo.provider_key(org, provider_id))
        if provider is None:
            raise NotFound("No provider with this id in your organization.")
        candidates = [provider]
    else:
        candidates, _ = repo.providers(org, specialty, MAX_PROVIDERS, None)

    now = clock.now()
    mark = (_instant(after["start"]["S"]), after["provider_id"]["S"]) if after else None
    budget = Budget()
    streams = []
    for item in candidates:
        record = item.record()
        if not record.active or appointment_type not in record.appointment_types:
            continue
        zone = ZoneInfo(record.time_zone)
        first = local_instant(from_, datetime.min.time(), zone)
        streams.append(
            provider_slots(
                record,
                record.id,
                appointment_type,
                atype.duration,
                calendar,
                from_,
                to,
                _held(org, record.id, now),
                max(now, first, mark[0]) if mark else max(now, first),
                budget,
                after=mark,
            )
        )
    page, resume = first_slots(streams, limit)
    next_key = {"start": {"S": resume[0].isoformat()}, "provider_id": {"S": resume[1]}} if resume else None
    return SlotPage(items=page, next_cursor=encode_cursor(list_id, next_key, tenant=org))


def _held(org: str, provider_id: str, now: datetime) -> Held:
    return lambda first, last: set(repo.busy_units(org, provider_id, first, last, now))
