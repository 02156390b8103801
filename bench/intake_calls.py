"""DynamoDB calls per intake route (the counts are asserted in tests/integration/test_intake.py too).

In-process, on moto provisioned from template.yaml; one patient with a care team, an assessment and a
coverage on file. ``make bench``.
"""

from __future__ import annotations

import os
from collections import Counter


def main() -> None:
    from local.stack import LOCAL_CREDENTIALS

    os.environ.update(LOCAL_CREDENTIALS)
    os.environ.update(
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        TABLE_NAME="careloop-bench",
        EVENT_BUS_NAME="careloop-bench",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    import boto3
    from moto import mock_aws

    from local.stack import provision
    from shared.data.table import bind, reset_connections
    from tests.support.ddb import count_calls
    from tests.support.intake import NEGATIVE_SCREEN, Api

    with mock_aws():
        reset_connections()
        bind()
        provision(boto3.Session(), table_name="careloop-bench", bus_name="careloop-bench")
        api, admin = Api(), Api(roles=("admin",), sub="admin-1")
        rows: list[tuple[str, int, Counter[str]]] = []

        def measure(label: str, call: object) -> dict:
            with count_calls() as calls:
                response = call()  # type: ignore[operator]
            rows.append((label, response["statusCode"], calls))
            return response

        pid = measure("POST /patients", lambda: api.register())["json"]["id"]
        measure("GET /patients/{id}", lambda: api.on("GET", pid))
        measure(
            "PATCH /patients/{id}",
            lambda: api.on("PATCH", pid, body={"preferred_language": "es"}, headers={"If-Match": '"1"'}),
        )
        measure("GET /patients?name=", lambda: api.call("GET", "/patients", query={"name": "roe"}))
        measure("GET /patients?phone=", lambda: api.call("GET", "/patients", query={"phone": "+15555550123"}))
        measure(
            "POST /patients/{id}/assessments",
            lambda: api.on("POST", pid, "/assessments", body={"screening": NEGATIVE_SCREEN}),
        )
        measure("GET /patients/{id}/assessments", lambda: api.on("GET", pid, "/assessments"))
        measure(
            "POST /patients/{id}/coverage",
            lambda: api.on(
                "POST",
                pid,
                "/coverage",
                body={"payer": "Blue Plan", "member_id": "B2", "effective_start": "2026-01-01"},
            ),
        )
        measure("GET /patients/{id}/coverage", lambda: api.on("GET", pid, "/coverage"))
        measure(
            "PUT /patients/{id}/care-team",
            lambda: api.on("PUT", pid, "/care-team", body={"coordinator_id": "coord-1"}),
        )
        measure("GET /panel", lambda: api.call("GET", "/panel"))
        measure("GET /patients/{id}/audit", lambda: admin.on("GET", pid, "/audit"))

    print("DynamoDB calls per intake route (reads also publish one audit event to EventBridge)")
    print(f"{'route':36}{'status':>7}  calls")
    for label, status, calls in rows:
        detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
        print(f"{label:36}{status:>7}  {sum(calls.values())}: {detail}")


if __name__ == "__main__":
    main()
