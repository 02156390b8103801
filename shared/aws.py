"""AWS clients, made lazily (never at import) and cached per process.

botocore directly, not boto3: boto3's import alone costs ~260 ms of cold start and adds nothing here.
Tests call :func:`reset` when moto starts, because a client made before ``mock_aws`` is not mocked.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_session: list[Any] = []  # one botocore session: it loads the endpoint and service models once


def client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            import botocore.session

            from shared.settings import settings

            if not _session:
                _session.append(botocore.session.get_session())
            _clients[service] = _session[0].create_client(service, region_name=settings().region)
        return _clients[service]


def reset() -> None:
    """Forget the clients (a client made before ``mock_aws`` is not mocked); the session, which holds
    no connection, is kept."""
    with _lock:
        _clients.clear()


def secret_value(arn: str, stage: str = "AWSCURRENT") -> str | None:
    """A Secrets Manager secret's value at ``stage``; ``None`` when that stage does not exist (no
    rotation yet). A missing ``AWSCURRENT`` is an error: the template creates every secret."""
    from botocore.exceptions import ClientError

    try:
        value = client("secretsmanager").get_secret_value(SecretId=arn, VersionStage=stage)
    except ClientError as error:
        missing = error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
        if missing and stage != "AWSCURRENT":
            return None
        raise
    return str(value["SecretString"])
