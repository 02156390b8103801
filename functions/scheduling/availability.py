"""``GET /availability``: free slots, from each provider's weekly hours minus holidays, time off,
bookings and live holds. One BatchGetItem, then one Query per provider over the range asked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import clock
from shared.data import scheduling as repo
from shared.domain.calendar import Day
from shared.domain.scheduling import MAX_RANGE_DAYS, Code, Slot, Ulid, free_slots, local_instant
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
    after_start = _instant(after["start"]["S"]) if after else None
    slots: list[Slot] = []
    for item in candidates:
        record = item.record()
        if not record.active or appointment_type not in record.appointment_types:
            continue
        zone = ZoneInfo(record.time_zone)
        first = local_instant(from_, datetime.min.time(), zone)
        if after_start is not None:
            first = max(first, after_start)
        last = local_instant(to + timedelta(days=1), datetime.min.time(), zone)
        if first >= last:  # a later page has moved past this provider's range
            continue
        busy = repo.busy_units(org, record.id, first, last, now)
        slots.extend(
            free_slots(
                record,
                record.id,
                appointment_type,
                atype.duration,
                calendar,
                from_,
                to,
                busy,
                max(now, first),
            )
        )
    slots.sort(key=lambda s: (s.start, s.provider_id))
    if after is not None:
        mark = (after_start, after["provider_id"]["S"])
        slots = [s for s in slots if (s.start, s.provider_id) > mark]
    page = slots[:limit]
    more = len(slots) > limit
    next_key = (
        {"start": {"S": page[-1].start.isoformat()}, "provider_id": {"S": page[-1].provider_id}}
        if more and page
        else None
    )
    return SlotPage(items=page, next_cursor=encode_cursor(list_id, next_key, tenant=org))
