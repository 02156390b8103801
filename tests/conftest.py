"""Fixtures every test module reuses: moto provisioned from template.yaml, the PHI canary, a clock."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import aws as shared_aws
from shared import clock
from shared.data.table import bind, reset_connections
from tests.support.phi import PhiCanary

# No test ever reaches a real AWS account: fake credentials before anything makes a client.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    POWERTOOLS_SERVICE_NAME="careloop-test",
    POWERTOOLS_METRICS_NAMESPACE="CareloopTest",
    POWERTOOLS_TRACE_DISABLED="true",
)
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(_var, None)


@functools.cache
def boto_session() -> Any:
    """One boto3 session for every test of a worker: a session caches the service models it loads
    (JSON, ~0.5 s for the dozen services provisioning uses), clients made from it inside ``mock_aws``
    are mocked all the same."""
    import boto3

    return boto3.Session(region_name="us-east-1")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto, with the table, bus and dead-letter queue created from template.yaml's definitions."""
    from moto import mock_aws

    from local.stack import function_environment, provision
    from local.template import Template
    from shared.http.pagination import SECRET_ENV, reset_keys

    monkeypatch.setenv("TABLE_NAME", "careloop-test")
    monkeypatch.setenv("EVENT_BUS_NAME", "careloop-test")
    with mock_aws():
        shared_aws.reset()
        reset_connections()
        reset_keys()
        bind()
        stack = provision(boto_session(), table_name="careloop-test", bus_name="careloop-test")
        # the cursor key's secret, as the template passes it to the functions that list things
        env = function_environment(Template.default(), "IntakeFunction", stack.names)
        monkeypatch.setenv(SECRET_ENV, env[SECRET_ENV])
        yield {**stack.as_dict(), "stack": stack}
    shared_aws.reset()
    reset_connections()
    reset_keys()


@pytest.fixture(autouse=True)
def phi() -> Iterator[PhiCanary]:
    """Register PHI with ``phi.register(...)``; the test fails if any log line contains it."""
    canary = PhiCanary()
    canary.install()
    yield canary
    canary.uninstall()
    leaks = canary.leaks()
    if leaks:
        _value, line = leaks[0]
        pytest.fail(f"PHI reached the logs ({len(leaks)} line(s)); first: {line[:300]}", pytrace=False)


@pytest.fixture
def frozen_clock() -> Iterator[clock.FixedClock]:
    """A clock fixed at Monday 2026-11-23 14:00 UTC; move it with ``.advance()`` / ``.set()``."""
    with clock.use_clock(clock.FixedClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))) as c:
        yield c  # type: ignore[misc]
