"""Keeping to a sending identity's pace: message parts per second, across every concurrent sender.

Carriers throttle an SMS number by message parts per second (a US 10DLC number starts at 1, toll-free
at 3, a short code at 100); SES by messages per second. A sender reserves the next free slot of its
identity with a conditional write on one item (``PACE#<identity>``: the instant the identity is
next free), then waits for its slot. A morning burst thus drains at the provider's pace instead of
being throttled and retried, whatever the number of senders. Two calls per reservation (a read and a
conditional write; a lost race reads and tries again).

The item is the deployment's, not an organization's: the sending identity is shared (see
:mod:`shared.data.keys`, routes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError

from shared.clock import isoformat
from shared.data import keys
from shared.data.table import CareModel

ATTEMPTS = 20


class Busy(RuntimeError):
    """The identity is booked further ahead than the caller can wait: try in ``wait``."""

    def __init__(self, wait: timedelta) -> None:
        super().__init__("sending identity busy")
        self.wait = wait


class Pace(CareModel, discriminator="Pace"):
    next_free = UnicodeAttribute()


def reserve(identity: str, parts: int, per_second: float, now: datetime, max_wait: timedelta) -> datetime:
    """The instant at which ``parts`` parts may go out on ``identity``, reserved; :class:`Busy` when
    that is more than ``max_wait`` away (nothing is reserved then)."""
    pk = keys.pace_pk(identity)
    for _ in range(ATTEMPTS):
        try:
            item: Pace | None = Pace.get(pk, keys.PACE_SK, consistent_read=True)
        except Pace.DoesNotExist:
            item = None
        held = datetime.fromisoformat(item.next_free) if item else now
        slot = max(now, held)
        if slot - now > max_wait:
            raise Busy(slot - now)
        new = Pace(pk, keys.PACE_SK, next_free=isoformat(slot + timedelta(seconds=parts / per_second)))
        try:
            new.save(condition=Pace.next_free == item.next_free if item else Pace.PK.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                continue  # another sender took the slot: read again
            raise
        return slot
    raise Busy(max_wait)
