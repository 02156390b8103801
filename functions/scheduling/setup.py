"""The organization's calendar, appointment types and providers: what bookings are made against."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from functions.scheduling.common import conflict, provider_for
from shared import clock, ids
from shared.data import keys
from shared.data import scheduling as repo
from shared.data.tx import Cancelled, Tx
from shared.domain.calendar import Calendar
from shared.domain.scheduling import (
    AppointmentTypeIn,
    AppointmentTypeOut,
    Code,
    ProviderIn,
    ProviderOut,
    ProviderPatientView,
)
from shared.errors import Conflict
from shared.http.auth import EVERYONE, STAFF, Role, allow, principal_of
from shared.http.contract import IfMatch, UlidPath, etag, require_current, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()


ProviderPage = Page[ProviderOut]
ProviderPatientPage = Page[ProviderPatientView]


class AppointmentTypeList(BaseModel):
    items: list[AppointmentTypeOut]


# ---------------------------------------------------------------- calendar


@router.get(
    "/organization/calendar",
    summary="The organization's hours, holidays and waitlist policy",
    tags=["organization"],
    operation_id="getCalendar",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read_calendar() -> Response[Calendar]:
    org = principal_of(router).organization_id
    item = repo.get_item(repo.OrgCalendar, repo.calendar_key(org))
    return Response(
        200, "application/json", repo.calendar_of(item), headers=etag(item.version if item else 0)
    )


@router.put(
    "/organization/calendar",
    summary="Replace the organization's calendar (If-Match once it exists)",
    tags=["organization"],
    operation_id="putCalendar",
    responses=responses(headers=["ETag"], errors={428: "The calendar exists: send If-Match"}),
)
@allow(Role.ADMIN)
def write_calendar(body: Calendar, if_match: IfMatch = None) -> Response[Calendar]:
    org = principal_of(router).organization_id
    item = repo.get_item(repo.OrgCalendar, repo.calendar_key(org))
    if item is not None:
        require_current(if_match, item.version, "calendar")
    new = repo.calendar_item(org, body, item.version if item else None)
    try:
        with Tx() as tx:
            tx.put("item", new)
    except Cancelled:
        raise Conflict("The calendar changed since you read it; read it again.") from None
    return Response(200, "application/json", body, headers=etag(new.version))


# ---------------------------------------------------------------- appointment types


@router.get(
    "/appointment-types",
    summary="Appointment types and their durations",
    tags=["providers"],
    operation_id="listAppointmentTypes",
)
@allow(EVERYONE)
def list_types() -> AppointmentTypeList:
    org = principal_of(router).organization_id
    return AppointmentTypeList(items=[t.record() for t in repo.appointment_types(org)])


@router.put(
    "/appointment-types/<code>",
    summary="Create or change an appointment type",
    tags=["providers"],
    operation_id="putAppointmentType",
)
@allow(Role.ADMIN)
def put_type(code: Annotated[Code, Path()], body: AppointmentTypeIn) -> AppointmentTypeOut:
    org = principal_of(router).organization_id
    pk, sk = repo.type_key(org, code)
    needs = body.authorization.model_dump_json() if body.authorization else None
    repo.AppointmentType(
        pk, sk, code=code, display=body.display, duration_minutes=body.duration_minutes, authorization=needs
    ).save()
    return AppointmentTypeOut(code=code, **body.model_dump())


# ---------------------------------------------------------------- providers


@router.post(
    "/providers",
    summary="Add a provider",
    tags=["providers"],
    operation_id="createProvider",
    responses=responses(201, "Created", headers=["Location", "ETag"]),
)
@allow(Role.ADMIN)
@idempotent(router)
def create_provider(body: ProviderIn) -> Response[ProviderOut]:
    org = principal_of(router).organization_id
    record = ProviderOut(id=ids.new_id(clock.now()), version=1, **body.model_dump())
    repo.provider_item(org, record).save()  # a new id: the version condition makes it a create
    return Response(
        201, "application/json", record, headers={"Location": f"/providers/{record.id}", **etag(1)}
    )


@router.get(
    "/providers",
    summary="Providers, optionally of one specialty",
    tags=["providers"],
    operation_id="listProviders",
)
@allow(EVERYONE)
def list_providers(
    specialty: Annotated[Code | None, Query()] = None, limit: Limit = 25, cursor: Cursor = None
) -> ProviderPage | ProviderPatientPage:
    """Patients read the directory without time off (GET /availability gives them free time)."""
    principal = principal_of(router)
    org = principal.organization_id
    if specialty:
        partition = {"GSI1PK": keys.providers_by_specialty_pk(org, specialty)}
        attrs: tuple[str, ...] = ("GSI1PK", "GSI1SK", "PK", "SK")
    else:
        partition, attrs = {"GSI2PK": keys.providers_pk(org)}, ("GSI2PK", "GSI2SK", "PK", "SK")
    list_id = f"providers:{specialty or ''}"
    found, last = repo.providers(
        org, specialty, limit, decode_cursor(cursor, list_id, partition, attrs, tenant=org)
    )
    next_cursor = encode_cursor(list_id, last, tenant=org)
    if principal.is_patient:
        return ProviderPatientPage(
            items=[ProviderPatientView.of(p.record()) for p in found], next_cursor=next_cursor
        )
    return ProviderPage(items=[p.record() for p in found], next_cursor=next_cursor)


@router.get(
    "/providers/<provider_id>",
    summary="A provider, with their weekly hours (staff also see time off)",
    tags=["providers"],
    operation_id="getProvider",
    responses=responses(headers=["ETag"]),
)
@allow(EVERYONE)
def read_provider(provider_id: UlidPath) -> Response[ProviderOut | ProviderPatientView]:
    """Patients read it without time off."""
    principal = principal_of(router)
    item = provider_for(principal.organization_id, provider_id)
    record = item.record()
    view = ProviderPatientView.of(record) if principal.is_patient else record
    return Response(200, "application/json", view, headers=etag(item.version))


@router.put(
    "/providers/<provider_id>",
    summary="Replace a provider's profile, hours and time off (If-Match)",
    tags=["providers"],
    operation_id="putProvider",
    responses=responses(
        headers=["ETag"],
        errors={428: "Send If-Match", 409: "Stale If-Match, or a grid or zone change under bookings ahead"},
    ),
)
@allow(Role.ADMIN)
def update_provider(
    provider_id: UlidPath, body: ProviderIn, if_match: IfMatch = None
) -> Response[ProviderOut]:
    """Bookings already made keep their time; new hours and time off apply to what is booked next."""
    org = principal_of(router).organization_id
    item = provider_for(org, provider_id)
    require_current(if_match, item.version, "provider")
    current = item.record()
    if (body.slot_minutes, body.time_zone) != (
        current.slot_minutes,
        current.time_zone,
    ) and repo.has_future_time(org, provider_id, clock.now()):
        raise Conflict(
            "This provider has bookings from now on, which hold time on the current booking grid and time "
            "zone: move or cancel them before changing slot_minutes or time_zone.",
            conflict="bookings",
        )
    record = ProviderOut(id=provider_id, version=(item.version or 0) + 1, **body.model_dump())
    try:
        with Tx() as tx:
            tx.put("item", repo.provider_item(org, record))
    except Cancelled as cancelled:
        raise conflict(cancelled) from None
    return Response(200, "application/json", record, headers=etag(record.version))
