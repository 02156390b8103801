"""DynamoDB calls per intake route (the counts are asserted in tests/integration/test_intake.py too).

In-process, on moto provisioned from template.yaml; one patient with a care team, an assessment and a
coverage on file. ``make bench``.
"""

from __future__ import annotations

import os


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
    from tests.support.intake import calls_per_route

    with mock_aws():
        reset_connections()
        bind()
        stack = provision(boto3.Session(), table_name="careloop-bench", bus_name="careloop-bench")
        # the cursor key's secret, as the template passes it to the function
        from local.stack import function_environment
        from local.template import Template
        from shared.http.pagination import SECRET_ENV

        env = function_environment(Template.default(), "IntakeFunction", stack.names)
        os.environ[SECRET_ENV] = env[SECRET_ENV]
        rows = calls_per_route()

    print("DynamoDB calls per intake route (reads also publish one audit event to EventBridge)")
    print(f"{'route':36}{'status':>7}  calls")
    for label, (status, calls) in rows.items():
        detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
        print(f"{label:36}{status:>7}  {sum(calls.values())}: {detail}")


if __name__ == "__main__":
    main()
