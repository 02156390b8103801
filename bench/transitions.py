"""Transitions' costs: the DynamoDB calls that open an episode (from a partner's discharge notice, and
by hand), and ``GET /transitions?status=open`` when the organization has 1,000 open episodes (a page
of 50 and the next, calls and items read). ``make bench``."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from bench.results import record, step

OPEN_EPISODES = 1_000
PAGE = "50"


FIGURES: dict[str, Any] = {}  # what _line printed, for bench/results.json


def _line(label: str, calls: Counter[str], read: Counter[str] | None = None) -> str:
    FIGURES[label.strip()] = step(calls, read)
    detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
    items = f"; items read {sum(read.values())}" if read is not None else ""
    return f"{label:58}{sum(calls.values()):>4} calls: {detail}{items}"


def _seed(org: str, n: int) -> None:
    """``n`` open episodes, discharged over the last three weeks, written as the area writes them."""
    from bench.stack import MONDAY
    from shared import ids
    from shared.data import transitions as repo
    from shared.domain.calendar import Calendar
    from shared.domain.transitions import Complexity, open_episode

    cal = Calendar()
    with repo.TransitionItem.batch_write() as batch:
        for i in range(n):
            record = open_episode(
                episode_id=ids.new_id(),
                patient_id=ids.new_id(),
                discharged_at=MONDAY - timedelta(minutes=30 * i),
                complexity=list(Complexity)[i % 2],
                calendar=cal,
                now=MONDAY,
                opened_by="bench",
            )
            batch.save(repo.item_of(org, record, 1))


def _patient() -> str:
    from tests.support.intake import Api

    out = Api(org="acme").register(query={"allow_duplicate": "true"})
    assert out["statusCode"] == 201, out["body"]  # noqa: S101 - a bench that measured nothing must stop
    return str(out["json"]["id"])


def main() -> None:
    from bench.stack import MONDAY, moto_stack
    from functions.transitions.events import discharged
    from tests.support.ddb import count_calls, items_read
    from tests.support.transitions import coordinator

    with moto_stack("TransitionsFunction"):
        print("Opening an episode (its four step tasks, claims and events in one transaction)")
        detail: dict[str, Any] = {
            "patient_id": _patient(),
            "encounter_id": "01KAQ0V70000000000000ENC01",
            "partner_id": "01KAQ0V700000000000PARTNER",
            "encounter_class": "IMP",
            "discharged_at": (MONDAY - timedelta(hours=3)).isoformat(),
            "disposition": "home",
        }
        with count_calls() as calls:
            outcome = discharged("acme", detail, MONDAY)
        print(_line(f"a partner's discharge notice ({outcome})", calls))
        with count_calls() as calls:
            outcome = discharged("acme", {**detail}, MONDAY)
        print(_line(f"  the same notice again ({outcome})", calls))
        patient = _patient()
        with count_calls() as calls:
            made = coordinator().req(
                "POST", "/transitions", {"patient_id": patient, "discharged_at": detail["discharged_at"]}
            )
        assert made["statusCode"] == 201, made["body"]  # noqa: S101
        print(_line("POST /transitions", calls))
        print()

        _seed("acme", OPEN_EPISODES)
        print(f"GET /transitions?status=open, page of {PAGE}, {OPEN_EPISODES:,} open episodes")
        with count_calls() as calls, items_read() as read:
            page = coordinator().listing(status="open", limit=PAGE)
        print(_line("first page (nearest deadline first)", calls, read))
        with count_calls() as calls, items_read() as read:
            coordinator().listing(status="open", limit=PAGE, cursor=page["next_cursor"])
        print(_line("  its next page", calls, read))


if __name__ == "__main__":
    main()
    record("transitions", FIGURES)
