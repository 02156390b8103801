"""Every key in the single table is built here, and nowhere else.

Rules (ARCHITECTURE.md section 3):
- every partition key starts with ``ORG#<organization>``: nothing is readable across tenants by
  accident, because no builder can make a key without an organization;
- sort-key prefixes separate entity types inside a partition; the ``entity`` attribute records the
  type but is never the only thing a query relies on;
- ids that go into keys are validated (:func:`part`): a ``#`` in a token claim or path parameter
  can't shift a key into another entity's space.

Access patterns (each endpoint's pattern and the one call that serves it; areas add rows here):

| pattern                              | call                  | key                                         |
|--------------------------------------|-----------------------|---------------------------------------------|
| organization profile (``GET /me``)   | GetItem               | ``ORG#<org>`` / ``PROFILE``                 |
| outbox event, in the same transaction| TransactWriteItems    | ``ORG#<org>#OUTBOX#<event id>`` / ``EVENT`` |
| as the change it reports; read only  |                       |                                             |
| by the stream relay                  |                       |                                             |
| idempotency record (Powertools)      | Get/Put/Update/Delete | ``ORG#<org>#IDEMPOTENCY`` / ``<fn>#<hash>`` |

Indexes: ``GSI1`` (``GSI1PK``/``GSI1SK``) and ``GSI2`` (``GSI2PK``/``GSI2SK``) are overloaded:
each entity documents above what it puts there. TTL attribute: ``ttl`` (epoch seconds; advisory,
reads must filter expired items themselves).
"""

from __future__ import annotations

import re

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


def part(value: str) -> str:
    """A key component: refuses anything that could break out of its slot."""
    if not _PART.fullmatch(value):
        raise ValueError("invalid key component")
    return value


def org_pk(org: str) -> str:
    return f"ORG#{part(org)}"


ORG_PROFILE_SK = "PROFILE"


def outbox_pk(org: str, event_id: str) -> str:
    return f"{org_pk(org)}#OUTBOX#{part(event_id)}"


OUTBOX_SK = "EVENT"


def idempotency_pk(org: str) -> str:
    return f"{org_pk(org)}#IDEMPOTENCY"
