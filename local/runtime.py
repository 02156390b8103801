"""The whole backend on one machine: ``make run`` (``python -m local.runtime``).

Everything comes from ``template.yaml``: the moto server holds the table, bus, queues, topics and
secrets; each function runs in its own worker processes with the environment the template gives it;
the HTTP API, the JWT authorizer, the stream, queues, topics, the rules and the schedules are
emulated around them.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local import state
from local.dispatch import Dispatcher, Fired
from local.operations import Operations
from local.stack import LOCAL_CREDENTIALS, Stack, function_environment, provision
from local.template import REGION, TEMPLATE, Template
from local.tokens import TokenIssuer
from local.workers import OWN_PACKAGES, FunctionPool, sources_signature
from shared.clock import OffsetClock, isoformat

TABLE_NAME = "careloop-local"
BUS_NAME = "careloop-local"
SENDER_DOMAIN = "careloop.local"
IDLE_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 30
MIN_GAP_SECONDS = 0.1
SNAPSHOT_SECONDS = 1.0  # --data-dir: a snapshot at most this often, and this soon after a change


class _Session:
    """A boto3 session whose clients all talk to the embedded moto server."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.endpoint = endpoint
        self._session = boto3.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, name: str) -> Any:
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self._session.client(name, endpoint_url=self.endpoint)
            return self._clients[name]


class Runtime:
    def __init__(
        self,
        *,
        template_path: Path = TEMPLATE,
        host: str = "127.0.0.1",
        port: int = 3000,
        data_dir: Path | None = None,
        seed: bool = False,
        warm: bool = True,
        quiet: bool = False,
        reload_packages: tuple[str, ...] = (),
        token_key: str | None = None,
        allow_loopback_webhooks: bool = False,
    ) -> None:
        # the template pins OutboundAllowLoopback off; only this explicit flag lets webhook
        # subscriptions point at a receiver on this machine (http://127.0.0.1:<port>)
        overrides = {"OutboundAllowLoopback": "true"} if allow_loopback_webhooks else {}
        self.tpl = Template(template_path, overrides)
        self.host, self.port, self.data_dir, self.seed, self.warm = host, port, data_dir, seed, warm
        self.quiet = quiet
        self.packages = OWN_PACKAGES + reload_packages
        self.token_key = token_key
        self.clock = OffsetClock()
        self._wake = threading.Event()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._save_lock = threading.Lock()
        self._saved: tuple[Any, ...] | None = None  # what _changes() was at the last snapshot
        self.saved_at: datetime | None = None
        self._template_mtime = template_path.stat().st_mtime_ns
        self._template_warned = False
        self._openapi: tuple[Any, dict[str, Any]] | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Runtime:
        from moto.server import ThreadedMotoServer
        from werkzeug.serving import make_server

        from local.http import HttpApi

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        moto_host, moto_port = self.moto.get_host_and_port()
        self.moto_url = f"http://{moto_host}:{moto_port}"
        self.session = _Session(self.moto_url)
        self.stack: Stack = provision(self.session, table_name=TABLE_NAME, bus_name=BUS_NAME, tpl=self.tpl)
        self.session.client("ses").verify_domain_identity(Domain=SENDER_DOMAIN)

        saved = state.load(self.data_dir) if self.data_dir else None
        self.tokens = TokenIssuer(self.token_key or (saved.token_key if saved else None))
        self.seeded: dict[str, str] = {}  # what the demo seed made that a later seeder needs (ids)
        if saved:  # before the dispatcher anchors its schedules on the clock
            self.clock.offset = timedelta(seconds=saved.clock_offset_seconds)
        base_env = {
            "AWS_ENDPOINT_URL": self.moto_url,
            **LOCAL_CREDENTIALS,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
            "PATH": os.environ.get("PATH", ""),
        }
        self.pools = {
            fn.logical_id: FunctionPool(
                fn.logical_id,
                fn.handler,
                {**base_env, **function_environment(self.tpl, fn.logical_id, self.stack.names)},
                fn.timeout,
                fn.memory,
                self.packages,
            )
            for fn in self.tpl.functions
        }
        self.dispatcher = Dispatcher(self.tpl, self.stack, self.session, self.pools, self.clock)
        self.ops = Operations(self)
        self.dispatcher.on_stream_batch = self.ops.stream_read
        if saved:
            state.restore(self, saved)
        if self.seed:
            from local.seed import seed

            seed(self)
        if saved:
            self.dispatcher.start_stream_at_latest()  # restored data is not news (seeded data is)

        self.server = make_server(self.host, self.port, HttpApi(self), threaded=True)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, name="http", daemon=True).start()
        threading.Thread(target=self._pump, name="pump", daemon=True).start()
        if self.warm:
            for pool in self.pools.values():
                threading.Thread(target=pool.warm, daemon=True).start()
        if self.data_dir:
            threading.Thread(target=self._snapshots, name="snapshots", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        self.server.shutdown()
        if self.data_dir:
            self.save(force=True)
        for pool in self.pools.values():
            pool.shutdown()
        self.moto.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------ work

    def _pump(self) -> None:
        """Deliver what functions produced and fire what fell due: at once after an invocation, and
        every IDLE_SECONDS otherwise (moto can also be written to directly, e.g. with the AWS CLI)."""
        last = 0.0
        while not self._stopping.is_set():
            woken = self._wake.wait(IDLE_SECONDS)
            self._wake.clear()
            if self._stopping.is_set():
                return
            pause = MIN_GAP_SECONDS - (time.monotonic() - last)
            if woken and pause > 0:  # under load, settle at most every MIN_GAP_SECONDS
                time.sleep(pause)
            last = time.monotonic()
            try:
                self.dispatcher.run_due(self.clock.now())
                self.dispatcher.settle()
            except Exception:  # keep pumping; the failure is printed for the developer
                import traceback

                traceback.print_exc()

    def wake(self) -> None:
        """An invocation finished: deliver what it produced, and save it (--data-dir)."""
        self._wake.set()
        self._changed.set()

    def advance_to(self, target: datetime) -> list[Fired]:
        """Move the clock to ``target``, running everything due on the way, in time order."""
        self.dispatcher.settle()
        try:
            return self.dispatcher.run_due(target)
        finally:
            self._changed.set()

    # ------------------------------------------------------------ --data-dir

    def _changes(self) -> tuple[Any, ...]:
        """Grows or moves whenever saved state may have: a function ran (only functions write the
        table and Scheduler), the stream or the bus moved (a write from outside), the clock was set, a
        one-time schedule fired."""
        return (
            sum(pool.invocations for pool in self.pools.values()),
            self.dispatcher.moved,
            self.clock.offset,
            len(self.dispatcher.fired_once),
        )

    @property
    def unsaved(self) -> bool:
        return self._changes() != self._saved

    def save(self, *, force: bool = False) -> bool:
        """Snapshot the state into --data-dir if it changed since the last snapshot (or ``force``)."""
        if self.data_dir is None:
            return False
        with self._save_lock:
            if not force and not self.unsaved:
                return False
            with self.dispatcher.lock:  # held for the capture only, not for the write
                self.dispatcher.settle()  # publish what the table holds before saving it
                changes = self._changes()
                saved = state.capture(self)
            state.write(saved, self.data_dir)
            self._saved, self.saved_at = changes, datetime.now(UTC)
            return True

    def _snapshots(self) -> None:
        """Save soon after a change, at most once every SNAPSHOT_SECONDS: a crash loses at most about
        the last second. Also looks every IDLE_SECONDS for changes nothing announced (timers)."""
        last = -SNAPSHOT_SECONDS
        while not self._stopping.is_set():
            self._changed.wait(IDLE_SECONDS)
            self._changed.clear()
            pause = last + SNAPSHOT_SECONDS - time.monotonic()
            if (pause > 0 and self._stopping.wait(pause)) or self._stopping.is_set():
                return
            try:
                if self.save():
                    last = time.monotonic()
            except Exception:  # keep the runtime up; say why the snapshot failed
                import traceback

                traceback.print_exc()
                self.say(f"could not save to {self.data_dir}; will try again")

    # ------------------------------------------------------------ developer aids

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document, regenerated (in a fresh interpreter) when the code changed."""
        import json

        signature = sources_signature(self.packages)
        if self._openapi is None or self._openapi[0] != signature:
            out = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
                [sys.executable, "-m", "local.openapi", "--template", str(self.tpl.path)],
                capture_output=True,
                text=True,
                check=True,
                cwd=Path(__file__).resolve().parent.parent,
            )
            self._openapi = (signature, json.loads(out.stdout))
        doc = dict(self._openapi[1])
        doc["servers"] = [{"url": self.url, "description": "local runtime"}]
        return doc

    def notice_template_change(self) -> None:
        if not self._template_warned and self.tpl.path.stat().st_mtime_ns != self._template_mtime:
            self._template_warned = True
            self.say(
                "template.yaml changed: routes, functions and resources are read at start; "
                "restart `make run` to pick the change up."
            )

    def status(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "moto_url": self.moto_url,
            "table_name": self.stack.table_name,
            "bus_name": self.stack.bus_name,
            "now": isoformat(self.clock.now()),
            "template_changed_since_start": self._template_warned
            or self.tpl.path.stat().st_mtime_ns != self._template_mtime,
            "functions": sorted(self.pools),
            "routes": [r.key for r in self.tpl.routes],
            "data_dir": None
            if self.data_dir is None
            else {
                "path": str(self.data_dir),
                "saved_at": isoformat(self.saved_at) if self.saved_at else None,
                "unsaved_changes": self.unsaved,
            },
        }

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"[careloop] {text}", flush=True)  # noqa: T201


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="careloop run", description="Run Careloop locally on moto.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--seed", action="store_true", help="load a demo organization")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep state here (saved within a second of a change and on exit), restore it on start",
    )
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument(
        "--reload-package",
        action="append",
        default=[],
        help="also re-import this package when its files change (besides functions, shared)",
    )
    parser.add_argument(
        "--no-warm",
        action="store_true",
        help="start each function's worker on its first invocation instead of all of them at start",
    )
    parser.add_argument(
        "--allow-loopback-webhooks",
        action="store_true",
        help="let webhook subscriptions deliver to http://127.0.0.1 (a receiver you run locally)",
    )
    args = parser.parse_args(argv)

    rt = Runtime(
        template_path=args.template,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        seed=args.seed,
        reload_packages=tuple(args.reload_package),
        token_key=os.environ.get("CARELOOP_TOKEN_KEY"),
        allow_loopback_webhooks=args.allow_loopback_webhooks,
        warm=not args.no_warm,
    )
    rt.start()
    done = threading.Event()

    def shutdown(*_: Any) -> None:
        done.set()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>` prints every thread's stack
    rt.say(f"Careloop is running at {rt.url}")
    rt.say(f"  OpenAPI: {rt.url}/openapi.json   Swagger UI: {rt.url}/docs")
    rt.say(
        f'  token:   curl -s -X POST {rt.url}/_local/token -d \'{{"org":"demo","roles":["coordinator"]}}\''
    )
    rt.say(
        "  local:   /_local/clock /_local/outbox /_local/events /_local/schedules /_local/dlq /_local/sms\n"
        "           /_local/metrics /_local/logs /_local/faults /_local/dlq/redrive"
    )
    if args.data_dir:
        rt.say(f"  state is saved to {args.data_dir} within a second of each change, and on exit")
    rt.say("Ctrl-C to stop.")
    # Wait in short slices: a signal can be delivered to any thread, and CPython runs its handler only
    # when the main thread next runs bytecode; a main thread parked in one long wait may never do so.
    while not done.wait(0.5):
        pass
    rt.say("stopping...")
    # a stop that hangs prints every thread's stack and exits, rather than hanging the terminal
    faulthandler.dump_traceback_later(STOP_TIMEOUT_SECONDS, exit=True)
    rt.stop()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # everything is saved and stopped; don't wait on interpreter teardown


if __name__ == "__main__":
    main()
