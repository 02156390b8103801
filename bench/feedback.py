"""Feedback's costs: the report over a month with 2,000 surveys sent (DynamoDB calls and items read:
one Query a month, whatever else the table holds), and answering a survey in the app (a low score:
the response, the request, the recovery task, in one transaction). ``make bench``."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from bench.results import record, step

SENT = 2_000


FIGURES: dict[str, Any] = {}  # what _line printed, for bench/results.json


def _line(label: str, calls: Counter[str], extra: str = "") -> str:
    FIGURES[label.strip()] = step(calls)
    detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
    return f"{label:58}{sum(calls.values()):>4} calls: {detail}{extra}"


def main() -> None:
    from bench.stack import moto_stack
    from shared import clock, ids
    from shared.data import feedback as repo
    from shared.domain.feedback import RequestStatus, SurveyRequestOut, Trigger
    from tests.support.ddb import count_calls, items_read
    from tests.support.feedback import admin, patient
    from tests.support.intake import Api

    with moto_stack("FeedbackFunction"):
        now = clock.now()
        pid = str(Api(org="acme").register(query={"allow_duplicate": "true"})["json"]["id"])
        admin().define()
        last = ""
        for n in range(SENT):  # sent over the last days, every third answered
            sent = now - timedelta(hours=n % 200)
            answered = n % 3 == 0
            record = SurveyRequestOut(
                id=ids.new_id(),
                survey_code="after-visit",
                survey_version=1,
                patient_id=pid,
                trigger=Trigger.VISIT_FULFILLED,
                subject_id=ids.new_id(),
                provider_id=f"prov-{n % 12}",
                appointment_type="follow-up" if n % 2 else "new-patient",
                status=RequestStatus.ANSWERED if answered else RequestStatus.SENT,
                created_at=sent,
                send_at=sent,
                sent_at=sent,
                expires_at=now + timedelta(days=14),
                scores={"recommend": n % 11} if answered else {},
                nps=n % 11 if answered else None,
            )
            repo.request_item("acme", record).save()
            last = record.id if not answered else last
        day = now.date()
        query = {"from": (day - timedelta(days=10)).isoformat(), "to": day.isoformat()}
        print(f"The feedback report over {SENT:,} surveys sent in the period")
        with count_calls() as calls, items_read() as read:
            report = admin().ok("GET", "/reports/feedback", query=query)
        assert report["overall"]["sent"] == SENT, report["overall"]  # noqa: S101 - a bench that measured nothing must stop
        print(_line("GET /reports/feedback (one or two months)", calls, f"; items read {sum(read.values())}"))
        print()
        with count_calls() as calls:
            out = patient(pid).answer(pid, last, {"recommend": 2})
        assert out["statusCode"] == 201, out["body"]  # noqa: S101
        print(_line("POST /patients/{id}/surveys/{rid}/response (a 2: a task)", calls))


if __name__ == "__main__":
    main()
    record("feedback", FIGURES)
