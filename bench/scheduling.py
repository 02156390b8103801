"""Scheduling's costs: DynamoDB calls and capacity per route, and what an availability search costs as
the table fills with appointments elsewhere. In-process, on moto provisioned from template.yaml.
``make bench``."""

from __future__ import annotations

import statistics
import time

TARGETS = (0, 100, 1000)


def main() -> None:
    from bench.results import record, step
    from bench.stack import moto_stack
    from tests.support.ddb import capacity, count_calls
    from tests.support.scheduling import CARDIOLOGIST, calls_per_route, open_clinic

    with moto_stack("SchedulingFunction"):
        clinic = open_clinic(patients=3)
        with capacity() as booking:
            clinic.staff.book(clinic.patients[0], clinic.provider_id, start="2026-11-24T16:00:00Z")
        with capacity() as long_booking:
            clinic.staff.book(
                clinic.patients[0],
                clinic.provider_id,
                start="2026-11-24T19:00:00Z",
                appointment_type="new-patient",
            )
        rows = calls_per_route(clinic)
        figures: dict[str, object] = {
            label: step(calls, status=status) for label, (status, calls) in rows.items()
        }

        print("DynamoDB calls per scheduling route (reads also publish one audit event to EventBridge)")
        print(f"{'route':44}{'status':>7}  calls")
        for label, (status, calls) in rows.items():
            detail = ", ".join(f"{n} {op}" for op, n in sorted(calls.items()))
            print(f"{label:44}{status:>7}  {sum(calls.values())}: {detail}")
        for label, used in (("30-minute visit", booking), ("60-minute visit", long_booking)):
            print(
                f"booking a {label} (15-minute grid): {used['wcu']:.0f} WCU (transactional), "
                f"{used['rcu']:.1f} RCU"
            )
            figures[f"book a {label}"] = {"wcu": used["wcu"], "rcu": used["rcu"]}

        print()
        print("GET /availability, one provider, one day, as appointments pile up elsewhere")
        print(f"{'appointments elsewhere':>24}{'calls':>7}{'items read':>12}{'RCU':>6}{'p50 ms':>8}")
        other = clinic.admin.req("POST", "/providers", {**CARDIOLOGIST, "name": "Dr. Other"})["json"]["id"]
        elsewhere = _elsewhere(clinic.provider_id, other)
        stored = 0
        for target in TARGETS:
            while stored < target:
                provider, start = next(elsewhere)
                response = clinic.staff.book(clinic.patients[stored % 3], provider, start=start)
                stored += response["statusCode"] == 201
            with count_calls() as calls, capacity() as used:
                clinic.staff.availability(provider_id=clinic.provider_id)
            timings = []
            for _ in range(20):
                t0 = time.perf_counter()
                clinic.staff.availability(provider_id=clinic.provider_id)
                timings.append((time.perf_counter() - t0) * 1000)
            print(
                f"{stored:>24}{sum(calls.values()):>7}{used['items_read']:>12.0f}{used['rcu']:>6.1f}"
                f"{statistics.median(timings):>8.1f}"
            )
            figures[f"GET /availability, {stored} appointments elsewhere"] = step(
                calls,
                items_read=used["items_read"],
                rcu=used["rcu"],
                duration_ms_p50=round(statistics.median(timings), 1),
            )
        record("scheduling", figures)


def _elsewhere(searched: str, other: str):  # type: ignore[no-untyped-def]
    """Bookable (provider, start) pairs that are not the searched provider on the searched day (Tuesday
    2026-11-24): every half hour of both providers' working weekdays (UTC-6, so 15:00Z is 09:00)."""
    from datetime import date, timedelta

    day = date(2026, 11, 24)
    while True:
        if day.isoweekday() <= 5 and day != date(2026, 11, 26):
            for hour in (15, 16, 17, 19, 20, 21, 22):
                for minute in ("00", "30"):
                    start = f"{day.isoformat()}T{hour}:{minute}:00Z"
                    yield other, start
                    if day != date(2026, 11, 24):
                        yield searched, start
        day += timedelta(days=1)


if __name__ == "__main__":
    main()
