"""The local runtime's dispatcher (local/dispatch.py), in-process: the template's rules, schedules,
queues and topics deliver to the real handlers, imported here, on the in-process moto of the ``aws``
fixture. What the runtime does between functions, minus the worker processes and HTTP: fast enough
for every flow test, and still driven by template.yaml, never by a hand-made list of consumers.

The clock is the dispatcher's (an ``OffsetClock``): ``cloud.advance_to(at)`` fires everything due on
the way, in time order, as the runtime's ``POST /_local/clock`` does.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local.context import LambdaContext
from local.dispatch import Dispatcher
from local.stack import Stack, function_environment
from local.template import Template
from local.workers import Result
from shared import clock


class InProcess:
    """A function's "pool": its real handler, called in this process with the template's environment."""

    def __init__(self, tpl: Template, stack: Stack, logical_id: str) -> None:
        fn = tpl.function(logical_id)
        self.logical_id, self.fn = logical_id, fn
        self.env = function_environment(tpl, logical_id, stack.names)
        self.calls: list[dict[str, Any]] = []
        self.failures: list[str] = []

    def invoke(self, event: Any, clock_offset: float, request_id: str | None = None) -> Result:
        self.calls.append(event)
        handler = getattr(importlib.import_module(self.fn.module), self.fn.attribute)
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            value = handler(event, LambdaContext(self.logical_id))
        except Exception as exc:
            self.failures.append(traceback.format_exc())
            return Result(ok=False, error_type=type(exc).__name__, error=str(exc))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return Result(ok=True, value=value)


@dataclass
class Cloud:
    tpl: Template
    stack: Stack
    dispatcher: Dispatcher
    pools: dict[str, InProcess]
    clock: clock.OffsetClock

    def settle(self) -> int:
        return self.dispatcher.settle()

    def advance_to(self, at: datetime) -> list[Any]:
        self.settle()
        return self.dispatcher.run_due(at)

    @property
    def outbox(self) -> list[dict[str, Any]]:
        self.settle()
        return self.dispatcher.views.outbox

    @property
    def events(self) -> list[dict[str, Any]]:
        self.settle()
        return [e["event"] for e in self.dispatcher.views.events]

    def detail_types(self, source: str | None = None) -> list[str]:
        return [e["detail-type"] for e in self.events if source is None or e["source"] == source]

    def redeliver(self, detail_type: str, logical_id: str) -> list[Any]:
        """Deliver every event of ``detail_type`` seen so far to ``logical_id`` once more (EventBridge
        delivers at least once): the handler's results."""
        seen = [e for e in self.events if e["detail-type"] == detail_type]
        out = [self.pools[logical_id].invoke(e, 0).value for e in seen]
        self.settle()
        return out

    def reply(self, phone: str, body: str) -> dict[str, Any]:
        out = self.dispatcher.inbound_sms(phone, body)
        self.settle()
        return out

    def env(self, logical_id: str) -> dict[str, str]:
        return self.pools[logical_id].env

    def failures(self) -> list[str]:
        return [f for p in self.pools.values() for f in p.failures]


@contextmanager
def cloud(stack: dict[str, Any], at: datetime, **environment: str) -> Iterator[Cloud]:
    """The dispatcher over the ``aws`` fixture's stack, its clock set to ``at`` and installed as the
    shared clock. ``environment`` overrides every function's (e.g. a faster SMS pace)."""
    tpl = Template.default()
    provisioned: Stack = stack["stack"]
    pools = {fn.logical_id: InProcess(tpl, provisioned, fn.logical_id) for fn in tpl.functions}
    for pool in pools.values():
        pool.env.update(environment)
    offset = clock.OffsetClock()
    offset.set(at)
    from tests.conftest import boto_session

    session = boto_session()
    with clock.use_clock(offset):
        dispatcher = Dispatcher(tpl, provisioned, session, pools, offset)  # type: ignore[arg-type]
        yield Cloud(tpl, provisioned, dispatcher, pools, offset)
