"""Scheduling in the single table: calendars, appointment types, providers, held time, appointments,
referrals, waitlist entries and slot offers. Keys and access patterns: :mod:`shared.data.keys`.

Records are stored as their pydantic output model in ``body`` (JSON) beside the attributes that keys
and conditions need. Every change is one :class:`~shared.data.tx.Tx` carrying its audit entry and
its outbox events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)

from shared.clock import isoformat
from shared.data import keys
from shared.data.core import (  # noqa: F401 - the scheduling area reads them from here
    Change,
    OrgCalendar,
    active_patient,
    calendar_key,
    calendar_of,
    get_item,
    get_many,
    organization_calendar,
    patient_key,
)
from shared.data.patients import Patient  # noqa: F401 - read as scheduling.Patient by the areas
from shared.data.table import CareModel
from shared.domain.calendar import Calendar
from shared.domain.referrals import OPEN, OfferOut, ReferralOut, WaitlistOut, WaitlistStatus
from shared.domain.scheduling import AppointmentOut, AppointmentStatus, AppointmentTypeOut, ProviderOut

BUSY_RETENTION = timedelta(days=90)
M = TypeVar("M", bound=BaseModel)


def _json(record: BaseModel, exclude: set[str] | None = None) -> str:
    return json.dumps(record.model_dump(mode="json", exclude=exclude), separators=(",", ":"))


class AppointmentType(CareModel, discriminator="AppointmentType"):
    code = UnicodeAttribute()
    display = UnicodeAttribute()
    duration_minutes = NumberAttribute()
    authorization = UnicodeAttribute(null=True)  # JSON of the ServiceCode a payer must approve first

    def record(self) -> AppointmentTypeOut:
        return AppointmentTypeOut(
            code=self.code,
            display=self.display,
            duration_minutes=int(self.duration_minutes),
            authorization=json.loads(self.authorization) if self.authorization else None,
        )

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=int(self.duration_minutes))


class Provider(CareModel, discriminator="Provider"):
    provider_id = UnicodeAttribute()
    specialty = UnicodeAttribute()
    active = BooleanAttribute()
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> ProviderOut:
        return ProviderOut.model_validate({**json.loads(self.body), "version": self.version})


class BusyUnit(CareModel, discriminator="BusyUnit"):
    """One booking-grid unit of a provider's time, held by an appointment or by a slot offer's hold
    (``hold_until``: a hold past it no longer blocks a booking)."""

    provider_id = UnicodeAttribute()
    appointment_id = UnicodeAttribute(null=True)
    offer_id = UnicodeAttribute(null=True)
    hold_until = UnicodeAttribute(null=True)


class Appointment(CareModel, discriminator="Appointment"):
    appointment_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    provider_id = UnicodeAttribute()
    status = UnicodeAttribute()
    units = ListAttribute(of=UnicodeAttribute, null=True)  # the busy units it holds (none if overbooked)
    body = UnicodeAttribute()
    version = VersionAttribute()

    @property
    def held_units(self) -> list[datetime]:
        return [datetime.fromisoformat(str(u)) for u in self.units or []]

    def record(self) -> AppointmentOut:
        return AppointmentOut.model_validate({**json.loads(self.body), "version": self.version})


class Referral(CareModel, discriminator="Referral"):
    referral_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    status = UnicodeAttribute()
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> ReferralOut:
        return ReferralOut.model_validate({**json.loads(self.body), "version": self.version})


class WaitlistEntry(CareModel, discriminator="WaitlistEntry"):
    entry_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    status = UnicodeAttribute()
    offered_slots = UnicodeSetAttribute(null=True)  # slots already offered to this entry
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> WaitlistOut:
        return WaitlistOut.model_validate({**json.loads(self.body), "version": self.version})


class SlotOffer(CareModel, discriminator="SlotOffer"):
    offer_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    status = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    units = ListAttribute(of=UnicodeAttribute, null=True)  # the busy units its hold covers
    body = UnicodeAttribute()
    version = VersionAttribute()

    @property
    def held_units(self) -> list[datetime]:
        return [datetime.fromisoformat(str(u)) for u in self.units or []]

    def record(self) -> OfferOut:
        return OfferOut.model_validate(json.loads(self.body))


# ---------------------------------------------------------------- reads


def type_key(org: str, code: str) -> tuple[str, str]:
    return keys.appointment_types_pk(org), keys.part(code)


def provider_key(org: str, provider_id: str) -> tuple[str, str]:
    return keys.provider_pk(org, provider_id), keys.PROFILE_SK


def appointment_types(org: str) -> list[AppointmentType]:
    return list(AppointmentType.query(keys.appointment_types_pk(org)))


def providers(
    org: str, specialty: str | None, limit: int, start: dict[str, Any] | None
) -> tuple[list[Provider], Any]:
    if specialty:
        result = CareModel.gsi1.query(
            keys.providers_by_specialty_pk(org, specialty), limit=limit, last_evaluated_key=start
        )
    else:
        result = CareModel.gsi2.query(keys.providers_pk(org), limit=limit, last_evaluated_key=start)
    return [p for p in result if isinstance(p, Provider)], result.last_evaluated_key


def busy_units(org: str, provider_id: str, first: datetime, last: datetime, now: datetime) -> list[datetime]:
    """Unit starts held in ``[first, last)``: by appointments, and by holds that have not run out."""
    held = []
    for unit in BusyUnit.query(
        keys.busy_pk(org, provider_id), BusyUnit.SK.between(isoformat(first), isoformat(last))
    ):
        if unit.hold_until is not None and unit.hold_until <= isoformat(now):
            continue
        held.append(datetime.fromisoformat(unit.SK))
    return held


def has_future_time(org: str, provider_id: str, now: datetime) -> bool:
    """Does anything hold this provider's time from ``now`` on (one Query, one item at most)?"""
    sort_key = BusyUnit.SK
    result = BusyUnit.query(keys.busy_pk(org, provider_id), sort_key >= isoformat(now), limit=1)
    return any(True for _ in result)


def by_time(
    index: Any,
    partition: str,
    *,
    after: str | None = None,
    before: str | None = None,
    forward: bool = True,
    limit: int,
    start: dict[str, Any] | None,
) -> tuple[list[Any], Any]:
    """One Query of a ``<time>#<id>``-sorted index partition, optionally bounded."""
    sk = getattr(type(index), f"{index.Meta.index_name}SK")
    condition = sk >= after if after else (sk < before if before else None)
    result = index.query(
        partition, condition, scan_index_forward=forward, limit=limit, last_evaluated_key=start
    )
    return list(result), result.last_evaluated_key


# ---------------------------------------------------------------- item builders


def _set_version(item: Any, stored: int | None) -> None:
    """Save ``item`` over the stored version ``stored`` (a 409 if it moved on); none: a create."""
    if stored:
        item.version = stored


def calendar_item(org: str, calendar: Calendar, version: int | None) -> OrgCalendar:
    item = OrgCalendar(keys.org_pk(org), keys.CALENDAR_SK, body=_json(calendar))
    _set_version(item, version)
    return item


def provider_item(org: str, record: ProviderOut) -> Provider:
    item = Provider(
        keys.provider_pk(org, record.id),
        keys.PROFILE_SK,
        provider_id=record.id,
        specialty=record.specialty,
        active=record.active,
        body=_json(record, {"version"}),
        GSI1PK=keys.providers_by_specialty_pk(org, record.specialty),
        GSI1SK=keys.provider_sk(record.id),
        GSI2PK=keys.providers_pk(org),
        GSI2SK=keys.provider_sk(record.id),
    )
    _set_version(item, record.version - 1)
    return item


def org_day_pk(org: str, start: datetime, org_zone: ZoneInfo) -> str:
    return keys.organization_day_pk(org, start.astimezone(org_zone).date().isoformat())


def appointment_item(
    org: str, record: AppointmentOut, org_day: str, units: Sequence[datetime]
) -> Appointment:
    """``org_day``: the organization-day partition (:func:`org_day_pk`), which only moves with the start."""
    start = isoformat(record.start)
    sk = keys.timed_sk(start, record.id)
    provider_day = record.start.astimezone(ZoneInfo(record.time_zone)).date().isoformat()
    item = Appointment(
        keys.appointment_pk(org, record.id),
        keys.APPOINTMENT_SK,
        appointment_id=record.id,
        patient_id=record.patient_id,
        provider_id=record.provider_id,
        status=record.status.value,
        units=[isoformat(u) for u in units] or None,
        body=_json(record, {"version"}),
        GSI1PK=keys.patient_appointments_pk(org, record.patient_id),
        GSI1SK=sk,
        GSI2PK=keys.provider_day_pk(org, record.provider_id, provider_day),
        GSI2SK=sk,
        GSI3PK=org_day,
        GSI3SK=sk,
    )
    _set_version(item, record.version - 1)
    return item


def referral_item(org: str, record: ReferralOut) -> Referral:
    due = keys.timed_sk(record.due_date.isoformat(), record.id)
    item = Referral(
        keys.referral_pk(org, record.id),
        keys.REFERRAL_SK,
        referral_id=record.id,
        patient_id=record.patient_id,
        status=record.status.value,
        body=_json(record, {"version"}),
        GSI2PK=keys.referrals_by_status_pk(org, record.status.value),
        GSI2SK=due,
        GSI3PK=keys.patient_referrals_pk(org, record.patient_id),
        GSI3SK=keys.timed_sk(isoformat(record.created_at), record.id),
    )
    if record.status in OPEN:  # sparse: only open referrals are on the chase list
        item.GSI1PK, item.GSI1SK = keys.open_referrals_pk(org), due
    _set_version(item, record.version - 1)
    return item


def waitlist_item(org: str, record: WaitlistOut, offered_slots: set[str] | None) -> WaitlistEntry:
    item = WaitlistEntry(
        keys.waitlist_pk(org, record.id),
        keys.WAITLIST_SK,
        entry_id=record.id,
        patient_id=record.patient_id,
        status=record.status.value,
        offered_slots=offered_slots or None,
        body=_json(record, {"version"}),
        GSI3PK=keys.patient_waitlist_pk(org, record.patient_id),
        GSI3SK=keys.timed_sk(isoformat(record.created_at), record.id),
        # an entry whose window has passed leaves the queue by itself (TTL is advisory: the offer
        # loop checks the window anyway)
        ttl=datetime.combine(record.latest + timedelta(days=2), datetime.min.time(), tzinfo=UTC),
    )
    if record.status in (WaitlistStatus.WAITING, WaitlistStatus.OFFERED):  # sparse: live entries only
        item.GSI1PK = keys.waitlist_queue_pk(org, record.provider_id, record.specialty)
        item.GSI1SK = keys.timed_sk(isoformat(record.created_at), record.id)
    _set_version(item, record.version - 1)
    return item


def moved_entry(
    org: str,
    item: WaitlistEntry,
    status: WaitlistStatus,
    offer_id: str | None,
    offered_slot: str | None = None,
) -> WaitlistEntry:
    """A waitlist entry in its next state (over its stored version), remembering a slot offered."""
    record = item.record()
    slots = set(item.offered_slots or ()) | ({offered_slot} if offered_slot else set())
    moved = record.model_copy(update={"status": status, "offer_id": offer_id, "version": record.version + 1})
    return waitlist_item(org, moved, slots)


def offer_item(
    org: str, record: OfferOut, units: Sequence[datetime], version: int | None = None
) -> SlotOffer:
    item = SlotOffer(
        keys.offer_pk(org, record.id),
        keys.OFFER_SK,
        offer_id=record.id,
        patient_id=record.patient_id,
        status=record.status.value,
        expires_at=isoformat(record.expires_at),
        units=[isoformat(u) for u in units] or None,
        body=_json(record),
        ttl=record.end + BUSY_RETENTION,
    )
    _set_version(item, version)
    return item


def unit_item(
    org: str,
    provider_id: str,
    unit: datetime,
    *,
    appointment_id: str | None = None,
    offer_id: str | None = None,
    hold_until: datetime | None = None,
) -> BusyUnit:
    return BusyUnit(
        keys.busy_pk(org, provider_id),
        isoformat(unit),
        provider_id=provider_id,
        appointment_id=appointment_id,
        offer_id=offer_id,
        hold_until=isoformat(hold_until) if hold_until else None,
        ttl=unit + BUSY_RETENTION,
    )


def free_unit(now: datetime) -> Any:
    """A unit may be taken if nobody holds it, or if its hold has run out."""
    return BusyUnit.PK.does_not_exist() | (BusyUnit.hold_until <= isoformat(now))


# ---------------------------------------------------------------- writing


def hold_units(
    change: Change, org: str, provider_id: str, units: Iterable[datetime], now: datetime, **owner: Any
) -> None:
    for unit in units:
        change.put("slot", unit_item(org, provider_id, unit, **owner), free_unit(now))


def release_units(
    change: Change, org: str, provider_id: str, units: Iterable[datetime], **owner: str
) -> None:
    """Delete units only while they are still this owner's (a hold may have been taken over)."""
    ((attr, value),) = owner.items()
    for unit in units:
        change.delete("release", unit_item(org, provider_id, unit), getattr(BusyUnit, attr) == value)


# visits that hold a unit of an approval until they are held or called off
VISITS_NOT_YET_HELD = frozenset(
    {
        AppointmentStatus.PENDING,
        AppointmentStatus.BOOKED,
        AppointmentStatus.ARRIVED,
        AppointmentStatus.CHECKED_IN,
    }
)
MAX_VISITS_SINCE = 200


def visits_since(org: str, patient_id: str, since: datetime) -> list[Appointment]:
    """The patient's visits starting at ``since`` or later, in time order (one Query; at most
    :data:`MAX_VISITS_SINCE`)."""
    items, _ = by_time(
        Appointment.gsi1,
        keys.patient_appointments_pk(org, patient_id),
        after=isoformat(since),
        limit=MAX_VISITS_SINCE,
        start=None,
    )
    return [i for i in items if isinstance(i, Appointment)]
