"""The one set-up every in-process bench shares: moto provisioned from template.yaml, the table bound,
and a function's environment from the template (the cursor key's secret among it), as Lambda gets it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any

TABLE = "careloop-bench"
# the scheduling tests' clock: Monday 2026-11-23 14:00 UTC (tests/support/scheduling.py)
MONDAY = datetime(2026, 11, 23, 14, tzinfo=UTC)


@contextmanager
def moto_stack(function: str, *, frozen_at: datetime | None = MONDAY) -> Iterator[Any]:
    """Inside: moto with the template's resources, the table bound, ``function``'s environment set
    and, unless ``frozen_at`` is None, the clock frozen there. Yields the provisioned stack."""
    from local.stack import LOCAL_CREDENTIALS

    os.environ.update(LOCAL_CREDENTIALS)
    os.environ.update(
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        TABLE_NAME=TABLE,
        EVENT_BUS_NAME=TABLE,
        POWERTOOLS_LOG_LEVEL="ERROR",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",  # reading the table's stream (TOOLS.md)
    )
    import boto3
    from moto import mock_aws

    from local.stack import function_environment, provision
    from local.template import Template
    from shared import clock
    from shared.data.table import bind, reset_connections
    from shared.http.pagination import SECRET_ENV

    with ExitStack() as stack:
        stack.enter_context(mock_aws())
        if frozen_at is not None:
            stack.enter_context(clock.use_clock(clock.FixedClock(frozen_at)))
        reset_connections()
        bind()
        provisioned = provision(boto3.Session(), table_name=TABLE, bus_name=TABLE)
        env = function_environment(Template.default(), function, provisioned.names)
        os.environ[SECRET_ENV] = env[SECRET_ENV]
        yield provisioned
