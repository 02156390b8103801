"""The cost model: USD a month per 1,000 active patients, from what the benches measured.

``make cost`` (``python -m ops.cost``) reads
- ``bench/results.json``: per flow (bench/flows.py), what one occurrence used: Lambda invocations and
  their in-process duration per function, what triggered them, DynamoDB read and write units, events
  published, Scheduler timers fired, SQS and SNS requests, SMS parts and e-mails, log bytes;
- ``ops/prices.json``: public us-east-1 prices, each with its source;
- ``ops/profile.json``: how often an active patient sets off each flow a month, and the stated
  assumptions (latency, cold starts, log overheads, tracing, retention);
- ``template.yaml``: each function's memory, architecture and tracing, the log retention, and what
  costs by the month whatever the traffic (keys, alarms, dashboards, secrets, polled queues).

Everything below is a pure function of those four, so the tests can move one input and watch the
answer move. No AWS call is made.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

from shared.metrics import FLOWS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
PRICES = ROOT / "ops" / "prices.json"
PROFILE = ROOT / "ops" / "profile.json"
TEMPLATE = ROOT / "template.yaml"

TARGET_USD = 1.0  # variable cost per 1,000 active patients a month, before messaging fees
GB = 1024**3
MINUTES_A_MONTH = 60 * 24 * 365 / 12
LONG_POLL_SECONDS = 20

Facts = dict[str, Any]
Lines = dict[str, float]
# a function the results name and the template does not (renamed since the bench ran): Lambda's defaults
UNKNOWN_FUNCTION = {"memory_mb": 128, "architecture": "x86_64", "traced": False, "reads_secrets": False}


# ---------------------------------------------------------------- the template


def template_facts(template: dict[str, Any]) -> Facts:
    """What the model needs from the template: each function's memory (MB), architecture, tracing
    (Globals applied) and whether its policy lets it read a secret; the default log retention; and
    the resources billed by the month."""
    glob = template.get("Globals", {}).get("Function", {})
    resources = template.get("Resources", {})

    def of_type(kind: str) -> list[str]:
        return sorted(name for name, r in resources.items() if r.get("Type") == kind)

    functions = {}
    polled = 0
    for name in of_type("AWS::Serverless::Function"):
        props = resources[name].get("Properties", {})
        functions[name] = {
            "memory_mb": int(props.get("MemorySize", glob.get("MemorySize", 128))),
            "architecture": (props.get("Architectures") or glob.get("Architectures") or ["x86_64"])[0],
            "traced": _parameter(template, props.get("Tracing", glob.get("Tracing", "PassThrough")))
            == "Active",
            "reads_secrets": "secretsmanager:GetSecretValue" in json.dumps(props.get("Policies", [])),
        }
        events = props.get("Events", {}) or {}
        polled += sum(1 for e in events.values() if e.get("Type") == "SQS")
    retention = template.get("Parameters", {}).get("LogRetentionDays", {}).get("Default", 30)
    return {
        "functions": functions,
        "log_retention_days": int(retention),
        "alarms": len(of_type("AWS::CloudWatch::Alarm")),
        # CloudWatch bills a metric-math alarm per metric it reads
        "alarm_metrics": sum(
            max(1, sum(1 for m in resources[a]["Properties"].get("Metrics", []) if "MetricStat" in m))
            for a in of_type("AWS::CloudWatch::Alarm")
        ),
        "dashboards": len(of_type("AWS::CloudWatch::Dashboard")),
        "kms_keys": len(of_type("AWS::KMS::Key")),
        "secrets": len(of_type("AWS::SecretsManager::Secret")),
        "polled_queues": polled,
        # shared/metrics.py: one metric per flow and outcome (its dimensions are a closed vocabulary)
        "custom_metrics": sum(len(outcomes) for _area, outcomes in FLOWS.values()),
    }


def _parameter(template: dict[str, Any], value: Any) -> Any:
    """A ``!Ref`` to a template parameter, as its default (what ``sam deploy`` uses unless told)."""
    if isinstance(value, dict) and "Ref" in value:
        return template.get("Parameters", {}).get(value["Ref"], {}).get("Default")
    return value


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data (cfn-lint's loader understands the short-form tags)."""
    from cfnlint.decode import cfn_yaml

    return dict(cfn_yaml.load(str(path)))


# ---------------------------------------------------------------- one occurrence of a flow


def _value(assumptions: dict[str, Any], key: str) -> Any:
    return assumptions[key]["value"]


def quantities(flow: dict[str, Any], facts: Facts, assumptions: dict[str, Any]) -> dict[str, float]:
    """The billable quantities of one occurrence of a measured flow."""
    a = lambda key: _value(assumptions, key)  # noqa: E731
    functions = facts["functions"]
    lambdas: dict[str, dict[str, float]] = flow["lambda"]
    invocations = sum(f["invocations"] for f in lambdas.values())
    aws_calls = sum(n for ops in flow["calls"].values() for n in ops.values())
    latency_each = aws_calls * a("aws_call_latency_ms") / invocations if invocations else 0.0
    cold = a("cold_start_share")
    q = {f"{kind}_{arch}": 0.0 for kind in ("gb_s", "init_gb_s") for arch in ("arm64", "x86_64")}
    traced = secret_readers = 0.0
    for name, f in lambdas.items():
        spec = functions.get(name, UNKNOWN_FUNCTION)
        ms = f["duration_ms_p50"] if a("duration") == "measured" else float(a("duration"))
        gb = spec["memory_mb"] / 1024
        arch = "arm64" if spec["architecture"] == "arm64" else "x86_64"
        q[f"gb_s_{arch}"] += f["invocations"] * (ms + latency_each) / 1000 * gb
        # INIT is CPU-bound and CPU follows memory: measured at init_at_mb, it takes as many GB-s at any size
        q[f"init_gb_s_{arch}"] += f["invocations"] * cold * a("init_ms") / 1000 * a("init_at_mb") / 1024
        traced += f["invocations"] * spec["traced"]
        secret_readers += f["invocations"] * spec["reads_secrets"]
    triggers: dict[str, float] = flow["triggers"]
    roots = sum(triggers.get(t, 0.0) for t in a("xray_trace_roots"))
    sqs_sent = sum(n for op, n in flow["calls"].get("sqs", {}).items() if op.startswith("Send"))
    topic = flow.get("topic_publishes", 0.0)
    platform_events = invocations * a("platform_log_events_per_invocation")
    log_events = flow["log_events"] * a("app_log_share") + platform_events
    log_bytes = (
        flow["log_bytes"] * a("app_log_share")
        + invocations * a("platform_log_bytes_per_invocation")
        + log_events * a("log_event_overhead_bytes")
    )
    ddb = flow["dynamodb"]
    stored = (ddb["stored_bytes"] + 100 * ddb["stored_items"]) * a("retained_months")
    q.update(
        {
            "lambda_requests": invocations,
            "http_requests": triggers.get("http", 0.0),
            "rru": ddb["rru"],
            "wru": ddb["wru"],
            "stored_gb": max(stored, 0.0) / GB,
            "events": flow["events_published"],
            "scheduler_invocations": triggers.get("scheduler", 0.0),
            "sqs_requests": sqs_sent + a("sqs_requests_per_batch") * triggers.get("sqs", 0.0),
            "sns_publishes": topic,
            "kms_requests": a("kms_requests_per_topic_message") * (topic + triggers.get("sns", 0.0)),
            "secret_calls": secret_readers * cold * a("secret_reads_per_cold_start"),
            "xray_traces": roots * a("xray_sampled_share") * (traced / invocations if invocations else 0.0),
            "log_gb": log_bytes / GB,
            "log_gb_stored": log_bytes / GB * facts["log_retention_days"] / 30 * a("log_compression"),
            "sms_parts": flow["sms_parts"],
            "sms_inbound": triggers.get("sns", 0.0),
            "emails": flow["emails"],
        }
    )
    return q


SERVICE_LINES: dict[str, Callable[[dict[str, float], dict[str, float], int], float]] = {
    # name: (quantities, unit prices, backup copies) -> USD
    "Lambda compute": lambda q, p, b: (
        q["gb_s_arm64"] * p["lambda_gb_second_arm64"] + q["gb_s_x86_64"] * p["lambda_gb_second_x86_64"]
    ),
    "Lambda cold starts (INIT)": lambda q, p, b: (
        q["init_gb_s_arm64"] * p["lambda_gb_second_arm64"]
        + q["init_gb_s_x86_64"] * p["lambda_gb_second_x86_64"]
    ),
    "Lambda requests": lambda q, p, b: q["lambda_requests"] * p["lambda_request"],
    "API Gateway HTTP API": lambda q, p, b: q["http_requests"] * p["http_api_request"],
    "DynamoDB writes": lambda q, p, b: q["wru"] * p["dynamodb_wru"],
    "DynamoDB reads": lambda q, p, b: q["rru"] * p["dynamodb_rru"],
    "DynamoDB storage, PITR, backups": lambda q, p, b: (
        q["stored_gb"]
        * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"] + b * p["backup_dynamodb_gb_month"])
    ),
    "EventBridge events": lambda q, p, b: q["events"] * p["eventbridge_custom_event"],
    "EventBridge Scheduler": lambda q, p, b: q["scheduler_invocations"] * p["scheduler_invocation"],
    "SQS": lambda q, p, b: q["sqs_requests"] * p["sqs_request"],
    "SNS topics": lambda q, p, b: q["sns_publishes"] * p["sns_publish"],
    "KMS requests": lambda q, p, b: q["kms_requests"] * p["kms_request"],
    "Secrets Manager calls": lambda q, p, b: q["secret_calls"] * p["secret_api_call"],
    "X-Ray traces": lambda q, p, b: q["xray_traces"] * p["xray_trace_recorded"],
    "CloudWatch Logs ingestion": lambda q, p, b: q["log_gb"] * p["logs_ingested_gb"],
    "CloudWatch Logs storage": lambda q, p, b: q["log_gb_stored"] * p["logs_stored_gb_month"],
}


# ---------------------------------------------------------------- the whole


def unit_prices(prices: dict[str, Any], factors: dict[str, float] | None = None) -> dict[str, float]:
    """Each price in USD, times its factor where a lever changes it (``profile['price_factors']``)."""
    factors = factors or {}
    return {k: float(v["usd"]) * factors.get(k, 1.0) for k, v in prices.items() if not k.startswith("_")}


def fixed_lines(facts: Facts, p: dict[str, float], assumptions: dict[str, Any]) -> Lines:
    """A month of the deployment whatever its traffic."""
    a = lambda key: _value(assumptions, key)  # noqa: E731
    polls = facts["polled_queues"] * a("sqs_pollers_per_queue") * MINUTES_A_MONTH * 60 / LONG_POLL_SECONDS
    return {
        f"KMS keys ({facts['kms_keys']})": facts["kms_keys"] * p["kms_key_month"],
        "KMS requests from DynamoDB": a("kms_requests_dynamodb_month") * p["kms_request"],
        f"CloudWatch alarms ({facts['alarms']}, reading {facts['alarm_metrics']} metrics)": facts[
            "alarm_metrics"
        ]
        * p["cloudwatch_alarm_month"],
        f"CloudWatch dashboards ({facts['dashboards']})": facts["dashboards"]
        * p["cloudwatch_dashboard_month"],
        f"CloudWatch custom metrics ({facts['custom_metrics']})": facts["custom_metrics"]
        * p["cloudwatch_metric_month"],
        f"Secrets ({facts['secrets']} in the template, {a('partner_secrets')} partner)": (
            facts["secrets"] + a("partner_secrets")
        )
        * p["secret_month"],
        f"SQS empty polls ({facts['polled_queues']} queues feeding Lambda)": polls * p["sqs_request"],
    }


def model(
    results: dict[str, Any], prices: dict[str, Any], profile: dict[str, Any], facts: Facts
) -> dict[str, Any]:
    """USD a month for ``profile['patients']`` active patients: per flow, per service line, fixed,
    messaging; and the variable total against the target (scaled to 1,000 patients)."""
    p = unit_prices(prices, profile.get("price_factors"))
    assumptions = profile["assumptions"]
    flows_measured = results["flows"]
    patients = profile["patients"]
    backups = _value(assumptions, "backup_copies")
    per_flow: dict[str, Lines] = {}
    messages = {"sms_parts": 0.0, "sms_inbound": 0.0, "emails": 0.0}
    for name, spec in profile["flows"].items():
        if name not in flows_measured:
            raise KeyError(f"{name}: not in bench/results.json (run: python -m bench.flows)")
        q = quantities(flows_measured[name], facts, assumptions)
        count = spec["per_patient_month"] * patients
        per_flow[name] = {line: count * f(q, p, backups) for line, f in SERVICE_LINES.items()}
        for k in messages:
            messages[k] += count * q[k]
    by_service = {line: sum(lines[line] for lines in per_flow.values()) for line in SERVICE_LINES}
    variable = sum(by_service.values())
    carrier = p["sms_us_carrier_fee_part"]
    mau = patients * _value(assumptions, "app_mau_share")
    messaging = {
        f"SMS out ({messages['sms_parts']:,.0f} parts)": messages["sms_parts"] * (p["sms_us_part"] + carrier),
        f"SMS in ({messages['sms_inbound']:,.0f} replies)": messages["sms_inbound"]
        * (p["sms_us_inbound_part"] + carrier),
        f"E-mail ({messages['emails']:,.0f})": messages["emails"] * p["ses_email"],
    }
    identity = {f"Cognito ({mau:,.0f} MAU, past the 10,000 free)": mau * p["cognito_mau_essentials"]}
    return {
        "patients": patients,
        "per_flow": {name: sum(lines.values()) for name, lines in per_flow.items()},
        "flow_lines": per_flow,
        "by_service": by_service,
        "variable": variable,
        "variable_per_1000": variable * 1000 / patients,
        "fixed": fixed_lines(facts, p, assumptions),
        "messaging": messaging,
        "identity": identity,
        "messages": messages,
    }


# ---------------------------------------------------------------- levers


def _assume(key: str, value: Any) -> Callable[[dict[str, Any], Facts], None]:
    def change(profile: dict[str, Any], facts: Facts) -> None:
        profile["assumptions"][key]["value"] = value

    return change


def _memory(mb: int) -> Callable[[dict[str, Any], Facts], None]:
    def change(profile: dict[str, Any], facts: Facts) -> None:
        for f in facts["functions"].values():
            f["memory_mb"] = mb

    return change


def _price(key: str, factor: float) -> Callable[[dict[str, Any], Facts], None]:
    def change(profile: dict[str, Any], facts: Facts) -> None:
        profile.setdefault("price_factors", {})[key] = factor

    return change


def _backups_for_pitr(profile: dict[str, Any], facts: Facts) -> None:
    _price("dynamodb_pitr_gb_month", 0.0)(profile, facts)
    _assume("backup_copies", 7)(profile, facts)


def _standard_ia(profile: dict[str, Any], facts: Facts) -> None:
    """DynamoDB Standard-IA: storage $0.10 a GB-month instead of $0.25, throughput 25% dearer."""
    factors = profile.setdefault("price_factors", {})
    factors.update({"dynamodb_storage_gb_month": 0.4, "dynamodb_wru": 1.25, "dynamodb_rru": 1.25})


def _quiet_logs(profile: dict[str, Any], facts: Facts) -> None:
    profile["assumptions"]["app_log_share"]["value"] = 0.0
    facts["log_retention_days"] = 7


def _warmer(profile: dict[str, Any], facts: Facts) -> None:
    cold = profile["assumptions"]["cold_start_share"]
    cold["value"] = cold["value"] / 2


def _traced(profile: dict[str, Any], facts: Facts) -> None:
    for function in facts["functions"].values():
        function["traced"] = True


LEVERS: dict[str, Callable[[dict[str, Any], Facts], None]] = {
    "X-Ray on (TracingMode=Active): what it would add": _traced,
    "Lambda memory 512 MB (durations as measured: I/O-bound)": _memory(512),
    "logs at WARNING (Lambda's own lines only), kept 7 days": _quiet_logs,
    "half the cold starts (fewer, busier functions)": _warmer,
    "PITR off, 7 daily AWS Backup copies instead": _backups_for_pitr,
    "DynamoDB Standard-IA table class": _standard_ia,
}


def levers(
    results: dict[str, Any], prices: dict[str, Any], profile: dict[str, Any], facts: Facts
) -> list[tuple[str, float]]:
    """The variable cost per 1,000 patients with each lever alone, then with every lever that lowers it."""
    now = model(results, prices, profile, facts)["variable_per_1000"]
    out, helping = [], []
    for label, change in LEVERS.items():
        prof, fx = deepcopy(profile), deepcopy(facts)
        change(prof, fx)
        usd = model(results, prices, prof, fx)["variable_per_1000"]
        out.append((label, usd))
        if usd < now:
            helping.append(change)
    prof, fx = deepcopy(profile), deepcopy(facts)
    for change in helping:
        change(prof, fx)
    out.append(("all of those that lower it", model(results, prices, prof, fx)["variable_per_1000"]))
    return out


# ---------------------------------------------------------------- the report


def _usd(x: float) -> str:
    return f"${x:,.4f}" if abs(x) < 1 else f"${x:,.2f}"


def report(results: dict[str, Any], prices: dict[str, Any], profile: dict[str, Any], facts: Facts) -> str:
    m = model(results, prices, profile, facts)
    scale = 1000 / m["patients"]
    total = m["variable"]
    lines: list[str] = []
    say = lines.append
    say(f"Careloop: USD a month per 1,000 active patients (us-east-1 list prices; {len(facts['functions'])}")
    say(f"functions, {facts['alarms']} alarms, {facts['dashboards']} dashboards read from template.yaml)")
    say("")
    say(f"{'flow':18}{'per patient':>12}{'USD':>10}{'share':>7}  largest line")
    for name, usd in sorted(m["per_flow"].items(), key=lambda kv: -kv[1]):
        count = profile["flows"][name]["per_patient_month"]
        flow_lines = m["flow_lines"][name]
        top = max(flow_lines, key=lambda k: flow_lines[k])
        share = usd / total if total else 0.0
        say(f"{name:18}{count:>12g}{usd * scale:>10.4f}{share:>7.1%}  {top}")
    say("")
    say(f"{'service':34}{'USD':>10}{'share':>7}")
    for line, usd in sorted(m["by_service"].items(), key=lambda kv: -kv[1]):
        say(f"{line:34}{usd * scale:>10.4f}{(usd / total if total else 0.0):>7.1%}")
    say(f"{'variable, before messaging':34}{total * scale:>10.4f}")
    verdict = "within" if m["variable_per_1000"] <= TARGET_USD else "OVER"
    say(f"target {_usd(TARGET_USD)}: {verdict} ({m['variable_per_1000'] / TARGET_USD:.0%} of it)")
    top_line = max(m["by_service"], key=lambda k: m["by_service"][k])
    top_flow = max(m["per_flow"], key=lambda k: m["per_flow"][k])
    say(
        f"dominates: {top_line} ({m['by_service'][top_line] / total:.0%}); "
        f"the costliest flow: {top_flow} ({m['per_flow'][top_flow] / total:.0%})"
    )
    say("")
    say("What would halve it (the same model, one lever at a time):")
    for label, usd in levers(results, prices, profile, facts):
        change = usd / m["variable_per_1000"] - 1 if m["variable_per_1000"] else 0.0
        mark = "  <- halves it" if usd <= m["variable_per_1000"] / 2 else ""
        say(f"  {label:58}{usd:>9.4f} ({change:+.0%}){mark}")
    say("")
    fixed = m["fixed"]
    say("Fixed, a month per deployment whatever the traffic:")
    for label, usd in fixed.items():
        say(f"  {label:62}{usd:>9.2f}")
    say(f"  {'total':62}{sum(fixed.values()):>9.2f}")
    say("")
    say("Apart, per 1,000 active patients (at the profile's volumes):")
    for label, usd in {**m["messaging"], **m["identity"]}.items():
        say(f"  {label:62}{usd * scale:>9.2f}")
    say("")
    say("Inputs: bench/results.json (python -m bench.flows), ops/prices.json, ops/profile.json,")
    say("template.yaml. Recompute: make cost.")
    return "\n".join(lines)


def main() -> None:
    results = json.loads(RESULTS.read_text())
    prices = json.loads(PRICES.read_text())
    profile = json.loads(PROFILE.read_text())
    facts = template_facts(load_template())
    sys.stdout.write(report(results, prices, profile, facts) + "\n")


if __name__ == "__main__":
    main()
