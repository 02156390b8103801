"""Which channel reaches a patient, and when a message may go out. Pure: no I/O, no clock reads.

Quiet hours are the patient's own (local wall-clock times, ``start`` inclusive, ``end`` exclusive,
wrapping past midnight when ``start > end``; ``start == end`` means none). A message due inside them
is moved to their end, never dropped (DOMAIN.md). Local times go through :mod:`zoneinfo`, so the
offset is the one in force on that date, across DST changes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.domain.patients import Channel, PatientOut

DEFAULT_CHANNELS = (Channel.SMS, Channel.EMAIL)


def address_of(patient: PatientOut, channel: Channel) -> str:
    """The phone (SMS, voice) or e-mail address a channel sends to; ``ValueError`` when the patient
    has none (the message names the channel only, never the patient's data)."""
    address = patient.contact.email if channel is Channel.EMAIL else patient.contact.phone
    if not address:
        raise ValueError(f"patient has no address for channel {channel.value}")
    return address


def reachable(patient: PatientOut, channel: Channel) -> bool:
    """Consent on record and granted (a withdrawal is a ``granted=False`` entry), and an address."""
    consent = patient.consent.get(channel)
    if consent is None or consent.granted is not True:
        return False
    return bool(patient.contact.email if channel is Channel.EMAIL else patient.contact.phone)


def choose_channel(patient: PatientOut, allowed: Collection[Channel] = DEFAULT_CHANNELS) -> Channel | None:
    """The patient's most preferred channel that the caller can use and the patient can be reached on.

    Only channels the patient listed are considered: consent to a channel they did not ask for is not
    a reason to use it. ``None`` when nothing qualifies (the caller decides: staff task, skip...)."""
    for channel in patient.preferred_channels:
        if channel in allowed and reachable(patient, channel):
            return channel
    return None


def _local(patient: PatientOut, at: datetime) -> tuple[ZoneInfo, datetime]:
    if at.tzinfo is None:
        raise ValueError("at must be an aware datetime")
    zone = ZoneInfo(patient.time_zone)
    return zone, at.astimezone(zone)


def _quiet(start: time, end: time, wall: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end  # wraps midnight: 21:00-09:00


def _bounds(patient: PatientOut) -> tuple[time, time]:
    # wall-clock times: an offset parsed from "21:00+00:00" would make them incomparable, so drop it
    quiet = patient.quiet_hours
    return quiet.start.replace(tzinfo=None), quiet.end.replace(tzinfo=None)


def in_quiet_hours(patient: PatientOut, at: datetime) -> bool:
    """Whether ``at`` (aware, any zone) falls inside the patient's quiet hours, in their local time."""
    _zone, local = _local(patient, at)
    return _quiet(*_bounds(patient), local.time())


def _end_instant(day: date, wall: time, zone: ZoneInfo, after: datetime) -> datetime:
    """The first instant (UTC) after ``after`` at which the local clock on ``day`` reads ``wall``.

    An ambiguous wall time (clocks going back repeat an hour) has two instants: the first one, unless
    ``after`` lies in the repeated hour past it. A nonexistent one (clocks going forward jumped over
    it) becomes the instant of the jump, the first existing time after it: zoneinfo exposes no
    transitions, so the jump is found by bisection between the gap's two readings, to the second.
    """
    local = datetime.combine(day, wall, tzinfo=zone)
    naive = local.replace(tzinfo=None)
    first, second = local.astimezone(UTC), local.replace(fold=1).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first if first > after else second
    lo, hi = int(second.timestamp()), int(first.timestamp())  # in a gap, fold=1 reads before the jump
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _quiet_edges(start: time, end: time, zone: ZoneInfo, at: datetime) -> tuple[datetime, datetime]:
    """The quiet period ``at`` falls in (it must fall in one): when it began and when it ends."""
    local = at.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if start > end and wall >= start:  # the evening part of a period that wraps: ends tomorrow
        began, ends = local.date(), local.date() + timedelta(days=1)
    elif start > end:  # its early-morning part: began yesterday evening
        began, ends = local.date() - timedelta(days=1), local.date()
    else:
        began = ends = local.date()
    first = _end_instant(began, start, zone, at - timedelta(days=2))
    return first, _end_instant(ends, end, zone, at)


def allowed_time(
    at: datetime,
    *,
    quiet: tuple[time, time],
    zone: ZoneInfo,
    closed: Callable[[datetime], bool] = lambda _at: False,
    closed_zone: ZoneInfo | None = None,
    before: datetime | None = None,
    not_before: datetime | None = None,
    spread: timedelta = timedelta(0),
) -> datetime | None:
    """When a message due at ``at`` may go out: ``at`` itself if it is outside the quiet hours
    (``quiet``, local to ``zone``) and not on a closed day (``closed``: e.g. an organization
    holiday, whose days are those of ``closed_zone``, the organization's); else the next allowed
    minute; or, when that would not be before ``before`` (the visit), the last allowed minute before
    the quiet hours or the closed day began. ``None`` when no
    allowed minute lies between ``not_before`` and ``before``. A message moved to the end of the
    quiet hours (the patient's morning) goes ``spread`` later, so a morning's messages do not all
    fire at 09:00:00; never past ``before``."""
    start, end = (t.replace(tzinfo=None) for t in quiet)
    day_zone = closed_zone or zone

    def blocked(t: datetime) -> bool:
        return _quiet(start, end, t.astimezone(zone).time().replace(tzinfo=None)) or closed(t)

    forward, moved_to_morning = at.astimezone(UTC), False
    for _ in range(60):  # each step clears one quiet period or one closed day
        if _quiet(start, end, forward.astimezone(zone).time().replace(tzinfo=None)):
            forward, moved_to_morning = _quiet_edges(start, end, zone, forward)[1], True
        elif closed(forward):
            local = forward.astimezone(day_zone)
            forward = _end_instant(local.date() + timedelta(days=1), time(0), day_zone, forward)
            moved_to_morning = False
        else:
            break
    if before is None or forward < before:
        if moved_to_morning and (before is None or forward + spread < before):
            forward += spread
        return forward
    backward = at.astimezone(UTC)
    for _ in range(60):
        if not blocked(backward):
            break
        if _quiet(start, end, backward.astimezone(zone).time().replace(tzinfo=None)):
            backward = _quiet_edges(start, end, zone, backward)[0] - timedelta(minutes=1)
        else:
            local = backward.astimezone(day_zone)
            backward = _end_instant(local.date(), time(0), day_zone, backward - timedelta(days=2))
            backward -= timedelta(minutes=1)
    if blocked(backward) or (not_before is not None and backward < not_before):
        return None
    return backward


def next_send_time(patient: PatientOut, at: datetime) -> datetime:
    """``at`` if it is outside the patient's quiet hours, else the end of the quiet period it falls in;
    aware UTC either way."""
    zone, local = _local(patient, at)
    start, end = _bounds(patient)
    wall = local.time()
    if not _quiet(start, end, wall):
        return at.astimezone(UTC)
    # in a wrapping period, the evening part ends tomorrow; the early-morning part (and a
    # non-wrapping period) ends today
    day = local.date() + timedelta(days=1) if start > end and wall >= start else local.date()
    return _end_instant(day, end, zone, at)
