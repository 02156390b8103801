"""Authorizations' costs: ``GET /authorizations?status=pending`` (the chase list) when the organization
has 2,000 open authorizations (a page of 50, its next page, and ``due_before`` the next 24 hours), the
DynamoDB calls of a request, a submission, and a booking of a type that needs an approval. ``make bench``."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from bench.results import record, step

OPEN = 2_000
PAGE = "50"


FIGURES: dict[str, Any] = {}  # what _line printed, for bench/results.json


def _line(label: str, calls: Counter[str], read: Counter[str] | None = None) -> str:
    FIGURES[label.strip()] = step(calls, read)
    detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
    items = f"; items read {sum(read.values())}" if read is not None else ""
    return f"{label:58}{sum(calls.values()):>4} calls: {detail}{items}"


def _seed(org: str, n: int) -> None:
    """``n`` submitted requests, their payer's decisions due over the next weeks, written as the area
    writes them."""
    from bench.stack import MONDAY
    from shared import ids
    from shared.data import authorizations as repo
    from shared.domain.authorizations import AuthAction, AuthorizationIn, MoveIn, act, new_authorization
    from shared.domain.calendar import Calendar
    from shared.domain.records import CoverageOut

    cal = Calendar()
    with repo.AuthorizationItem.batch_write() as batch:
        for i in range(n):
            patient_id = ids.new_id()
            coverage = CoverageOut(
                id=ids.new_id(),
                patient_id=patient_id,
                recorded_at=MONDAY,
                payer=["Blue Plan", "Acme Health", "State Medicaid"][i % 3],
                member_id="M1",
                effective_start=MONDAY.date() - timedelta(days=365),
            )
            body = AuthorizationIn.model_validate(
                {
                    "coverage_id": coverage.id,
                    "service": {"system": "http://www.ama-assn.org/go/cpt", "code": "97110"},
                    "ordering_provider_id": ids.new_id(),
                    "diagnoses": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.5"}],
                    "urgency": "expedited" if i % 5 == 0 else "standard",
                    "service_date": (MONDAY + timedelta(days=10)).date(),
                }
            )
            draft = new_authorization(
                body, auth_id=ids.new_id(), patient_id=patient_id, coverage=coverage, by="bench", now=MONDAY
            )
            sent = act(
                draft, MoveIn(action=AuthAction.SUBMIT), "bench", MONDAY - timedelta(minutes=5 * i), cal
            )
            batch.save(repo._item(org, sent, cal, None))


def main() -> None:
    from bench.stack import MONDAY, moto_stack
    from tests.support.authorizations import MRI, add_coverage, coordinator
    from tests.support.ddb import count_calls, items_read
    from tests.support.scheduling import open_clinic

    with moto_stack("AuthorizationsFunction"):
        clinic = open_clinic(patients=1)
        pid = clinic.patients[0]
        coverage = add_coverage(pid)
        print("A request, and its submission")
        body = {
            "coverage_id": coverage,
            "service": MRI,
            "ordering_provider_id": clinic.provider_id,
            "diagnoses": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R51.9"}],
            "service_date": "2026-11-30",
        }
        with count_calls() as calls:
            made = coordinator().request(pid, **body)
        assert made["statusCode"] == 201, made["body"]  # noqa: S101 - a bench that measured nothing must stop
        print(_line("POST /patients/{id}/authorizations", calls))
        with count_calls() as calls:
            coordinator().moved(made["json"], "submit")
        print(_line("POST /authorizations/{id}/actions (submit)", calls))
        type_body = {"display": "MRI", "duration_minutes": 30, "authorization": MRI}
        clinic.admin.req("PUT", "/appointment-types/{code}", type_body, code="follow-up")
        with count_calls() as calls:
            booked = clinic.staff.book(pid, clinic.provider_id, "2026-11-25T15:00:00Z")
        assert booked["statusCode"] == 201, booked["body"]  # noqa: S101
        print(_line("POST /appointments, a gated type, no approval (+ its task)", calls))
        approval = {"number": "A-1", "valid_from": "2026-11-23", "valid_to": "2026-12-31"}
        coordinator().moved(coordinator().get(made["json"]["id"]), "approve", **approval)
        with count_calls() as calls:
            booked = clinic.staff.book(pid, clinic.provider_id, "2026-11-30T15:00:00Z")
        assert booked["json"]["insurance"] == "approved", booked["body"]  # noqa: S101
        print(_line("POST /appointments, a gated type, approved (its unit taken)", calls))
        print()

        _seed("acme", OPEN)
        print(f"GET /authorizations?status=pending, page of {PAGE}, {OPEN:,} open authorizations")
        with count_calls() as calls, items_read() as read:
            page = coordinator().listing(status="pending", limit=PAGE)
        print(_line("first page (soonest due first)", calls, read))
        with count_calls() as calls, items_read() as read:
            coordinator().listing(status="pending", limit=PAGE, cursor=page["next_cursor"])
        print(_line("  its next page", calls, read))
        before = (MONDAY + timedelta(days=1)).isoformat().replace("+00:00", "Z")
        with count_calls() as calls, items_read() as read:
            due = coordinator().listing(status="pending", due_before=before, limit=PAGE)
        print(_line(f"  due_before tomorrow ({len(due['items'])} on the page)", calls, read))


if __name__ == "__main__":
    main()
    record("authorizations", FIGURES)
