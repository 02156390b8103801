"""Function execution environments: one process per concurrent invocation, as Lambda does.

Each function gets a pool of worker processes (spawned, so nothing is shared with the runtime but
the moto server they call over HTTP). A worker imports its handler on its first invocation (a real
cold start), then serves one invocation at a time; a busy pool grows up to ``MAX_WORKERS``. A worker
notices when a file under ``functions/`` or ``shared/`` changed since it imported them and re-imports
just Careloop's own modules (third-party ones stay loaded), so an edit costs the next request
milliseconds, not a restart. An invocation that overruns the function's timeout kills its worker.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from local.context import ROOT, LambdaContext

MAX_WORKERS = 8
INIT_TIMEOUT = 60.0
OWN_PACKAGES = ("functions", "shared")  # re-imported on change; third-party packages stay loaded


@dataclass
class Result:
    ok: bool
    value: Any = None
    error_type: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    cold: bool = False
    reloaded: bool = False
    timed_out: bool = False
    logs: list[str] = field(default_factory=list)  # what the invocation wrote to stdout, line by line


class InjectedFault(RuntimeError):
    """What a function broken on purpose raises (``POST /_local/faults``): as its handler raising."""


def _fail_as_a_handler_would(event: Any, context: Any, error: str) -> None:
    """A broken function's invocation: the log line its entry point writes for an exception (with the
    event's correlation id), then the exception."""
    from shared.logs import correlate, correlation_of, get_logger

    request = event.get("requestContext", {}).get("requestId") if isinstance(event, dict) else None
    logger = get_logger()
    logger.append_keys(function_request_id=context.aws_request_id, function_name=context.function_name)
    correlate(request or correlation_of(event) or context.aws_request_id)
    logger.error("handler failed", error_type=error)
    raise InjectedFault(error)


class _Tee:
    """The worker's stdout: written through (the runtime's log, as CloudWatch Logs gets it) and kept
    line by line for the invocation's result (the runtime reads metrics and correlation from it)."""

    def __init__(self, out: Any) -> None:
        self.out, self._partial = out, ""
        self.lines: list[str] = []
        self._lock = threading.Lock()  # a function's own threads write too (print is two writes)

    def write(self, text: str) -> int:
        with self._lock:
            self.out.write(text)
            self._partial += text
            *done, self._partial = self._partial.split("\n")
            self.lines.extend(line for line in done if line)
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def take(self) -> list[str]:
        """The invocation's lines, and a last one it left without a newline."""
        with self._lock:
            taken, self.lines = self.lines, []
            if self._partial:
                taken.append(self._partial)
                self._partial = ""
        return taken

    def __getattr__(self, name: str) -> Any:
        return getattr(self.out, name)


# ---------------------------------------------------------------- inside a worker process


def sources_signature(packages: tuple[str, ...] = OWN_PACKAGES) -> tuple[tuple[str, int], ...]:
    """Every .py file of ``packages`` with its modification time: cheap enough to take per request."""
    out: list[tuple[str, int]] = []

    def scan(directory: str) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__" and not entry.name.startswith("."):
                        scan(entry.path)
                elif entry.name.endswith(".py"):
                    out.append((entry.path, entry.stat().st_mtime_ns))

    for pkg in packages:
        scan(str(ROOT / pkg.replace(".", "/")))
    return tuple(sorted(out))


def _own(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _worker_main(conn: Connection, env: dict[str, str], handler_path: str, packages: tuple[str, ...]) -> None:
    """A worker's life: import the handler (init), then one invocation per message. Before each, a
    changed source file means re-importing Careloop's own modules (a warm re-init, milliseconds).

    Ctrl-C in a terminal signals the whole process group: a worker ignores it (a KeyboardInterrupt
    traceback per worker otherwise) and is stopped by the runtime, which kills it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import importlib
    import sys
    from datetime import timedelta

    os.environ.update(env)
    tee = _Tee(sys.stdout)
    sys.stdout = tee
    module_name, attribute = handler_path.rsplit(".", 1)
    handler = None
    signature: tuple[tuple[str, int], ...] = ()
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        started = time.perf_counter()
        cold = handler is None
        reloaded = False
        try:
            current = sources_signature(packages)
            if handler is not None and current != signature:
                for name in [m for m in sys.modules if _own(m, packages)]:
                    del sys.modules[name]
                handler, reloaded = None, True
            if handler is None:
                handler = getattr(importlib.import_module(module_name), attribute)
                signature = current
            conn.send({"init": True})  # the function's timeout starts now, as in Lambda
            if message.get("init_only"):
                continue
            from shared import clock

            clock.set_clock(clock.OffsetClock(timedelta(seconds=message["clock_offset"])))
            context = LambdaContext(timeout_seconds=message["timeout"], **message["context"])
            tee.take()
            if message.get("fault"):
                _fail_as_a_handler_would(message["event"], context, message["fault"])
            value = handler(message["event"], context)
            conn.send(
                {
                    "ok": True,
                    "logs": tee.take(),
                    "value": value,
                    "cold": cold,
                    "reloaded": reloaded,
                    "duration_ms": (time.perf_counter() - started) * 1000,
                }
            )
        except Exception as exc:  # the function failed: Lambda reports it, the worker lives on
            traceback.print_exc()
            conn.send(
                {
                    "ok": False,
                    "logs": tee.take(),
                    "error_type": type(exc).__name__,
                    "error": str(exc)[:500],
                    "cold": cold,
                    "reloaded": reloaded,
                    "duration_ms": (time.perf_counter() - started) * 1000,
                }
            )


# ---------------------------------------------------------------- in the runtime


class _Worker:
    def __init__(self, env: dict[str, str], handler: str, packages: tuple[str, ...]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, env, handler, packages), daemon=True)
        self.process.start()
        child.close()

    def invoke(self, message: dict[str, Any], timeout: float) -> Result:
        try:
            return self._invoke(message, timeout)
        except (EOFError, OSError) as exc:  # the process died (killed, crashed in init)
            self.kill()
            return Result(False, error_type="WorkerDied", error=type(exc).__name__)

    def _invoke(self, message: dict[str, Any], timeout: float) -> Result:
        self.conn.send(message)
        # init (the interpreter's start and the handler's imports) has its own budget, as in Lambda
        if not self.conn.poll(INIT_TIMEOUT):
            self.kill()
            return Result(
                False, error_type="InitTimeout", error="the function did not initialise", timed_out=True
            )
        reply = self.conn.recv()
        if reply.get("init"):
            if message.get("init_only"):
                return Result(True)
            if not self.conn.poll(timeout):
                self.kill()
                return Result(
                    False,
                    error_type="Timeout",
                    error=f"Task timed out after {timeout:.0f} seconds",
                    timed_out=True,
                )
            reply = self.conn.recv()
        return Result(**reply)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()


class FunctionPool:
    def __init__(
        self,
        logical_id: str,
        handler: str,
        env: dict[str, str],
        timeout: int,
        memory: int,
        packages: tuple[str, ...] = OWN_PACKAGES,
    ) -> None:
        self.logical_id, self.handler, self.env, self.packages = logical_id, handler, env, packages
        self.timeout, self.memory = timeout, memory
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self.invocations = 0  # the runtime saves a snapshot (--data-dir) when any pool's count grows
        self.fault: str | None = None  # set: every invocation fails as a handler that raises would
        self.observers: list[Callable[[str, Result], None]] = []  # told of every invocation's result
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)

    def _acquire(self) -> tuple[_Worker, bool]:
        with self._free:
            while True:
                self._idle = [w for w in self._idle if w.alive]
                self._all = [w for w in self._all if w.alive]
                if self._idle:
                    return self._idle.pop(), False
                if len(self._all) < MAX_WORKERS:
                    worker = _Worker(self.env, self.handler, self.packages)
                    self._all.append(worker)
                    return worker, True
                self._free.wait()

    def _release(self, worker: _Worker, *, invoked: bool = False) -> None:
        with self._free:
            self.invocations += invoked
            if worker.alive:
                self._idle.append(worker)
            self._free.notify()

    def invoke(self, event: Any, clock_offset: float, request_id: str | None = None) -> Result:
        worker, _new = self._acquire()
        try:
            context = {
                "function_name": self.logical_id,
                "memory_limit_in_mb": self.memory,
                "aws_request_id": request_id or str(uuid.uuid4()),
            }
            message = {
                "event": event,
                "context": context,
                "clock_offset": clock_offset,
                "timeout": self.timeout,
                "fault": self.fault,
            }
            result = worker.invoke(message, self.timeout)
        finally:
            self._release(worker, invoked=True)
        for observe in self.observers:
            observe(self.logical_id, result)
        return result

    def warm(self) -> None:
        """Start one worker and initialise its handler now, so the first request finds it warm."""
        worker, _ = self._acquire()
        try:
            worker.invoke({"init_only": True}, self.timeout)
        finally:
            self._release(worker)

    def shutdown(self) -> None:
        with self._lock:
            for worker in self._all:
                worker.conn.close()
                worker.kill()
            self._all, self._idle = [], []
