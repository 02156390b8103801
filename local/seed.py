"""``make run ARGS=--seed``: a demo organization to click through.

Each area adds what a newcomer needs to try its flows (patients, providers, availability...) as a
function in ``SEEDERS``; data is written through the table's own key builders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.data import keys

if TYPE_CHECKING:
    from local.runtime import Runtime

DEMO_ORG = "demo"
DEMO_USERS = {
    "coordinator": "demo-coordinator",
    "nurse": "demo-nurse",
    "physician": "demo-physician",
    "admin": "demo-admin",
}


def _organization(rt: Runtime, put: Callable[[dict[str, Any]], None]) -> None:
    put(
        {
            "PK": {"S": keys.org_pk(DEMO_ORG)},
            "SK": {"S": keys.ORG_PROFILE_SK},
            "entity": {"S": "OrganizationProfile"},
            "name": {"S": "Demo Health"},
            "time_zone": {"S": "America/Chicago"},
        }
    )


SEEDERS: list[Callable[[Any, Callable[[dict[str, Any]], None]], None]] = [_organization]


def seed(rt: Runtime) -> dict[str, str]:
    ddb = rt.session.client("dynamodb")

    def put(item: dict[str, Any]) -> None:
        ddb.put_item(TableName=rt.stack.table_name, Item=item)

    for seeder in SEEDERS:
        seeder(rt, put)
    tokens = {role: rt.tokens.issue(DEMO_ORG, [role], sub=sub) for role, sub in DEMO_USERS.items()}
    rt.say(f"seeded organization '{DEMO_ORG}' (Demo Health). Tokens, valid 12 h:")
    for role, token in tokens.items():
        rt.say(f"  {role:12} {token}")
    return tokens
