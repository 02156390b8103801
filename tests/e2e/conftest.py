"""The local runtime as ``make run`` starts it (a subprocess, on a free port), driven over HTTP.

A subprocess, not a thread: moto keeps its state in module globals, which the in-process ``mock_aws``
tests running on the same pytest worker would reset under the runtime's feet.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_TEMPLATE = Path(__file__).parent / "fixtures" / "template.yaml"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    url: str
    token_key: str | None  # the signing key, when the test chose it

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # the runtime prints every thread's stack to stderr
            time.sleep(2)
            self.process.kill()
            raise


def start_runtime(
    *args: str, choose_key: bool = True, log: Path | None = None, warm: bool = False
) -> Running:
    """``python -m local.runtime ARGS`` on a free port; ready once ``/_local/status`` answers. With
    ``log``, the runtime's and its workers' output (every function's log) goes to that file. Unless
    ``warm``, each function's worker starts on its first invocation (``--no-warm``): warming all of
    them costs ~25 s of CPU a runtime, and most tests here use a few."""
    port = free_port()
    key = secrets.token_urlsafe(32) if choose_key else None
    env = {**os.environ, "PORT": str(port)}
    for var in ("AWS_ENDPOINT_URL", "TABLE_NAME", "EVENT_BUS_NAME", "CARELOOP_TOKEN_KEY"):
        env.pop(var, None)
    if key:
        env["CARELOOP_TOKEN_KEY"] = key
    output: Any = subprocess.DEVNULL if os.environ.get("CI") else None
    if log is not None:
        output = log.open("ab")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "local.runtime", *args, *([] if warm else ["--no-warm"])],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if log is not None else None,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the runtime exited with {process.returncode}")
        try:
            if requests.get(f"{url}/_local/status", timeout=1).ok:
                return Running(process, url, key)
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the runtime did not start within 60 s")


class Client:
    def __init__(self, running: Running) -> None:
        self.running = running
        self.url = running.url
        self.http = requests.Session()
        self.status = self.http.get(f"{self.url}/_local/status").json()

    def aws(self, service: str) -> Any:
        """A client for the runtime's moto server (to look behind the API in assertions)."""
        return boto3.client(
            service,
            endpoint_url=self.status["moto_url"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def token(self, org: str = "acme", roles: tuple[str, ...] = ("coordinator",), **extra: Any) -> str:
        response = self.http.post(
            f"{self.url}/_local/token", json={"org": org, "roles": list(roles), **extra}
        )
        response.raise_for_status()
        return str(response.json()["token"])

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, token, **kwargs)

    def advance(self, duration: str) -> dict[str, Any]:
        response = self.post("/_local/clock", json={"advance": duration})
        response.raise_for_status()
        return dict(response.json())

    def traces(self, kind: str) -> list[dict[str, Any]]:
        out = self.aws("dynamodb").query(
            TableName=self.status["table_name"],
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"TRACE#{kind}"}},
        )
        return [{"at": i["at"]["S"], "payload": json.loads(i["payload"]["S"])} for i in out["Items"]]


def eventually(probe: Callable[[], T], timeout: float = 15.0) -> T:
    """Poll ``probe`` until it returns something truthy (async delivery takes a tick)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture(scope="module")
def machinery() -> Iterator[Client]:
    """A runtime over the test stack that exercises rules, schedules, retries and the relay."""
    running = start_runtime(
        "--template", str(FIXTURE_TEMPLATE), "--reload-package", "tests.e2e.fixtures", warm=True
    )
    yield Client(running)
    running.stop()


@pytest.fixture(scope="session")
def careloop() -> Iterator[Client]:
    """A runtime over the product's own template.yaml, as `make run` starts it: one per pytest worker
    for the whole run (starting one and warming its functions' workers costs tens of seconds of CPU
    a module). Tests share it as tenants share production: each works in an organization of its own
    and reads the clock from the runtime (a test may move it forward, never back). Webhook
    subscriptions may point at a receiver on this machine (the runtime's explicit flag)."""
    running = start_runtime("--allow-loopback-webhooks", warm=True)
    yield Client(running)
    running.stop()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Path]]:
    """A runtime of the module's own, with every function's log in a file (to read for PHI)."""
    log = tmp_path_factory.mktemp("runtime") / "runtime.log"
    running = start_runtime(log=log)
    yield Client(running), log
    running.stop()


def ny_clinic(client: Client, org: str) -> dict[str, str]:
    """An organization in New York with a follow-up visit type and a provider: its admin's and a
    coordinator's tokens and the provider's id."""
    from tests.support.reminders import NY_PROVIDER

    admin = client.token(org=org, roles=("admin",), sub=f"admin-{org}")
    staff = client.token(org=org, roles=("coordinator",), sub=f"coord-{org}")
    calendar = {"time_zone": "America/New_York"}
    assert client.request("PUT", "/organization/calendar", admin, json=calendar).status_code == 200
    body = {"display": "Follow-up", "duration_minutes": 30}
    assert client.request("PUT", "/appointment-types/follow-up", admin, json=body).status_code == 200
    provider = client.post("/providers", admin, json=NY_PROVIDER).json()["id"]
    return {"admin": admin, "staff": staff, "provider": provider}
