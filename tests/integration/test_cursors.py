"""Cursors through a handler: a tampered, another organization's, another list's or an expired cursor
is a 400 problem (never a 500, never a read), and walking GET /availability page by page gives the
one-page answer, each slot once."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from shared import clock
from tests.support.intake import Api
from tests.support.scheduling import CARDIOLOGIST, Clinic, open_clinic, staff


@pytest.fixture
def clinic(aws: dict, frozen_clock: clock.FixedClock) -> Clinic:
    return open_clinic(patients=0)


def flip(cursor: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[at] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def refused(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 400, response["body"]
    assert response["headers"]["Content-Type"].startswith("application/problem+json")
    return str(response["json"]["detail"])


def test_a_cursor_is_refused_tampered_foreign_for_another_list_or_expired(
    clinic: Clinic, frozen_clock: clock.FixedClock
) -> None:
    first = clinic.staff.availability(provider_id=clinic.provider_id, limit="5")
    cursor = first["json"]["next_cursor"]
    assert cursor and b"2026" not in base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    mine = clinic.staff.availability(provider_id=clinic.provider_id, limit="5", cursor=cursor)
    assert (
        mine["statusCode"] == 200 and mine["json"]["items"][0]["start"] > first["json"]["items"][-1]["start"]
    )

    for at in (0, 7, 30, -1):  # version, nonce, ciphertext, tag
        refused(clinic.staff.availability(provider_id=clinic.provider_id, cursor=flip(cursor, at)))
    refused(staff("globex").availability(provider_id=clinic.provider_id, cursor=cursor))  # another tenant
    refused(clinic.staff.availability(provider_id=clinic.provider_id, to="2026-11-25", cursor=cursor))
    refused(Api().call("GET", "/panel", query={"cursor": cursor}))  # another function's list

    frozen_clock.advance(timedelta(hours=24))
    assert "expired" in refused(clinic.staff.availability(provider_id=clinic.provider_id, cursor=cursor))


def test_walking_a_specialty_page_by_page_gives_every_slot_once(clinic: Clinic) -> None:
    """Given two cardiologists (one in New York) over most of a week, when the availability is walked 7 at a
    time, then the pages together are the one-page answer, in the same order."""
    created = clinic.admin.req(
        "POST", "/providers", {**CARDIOLOGIST, "name": "Dr. B", "time_zone": "America/New_York"}
    )
    assert created["statusCode"] == 201
    query = {"specialty": "cardiology", "from": "2026-11-24", "to": "2026-11-29"}
    whole = clinic.staff.availability(**query, limit="200")["json"]
    assert whole["next_cursor"] is None and len(whole["items"]) > 100
    walked: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = clinic.staff.availability(**query, limit="7", **({"cursor": cursor} if cursor else {}))
        assert page["statusCode"] == 200, page["body"]
        walked += page["json"]["items"]
        cursor = page["json"]["next_cursor"]
        if cursor is None:
            break
    assert walked == whole["items"]
