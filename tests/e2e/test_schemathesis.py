"""Every route in the runtime's /openapi.json, fuzzed through the local runtime with a valid token:
no 5xx, and every response matches its documented status code, content type, headers and schema. Then
stateful sequences that follow the document's links (create a patient, then read, change and book for
it with the id it returned), so fuzzing reaches past the 404s random ids get.

Schemathesis is driven as a library (its pytest plugin's lazy fixture loader does not work with
pytest 9): one Hypothesis run per operation. Its ``positive_data_acceptance`` check is left out: the
schema cannot say everything the API checks (an IANA time zone, a birth date not in the future), so a
schema-valid request can rightly be a 422. Every other check runs, ``negative_data_rejection`` included.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core import NOT_SET
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .conftest import Client

pytestmark = pytest.mark.e2e
# Examples per route and role: a coordinator reaches every handler's checks; a patient is refused most
# routes at the door, so fewer examples say as much; the stateful run below goes deeper. One test per
# route and role, so pytest-xdist spreads the fuzzing over both workers instead of one test holding a
# worker for minutes.
EXAMPLES = {"coordinator": 15, "patient": 5}


def careloop_routes() -> list:
    from local.template import routes

    return routes()


@pytest.fixture(scope="module")
def schema(careloop: Client) -> Any:
    return schemathesis.openapi.from_url(f"{careloop.url}/openapi.json", timeout=120)


def test_the_document_names_every_route(schema: Any) -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == {r.key for r in careloop_routes()}


@pytest.mark.parametrize("role", list(EXAMPLES))
@pytest.mark.parametrize("route", [r.key for r in careloop_routes()])
def test_every_route_conforms_to_the_openapi(careloop: Client, schema: Any, role: str, route: str) -> None:
    token = careloop.token(org="demo", roles=(role,), **({"patient_id": "P1"} if role == "patient" else {}))
    method, path = route.split(" ", 1)
    operation = schema[path][method.lower()]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES[role],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, excluded_checks=[positive_data_acceptance]
        )

    conforms()


def sent_valid(case: schemathesis.Case) -> bool:
    """Whether the request as sent is one the document allows. Schemathesis labels a case negative when
    it generates it, and a stateful step can send a case whose invalid part was shrunk away (its
    query then the valid ``?review=due``, still labelled "violates required"; schemathesis #4332): that
    a valid request is accepted is no finding. Only bodiless requests are judged here (the harness adds
    Authorization, which the labels count as missing); anything else stays a finding."""
    operation = case.operation
    if case.body not in (None, NOT_SET) or operation.body:
        return False
    for declared, sent in ((operation.query, case.query), (operation.path_parameters, case.path_parameters)):
        params = {p.name: p for p in declared}
        sent = dict(sent or {})
        if set(sent) - set(params):
            return False
        for name, param in params.items():
            if name not in sent:
                if param.is_required:
                    return False
            elif not param.is_valid(sent[name]):
                return False
    return True


STATEFUL_SCENARIOS = 60
STATEFUL_STEPS = 6


def test_sequences_that_follow_the_links_conform(careloop: Client) -> None:
    """Each scenario runs in an organization of its own. Hypothesis replays a scenario's earlier choices
    to reach new ones and needs the same choices to give the same responses: in one shared organization
    a replayed create met the first run's record (a 409, an idempotent replay) and left a link's bundle
    empty, which Hypothesis reports as FlakyStrategyDefinition, not as a finding."""
    schema = schemathesis.openapi.from_url(f"{careloop.url}/openapi.json", timeout=120)
    base = schema.as_state_machine()
    scenarios = itertools.count()

    class Sequences(base):  # type: ignore[misc, valid-type]
        token = ""

        def setup(self) -> None:
            org = f"fuzz-links-{next(scenarios)}"
            self.token = careloop.token(org=org, roles=("admin",), sub="admin-fuzz")

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {self.token}"}}

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(
                    response,
                    excluded_checks=[positive_data_acceptance],
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except FailureGroup as group:
                real = [
                    e
                    for e in group.exceptions
                    if not (isinstance(e, AcceptedNegativeData) and sent_valid(case))
                ]
                if real:
                    raise FailureGroup(real, str(group)) from None

    Sequences.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
