"""Appointments booked in a partner's EHR, mirrored in our calendar as bookings of our provider's time.

The webhook processor turns a FHIR Appointment into an :class:`ExternalAppointment`, matches its
patient, names our provider (:func:`provider_for`) and calls :func:`mirror_appointment`. Every write
is one of our own (:mod:`shared.data.moves`): a booking holds the provider's booking-grid units with
the same ``attribute_not_exists`` condition as ``POST /appointments``, a move is our reschedule, a
cancellation or no-show our status move, each one transaction with its audit entry and its event
(marked ``source_partner_id``, so what we send partners never echoes it back to this one).

The EHR is the source of truth for its own bookings: a mirrored booking keeps the EHR's start and
end and need not fall inside the provider's hours, but it never takes time we hold. A conflict (the
time is taken, our visit has moved on, our staff cancelled it) writes nothing and says why, for the
processor to park it for staff.

Each record is keyed by (partner, the partner's resource id): a link item
(``ORG#<org>#MIRROR#<partner>#<h(source id)>`` / ``MIRROR``) holds our appointment's id and the version
and ``lastUpdated`` last seen, and is written on its version in the same transaction as the change.
So a repeat changes nothing, an older update is recognised (``meta.lastUpdated`` first, then a
numeric ``meta.versionId``), and two deliveries of one record racing each other cannot both book: the
loser re-reads the link and decides again. An update that gives neither is applied on its content:
the same time and status again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.attributes import UnicodeAttribute, VersionAttribute

from shared import ids
from shared.clock import isoformat
from shared.data import keys, moves
from shared.data import scheduling as repo
from shared.data.patients import Actor
from shared.data.table import CareModel
from shared.data.tx import Cancelled
from shared.domain.calendar import Calendar
from shared.domain.clinical import ExternalAppointment
from shared.domain.scheduling import (
    MAX_BOOKING_AHEAD_DAYS,
    MAX_DURATION,
    MAX_UNITS,
    AppointmentOut,
    AppointmentStatus,
    Cancellation,
    CancelReason,
    ProviderOut,
    local_instant,
    next_status,
)
from shared.errors import Conflict
from shared.http.auth import Principal

PROVIDER_SYSTEM = "https://careloop.example/fhir/sid/provider"
PARTNER_ROLE = "partner"  # a cancellation's ``by_role`` when a partner's EHR cancelled the visit
RACE_RETRIES = 1  # another delivery of the same record changed it meanwhile: decide again, once

# FHIR Appointment.status, by what it does to ours
BOOKS = frozenset({"pending", "booked", "arrived", "checked-in"})
ENDS = frozenset({"cancelled", "noshow", "entered-in-error"})
# nothing to hold (proposed, waitlist), or the visit's progress, which our front desk records
NOT_MIRRORED = frozenset({"proposed", "waitlist", "fulfilled"})
DONE = frozenset({AppointmentStatus.CANCELLED, AppointmentStatus.NOSHOW, AppointmentStatus.ENTERED_IN_ERROR})


class MirrorOutcome(StrEnum):
    BOOKED = "booked"
    MOVED = "moved"
    CANCELLED = "cancelled"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    NOT_OURS = "not-ours"
    STALE = "stale"


@dataclass(frozen=True)
class Mirrored:
    """What :func:`mirror_appointment` did. ``reason`` is a short code, never free text:

    - ``conflict`` (park it for staff; nothing was written): ``slot-taken`` (the time overlaps time we
      hold), ``status`` (ours is under way or over, and cannot move or be cancelled), ``cancelled-here``
      (our staff cancelled it; the EHR still has it), ``provider-changed`` (the EHR moved it to another
      practitioner: cancel and book here), ``patient-changed``, ``patient-inactive``, ``no-time``,
      ``bad-time`` (ends before it starts), ``too-long``, ``in-the-past`` (moved to a time that is
      over), ``too-far-ahead``;
    - ``not-ours``: ``unknown-provider`` (no active provider of ours among its practitioners);
    - ``unchanged``: none (nothing new), ``not-held`` (cancelled before we held it), ``in-the-past``
      (a booking we never held that is already over), ``status-not-mirrored`` (proposed, waitlist,
      fulfilled), ``unknown-status`` (not a FHIR Appointment status: a malformed delivery);
    - ``stale``: ``older-version``.
    """

    outcome: MirrorOutcome
    appointment_id: str | None = None
    reason: str | None = None


class MirrorLink(CareModel, discriminator="MirrorLink"):
    """A partner's appointment we mirror: ours (none when we never held it), the version last seen."""

    partner_id = UnicodeAttribute()
    source_id = UnicodeAttribute()
    appointment_id = UnicodeAttribute(null=True)
    source_version = UnicodeAttribute(null=True)
    source_updated = UnicodeAttribute(null=True)
    version = VersionAttribute()


class _Conflict(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- our provider


def provider_for(org: str, identifiers: list[tuple[str, str]]) -> str | None:
    """Our provider among an appointment's practitioner identifiers: one named by
    :data:`PROVIDER_SYSTEM` with our provider id as its value, that exists in ``org`` and is active
    (the first such, in the partner's order). One BatchGetItem; none without such an identifier.
    An NPI would need an NPI on our provider records, which they do not have yet."""
    named = [v for s, v in identifiers if s == PROVIDER_SYSTEM and keys.is_part(v)]
    candidates = list(dict.fromkeys(named))[:25]
    if not candidates:
        return None
    found = repo.get_many([repo.provider_key(org, v) for v in candidates])
    for provider_id in candidates:
        item = found.get(repo.provider_key(org, provider_id))
        if isinstance(item, repo.Provider) and item.active:
            return provider_id
    return None


def units_covering(provider: ProviderOut, start: datetime, end: datetime) -> list[datetime]:
    """The provider's booking-grid units that ``[start, end)`` touches, whether or not they fall in
    the provider's hours: the grid is ``slot_minutes`` from local midnight in the provider's zone
    (windows start on it), so these are the units a booking of ours there would hold."""
    step, zone = timedelta(minutes=provider.slot_minutes), ZoneInfo(provider.time_zone)
    local = start.astimezone(zone)
    minutes = local.hour * 60 + local.minute
    minutes -= minutes % provider.slot_minutes
    unit = local_instant(local.date(), time(minutes // 60, minutes % 60), zone)
    units = []
    while unit < end:
        units.append(unit)
        unit += step
    return units


def appointment_type_for(provider: ProviderOut, code: str | None) -> str:
    """The EHR's appointment type when the provider offers that code (ours are lower-case), else the
    provider's first: the type only labels a mirrored visit, whose length is the EHR's."""
    for candidate in (code, code.lower() if code else None):
        if candidate and candidate in provider.appointment_types:
            return candidate
    return provider.appointment_types[0]


# ---------------------------------------------------------------- mirroring


def mirror_appointment(
    org: str,
    partner_id: str,
    record: ExternalAppointment,
    patient_id: str,
    provider_id: str | None,
    actor: Actor,
    now: datetime,
) -> Mirrored:
    """Bring our calendar in line with the partner's appointment ``record`` of ``patient_id`` (matched
    by the caller) with ``provider_id`` (:func:`provider_for`; ``None``: none of ours).

    - ``pending``/``booked``/``arrived``/``checked-in``: not held yet → booked, ``pending`` or else
      ``booked`` (BOOKED); held at another time → moved, keeping the units both times share (MOVED);
      held ``pending`` and now ``booked`` at the same time → confirmed (BOOKED); a conflict → CONFLICT,
      ours as it was;
    - ``cancelled``/``entered-in-error``, or ``noshow`` before the start → cancelled (reason from
      the FHIR cancellation reason's code), its time freed; ``noshow`` once it started → our no-show
      move (CANCELLED either way);
    - the same version again → UNCHANGED; an older one → STALE.

    Reads: one BatchGetItem (link, calendar, provider), the appointment when we hold one, and a
    booking or move writes one transaction (a move or cancellation also Queries the provider's day
    for a visit overbooked on the time it frees). Raises :class:`~shared.data.tx.Cancelled` if other
    deliveries of the same record keep changing it under us (the processor retries the message)."""
    for attempt in range(RACE_RETRIES + 1):
        try:
            return _mirror(org, partner_id, record, patient_id, provider_id, actor, now)
        except Cancelled:
            if attempt == RACE_RETRIES:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _link_key(org: str, partner_id: str, source_id: str) -> tuple[str, str]:
    return keys.mirror_pk(org, partner_id, source_id), keys.MIRROR_SK


def _mirror(
    org: str,
    partner_id: str,
    ext: ExternalAppointment,
    patient_id: str,
    provider_id: str | None,
    actor: Actor,
    now: datetime,
) -> Mirrored:
    link_key = _link_key(org, partner_id, ext.source_id)
    wanted = [link_key, repo.calendar_key(org)]
    if provider_id is not None:
        wanted.append(repo.provider_key(org, provider_id))
    found = repo.get_many(wanted)
    link: MirrorLink | None = found.get(link_key)
    provider_item = found.get(wanted[2]) if provider_id is not None else None
    provider = provider_item.record() if provider_item is not None else None
    if provider is not None and not provider.active:
        provider = None
    held_id = link.appointment_id if link is not None else None

    if link is not None:
        order = _order(ext, link)
        if order < 0:
            return Mirrored(MirrorOutcome.STALE, held_id, "older-version")
        if order == 0:
            return Mirrored(MirrorOutcome.UNCHANGED, held_id)
    if ext.status not in BOOKS | ENDS | NOT_MIRRORED:
        return Mirrored(MirrorOutcome.UNCHANGED, held_id, "unknown-status")
    if link is None and provider is None:
        return Mirrored(MirrorOutcome.NOT_OURS, None, "unknown-provider")
    write = _Writer(org, partner_id, ext, link, repo.calendar_of(found.get(wanted[1])), actor, now)
    item = _appointment(org, held_id) if held_id else None
    try:
        return _decide(write, item, patient_id, provider)
    except _Conflict as conflict:
        return Mirrored(MirrorOutcome.CONFLICT, held_id, conflict.reason)


def _decide(
    write: _Writer, item: repo.Appointment | None, patient_id: str, provider: ProviderOut | None
) -> Mirrored:
    ext, held_id = write.ext, item.appointment_id if item is not None else None
    if ext.status in NOT_MIRRORED:
        write.link_only(held_id)
        return Mirrored(MirrorOutcome.UNCHANGED, held_id, "status-not-mirrored")
    if ext.status in ENDS:
        if item is None:
            write.link_only(None)
            return Mirrored(MirrorOutcome.UNCHANGED, None, "not-held")
        return write.end(item)
    # the EHR has it booked
    if item is None or _cancelled_by_partner(item.record()):  # not held, or booked there again
        if provider is None:
            return Mirrored(MirrorOutcome.NOT_OURS, held_id, "unknown-provider")
        if ext.end is not None and ext.end <= write.now:
            return Mirrored(MirrorOutcome.UNCHANGED, held_id, "in-the-past")
        return write.book(patient_id, provider)
    current = item.record()
    if current.status is AppointmentStatus.CANCELLED:
        raise _Conflict("cancelled-here")
    if provider is None or provider.id != current.provider_id:
        raise _Conflict("provider-changed")
    if patient_id != current.patient_id:
        raise _Conflict("patient-changed")
    if (ext.start, ext.end) != (current.start, current.end):
        return write.move(item, provider)
    if ext.status != "pending" and current.status is AppointmentStatus.PENDING:
        return write.confirm(item)
    write.link_only(held_id)
    return Mirrored(MirrorOutcome.UNCHANGED, held_id)


def _cancelled_by_partner(record: AppointmentOut) -> bool:
    cancellation = record.cancellation
    return (
        record.status is AppointmentStatus.CANCELLED
        and cancellation is not None
        and cancellation.by_role == PARTNER_ROLE
    )


def _appointment(org: str, appointment_id: str) -> repo.Appointment | None:
    item: repo.Appointment | None = repo.get_item(
        repo.Appointment, (keys.appointment_pk(org, appointment_id), keys.APPOINTMENT_SK)
    )
    return item


def _order(ext: ExternalAppointment, link: MirrorLink) -> int:
    """-1: older than what we hold; 0: the same; 1: newer, or no way to tell (content decides)."""
    if ext.last_updated is not None and link.source_updated is not None:
        held = datetime.fromisoformat(link.source_updated)
        if ext.last_updated != held:
            return -1 if ext.last_updated < held else 1
    if ext.version is not None and link.source_version is not None:
        if ext.version == link.source_version:
            return 0
        if ext.version.isdigit() and link.source_version.isdigit():
            return -1 if int(ext.version) < int(link.source_version) else 1
        return 1
    if ext.last_updated is not None and link.source_updated is not None:
        return 0  # the same instant, no versions
    return 1


def _time_problem(start: datetime, end: datetime, now: datetime) -> str | None:
    if end <= start:
        return "bad-time"
    if end - start > MAX_DURATION:
        return "too-long"
    if end <= now:
        return "in-the-past"
    if start > now + timedelta(days=MAX_BOOKING_AHEAD_DAYS):
        return "too-far-ahead"
    return None


def _cancel_reason(code: str | None) -> CancelReason:
    """FHIR's appointment-cancellation-reason codes, coarsened as ours are."""
    code = (code or "").lower()
    if code.startswith("pat"):
        return CancelReason.PATIENT
    if code.startswith("prov"):
        return CancelReason.PROVIDER
    if code in ("maint", "oth-room", "oth-mu"):
        return CancelReason.FACILITY
    if code == "oth-weath":
        return CancelReason.WEATHER
    return CancelReason.OTHER


@dataclass
class _Writer:
    """The writes of one decision, each carrying the link on its version."""

    org: str
    partner_id: str
    ext: ExternalAppointment
    link: MirrorLink | None
    calendar: Calendar
    actor: Actor
    now: datetime

    def link_item(self, appointment_id: str | None) -> MirrorLink:
        held = self.link
        item = MirrorLink(
            *_link_key(self.org, self.partner_id, self.ext.source_id),
            partner_id=self.partner_id,
            source_id=self.ext.source_id,
            appointment_id=appointment_id,
            source_version=self.ext.version or (held.source_version if held else None),
            source_updated=isoformat(self.ext.last_updated)
            if self.ext.last_updated
            else (held.source_updated if held else None),
        )
        if held is not None:
            item.version = held.version
        return item

    def link_only(self, appointment_id: str | None) -> None:
        """Remember the version seen when our calendar does not change."""
        change = repo.Change(self.actor, self.now)
        change.put("mirror", self.link_item(appointment_id))
        change.commit()

    def _time(self, provider: ProviderOut) -> tuple[datetime, datetime, list[datetime]]:
        """The EHR's start and end (UTC) and the units they cover, or the conflict with them."""
        start, end = self.ext.start, self.ext.end
        if start is None or end is None:
            raise _Conflict("no-time")
        problem = _time_problem(start, end, self.now)
        if problem:
            raise _Conflict(problem)
        units = units_covering(provider, start, end)
        if len(units) > MAX_UNITS:
            raise _Conflict("too-long")
        return start.astimezone(UTC), end.astimezone(UTC), units

    def _status(self) -> AppointmentStatus:
        return AppointmentStatus.PENDING if self.ext.status == "pending" else AppointmentStatus.BOOKED

    def _commit(self, change: repo.Change) -> None:
        """A failed condition on our calendar is a conflict; on the link or the appointment's version,
        a race with another delivery: :class:`Cancelled` propagates (decide again)."""
        try:
            change.commit()
        except Cancelled as cancelled:
            if {"mirror", "appointment", "release"} & set(cancelled.failed):
                raise
            if "slot" in cancelled.failed:
                raise _Conflict("slot-taken") from None
            if "patient" in cancelled.failed:
                raise _Conflict("patient-inactive") from None
            raise

    def book(self, patient_id: str, provider: ProviderOut) -> Mirrored:
        """A new appointment holding the units the EHR's time covers (see :func:`units_covering`),
        typed by :func:`appointment_type_for`."""
        start, end, held = self._time(provider)
        status = self._status()
        record = AppointmentOut(
            id=ids.new_id(self.now),
            version=1,
            status=status,
            patient_id=patient_id,
            provider_id=provider.id,
            appointment_type=appointment_type_for(provider, self.ext.appointment_type),
            start=start,
            end=end,
            time_zone=provider.time_zone,
            booked_by=self.actor.subject,
            source_partner_id=self.partner_id,
            created_at=self.now,
            updated_at=self.now,
            confirmed_at=self.now if status is AppointmentStatus.BOOKED else None,
        )
        change = moves.booking_change(self.org, self.calendar.zone, record, held, self.actor, self.now)
        change.put("mirror", self.link_item(record.id))
        self._commit(change)
        return Mirrored(MirrorOutcome.BOOKED, record.id)

    def move(self, item: repo.Appointment, provider: ProviderOut) -> Mirrored:
        current = item.record()
        if not isinstance(next_status(current.status, "reschedule"), AppointmentStatus):
            raise _Conflict("status")
        start, end, units = self._time(provider)
        status = self._status()
        confirmed = (current.confirmed_at or self.now) if status is AppointmentStatus.BOOKED else None
        record = moves.rescheduled(
            current,
            start,
            end,
            status,
            self.actor.subject,
            self.now,
            confirmed_at=confirmed,
        )
        change = moves.reschedule_change(
            self.org,
            self.calendar.zone,
            item,
            record,
            units,
            self.actor,
            self.now,
            source_partner_id=self.partner_id,
        )
        change.put("mirror", self.link_item(current.id))
        self._commit(change)
        return Mirrored(MirrorOutcome.MOVED, current.id)

    def _status_move(self, item: repo.Appointment, action: str, **update: Any) -> None:
        principal = Principal(subject=self.actor.subject, organization_id=self.org, roles=frozenset())
        try:
            moves.move(
                principal,
                self.actor,
                item,
                action,
                self.now,
                also=[("mirror", self.link_item(item.appointment_id), None)],
                source_partner_id=self.partner_id,
                **update,
            )
        except Conflict:  # the transition table refuses it: ours is under way or over
            raise _Conflict("status") from None

    def confirm(self, item: repo.Appointment) -> Mirrored:
        self._status_move(item, "confirm", confirmed_at=self.now)
        return Mirrored(MirrorOutcome.BOOKED, item.appointment_id)

    def end(self, item: repo.Appointment) -> Mirrored:
        """Cancel ours (freeing its time), or mark it a no-show once it started, as our own moves do."""
        current = item.record()
        if current.status in DONE:
            self.link_only(current.id)
            return Mirrored(MirrorOutcome.UNCHANGED, current.id)
        if self.ext.status == "noshow" and self.now >= current.start:
            self._status_move(item, "no-show")
        else:
            cancellation = Cancellation(
                by=self.actor.subject,
                by_role=PARTNER_ROLE,
                reason=_cancel_reason(self.ext.cancelation_reason),
                note="entered in error in the partner's EHR"
                if self.ext.status == "entered-in-error"
                else None,
                at=self.now,
            )
            self._status_move(item, "cancel", cancellation=cancellation)
        return Mirrored(MirrorOutcome.CANCELLED, current.id)
