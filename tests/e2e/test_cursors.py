"""Cursors through the local runtime: the function reads the cursor key from the secret the runtime
created from template.yaml, a walk through a list returns every item once, and a cursor is a 400 for
another organization."""

from __future__ import annotations

import base64

import pytest

from tests.support.intake import patient

from .conftest import Client

pytestmark = pytest.mark.e2e


def test_a_paginated_list_walks_through_the_runtime_and_its_cursor_stays_with_its_tenant(
    careloop: Client,
) -> None:
    coordinator = careloop.token(org="e2e-pages", roles=("coordinator",), sub="coord-pages")
    registered = set()
    for n in range(5):
        body = patient(
            name={"given": ["Page"], "family": f"Walker{chr(97 + n)}"}, contact={"phone": f"+1555557{n:04d}"}
        )
        response = careloop.post("/patients", coordinator, json=body, params={"allow_duplicate": "true"})
        assert response.status_code == 201, response.text
        registered.add(response.json()["id"])

    seen: list[str] = []
    params = {"name": "walker", "limit": "2"}
    cursors = []
    while True:
        page = careloop.get("/patients", coordinator, params=params)
        assert page.status_code == 200, page.text
        seen += [p["id"] for p in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
        params = {**params, "cursor": cursor}
    assert sorted(seen) == sorted(registered) and len(cursors) >= 2

    raw = base64.urlsafe_b64decode(cursors[0] + "=" * (-len(cursors[0]) % 4))
    assert b"walker" not in raw.lower() and b"NAME#" not in raw and b"e2e-pages" not in raw
    other = careloop.token(org="e2e-other", roles=("coordinator",), sub="coord-other")
    refused = careloop.get("/patients", other, params={"name": "walker", "limit": "2", "cursor": cursors[0]})
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
