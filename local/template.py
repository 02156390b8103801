"""``template.yaml`` as data: functions, routes, rules, schedules, stream sources and resources.

Parsed with cfn-lint's CloudFormation-aware loader (short-form tags become ``{"Ref": ...}`` etc.);
the module-level helpers read the project's own template, :class:`Template` reads any (the local
runtime's tests use a small one of their own to exercise rules and schedules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from local.context import ACCOUNT_ID, REGION, ROOT

TEMPLATE = ROOT / "template.yaml"
TABLE_TYPE = "AWS::DynamoDB::Table"
# Lambda's own default retries of an asynchronous invocation (what the bus, topics and Scheduler make)
ASYNC_RETRIES = 2


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function_id: str
    public: bool

    @property
    def key(self) -> str:
        """API Gateway's ``routeKey``, e.g. ``GET /patients/{id}``."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    events: dict[str, Any] = field(default_factory=dict)
    timeout: int = 3
    memory: int = 128
    async_retries: int = ASYNC_RETRIES
    async_dlq: Any = None  # DeadLetterQueue / OnFailure destination (unresolved)
    # the OnFailure destination gets Lambda's invocation record (function, payload, error); a
    # DeadLetterQueue gets the payload alone
    async_record: bool = False

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.logical_id}"


@dataclass(frozen=True)
class Target:
    """Where a rule or schedule sends its event: a function (by logical id) or a queue/topic ARN."""

    function_id: str | None = None
    arn: Any = None
    # no retry count: a function target is retried as its own EventInvokeConfig says (the rule's or
    # schedule's RetryPolicy is for a hand-over that fails, which never happens locally)
    dead_letter: Any = None  # an SQS ARN (unresolved), from the target's DeadLetterConfig
    input: str | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    bus: Any  # unresolved bus name/ref; None for the default bus
    pattern: dict[str, Any] | None
    schedule: str | None  # rate(...) / cron(...) / at(...)
    targets: tuple[Target, ...]
    time_zone: str | None = None


@dataclass(frozen=True)
class StreamSource:
    """A function fed by a DynamoDB stream or an SQS queue (an event source mapping)."""

    function_id: str
    kind: str  # DynamoDB | SQS
    source: Any  # stream ARN / queue ARN (unresolved)
    batch_size: int
    retries: int
    filters: tuple[dict[str, Any], ...]
    on_failure: Any = None
    report_item_failures: bool = False
    enabled: bool = True
    # SQS ``ScalingConfig.MaximumConcurrency``: kept for the record; the local runtime invokes one batch
    # at a time, which is within any limit
    max_concurrency: int | None = None


@dataclass(frozen=True)
class TopicSubscription:
    """A function subscribed to an SNS topic (a ``Type: SNS`` event): SNS invokes it asynchronously,
    one message per invocation, so the function's async retry policy and dead-letter queue apply."""

    function_id: str
    event_name: str
    topic: Any  # topic ARN (unresolved, usually ``!Ref Topic``)
    filter_policy: dict[str, Any] | None = None
    filter_policy_scope: str | None = None  # MessageAttributes (SNS's default) | MessageBody
    sqs_subscription: bool = False  # SAM puts a queue in between: not emulated (see topic_subscriptions)


def plain(value: Any) -> Any:
    """cfn-lint nodes → plain dicts/lists/strs (botocore's validator wants real types)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


class Template:
    def __init__(self, path: Path, parameters: dict[str, str] | None = None) -> None:
        """``parameters``: values for the template's parameters instead of their defaults (as
        ``sam deploy --parameter-overrides`` gives them; the local runtime's explicit flags)."""
        self.path = path
        self.data: dict[str, Any] = plain(dict(cfn_yaml.load(str(path))))
        self.parameters = dict(parameters or {})

    @staticmethod
    @cache
    def default() -> Template:
        return Template(TEMPLATE)

    # ------------------------------------------------------------ resources

    def resources(self, of_type: str | None = None) -> dict[str, dict[str, Any]]:
        res: dict[str, dict[str, Any]] = self.data["Resources"]
        return {k: v for k, v in res.items() if of_type is None or v["Type"] == of_type}

    def parameter_defaults(self) -> dict[str, Any]:
        """Each parameter's value: its override, else its default."""
        return {
            k: self.parameters.get(k, v.get("Default")) for k, v in self.data.get("Parameters", {}).items()
        }

    @cached_property
    def table_id(self) -> str:
        (table_id,) = self.resources(TABLE_TYPE)
        return table_id

    def table_properties(self) -> dict[str, Any]:
        return self.resources()[self.table_id]["Properties"]

    # ------------------------------------------------------------ functions and routes

    @cached_property
    def functions(self) -> list[Function]:
        glob = self.data.get("Globals", {}).get("Function", {})
        out = []
        for logical_id, res in self.resources("AWS::Serverless::Function").items():
            props = res["Properties"]
            env = {
                **glob.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            invoke = props.get("EventInvokeConfig", {})
            out.append(
                Function(
                    logical_id,
                    props["Handler"],
                    env,
                    dict(props.get("Events", {})),
                    timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
                    memory=int(props.get("MemorySize", glob.get("MemorySize", 128))),
                    async_retries=int(invoke.get("MaximumRetryAttempts", ASYNC_RETRIES)),
                    async_dlq=(
                        invoke.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                        or props.get("DeadLetterQueue", {}).get("TargetArn")
                    ),
                    async_record="Destination" in invoke.get("DestinationConfig", {}).get("OnFailure", {}),
                )
            )
        return out

    def function(self, logical_id: str) -> Function:
        return next(f for f in self.functions if f.logical_id == logical_id)

    @cached_property
    def routes(self) -> list[Route]:
        out = []
        for fn in self.functions:
            for ev in fn.events.values():
                if ev["Type"] != "HttpApi":
                    continue
                props = ev["Properties"]
                authorizer = (props.get("Auth") or {}).get("Authorizer")
                out.append(Route(props["Method"].upper(), props["Path"], fn.logical_id, authorizer == "NONE"))
        return out

    # ------------------------------------------------------------ events and time

    def _target(self, t: dict[str, Any]) -> Target:
        """A rule's or schedule's target: a function of this template (by ``Fn::GetAtt X.Arn``) or an ARN."""
        fn_by_arn = {f"{f.logical_id}.Arn": f for f in self.functions}
        fn = fn_by_arn.get(_getatt(t["Arn"]) or "")
        return Target(
            function_id=fn.logical_id if fn else None,
            arn=None if fn else t["Arn"],
            dead_letter=(t.get("DeadLetterConfig") or {}).get("Arn"),
            input=t.get("Input"),
        )

    @cached_property
    def rules(self) -> list[Rule]:
        """Every rule and schedule: ``AWS::Events::Rule`` and ``AWS::Scheduler::Schedule`` resources, and
        functions' ``EventBridgeRule`` / ``Schedule`` / ``ScheduleV2`` events."""
        out: list[Rule] = []
        for name, res in self.resources("AWS::Events::Rule").items():
            p = res["Properties"]
            targets = tuple(self._target(t) for t in p.get("Targets", []))
            out.append(
                Rule(name, p.get("EventBusName"), p.get("EventPattern"), p.get("ScheduleExpression"), targets)
            )
        for name, res in self.resources("AWS::Scheduler::Schedule").items():
            p = res["Properties"]
            target = self._target(p["Target"])
            out.append(
                Rule(
                    name, None, None, p["ScheduleExpression"], (target,), p.get("ScheduleExpressionTimezone")
                )
            )
        for fn in self.functions:
            for ev_name, ev in fn.events.items():
                kind, p = ev["Type"], ev.get("Properties", {})
                if kind not in ("EventBridgeRule", "Schedule", "ScheduleV2"):
                    continue
                target = self._target({**p, "Arn": {"Fn::GetAtt": [fn.logical_id, "Arn"]}})
                rule_name = f"{fn.logical_id}{ev_name}"
                if kind == "EventBridgeRule":
                    out.append(Rule(rule_name, p.get("EventBusName"), p["Pattern"], None, (target,)))
                elif kind == "Schedule":
                    out.append(Rule(rule_name, None, None, p["Schedule"], (target,)))
                else:
                    out.append(
                        Rule(
                            rule_name,
                            None,
                            None,
                            p["ScheduleExpression"],
                            (target,),
                            p.get("ScheduleExpressionTimezone"),
                        )
                    )
        return out

    @cached_property
    def stream_sources(self) -> list[StreamSource]:
        out = []
        for fn in self.functions:
            for ev in fn.events.values():
                if ev["Type"] not in ("DynamoDB", "SQS"):
                    continue
                p = ev["Properties"]
                filters = tuple(
                    _json(f["Pattern"]) for f in (p.get("FilterCriteria") or {}).get("Filters", [])
                )
                out.append(
                    StreamSource(
                        function_id=fn.logical_id,
                        kind=ev["Type"],
                        source=p.get("Stream") or p.get("Queue"),
                        batch_size=int(p.get("BatchSize", 100 if ev["Type"] == "DynamoDB" else 10)),
                        retries=int(p.get("MaximumRetryAttempts", -1)),  # Lambda's default: until expiry
                        filters=filters,
                        on_failure=(p.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination"),
                        report_item_failures="ReportBatchItemFailures" in p.get("FunctionResponseTypes", []),
                        enabled=p.get("Enabled", True) not in (False, "false", "False"),
                        max_concurrency=_optional_int(
                            (p.get("ScalingConfig") or {}).get("MaximumConcurrency")
                        ),
                    )
                )
        return out

    @cached_property
    def topic_subscriptions(self) -> list[TopicSubscription]:
        """Every function's ``Type: SNS`` events. ``SqsSubscription: true`` (SAM subscribes a queue of
        its own and maps it to the function, so the function gets SQS events wrapping SNS envelopes)
        is parsed but not emulated: the dispatcher skips those rather than hand them the wrong shape."""
        out = []
        for fn in self.functions:
            for ev_name, ev in fn.events.items():
                if ev["Type"] != "SNS":
                    continue
                p = ev["Properties"]
                policy = p.get("FilterPolicy")
                out.append(
                    TopicSubscription(
                        function_id=fn.logical_id,
                        event_name=ev_name,
                        topic=p["Topic"],
                        filter_policy=_json(policy) if policy is not None else None,
                        filter_policy_scope=p.get("FilterPolicyScope"),
                        sqs_subscription=bool(p.get("SqsSubscription")),
                    )
                )
        return out


def _getatt(value: Any) -> str | None:
    """``{"Fn::GetAtt": ["X", "Arn"]}`` → ``"X.Arn"``."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        return ".".join(att) if isinstance(att, list) else str(att)
    return None


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _json(value: Any) -> dict[str, Any]:
    import json

    return json.loads(value) if isinstance(value, str) else dict(value)


# ---------------------------------------------------------------- intrinsic functions (local values)

_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


def resolve(value: Any, names: dict[str, Any]) -> Any:
    """Resolve ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` and ``Fn::Join`` against ``names`` (keys are
    logical ids, parameter names, pseudo parameters and ``Id.Attribute``; an unknown name resolves to
    itself, which is what a local stand-in for a Cognito pool or a log group needs)."""
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return {k: resolve(v, names) for k, v in value.items()}
    ((fn, arg),) = value.items()
    if fn == "Ref":
        return names.get(arg, arg)
    if fn == "Fn::GetAtt":
        key = ".".join(arg) if isinstance(arg, list) else arg
        return names.get(key, key)
    if fn == "Fn::Sub":
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], names))
        scope = {**names, **extra}
        return _SUB_VAR.sub(lambda m: str(scope.get(m.group(1), m.group(1))), text)
    if fn == "Fn::Join":
        sep, parts = arg
        return sep.join(str(p) for p in resolve(parts, names))
    return {fn: resolve(arg, names)}


# ---------------------------------------------------------------- the project's template


def load() -> dict[str, Any]:
    return Template.default().data


def resources(of_type: str | None = None) -> dict[str, dict[str, Any]]:
    return Template.default().resources(of_type)


def functions() -> list[Function]:
    return Template.default().functions


def function(logical_id: str) -> Function:
    return Template.default().function(logical_id)


def routes() -> list[Route]:
    return Template.default().routes


def table_properties() -> dict[str, Any]:
    return Template.default().table_properties()


def create_table_kwargs(
    table_name: str, kms_key_arn: str | None = None, tpl: Template | None = None
) -> dict[str, Any]:
    """``CreateTable`` arguments from the template's table (the name and key are the caller's)."""
    p = (tpl or Template.default()).table_properties()
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p["BillingMode"],
        "StreamSpecification": {"StreamEnabled": True, **p["StreamSpecification"]},
        "DeletionProtectionEnabled": p.get("DeletionProtectionEnabled", False),
    }
    if p.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = p["GlobalSecondaryIndexes"]
    if kms_key_arn:
        sse = p["SSESpecification"]
        kwargs["SSESpecification"] = {
            "Enabled": sse["SSEEnabled"],
            "SSEType": sse["SSEType"],
            "KMSMasterKeyId": kms_key_arn,
        }
    return kwargs
