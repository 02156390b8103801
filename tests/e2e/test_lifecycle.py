"""Starting and stopping: --seed, --data-dir, and the token CLI, as a newcomer uses them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, Client, start_runtime

pytestmark = pytest.mark.e2e


def test_seed_loads_a_demo_organization() -> None:
    running = start_runtime("--seed")
    try:
        client = Client(running)
        me = client.get("/me", client.token(org="demo", roles=("coordinator",))).json()
        assert me["organization"] == {"id": "demo", "name": "Demo Health", "time_zone": "America/Chicago"}
    finally:
        running.stop()


def test_data_dir_keeps_data_schedules_clock_and_tokens_across_restarts(tmp_path: Path) -> None:
    first = start_runtime("--seed", "--data-dir", str(tmp_path), choose_key=False)
    client = Client(first)
    token = client.token(org="demo", roles=("admin",), sub="keeper")
    client.advance("P3D")
    moved_to = client.get("/_local/clock").json()["now"]
    client.aws("scheduler").create_schedule(
        Name="kept",
        ScheduleExpression="at(2099-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:us-east-1:123456789012:function:IdentityFunction",
            "RoleArn": "arn:aws:iam::123456789012:role/x",
        },
    )
    assert first.stop() == 0
    assert (tmp_path / "careloop-state.json").exists()

    second = start_runtime("--data-dir", str(tmp_path), choose_key=False)
    try:
        again = Client(second)
        me = again.get("/me", token)  # the token issued before the restart still works
        assert me.status_code == 200, me.text
        assert me.json()["organization"]["name"] == "Demo Health"  # the table came back
        assert again.get("/_local/clock").json()["now"] >= moved_to  # so did the clock
        names = [s["name"] for s in again.get("/_local/schedules").json()["schedules"]]
        assert "default/kept" in names
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
