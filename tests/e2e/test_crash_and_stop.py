"""The runtime as a developer's terminal treats it: killed outright (``kill -9``, a crash), and stopped
with Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from .conftest import FIXTURE_TEMPLATE, ROOT, Client, Running, eventually, free_port, start_runtime

pytestmark = pytest.mark.e2e


def reminders(client: Client) -> list[str]:
    return [t["payload"]["name"] for t in client.traces("tick") if t["payload"].get("kind") == "reminder"]


def test_a_crash_loses_nothing_saved_a_second_after_the_last_change(tmp_path: Path) -> None:
    args = ("--template", str(FIXTURE_TEMPLATE), "--data-dir", str(tmp_path))
    first = start_runtime(*args, choose_key=False)
    client = Client(first)
    token = client.token(org="demo", roles=("coordinator",), sub="crasher")
    fired = client.post("/remind", token, json={"in_seconds": 3600}).json()["name"]
    pending = client.post("/remind", token, json={"in_seconds": 3 * 86400}).json()["name"]
    client.advance("PT2H")  # the first reminder fires (a table write by the timer), the second waits
    moved_to = client.get("/_local/clock").json()["now"]

    def saved() -> bool:
        data_dir = client.get("/_local/status").json()["data_dir"]
        return data_dir["saved_at"] is not None and not data_dir["unsaved_changes"]

    assert eventually(saved, timeout=10)  # the snapshot follows the changes, without a shutdown
    first.process.kill()  # SIGKILL: no handler runs, nothing is saved on the way out
    assert first.process.wait(30) == -signal.SIGKILL

    second = start_runtime(*args, choose_key=False)
    try:
        again = Client(second)
        assert again.get("/rendezvous", token, params={"group": "g", "size": 1}).status_code == 200
        assert reminders(again) == [fired]  # the table came back, with what the timer wrote
        assert again.get("/_local/clock").json()["now"] >= moved_to  # the clock did not go back
        names = [s["name"] for s in again.get("/_local/schedules").json()["schedules"]]
        assert f"default/{pending}" in names
        again.advance("P3D")  # the pending one fires once; the one fired before the crash does not
        assert sorted(reminders(again)) == sorted([fired, pending])
    finally:
        second.stop()
    assert not list(tmp_path.glob("*.tmp"))  # no half-written snapshot left behind


def start_in_own_group(*args: str, stderr: int) -> Running:
    """The runtime as a terminal runs it: in a process group of its own (with its workers), so the
    group can be sent SIGINT as Ctrl-C sends it, without signalling pytest."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "CARELOOP_TOKEN_KEY")}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "local.runtime", *args],
        cwd=ROOT,
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/_local/status", timeout=1).ok:
                return Running(process, url, None)
        except requests.ConnectionError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError("the runtime did not start")


def test_ctrl_c_stops_the_runtime_and_its_workers_quietly() -> None:
    with tempfile.TemporaryFile() as stderr:
        running = start_in_own_group("--template", str(FIXTURE_TEMPLATE), stderr=stderr.fileno())
        client = Client(running)
        # workers of several functions up and idle, waiting for their next invocation
        assert client.get("/files/x").status_code == 200
        worker = client.get("/sleep").json()["pid"]
        os.killpg(running.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            assert running.process.wait(60) == 0
        finally:
            if running.process.poll() is None:
                os.killpg(running.process.pid, signal.SIGKILL)
        stderr.seek(0)
        printed = stderr.read().decode(errors="replace")
    assert "Traceback" not in printed
    assert "KeyboardInterrupt" not in printed

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert eventually(lambda: gone(worker), timeout=10)  # the workers were stopped with it
