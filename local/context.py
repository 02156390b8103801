"""The Lambda context object, as functions see it, for everything that invokes a handler locally
(the runtime's workers, ``make invoke``, benchmarks and tests), and the local account's constants.

Kept free of heavy imports: every worker process imports it.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


class LambdaContext:
    def __init__(
        self,
        function_name: str = "careloop-test",
        memory_limit_in_mb: int = 1024,
        timeout_seconds: float = 10.0,
        aws_request_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/careloop/local/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
