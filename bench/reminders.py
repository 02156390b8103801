"""Reminders' costs: DynamoDB calls per dispatched touch (the timer's dispatcher, then the send
queue's consumer) and per SMS reply; touches dispatched per second through the runtime's dispatcher
(in-process: the template's timers, queue and consumer, without worker processes); and how the work of
one dispatch grows as appointments that are not due pile up (it must not). ``make bench``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

START = datetime(2026, 10, 28, 16, tzinfo=UTC)  # Wednesday noon in New York
VISIT = "2026-11-03T15:00:00Z"  # the Tuesday after, 10:00 EST
STORED = (10, 100)  # appointments whose touches are not due; x10 between the two
BURST = 60


def _calls(fn: object, *args: object) -> tuple[object, Counter[str]]:
    from tests.support.ddb import count_calls

    with count_calls() as calls:
        out = fn(*args)  # type: ignore[operator]
    return out, calls


def _line(label: str, calls: Counter[str]) -> str:
    detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
    return f"{label:44}{sum(calls.values()):>4}: {detail}"


def _december() -> Iterator[str]:
    """Free half-hours in December (weekdays, 07:00-16:30 New York): visits weeks away."""
    return _slots(datetime(2026, 12, 7, 12, tzinfo=UTC))


def _slots(day: datetime) -> Iterator[str]:
    while True:
        if day.weekday() < 5:
            for half in range(20):
                yield (day + timedelta(minutes=30 * half)).strftime("%Y-%m-%dT%H:%M:%SZ")
        day += timedelta(days=1)


def main() -> None:
    from bench.results import record, step
    from bench.stack import moto_stack
    from functions.reminders import dispatch, inbound, sender, tokens
    from tests.support.cloud import cloud
    from tests.support.reminders import open_ny_clinic

    fast = {"SMS_PARTS_PER_SECOND": "1000", "EMAILS_PER_SECOND": "1000"}
    with moto_stack("RemindersFunction", frozen_at=None) as stack:
        tokens.reset()
        with cloud({"stack": stack}, START, **fast) as c:
            clinic = open_ny_clinic()
            phones = [f"+1212555{3000 + i}" for i in range(BURST + 1)]
            for i, phone in enumerate(phones[: BURST + 1]):
                clinic.add_patient(f"p{i}", phone, preferred_channels=["sms"])
            first = clinic.book("p0", VISIT)
            c.settle()
            touch = next(t for t in clinic.rem.touches(first["id"]) if t["status"] == "planned")
            slots = _december()
            print("DynamoDB calls per reminder step")
            rows = []
            for round_, stored in enumerate(STORED):
                while len(clinic.patients) < stored + BURST + 1:  # appointments far ahead: nothing due
                    label = f"q{len(clinic.patients)}"
                    clinic.add_patient(
                        label, f"+1646555{len(clinic.patients):04d}", preferred_channels=["sms"]
                    )
                    clinic.book(label, next(slots))
                c.settle()
                c.clock.set(datetime.fromisoformat(touch["send_at"].replace("Z", "+00:00")))
                env = c.env("ReminderDispatchFunction")
                import os

                os.environ.update(env)
                _out, d_calls = _calls(dispatch.dispatch, "acme", touch["id"], c.clock.now())
                os.environ.update(c.env("ReminderSendFunction"))
                _out, s_calls = _calls(sender.deliver, "acme", touch["id"])
                rows.append((stored, d_calls, s_calls))
                # the next round measures a fresh touch: book another patient's visit
                nxt = clinic.book(f"p{round_ + 1}", f"2026-11-03T{16 + round_}:00:00Z")
                c.settle()
                touch = next(t for t in clinic.rem.touches(nxt["id"]) if t["status"] == "planned")
                c.clock.set(START + timedelta(hours=1))
            figures = {}
            for stored, d_calls, s_calls in rows:
                print(_line(f"dispatch a due touch ({stored} appointments stored)", d_calls))
                print(_line(f"send it ({stored} appointments stored)", s_calls))
                figures[f"dispatch a due touch ({stored} appointments stored)"] = step(d_calls)
                figures[f"send it ({stored} appointments stored)"] = step(s_calls)
            c.dispatcher.run_due(datetime(2026, 10, 30, 15, tzinfo=UTC))
            os.environ.update(c.env("ReminderInboundFunction"))
            notification = {
                "originationNumber": phones[0],
                "messageBody": "C",
                "inboundMessageId": "bench-1",
                "previousPublishedMessageId": c.dispatcher.last_sms_to(phones[0]),
            }
            outcome, r_calls = _calls(inbound.handle, notification, c.clock.now())
            print(_line(f"an SMS reply ({outcome})", r_calls))
            figures["an SMS reply"] = step(r_calls, outcome=outcome)

            print()
            burst = _slots(datetime(2026, 11, 24, 12, tzinfo=UTC))
            for i in range(1, BURST + 1):
                clinic.book(f"p{i}", next(burst))
            c.settle()
            before = len(c.outbox)
            t0 = time.perf_counter()
            fired = c.dispatcher.run_due(datetime(2026, 11, 27, 0, tzinfo=UTC))
            elapsed = time.perf_counter() - t0
            sent = len(c.outbox) - before
            print(
                f"{BURST} visits' touches fired by their timers, through the runtime's dispatcher "
                "(in-process)"
            )
            print(
                f"  {len(fired)} deliveries, {sent} messages sent in {elapsed:.1f} s: "
                f"{sent / elapsed:.1f} touches/s end to end (timer, dispatcher, queue, sender, moto)"
            )
            figures["burst"] = {"visits": BURST, "messages": sent, "touches_per_s": round(sent / elapsed, 2)}
            record("reminders", figures)


if __name__ == "__main__":
    main()
