"""Starting and stopping: --seed, --data-dir, and the token CLI, as a newcomer uses them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from .conftest import FIXTURE_TEMPLATE, ROOT, Client, start_runtime

pytestmark = pytest.mark.e2e


def test_seed_loads_a_demo_organization() -> None:
    running = start_runtime("--seed")
    try:
        client = Client(running)
        token = client.token(org="demo", roles=("coordinator",), sub="demo-coordinator")
        me = client.get("/me", token).json()
        assert me["organization"] == {"id": "demo", "name": "Demo Health", "time_zone": "America/Chicago"}
        panel = client.get("/panel", token).json()["items"]
        assert len(panel) == 3
        maria = next(p for p in panel if p["name"]["given"] == ["Maria"])
        assessment = client.get(f"/patients/{maria['id']}/assessments", token).json()["items"][0]
        assert assessment["score"]["risk"] == "high"  # three needs
        cardiology = client.get("/providers", token, params={"specialty": "cardiology"}).json()["items"]
        assert [p["name"] for p in cardiology] == ["Dr. Ana Ruiz"]
        today = client.get("/_local/clock").json()["now"][:10]
        last = (date.fromisoformat(today) + timedelta(days=7)).isoformat()
        query = {
            "provider_id": cardiology[0]["id"],
            "appointment_type": "new-patient",
            "from": today,
            "to": last,
        }
        week = client.get("/availability", token, params={**query, "limit": 200}).json()["items"]
        days = {date.fromisoformat(s["local_start"][:10]) for s in week}
        assert days and all(d.isoweekday() <= 5 for d in days)  # weekdays only
        holidays = client.get("/organization/calendar", token).json()["holidays"]
        now = datetime.fromisoformat(client.get("/_local/clock").json()["now"].replace("Z", "+00:00"))
        year = now.astimezone(ZoneInfo("America/Chicago")).year  # the runtime clock's, in Demo Health
        thanksgivings = [h["date"][:4] for h in holidays if h["name"] == "Thanksgiving Day"]
        assert thanksgivings == [str(year), str(year + 1)]
    finally:
        running.stop()


def reminders(client: Client) -> list[str]:
    return [t["payload"]["name"] for t in client.traces("tick") if t["payload"].get("kind") == "reminder"]


def test_data_dir_keeps_data_schedules_clock_and_tokens_across_restarts(tmp_path: Path) -> None:
    args = ("--template", str(FIXTURE_TEMPLATE), "--data-dir", str(tmp_path))
    first = start_runtime(*args, choose_key=False)
    client = Client(first)
    token = client.token(org="demo", roles=("coordinator",), sub="keeper")
    fired_name = client.post("/remind", token, json={"in_seconds": 3600}).json()["name"]
    kept_name = client.post("/remind", token, json={"in_seconds": 3 * 86400}).json()["name"]
    client.advance("PT2H")  # the first reminder fires, the second waits
    assert reminders(client) == [fired_name]
    moved_to = client.get("/_local/clock").json()["now"]
    assert first.stop() == 0
    assert (tmp_path / "careloop-state.json").exists()

    second = start_runtime(*args, choose_key=False)
    try:
        again = Client(second)
        assert (
            again.get("/rendezvous", token, params={"group": "g", "size": 1}).status_code == 200
        )  # old token
        assert reminders(again) == [fired_name]  # the table came back
        assert again.get("/_local/clock").json()["now"] >= moved_to  # so did the clock
        names = [s["name"] for s in again.get("/_local/schedules").json()["schedules"]]
        assert f"default/{kept_name}" in names
        again.advance("P3D")  # the kept one fires once; the one that fired before the restart does not
        assert sorted(reminders(again)) == sorted([fired_name, kept_name])
    finally:
        second.stop()


def test_the_token_cli_asks_the_running_runtime(careloop: Client) -> None:
    port = careloop.url.rsplit(":", 1)[1]
    out = subprocess.run(
        [sys.executable, "-m", "local.cli", "token", "--org", "demo", "--role", "physician"],
        cwd=ROOT,
        env={**os.environ, "PORT": port},
        capture_output=True,
        text=True,
        check=True,
    )
    me = careloop.get("/me", out.stdout.strip()).json()
    assert me["roles"] == ["physician"]
