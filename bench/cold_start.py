"""Cold start of every function in template.yaml, next to two floors, measured in one run.

For each function: a fresh interpreter imports the handler module and makes its first invocation
with the function's sample event from ``events/`` against a moto server this bench starts (so the
table, stream and bus calls are real HTTP round trips). Median of RUNS runs, in milliseconds, and as
ratios to:
- the stack floor: what any handler on Careloop's packages must pay — one GetItem through a
  PynamoDB connection, ``APIGatewayHttpResolver(enable_validation=True)`` and ``Logger()``;
- the AWS floor: ``import boto3``, one DynamoDB client, one GetItem.

``make bench``; ``RUNS=11 make bench`` for more runs; ``ONLY=Escalation python -m bench.cold_start``
for the functions whose logical id starts so.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

from local import template
from local.stack import function_environment, provision

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("RUNS", "7"))
TABLE, BUS = "careloop-bench", "careloop-bench"
TARGET = 1.25

# The sample events each function's cold start is measured with. A new function needs one here.
SAMPLES = {
    "IdentityFunction": ["identity/me.json"],
    "IntakeFunction": ["intake/read.json", "intake/register.json"],
    "AuditWriterFunction": ["intake/patient-record-accessed.json"],
    "OutboxRelayFunction": ["outbox/stream-insert.json"],
    "SchedulingFunction": ["scheduling/availability.json", "scheduling/book.json"],
    "SchedulingEventsFunction": ["scheduling/appointment-cancelled.json"],
    "SchedulingTimerFunction": ["scheduling/timer-no-show.json"],
    "RemindersFunction": ["reminders/policy.json"],
    "ReminderLinksFunction": ["reminders/link.json"],
    "ReminderEventsFunction": ["reminders/appointment-booked.json"],
    "ReminderDispatchFunction": ["reminders/timer-touch.json"],
    "ReminderSendFunction": ["reminders/send-queue.json"],
    "ReminderInboundFunction": ["reminders/sms-reply.json"],
    "ReminderReceiptsFunction": ["reminders/ses-delivery.json"],
    "EscalationsFunction": ["escalations/worklist.json"],
    "EscalationEventsFunction": ["escalations/appointment-no-show.json"],
    "EscalationTimerFunction": ["escalations/timer-task.json"],
    "PartnersFunction": ["webhooks/partners.json"],
    "WebhookIngestFunction": ["webhooks/receive.json"],
    "WebhookProcessFunction": ["webhooks/delivery-queue.json"],
    "WebhookOutboundFunction": ["webhooks/appointment-booked.json", "webhooks/timer-hook.json"],
    "TransitionsFunction": ["transitions/list-open.json"],
    "TransitionEventsFunction": ["transitions/patient-discharged.json", "transitions/timer-tcm.json"],
    "CarePlansFunction": ["careplans/patient-care-plans.json", "careplans/create-from-template.json"],
    "CarePlanEventsFunction": ["careplans/social-need.json", "careplans/timer-review.json"],
    "RecordsFunction": ["records/timeline.json", "records/record-observation.json"],
    "RecordEventsFunction": ["records/appointment-booked.json", "records/timer-unanswered.json"],
    "AuthorizationsFunction": ["authorizations/chase-list.json"],
    "AuthorizationEventsFunction": [
        "authorizations/appointment-fulfilled.json",
        "authorizations/timer-alert.json",
    ],
    "FeedbackFunction": ["feedback/patient-surveys.json", "feedback/list-surveys.json"],
    "FeedbackEventsFunction": ["feedback/appointment-fulfilled.json", "feedback/timer-send.json"],
}

_TIMED = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    {body}
    print(json.dumps({{"ms": (time.perf_counter() - t0) * 1000}}))
    """
)

STACK_FLOOR = """
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
class Item(Model):
    class Meta:
        table_name = "careloop-bench"
        region = "us-east-1"
    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
APIGatewayHttpResolver(enable_validation=True)
Logger()
try:
    Item.get("ORG#demo", "PROFILE")
except Item.DoesNotExist:
    pass
"""

AWS_FLOOR = """
import boto3
key = {"PK": {"S": "ORG#demo"}, "SK": {"S": "PROFILE"}}
boto3.client("dynamodb").get_item(TableName="careloop-bench", Key=key)
"""


def function_body(fn: template.Function, sample: str) -> str:
    return textwrap.dedent(
        f"""
        import importlib
        from pathlib import Path
        event = json.loads(Path({str(ROOT / "events" / sample)!r}).read_text())
        class Context:
            function_name = {fn.logical_id!r}
            memory_limit_in_mb = 1024
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
            aws_request_id = "bench"
            def get_remaining_time_in_millis(self):
                return 10000
        handler = getattr(importlib.import_module({fn.module!r}), {fn.attribute!r})
        result = handler(event, Context())
        status = result.get("statusCode", 200) if isinstance(result, dict) else 200
        assert status < 500 and not (result or {{}}).get("batchItemFailures"), result
        """
    )


def run(body: str, env: dict[str, str]) -> float:
    code = _TIMED.format(body=textwrap.indent(body, "").strip())
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"bench run failed:\n{out.stderr[-3000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["ms"])


def median(body: str, env: dict[str, str]) -> float:
    return statistics.median(run(body, env) for _ in range(RUNS))


def start_moto() -> tuple[object, str, dict[str, object]]:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")  # noqa: S106
    os.environ["AWS_ENDPOINT_URL"] = url
    names = provision(session, table_name=TABLE, bus_name=BUS).names
    return server, url, names


def main() -> None:
    missing = [f.logical_id for f in template.functions() if f.logical_id not in SAMPLES]
    if missing:
        raise SystemExit(f"no sample event for {missing}: add one to SAMPLES in bench/cold_start.py")
    server, url, names = start_moto()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": TABLE,
        "EVENT_BUS_NAME": BUS,
        "POWERTOOLS_METRICS_NAMESPACE": "Careloop",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "",
    }
    try:
        run(STACK_FLOOR, env)  # warm the page cache and .pyc files before measuring
        aws_floor = median(AWS_FLOOR, env)
        rows = []
        floors: list[float] = []
        only = os.environ.get("ONLY")  # ONLY=Escalations: just the functions whose name starts so
        for fn in template.functions():
            if only and not fn.logical_id.startswith(only):
                continue
            # the environment the template gives the function (secrets' ARNs, queue URLs...), then ours
            given = function_environment(template.Template.default(), fn.logical_id, names)
            fn_env = {**given, **env, "POWERTOOLS_SERVICE_NAME": fn.logical_id}
            for sample in SAMPLES[fn.logical_id]:
                label = (
                    fn.logical_id
                    if len(SAMPLES[fn.logical_id]) == 1
                    else f"{fn.logical_id} {Path(sample).stem}"
                )
                body = function_body(fn, sample)
                run(body, fn_env)  # compile its .pyc files once, as a deployed layer would have them
                # floor and function alternate, so drift in the machine's speed hits both alike
                pairs = [(run(STACK_FLOOR, env), run(body, fn_env)) for _ in range(RUNS)]
                floor = statistics.median(f for f, _ in pairs)
                floors.extend(f for f, _ in pairs)
                rows.append((label, statistics.median(ms for _, ms in pairs), floor))
    finally:
        server.stop()  # type: ignore[attr-defined]

    stack_floor = statistics.median(floors)
    print(f"Cold start: import + first invocation, median of {RUNS} fresh interpreters, moto server;")
    print("each function alternates with the stack floor and is compared with the floor of its own runs")
    print(f"{'':32}{'ms':>8}{'/ stack floor':>16}{'/ AWS floor':>14}")
    print(f"{'stack floor':32}{stack_floor:8.0f}{1:16.2f}{stack_floor / aws_floor:14.2f}")
    print(f"{'AWS floor (boto3+GetItem)':32}{aws_floor:8.0f}{aws_floor / stack_floor:16.2f}{1:14.2f}")
    worst = 0.0
    for name, ms, floor in rows:
        ratio = ms / floor
        worst = max(worst, ratio)
        flag = "" if ratio <= TARGET else f"  over the {TARGET} target"
        print(f"{name:32}{ms:8.0f}{ratio:16.2f}{ms / aws_floor:14.2f}{flag}")
    print(f"worst ratio to the stack floor: {worst:.2f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
