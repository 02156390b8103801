"""What CloudWatch would hold and which alarms would fire, locally (``GET /_local/metrics``).

The metrics come from where CloudWatch gets them:
- the functions' embedded-metric-format lines (shared/metrics.py), read from each invocation's output;
- Lambda's own per function (``Invocations``, ``Errors``, ``Duration``; ``IteratorAge`` for a stream
  consumer) and API Gateway's ``5xx``, recorded by the runtime as it invokes;
- SQS's ``ApproximateNumberOfMessagesVisible``, read from moto when an alarm asks (a gauge).

Every ``AWS::CloudWatch::Alarm`` of the template is evaluated against them on the runtime clock: its
statistic over each of its last ``EvaluationPeriods`` periods, or its metric-math expression over
its metrics' last period (``IF``, ``FILL``, ``AND``/``OR``, arithmetic and comparisons, which is what
the template's expressions use). Missing data is treated as the alarm says; a period with no
datapoint of a metric reads 0 in an expression, as ``FILL(m, 0)`` makes it in CloudWatch.
"""

from __future__ import annotations

import ast
import json
import operator
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Dimensions = tuple[tuple[str, str], ...]
HISTORY = 100_000  # datapoints kept; a day of a busy local session is far fewer


@dataclass(frozen=True)
class MetricKey:
    namespace: str
    name: str
    dimensions: Dimensions

    @classmethod
    def of(cls, namespace: str, name: str, dimensions: dict[str, Any]) -> MetricKey:
        return cls(namespace, name, tuple(sorted((k, str(v)) for k, v in dimensions.items())))


class LocalMetrics:
    def __init__(self) -> None:
        self._points: list[tuple[datetime, MetricKey, float]] = []
        self._lock = threading.Lock()

    def record(self, key: MetricKey, value: float, at: datetime) -> None:
        with self._lock:
            self._points.append((at, key, float(value)))
            if len(self._points) > HISTORY:
                del self._points[: len(self._points) - HISTORY]

    def record_emf(self, line: str) -> bool:
        """Record the metrics of one EMF log line; False when the line is not one."""
        if not line.startswith('{"_aws"'):
            return False
        try:
            blob = json.loads(line)
            meta = blob["_aws"]
            at = datetime.fromtimestamp(meta["Timestamp"] / 1000, UTC)
            for directive in meta["CloudWatchMetrics"]:
                for dimension_set in directive["Dimensions"]:
                    dims = {d: blob[d] for d in dimension_set}
                    for metric in directive["Metrics"]:
                        values = blob[metric["Name"]]
                        for value in values if isinstance(values, list) else [values]:
                            self.record(MetricKey.of(directive["Namespace"], metric["Name"], dims), value, at)
        except (ValueError, KeyError, TypeError):
            return False
        return True

    def points(self, key: MetricKey, start: datetime, end: datetime) -> list[float]:
        with self._lock:
            return [v for at, k, v in self._points if k == key and start <= at < end]

    def totals(self) -> list[dict[str, Any]]:
        """Every metric seen, summed over the session."""
        sums: dict[MetricKey, list[float]] = {}
        with self._lock:
            for _at, key, value in self._points:
                sums.setdefault(key, []).append(value)
        return [
            {
                "namespace": k.namespace,
                "name": k.name,
                "dimensions": dict(k.dimensions),
                "sum": sum(v),
                "count": len(v),
                "maximum": max(v),
            }
            for k, v in sorted(sums.items(), key=lambda kv: (kv[0].namespace, kv[0].name, kv[0].dimensions))
        ]


# ---------------------------------------------------------------- alarms

Gauge = Callable[[MetricKey], float | None]  # a metric read when asked (a queue's depth), or None


def _stat(values: list[float], stat: str) -> float | None:
    if not values:
        return None
    if stat == "Sum":
        return sum(values)
    if stat == "Maximum":
        return max(values)
    if stat == "Minimum":
        return min(values)
    if stat == "SampleCount":
        return float(len(values))
    return sum(values) / len(values)  # Average


def _metric_key(metric: dict[str, Any]) -> MetricKey:
    dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
    return MetricKey.of(str(metric["Namespace"]), str(metric["MetricName"]), dims)


def _value(
    store: LocalMetrics, gauge: Gauge, key: MetricKey, stat: str, start: datetime, end: datetime
) -> float | None:
    read = gauge(key)
    return read if read is not None else _stat(store.points(key, start, end), stat)


_COMPARE = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def evaluate(alarm: dict[str, Any], store: LocalMetrics, gauge: Gauge, now: datetime) -> dict[str, Any]:
    """The state CloudWatch would give ``alarm`` (its properties, resolved) at ``now``:
    ``{"state": "ALARM" | "OK" | "INSUFFICIENT_DATA", "value": <the last period's>}``."""
    compare = _COMPARE[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    periods = int(alarm.get("EvaluationPeriods", 1))
    needed = int(alarm.get("DatapointsToAlarm", periods))
    if "Metrics" in alarm:
        period = max(int(m["MetricStat"]["Period"]) for m in alarm["Metrics"] if "MetricStat" in m)
    else:
        period = int(alarm["Period"])
    values: list[float | None] = []
    for i in range(periods):
        end = now - timedelta(seconds=period * i)
        start = end - timedelta(seconds=period)
        if "Metrics" in alarm:
            values.append(_expression(alarm["Metrics"], store, gauge, start, end))
        else:
            values.append(
                _value(store, gauge, _metric_key(alarm), alarm.get("Statistic", "Average"), start, end)
            )
    missing = alarm.get("TreatMissingData", "missing")
    breaching = 0
    for value in values:
        if value is None:
            breaching += missing == "breaching"
        else:
            breaching += compare(value, threshold)
    latest = values[0]
    if breaching >= needed:
        state = "ALARM"
    elif latest is None and missing == "missing" and all(v is None for v in values):
        state = "INSUFFICIENT_DATA"
    else:
        state = "OK"
    return {"state": state, "value": latest, "threshold": threshold, "period_seconds": period}


def _expression(
    metrics: list[dict[str, Any]], store: LocalMetrics, gauge: Gauge, start: datetime, end: datetime
) -> float | None:
    scope: dict[str, float] = {}
    for m in metrics:
        if "MetricStat" in m:
            stat = m["MetricStat"]
            got = _value(store, gauge, _metric_key(stat["Metric"]), stat["Stat"], start, end)
            scope[m["Id"]] = got if got is not None else 0.0
    (returned,) = [m for m in metrics if m.get("ReturnData", True) and "Expression" in m]
    return float(_calculate(returned["Expression"], scope))


_WORDS = {"AND": " and ", "OR": " or ", "&&": " and ", "||": " or "}


def _calculate(expression: str, scope: dict[str, float]) -> float:
    """A metric-math expression over single values: arithmetic, comparisons, ``AND``/``OR``,
    ``IF(c, a, b)`` and ``FILL(m, v)`` (missing values already read 0)."""
    text = re.sub(r"\bAND\b|\bOR\b|&&|\|\|", lambda m: _WORDS[m.group(0)], expression)
    tree = ast.parse(text, mode="eval")

    def run(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return run(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.Name):
            return scope[node.id]
        if isinstance(node, ast.BinOp):
            left, right = run(node.left), run(node.right)
            ops: dict[type, Callable[[Any, Any], Any]] = {
                ast.Add: operator.add,
                ast.Sub: operator.sub,
                ast.Mult: operator.mul,
                ast.Div: lambda a, b: a / b if b else 0.0,
            }
            return ops[type(node.op)](left, right)
        if isinstance(node, ast.BoolOp):
            results = [run(v) for v in node.values]
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            cmp: dict[type, Callable[[Any, Any], bool]] = {
                ast.Gt: operator.gt,
                ast.GtE: operator.ge,
                ast.Lt: operator.lt,
                ast.LtE: operator.le,
                ast.Eq: operator.eq,
                ast.NotEq: operator.ne,
            }
            return cmp[type(node.ops[0])](run(node.left), run(node.comparators[0]))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [run(a) for a in node.args]
            if node.func.id == "IF":
                return args[1] if args[0] else args[2]
            if node.func.id == "FILL":
                return args[0]
        raise ValueError(f"metric math the local runtime does not evaluate: {expression}")

    return float(run(tree))
