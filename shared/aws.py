"""AWS clients, made lazily (never at import) and cached per process.

botocore directly, not boto3: boto3's import alone costs ~260 ms of cold start and adds nothing here.
Tests call :func:`reset` when moto starts, because a client made before ``mock_aws`` is not mocked.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            import botocore.session

            from shared.settings import settings

            _clients[service] = botocore.session.get_session().create_client(
                service, region_name=settings().region
            )
        return _clients[service]


def reset() -> None:
    with _lock:
        _clients.clear()
