"""What each activity of the cost model's profile costs end to end (``make bench``, then ``make cost``).

Each flow runs on a fresh moto stack through the template's wiring (tests/support/cloud.py: the table
stream into the outbox relay, the bus into its rules' consumers, Scheduler timers, queues and topics),
so a flow's figures hold everything it sets off: the HTTP call, the consumers of its events, the timers
it arms firing as the clock moves past them (``horizon``), the messages they send. One occurrence is
run first unmetered (imports, caches: cold starts are the cost model's own line), then ``RUNS``
occurrences under :func:`bench.results.meter`; the figures are per occurrence (``reminder_touch``: per
message sent). Writes the ``flows`` section of ``bench/results.json``.

The clinic: New York, open weekdays; patients reachable by SMS with consent, quiet hours 21:00-09:00;
reminder links on a short domain (``ReminderLinkBaseUrl``, as the README's deployment asks); the
clinic's EHR subscribes to ``appointment.booked`` and ``appointment.cancelled`` (a loopback
receiver stands in for it), so a booking's figures include its outbound webhook.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

RUNS = int(os.environ.get("RUNS", "2"))
ONLY = os.environ.get("ONLY", "")
START = datetime(2026, 11, 30, 14, tzinfo=UTC)  # Monday 09:00 in New York
ENV = {
    "SMS_PARTS_PER_SECOND": "1000",
    "EMAILS_PER_SECOND": "1000",
    "OUTBOUND_ALLOW_LOOPBACK": "true",
    # ReminderLinkBaseUrl set as README's Deploying section asks: a short domain keeps an SMS to one part
    "LINK_BASE_URL": "https://cl.example",
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def weekday_slot(now: datetime, days: int, n: int) -> str:
    """A bookable half hour ``days`` or more ahead, on a weekday, 10:00 New York + ``n`` half hours."""
    day = (now + timedelta(days=days)).replace(hour=15, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return iso(day + timedelta(minutes=30 * (n % 12)))


RECEIVER: Any = None  # tests.support.webhooks.Receiver, made on first use


@dataclass
class Ctx:
    c: Any
    clinic: Any
    patients: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Flow:
    name: str
    what: str
    once: Callable[[Ctx, int], int]  # one occurrence (the i-th); returns the units it counts for
    setup: Callable[[Ctx], None] = lambda ctx: None
    horizon: timedelta = timedelta(0)  # then the clock moves this far: what it armed fires
    prepare: Callable[[Ctx, int], None] = lambda ctx, i: None  # before the i-th, unmetered


# ---------------------------------------------------------------- set-ups


def _patients(ctx: Ctx, n: int) -> None:
    for i in range(n):
        phone = f"+1212555{2000 + i:04d}"
        ctx.patients.append(ctx.clinic.add_patient(f"p{i}", phone, preferred_channels=["sms"]))
        ctx.phones.append(phone)
    ctx.c.settle()


def _mrns(ctx: Ctx) -> None:
    from tests.support.webhooks import give_mrn

    for i, pid in enumerate(ctx.patients):
        give_mrn(ctx.c, pid, f"MRN-{i:04d}")
    ctx.c.settle()


def _ehr(ctx: Ctx) -> None:
    from tests.support.webhooks import Receiver, add_partner

    global RECEIVER
    RECEIVER = RECEIVER or Receiver([])
    partner = add_partner(ctx.c, kind="ehr")
    adm = partner.admin
    secret = adm.req("POST", "/partners/{partner_id}/secrets", {"use": "outbound"}, partner_id=partner.id)
    assert secret["statusCode"] == 201, secret["body"]  # noqa: S101
    sub = adm.req(
        "POST",
        "/partners/{partner_id}/subscriptions",
        {"url": RECEIVER.url, "event_types": ["appointment.booked", "appointment.cancelled"]},
        partner_id=partner.id,
        headers={"idempotency-key": "sub-1"},
    )
    assert sub["statusCode"] == 201, sub["body"]  # noqa: S101 - a bench that measured nothing must stop
    ctx.c.settle()


def _few(ctx: Ctx) -> None:
    _patients(ctx, RUNS + 1)


def _clinic(ctx: Ctx) -> None:
    _patients(ctx, RUNS + 1)
    _ehr(ctx)


# ---------------------------------------------------------------- flows


def register(ctx: Ctx, i: int) -> int:
    from tests.support.intake import Api, patient

    body = patient(
        name={"given": ["Ada"], "family": f"Roe{i}"},
        contact={"phone": f"+1212555{5000 + i:04d}", "email": f"ada{i}@example.com"},
    )
    out = Api(org="acme").register(body, query={"allow_duplicate": "true"})
    assert out["statusCode"] == 201, out["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def availability(ctx: Ctx, i: int) -> int:
    day = weekday_slot(ctx.c.clock.now(), 3 + i, 0)[:10]
    out = ctx.clinic.staff.availability(provider_id=ctx.clinic.provider_id, **{"from": day, "to": day})
    assert out["statusCode"] == 200, out["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def visit(ctx: Ctx, i: int) -> int:
    """Booked 8 days ahead; the 7-day reminder; the patient answers C; checked in, completed; the
    survey two hours later, answered in the app."""
    from tests.support.feedback import patient as surveyed

    c, clinic = ctx.c, ctx.clinic
    label = f"p{i}"
    start = weekday_slot(c.clock.now(), 8, i)
    appt = clinic.book(label, start)
    c.settle()
    c.advance_to(at(start) - timedelta(days=6, hours=23))
    c.reply(ctx.phones[i], "C")
    c.advance_to(at(start) - timedelta(minutes=10))
    assert clinic.staff.act(appt["id"], "check-in")["statusCode"] == 200  # noqa: S101
    c.advance_to(at(start) + timedelta(minutes=30))
    done = clinic.staff.act(appt["id"], "complete")
    assert done["statusCode"] == 200, done["body"]  # noqa: S101
    c.advance_to(at(start) + timedelta(hours=5))
    pid = ctx.patients[i]
    asked = surveyed(pid).pending(pid)
    assert asked, "the survey was sent"  # noqa: S101
    out = surveyed(pid).answer(pid, asked[0]["request_id"], {"recommend": 9})
    assert out["statusCode"] == 201, out["body"]  # noqa: S101
    c.settle()
    return 1


def cancelled_visit(ctx: Ctx, i: int) -> int:
    c, clinic = ctx.c, ctx.clinic
    appt = clinic.book(f"p{i}", weekday_slot(c.clock.now(), 8, i))
    c.settle()
    out = clinic.staff.act(appt["id"], "cancel", {"reason": "patient"})
    assert out["statusCode"] == 200, out["body"]  # noqa: S101
    c.settle()
    return 1


def _booked(ctx: Ctx) -> None:
    _clinic(ctx)
    for i in range(RUNS + 1):
        ctx.extra[i] = ctx.clinic.book(f"p{i}", weekday_slot(ctx.c.clock.now(), 8, i))
    ctx.c.settle()


def reschedule(ctx: Ctx, i: int) -> int:
    appt = ctx.extra[i]
    moved = weekday_slot(at(appt["start"]), 1, i)
    out = ctx.clinic.staff.act(appt["id"], "reschedule", {"start": moved})
    assert out["statusCode"] == 200, out["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def _book_ahead(ctx: Ctx, i: int) -> None:
    """The i-th visit's booking; the warm-up's visit cancelled (its no-show timer would fire later)."""
    if i == 1:
        ctx.clinic.staff.act(ctx.extra[0]["id"], "cancel", {"reason": "patient"})
    ctx.extra[i] = ctx.clinic.book(f"p{i}", weekday_slot(ctx.c.clock.now(), 8, i))
    ctx.c.settle()


def reminder_touch(ctx: Ctx, i: int) -> int:
    """A visit's touches (booked 8 days ahead, never answered) up to half an hour before it: per
    message sent. The booking is made before the meter opens."""
    c = ctx.c
    before = len(c.outbox)
    c.advance_to(at(ctx.extra[i]["start"]) - timedelta(minutes=30))
    return len(c.outbox) - before


def record_read(ctx: Ctx, i: int) -> int:
    from tests.support.intake import Api

    out = Api(org="acme").on("GET", ctx.patients[i])
    assert out["statusCode"] == 200, out["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def _history(ctx: Ctx) -> None:
    from tests.support.records import coordinator, patient

    _patients(ctx, RUNS + 1)
    for pid in ctx.patients:
        for n in range(15):
            coordinator().note(pid, f"Called, note {n}.")
            patient(pid).weigh(pid, 180.0 + n)
    ctx.c.settle()


def timeline_page(ctx: Ctx, i: int) -> int:
    from tests.support.records import coordinator

    page = coordinator().timeline(ctx.patients[i], limit="50")
    assert page["items"], page  # noqa: S101
    ctx.c.settle()
    return 1


def note(ctx: Ctx, i: int) -> int:
    from tests.support.records import coordinator

    coordinator().note(ctx.patients[i], "Called about the scale; a new one is on its way.")
    ctx.c.settle()
    return 1


def message_thread(ctx: Ctx, i: int) -> int:
    """A patient's question in the app and a coordinator's answer."""
    from tests.support.records import coordinator, patient

    pid = ctx.patients[i]
    asked = patient(pid).message(pid, "Can I take my pills with food?")
    assert asked["statusCode"] == 201, asked["body"]  # noqa: S101
    ctx.c.settle()
    answered = coordinator().message(pid, "Yes, with breakfast.")
    assert answered["statusCode"] == 201, answered["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def reading(ctx: Ctx, i: int) -> int:
    from tests.support.records import patient

    pid = ctx.patients[i]
    out = patient(pid).weigh(pid, 180.0 + i)
    assert out["statusCode"] == 201, out["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def task(ctx: Ctx, i: int) -> int:
    """A task made by hand and completed the same day."""
    from tests.support.tasks import coordinator

    made = coordinator().req("POST", "/tasks", {"code": "call-patient", "patient_id": ctx.patients[i]})
    assert made["statusCode"] == 201, made["body"]  # noqa: S101
    ctx.c.settle()
    done = coordinator().act(made["json"]["id"], "complete", {"outcome": {"code": "reached"}})
    assert done["statusCode"] == 200, done["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def escalation(ctx: Ctx, i: int) -> int:
    """A task with an escalation clock nobody acknowledges: its deadlines fire and it climbs."""
    from tests.support.tasks import coordinator

    body = {"code": "call-patient", "severity": "moderate", "patient_id": ctx.patients[i]}
    made = coordinator().req("POST", "/tasks", body)
    assert made["statusCode"] == 201, made["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def _work(ctx: Ctx) -> None:
    from tests.support.tasks import coordinator

    _patients(ctx, 3)
    for n in range(60):
        coordinator().req("POST", "/tasks", {"code": "call-patient", "patient_id": ctx.patients[n % 3]})
    ctx.c.settle()


def worklist_page(ctx: Ctx, i: int) -> int:
    from tests.support.tasks import coordinator

    assert coordinator().worklist(limit="50")["items"]  # noqa: S101
    ctx.c.settle()
    return 1


def _lab(ctx: Ctx) -> None:
    from tests.support.webhooks import add_partner

    _patients(ctx, RUNS + 1)
    _mrns(ctx)
    ctx.extra["lab"] = add_partner(ctx.c)
    ctx.extra["hospital"] = add_partner(ctx.c, kind="hospital")
    ctx.c.settle()


def lab_result(ctx: Ctx, i: int) -> int:
    """A lab's normal potassium result, acknowledged, queued and processed into the patient's record."""
    from tests.support.webhooks import deliver, observation

    lab = ctx.extra["lab"]
    body = observation(f"MRN-{i:04d}", source_id=f"obs-{i}", value=4.2, interpretation=None)
    out = deliver(ctx.c, lab.id, body, lab.secret)
    assert out["statusCode"] == 202, out["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def discharge(ctx: Ctx, i: int) -> int:
    """A hospital's discharge notice: the episode, its step tasks and deadlines (which then pass)."""
    from tests.support.webhooks import deliver
    from tests.support.webhooks import discharge as notice

    hospital = ctx.extra["hospital"]
    now = ctx.c.clock.now()
    end, start = iso(now - timedelta(hours=3)), iso(now - timedelta(days=4))
    body = notice(f"MRN-{i:04d}", source_id=f"enc-{i}", end=end, start=start)
    out = deliver(ctx.c, hospital.id, body, hospital.secret)
    assert out["statusCode"] == 202, out["body"]  # noqa: S101
    ctx.c.settle()
    return 1


def care_plan(ctx: Ctx, i: int) -> int:
    """The built-in heart-failure discharge template applied: its tasks, education, measurements."""
    from tests.support.careplans import coordinator

    coordinator().create(ctx.patients[i], {"template": "heart-failure-discharge"})  # asserts its 201
    ctx.c.settle()
    return 1


def _covered(ctx: Ctx) -> None:
    from tests.support.authorizations import add_coverage

    _patients(ctx, RUNS + 1)
    ctx.extra.update({pid: add_coverage(pid) for pid in ctx.patients})


def authorization(ctx: Ctx, i: int) -> int:
    """A prior authorization requested, submitted and approved."""
    from tests.support.authorizations import HEADACHE, MRI, coordinator

    pid = ctx.patients[i]
    day = ctx.c.clock.now().date()
    made = coordinator().request(
        pid,
        coverage_id=ctx.extra[pid],
        service=MRI,
        ordering_provider_id=ctx.clinic.provider_id,
        diagnoses=[HEADACHE],
        service_date=(day + timedelta(days=14)).isoformat(),
    )
    assert made["statusCode"] == 201, made["body"]  # noqa: S101
    sent = coordinator().moved(made["json"], "submit")
    ctx.c.settle()
    coordinator().moved(
        sent,
        "approve",
        number=f"A-{i}",
        valid_from=day.isoformat(),
        valid_to=(day + timedelta(days=90)).isoformat(),
    )
    ctx.c.settle()
    return 1


FLOWS = (
    Flow("register", "POST /patients", register, lambda ctx: None),
    Flow("availability", "GET /availability, one provider, one day", availability, _clinic),
    Flow(
        "visit",
        "a visit booked 8 days ahead, its 7-day reminder, an SMS 'C', check-in, completion, the survey "
        "sent and answered",
        visit,
        lambda ctx: (_clinic(ctx), _survey(ctx)),  # type: ignore[func-returns-value]
        timedelta(days=2),
    ),
    Flow("cancelled_visit", "a visit booked 8 days ahead, then cancelled", cancelled_visit, _clinic),
    Flow("reschedule", "POST /appointments/{id}/reschedule", reschedule, _booked),
    Flow(
        "reminder_touch",
        "one reminder sent (per message: the touches of a visit nobody confirms)",
        reminder_touch,
        _clinic,
        prepare=_book_ahead,
    ),
    Flow("record_read", "GET /patients/{id} (staff; its audit event)", record_read, _clinic),
    Flow("timeline_page", "GET /patients/{id}/timeline, 50 entries", timeline_page, _history),
    Flow("note", "POST /patients/{id}/notes", note, _few),
    Flow(
        "message_thread",
        "a patient's message and a coordinator's answer",
        message_thread,
        _few,
        timedelta(days=2),
    ),
    Flow("reading", "POST /patients/{id}/observations (a weight)", reading, _few),
    Flow(
        "task",
        "a task made by hand and completed",
        task,
        _few,
        timedelta(days=3),
    ),
    Flow(
        "escalation",
        "a task with a moderate escalation clock, unacknowledged for 3 days",
        escalation,
        _few,
        timedelta(days=3),
    ),
    Flow("worklist_page", "GET /worklist, a page of 50", worklist_page, _work),
    Flow("lab_result", "a partner's lab result (ingest, queue, process)", lab_result, _lab),
    Flow(
        "discharge",
        "a hospital discharge notice: an episode, its steps, 30 days of its deadlines passing",
        discharge,
        _lab,
        timedelta(days=30),
    ),
    Flow(
        "care_plan",
        "a heart-failure care plan applied, and its next 30 days",
        care_plan,
        _few,
        timedelta(days=30),
    ),
    Flow(
        "authorization",
        "a prior authorization requested, submitted, approved",
        authorization,
        _covered,
        timedelta(days=7),
    ),
)


def _survey(ctx: Ctx) -> None:
    from tests.support.feedback import admin

    admin().define()


def run(flow: Flow) -> dict[str, Any]:
    from bench.results import meter
    from bench.stack import moto_stack
    from functions.reminders import tokens as reminder_tokens
    from shared.http import tokens
    from tests.support.cloud import cloud
    from tests.support.reminders import open_ny_clinic

    with moto_stack("SchedulingFunction", frozen_at=None) as stack:
        os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"  # what the template deploys (LogLevel)
        tokens.reset()
        reminder_tokens.reset()
        with cloud({"stack": stack}, START, **ENV) as c:
            ctx = Ctx(c, open_ny_clinic())
            flow.setup(ctx)
            flow.prepare(ctx, 0)
            flow.once(ctx, 0)  # warm: imports, caches
            c.advance_to(c.clock.now() + flow.horizon)
            for i in range(1, RUNS + 1):
                flow.prepare(ctx, i)
            t0 = time.perf_counter()
            with meter() as used:
                units = sum(flow.once(ctx, i) for i in range(1, RUNS + 1))
                c.advance_to(c.clock.now() + flow.horizon)
                c.settle()
            elapsed = time.perf_counter() - t0
            failures = c.failures()
            assert not failures, failures[-1]  # noqa: S101 - a bench that measured nothing must stop
    figures = used.figures(per=max(units, 1))
    figures["what"] = flow.what
    figures["horizon_days"] = flow.horizon.days
    figures["seconds"] = round(elapsed, 1)
    return figures


def main() -> None:
    import logging

    from bench.results import RESULTS, record

    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"
    from shared.logs import get_logger

    get_logger().registered_handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - measured, not shown
    logging.getLogger("moto").setLevel(logging.ERROR)
    import json

    out = json.loads(RESULTS.read_text()).get("flows", {}) if RESULTS.exists() else {}
    head = ("lambda", "http", "RRU", "WRU", "events", "timers", "log KB")
    print(f"{'flow':18}" + "".join(f"{h:>7}" for h in head) + "  s")
    for flow in FLOWS:
        if ONLY and flow.name not in ONLY.split(","):
            continue
        f = run(flow)
        out[flow.name] = f
        row = (
            sum(v["invocations"] for v in f["lambda"].values()),
            f["triggers"].get("http", 0),
            f["dynamodb"]["rru"],
            f["dynamodb"]["wru"],
            f["events_published"],
            f["triggers"].get("scheduler", 0),
            f["log_bytes"] / 1024,
        )
        print(f"{flow.name:18}" + "".join(f"{x:>7.1f}" for x in row) + f"  {f['seconds']}")
        record("flows", out)


if __name__ == "__main__":
    main()
