"""DynamoDB calls per intake route (the counts are asserted in tests/integration/test_intake.py too).

In-process, on moto provisioned from template.yaml; one patient with a care team, an assessment and a
coverage on file. ``make bench``.
"""

from __future__ import annotations


def main() -> None:
    from bench.results import record, step
    from bench.stack import moto_stack
    from tests.support.intake import calls_per_route

    with moto_stack("IntakeFunction", frozen_at=None):
        rows = calls_per_route()

    print("DynamoDB calls per intake route (reads also publish one audit event to EventBridge)")
    print(f"{'route':36}{'status':>7}  calls")
    for label, (status, calls) in rows.items():
        detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
        print(f"{label:36}{status:>7}  {sum(calls.values())}: {detail}")
    record("intake_calls", {label: step(calls, status=status) for label, (status, calls) in rows.items()})


if __name__ == "__main__":
    main()
