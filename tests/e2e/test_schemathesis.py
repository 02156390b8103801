"""Every route in the runtime's /openapi.json, fuzzed through the local runtime with a valid token:
no 5xx, and every response matches its documented status code, content type and schema.

Schemathesis is driven as a library (its pytest plugin's lazy fixture loader does not work with
pytest 9): one Hypothesis run per operation. Its ``positive_data_acceptance`` check is left out: the
schema cannot say everything the API checks (an IANA time zone, a birth date not in the future), so a
schema-valid request can rightly be a 422. Every other check runs, ``negative_data_rejection`` included.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .conftest import Client

pytestmark = pytest.mark.e2e
EXAMPLES_PER_ROUTE = 40


@pytest.mark.parametrize("role", ["coordinator", "patient"])
def test_every_route_conforms_to_the_openapi(careloop: Client, role: str) -> None:
    token = careloop.token(org="demo", roles=(role,), **({"patient_id": "P1"} if role == "patient" else {}))
    schema = schemathesis.openapi.from_url(f"{careloop.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == {r.key for r in careloop_routes()}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_ROUTE,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"}, excluded_checks=[positive_data_acceptance]
            )

        conforms()


def careloop_routes() -> list:
    from local.template import routes

    return routes()
