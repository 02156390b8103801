"""Care plans' costs: the DynamoDB calls that apply a template with 10 activities (its tasks, referrals
and education assignments made in the same transaction), and a patient reading their active plans.
``make bench``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.results import record, step

WEIGHT = {"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}
TEN: list[dict[str, Any]] = [
    {"kind": "appointment", "title": "Visit", "appointment_type": "follow-up", "within_days": 14},
    {"kind": "appointment", "title": "Second visit", "appointment_type": "follow-up", "within_days": 60},
    {"kind": "education", "title": "Weights", "material": "hf-daily-weights", "within_days": 7},
    {"kind": "education", "title": "Salt", "material": "hf-low-sodium", "within_days": 14},
    {"kind": "task", "title": "Call", "task_code": "call-patient", "within_days": 3},
    {"kind": "task", "title": "Resources", "task_code": "connect-resource", "within_days": 5},
    {"kind": "referral", "title": "Rehab", "specialty": "cardiac-rehab", "within_days": 30},
    {"kind": "referral", "title": "Dietitian", "specialty": "nutrition", "within_days": 30},
    {"kind": "measurement", "title": "Weigh", "measure": WEIGHT, "frequency": "daily"},
    {
        "kind": "measurement",
        "title": "Pressure",
        "measure": {"system": "http://loinc.org", "code": "85354-9"},
        "frequency": "daily",
    },
]


FIGURES: dict[str, Any] = {}  # what _line printed, for bench/results.json


def _line(label: str, calls: Counter[str], extra: str = "") -> str:
    FIGURES[label.strip()] = step(calls)
    detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
    return f"{label:58}{sum(calls.values()):>4} calls: {detail}{extra}"


def main() -> None:
    from bench.stack import moto_stack
    from tests.support.careplans import admin, coordinator, patient
    from tests.support.ddb import count_calls, items_read, items_written
    from tests.support.intake import Api

    with moto_stack("CarePlansFunction"):
        out = Api(org="acme").register(query={"allow_duplicate": "true"})
        assert out["statusCode"] == 201, out["body"]  # noqa: S101 - a bench that measured nothing must stop
        pid = str(out["json"]["id"])
        body = {"title": "Ten", "category": "post-discharge", "activities": TEN}
        put = admin().req("PUT", "/care-plan-templates/{code}", body, code="ten")
        assert put["statusCode"] == 200, put["body"]  # noqa: S101
        print("Applying a template with 10 activities (2 of each kind): its work made in one transaction")
        with count_calls() as calls, items_written() as sizes:
            made = coordinator().req(
                "POST", "/patients/{patient_id}/care-plans", {"template": "ten"}, patient_id=pid
            )
        assert made["statusCode"] == 201, made["body"]  # noqa: S101
        print(_line("POST /patients/{id}/care-plans (template)", calls, f"; transaction of {sizes} items"))
        coordinator().create(pid, {"template": "heart-failure-discharge"})
        coordinator().create(pid, {"title": "Draft", "category": "preventive", "status": "draft"})
        print()
        print("A patient reads their active plans (2 active, 1 draft)")
        with count_calls() as calls, items_read() as read:
            mine = patient(pid).req("GET", "/patients/{patient_id}/care-plans", patient_id=pid)
        assert mine["statusCode"] == 200 and len(mine["json"]["items"]) == 2, mine["body"]  # noqa: S101
        print(
            _line(
                "GET /patients/{id}/care-plans (patient token)", calls, f"; items read {sum(read.values())}"
            )
        )


if __name__ == "__main__":
    main()
    record("careplans", FIGURES)
