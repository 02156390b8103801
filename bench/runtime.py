"""GET /me through the local runtime (HTTP → API Gateway emulation → worker process → moto) next to
the same handler invoked in-process against the same moto server, measured in one run.

``make bench`` (after the cold-start figures); ``N=2000 make bench`` for more requests.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import requests

from local.runtime import Runtime

N = int(os.environ.get("N", "500"))
THREADS = 4
ROOT = Path(__file__).resolve().parent.parent


def percentiles(samples: list[float]) -> tuple[float, float]:
    qs = statistics.quantiles(samples, n=100)
    return qs[49], qs[98]


def through_runtime(rt: Runtime, token: str) -> dict[str, Any]:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{rt.url}/me"
    for _ in range(50):
        session.get(url, headers=headers).raise_for_status()
    latencies = []
    started = time.perf_counter()
    for _ in range(N):
        t0 = time.perf_counter()
        session.get(url, headers=headers).raise_for_status()
        latencies.append((time.perf_counter() - t0) * 1000)
    sequential_rps = N / (time.perf_counter() - started)

    def worker(count: int) -> None:
        s = requests.Session()
        for _ in range(count):
            s.get(url, headers=headers).raise_for_status()

    threads = [threading.Thread(target=worker, args=(N // THREADS,)) for _ in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    concurrent_rps = (N // THREADS * THREADS) / (time.perf_counter() - started)
    p50, p99 = percentiles(latencies)
    return {"p50": p50, "p99": p99, "rps": sequential_rps, "rps_concurrent": concurrent_rps}


def reload_cost(rt: Runtime, token: str) -> float:
    """Milliseconds a request takes right after a source edit (the worker re-imports our modules)."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    touched = ROOT / "shared" / "errors.py"
    samples = []
    for _ in range(7):
        os.utime(touched)
        t0 = time.perf_counter()
        response = session.get(f"{rt.url}/me", headers=headers)
        if response.headers.get("X-Careloop-Reloaded") != "true":
            raise SystemExit("the worker did not reload after an edit")
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def in_process(rt: Runtime) -> dict[str, Any]:
    from local.context import LambdaContext
    from local.stack import LOCAL_CREDENTIALS, function_environment

    os.environ.update(function_environment(rt.tpl, "IdentityFunction", rt.stack.names))
    os.environ.update(LOCAL_CREDENTIALS)
    os.environ.update(
        AWS_ENDPOINT_URL=rt.moto_url,
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    from functions.identity.app import handler
    from shared.data.table import reset_connections

    reset_connections()
    event = json.loads((ROOT / "events/identity/me.json").read_text())

    for _ in range(50):
        if handler(event, LambdaContext("IdentityFunction"))["statusCode"] != 200:
            raise SystemExit("GET /me failed in-process")
    latencies = []
    started = time.perf_counter()
    for _ in range(N):
        t0 = time.perf_counter()
        handler(event, LambdaContext("IdentityFunction"))
        latencies.append((time.perf_counter() - t0) * 1000)
    rps = N / (time.perf_counter() - started)
    p50, p99 = percentiles(latencies)
    return {"p50": p50, "p99": p99, "rps": rps}


def main() -> None:
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    rt = Runtime(port=0, quiet=True, seed=True)
    rt.start()
    try:
        for pool in rt.pools.values():
            pool.warm()
        token = rt.tokens.issue("demo", ["coordinator"])
        http = through_runtime(rt, token)
        reload_ms = reload_cost(rt, token)
        direct = in_process(rt)
    finally:
        rt.stop()
    print(f"GET /me, {N} requests, one moto server, in one run")
    print(f"{'':34}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}")
    print(
        f"{'through the runtime (HTTP, 1 client)':34}{http['p50']:9.1f}{http['p99']:9.1f}{http['rps']:9.0f}"
    )
    print(f"{'through the runtime (4 clients)':34}{'':9}{'':9}{http['rps_concurrent']:9.0f}")
    print(f"{'handler in-process':34}{direct['p50']:9.1f}{direct['p99']:9.1f}{direct['rps']:9.0f}")
    print(f"runtime overhead at p50: {http['p50'] - direct['p50']:.1f} ms")
    print(f"first request after an edit under shared/ (worker re-imports our code): {reload_ms:.0f} ms")


if __name__ == "__main__":
    main()
