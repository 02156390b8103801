"""Escalations' costs: ``GET /worklist`` for a coordinator when the organization holds 5,000 open tasks
(DynamoDB calls and items read for a page of 50), and the work of one escalation deadline firing as
the tasks stored grow tenfold (it must not grow). ``make bench``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.results import record, step

OPEN_TASKS = 5_000
PAGE = "50"
STORED = (500, 5_000)
MONDAY = datetime(2026, 11, 23, 14, tzinfo=UTC)
ROLES = ("coordinator", "nurse", "physician")


FIGURES: dict[str, Any] = {}  # what _line printed, for bench/results.json


def _line(label: str, calls: Counter[str], read: Counter[str] | None = None) -> str:
    FIGURES[label.strip()] = step(calls, read)
    detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
    items = f"; items read {sum(read.values())}" if read is not None else ""
    return f"{label:58}{sum(calls.values()):>4} calls: {detail}{items}"


def _seed(org: str, n: int, start: int = 0) -> list[str]:
    """``n`` open tasks spread over the three role queues and ten coordinators' own lists, written
    as the area writes them (the worklist index included), in batches."""
    from shared import ids
    from shared.data import tasks as repo
    from shared.domain.tasks import Priority, QueueRole, TaskCode, TaskOut, TaskStatus

    made = []
    with repo.TaskItem.batch_write() as batch:
        for i in range(start, start + n):
            owner = f"coord-{i % 10}" if i % 4 == 0 else None
            record = TaskOut(
                id=ids.new_id(),
                version=1,
                code=TaskCode.CALL_PATIENT,
                status=TaskStatus.REQUESTED,
                priority=list(Priority)[i % 4],
                role=QueueRole(ROLES[i % 3]),
                owner_id=owner,
                due_at=MONDAY + timedelta(minutes=i),
                created_at=MONDAY,
                created_by="bench",
                updated_at=MONDAY,
            )
            batch.save(repo.item_of(org, record, 1, None))
            made.append(record.id)
    return made


def main() -> None:
    from bench.stack import moto_stack
    from functions.escalations.timers import fire
    from shared import clock
    from tests.support.ddb import count_calls, items_read
    from tests.support.tasks import coordinator

    with moto_stack("EscalationsFunction") as stack:
        _ = stack
        _seed("acme", OPEN_TASKS)
        print(f"GET /worklist, page of {PAGE}, {OPEN_TASKS:,} open tasks in the organization")
        with count_calls() as calls, items_read() as read:
            page = coordinator(sub="coord-3").worklist(limit=PAGE)
        print(_line("a coordinator (own list + coordinator queue)", calls, read))
        cursor = page["next_cursor"]
        with count_calls() as calls, items_read() as read:
            coordinator(sub="coord-3").worklist(limit=PAGE, cursor=cursor)
        print(_line("  its next page", calls, read))
        with count_calls() as calls, items_read() as read:
            coordinator(sub="coord-3").worklist(limit=PAGE, code="chase-referral")
        print(_line("  filtered on a code no task has (reads a page, returns 0)", calls, read))
        print()

        print("An escalation deadline firing, as stored tasks grow")
        escalating = _escalation("acme")
        seeded = 0
        for stored in STORED:
            _seed("acme", stored - seeded, start=OPEN_TASKS + seeded)
            seeded = stored
            task = escalating()
            due = task["escalation"]["deadline_at"]
            at = clock.FixedClock(datetime.fromisoformat(due.replace("Z", "+00:00")))
            with clock.use_clock(at), count_calls() as calls, items_read() as read:
                outcome = fire("acme", task["id"], clock.now())
            print(_line(f"fire ({outcome}) with {OPEN_TASKS + stored:,} tasks stored", calls, read))


def _escalation(org: str) -> Any:
    from tests.support.tasks import coordinator

    def make() -> dict[str, Any]:
        out = coordinator(org=org).req("POST", "/tasks", {"code": "call-patient", "severity": "moderate"})
        assert out["statusCode"] == 201, out["body"]  # noqa: S101 - a bench that measured nothing must stop
        return dict(out["json"])

    return make


if __name__ == "__main__":
    main()
    record("escalations", FIGURES)
