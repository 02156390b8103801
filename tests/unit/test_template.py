"""template.yaml is deployable and safe, and agrees with the code (offline: cfn-lint, samtranslator)."""

from __future__ import annotations

import copy
import importlib
import json
import re
from functools import cache
from typing import Any

import pytest

from local import template
from local.openapi import document
from shared.http.auth import access_of

# no JWT: the health check, partners' webhooks (signed), and one-tap reminder links (the token is signed)
PUBLIC_PATHS = re.compile(r"^/(health|webhooks/.*|r/\{token\})$")


@cache
def transformed() -> dict[str, Any]:
    """The template after the SAM transform, as CloudFormation would receive it."""
    from samtranslator.translator.transform import transform

    raw = copy.deepcopy(template.load())
    for res in raw["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in res.get("Properties", {}):
                res["Properties"][key] = "s3://careloop-artifacts/code.zip"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return transform(raw, {}, NoManagedPolicies())


def cfn_resources(of_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in transformed()["Resources"].items() if v["Type"] == of_type}


def test_cfn_lint_is_clean() -> None:
    from cfnlint.api import lint_file
    from cfnlint.config import ManualArgs

    matches = lint_file(template.TEMPLATE, config=ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_the_sam_transform_runs_offline_and_keeps_every_function() -> None:
    functions = cfn_resources("AWS::Lambda::Function")
    assert set(functions) == {f.logical_id for f in template.functions()}


def test_functions_run_a_current_python_on_arm64() -> None:
    for fn in cfn_resources("AWS::Lambda::Function").values():
        assert re.fullmatch(r"python3\.1[3-9]", fn["Properties"]["Runtime"])
        assert fn["Properties"]["Architectures"] == ["arm64"]


@pytest.mark.parametrize("fn", template.functions(), ids=lambda f: f.logical_id)
def test_every_handler_resolves_to_a_callable(fn: template.Function) -> None:
    module = importlib.import_module(fn.module)
    assert callable(getattr(module, fn.attribute))


def test_every_route_but_health_webhooks_and_links_has_the_jwt_authorizer() -> None:
    (api,) = cfn_resources("AWS::ApiGatewayV2::Api").values()
    paths = api["Properties"]["Body"]["paths"]
    checked = 0
    for path, ops in paths.items():
        for op in ops.values():
            security = op.get("security")
            if PUBLIC_PATHS.match(path):
                assert security == [{"NONE": []}], path
            else:
                assert security == [{"CognitoJwt": []}], path
            checked += 1
    assert checked == len(template.routes())


def test_the_table_is_encrypted_recoverable_and_protected() -> None:
    table = template.table_properties()
    assert table["SSESpecification"]["SSEType"] == "KMS"
    assert table["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": ["TableKey", "Arn"]}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["DeletionProtectionEnabled"] is True
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["TimeToLiveSpecification"]["AttributeName"] == "ttl"
    assert len(table["GlobalSecondaryIndexes"]) >= 2
    assert template.resources()["CareTable"]["DeletionPolicy"] == "Retain"


def test_no_iam_statement_grants_every_action() -> None:
    statements = []
    for role in cfn_resources("AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            statements.extend(policy["PolicyDocument"]["Statement"])
    assert statements, "expected inline policies"
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert action != "*" and not action.endswith(":*"), action


def test_every_function_has_its_own_role_and_a_log_group_with_retention() -> None:
    functions = cfn_resources("AWS::Lambda::Function")
    roles = {json.dumps(fn["Properties"]["Role"]) for fn in functions.values()}
    assert len(roles) == len(functions)
    groups = template.resources("AWS::Logs::LogGroup")
    for fn in template.resources("AWS::Serverless::Function").values():
        group = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_function_has_reserved_concurrency_and_the_account_keeps_an_unreserved_pool() -> None:
    """A burst on one route is throttled at its function's share instead of starving the audit writer
    and the outbox relay (AWS refuses to reserve the last 100 of an account's 1,000)."""
    reserved = {
        logical_id: fn["Properties"].get("ReservedConcurrentExecutions")
        for logical_id, fn in template.resources("AWS::Serverless::Function").items()
    }
    assert all(isinstance(n, int) and n >= 1 for n in reserved.values()), reserved
    assert sum(reserved.values()) <= 1000 - 100
    assert reserved["AuditWriterFunction"] >= 10 and reserved["OutboxRelayFunction"] >= 10


def test_only_the_functions_that_list_things_can_read_the_cursor_key() -> None:
    """The functions serving a route with a ``cursor`` parameter get the secret's ARN and may read
    that secret, and only that one; no other function gets either."""
    paged = {
        (method.upper(), path)
        for path, ops in document()["paths"].items()
        for method, op in ops.items()
        if any(p["name"] == "cursor" for p in op.get("parameters", []))
    }
    listing = {r.function_id for r in template.routes() if (r.method, r.path) in paged}
    assert listing == {
        "IntakeFunction",
        "SchedulingFunction",
        "RemindersFunction",
        "EscalationsFunction",
        "PartnersFunction",
        "TransitionsFunction",
        "CarePlansFunction",
        "RecordsFunction",
        "AuthorizationsFunction",
        "FeedbackFunction",
    }
    secret = {"Ref": "CursorKeySecret"}
    for fn in template.functions():
        props = template.resources()[fn.logical_id]["Properties"]
        statements = [s for p in props["Policies"] for s in p["Statement"]]
        reads = [
            s
            for s in statements
            if "secretsmanager:GetSecretValue" in s["Action"] and s["Resource"] == secret
        ]
        if fn.logical_id in listing:
            assert fn.environment["CURSOR_KEY_SECRET_ARN"] == secret
            assert reads == [
                {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secret}
            ]
        else:
            assert "CURSOR_KEY_SECRET_ARN" not in fn.environment and reads == []
    generated = template.resources("AWS::SecretsManager::Secret")["CursorKeySecret"]["Properties"]
    assert generated["GenerateSecretString"]["PasswordLength"] >= 43  # >= 256 bits of [A-Za-z0-9]


def test_only_the_link_makers_and_the_link_routes_can_read_the_link_key() -> None:
    """One-tap links are signed with the reminder link secret: the reminder sender and the feedback
    events function (make them) and the links function (checks them) read it; no other function can
    forge a link."""
    secret = {"Ref": "ReminderLinkSecret"}
    readers = set()
    for fn in template.functions():
        props = template.resources()[fn.logical_id]["Properties"]
        statements = [s for p in props["Policies"] for s in p["Statement"]]
        if any(
            "secretsmanager:GetSecretValue" in s["Action"] and s["Resource"] == secret for s in statements
        ):
            readers.add(fn.logical_id)
            assert fn.environment["LINK_SECRET_ARN"] == secret
        else:
            assert "LINK_SECRET_ARN" not in fn.environment
    assert readers == {"ReminderSendFunction", "ReminderLinksFunction", "FeedbackEventsFunction"}


def test_every_queue_and_async_function_has_a_dead_letter_queue_with_an_alarm_on_its_depth() -> None:
    resources = template.resources()
    queues = template.resources("AWS::SQS::Queue")
    dead = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    for fn in template.resources("AWS::Serverless::Function").values():
        props = fn["Properties"]
        # asynchronous invocations (bus, topic, timers): the on-failure destination's record names the
        # function and keeps the payload, so a redrive knows where to send it (a DeadLetterQueue's
        # message is the payload alone)
        assert "DeadLetterQueue" not in props
        if "EventInvokeConfig" in props:
            invoke = props["EventInvokeConfig"]
            assert invoke["MaximumRetryAttempts"] >= 1
            dead.add(invoke["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0])
        for event in props.get("Events", {}).values():
            if event["Type"] in ("EventBridgeRule", "Schedule", "ScheduleV2"):
                dead.add(event["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
            if event["Type"] in ("EventBridgeRule", "SNS"):
                assert "EventInvokeConfig" in props
            elif event["Type"] in ("DynamoDB",):
                dead.add(
                    event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
                )
    assert dead == {"AsyncDeadLetterQueue", "ReminderSendDeadLetterQueue", "WebhookDeadLetterQueue"}
    alarmed = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in template.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert dead <= alarmed
    for alarm in template.resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "OperatorAlarmTopic"}]
    assert "OperatorAlarmTopic" in resources


def test_cors_names_origins_and_never_a_wildcard() -> None:
    cors = template.resources()["HttpApi"]["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == {"Ref": "FrontendOrigins"}
    assert "*" not in template.load()["Parameters"]["FrontendOrigins"]["Default"]


# ---------------------------------------------------------------- template ⇄ code


def test_every_template_route_is_in_the_openapi_and_back() -> None:
    in_template = {(r.method.lower(), r.path) for r in template.routes()}
    in_openapi = {(m, p) for p, ops in document()["paths"].items() for m in ops}
    assert in_template == in_openapi


def code_routes() -> dict[tuple[str, str], Any]:
    from local.openapi import http_function_modules

    out = {}
    for module in http_function_modules():
        app = importlib.import_module(module).app
        for route in app._static_routes + app._dynamic_routes:
            out[(route.method, route.openapi_path)] = access_of(route.func)
    return out


def test_every_route_in_the_code_declares_who_may_call_it() -> None:
    undeclared = [key for key, access in code_routes().items() if access is None]
    assert undeclared == []


def test_routes_public_in_the_code_are_exactly_those_public_in_the_template() -> None:
    in_code = code_routes()
    for route in template.routes():
        access = in_code[(route.method, route.path)]
        assert access is not None and access.is_public is route.public, route.key


def test_the_committed_openapi_document_is_current() -> None:
    committed = json.loads((template.ROOT / "docs" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(document())), "run `make openapi` and commit docs/openapi.json"


def test_the_webhook_sender_hears_every_event_a_partner_can_subscribe_to_and_no_other() -> None:
    from shared.domain.partners import EVENT_TYPES

    fn = template.resources("AWS::Serverless::Function")["WebhookOutboundFunction"]["Properties"]
    pattern = fn["Events"]["Subscribed"]["Properties"]["Pattern"]
    assert set(pattern["detail-type"]) == set(EVENT_TYPES)


def _alarms() -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.resources().values() if r["Type"] == "AWS::CloudWatch::Alarm"]


def test_every_function_has_an_errors_and_a_throttles_alarm_that_says_where_to_look_first() -> None:
    """A silent failure is noticed by a patient: every function's failed and throttled invocations page
    the on-call topic, and each alarm names what to read first."""
    for fn in template.functions():
        for metric in ("Errors", "Throttles"):
            found = [
                a
                for a in _alarms()
                if a.get("MetricName") == metric
                and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": fn.logical_id}}]
            ]
            assert len(found) == 1, (fn.logical_id, metric)
            (alarm,) = found
            assert "Look first at" in alarm["AlarmDescription"], (fn.logical_id, metric)
            assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
            assert alarm["AlarmActions"] == [{"Ref": "OperatorAlarmTopic"}], (fn.logical_id, metric)


def test_every_dead_letter_queue_and_the_relay_s_lag_and_the_api_s_5xx_are_alarmed() -> None:
    queues = [
        lid
        for lid, r in template.resources().items()
        if r["Type"] == "AWS::SQS::Queue" and "DeadLetter" in lid
    ]
    assert queues
    for queue in queues:
        depth = [
            a
            for a in _alarms()
            if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
        ]
        assert len(depth) == 1 and depth[0]["Threshold"] == 0, queue
        assert "Look first at" in depth[0]["AlarmDescription"], queue
        assert f"QUEUE={queue}" in depth[0]["AlarmDescription"], queue  # how to redrive it
    names = {(str(a["Namespace"]), a["MetricName"]) for a in _alarms() if "MetricName" in a}
    assert {("AWS/Lambda", "IteratorAge"), ("AWS/ApiGateway", "5xx")} <= names
    mail = template.resources()["OperatorAlarmEmail"]
    assert (mail["Type"], mail["Condition"], mail["Properties"]["Endpoint"]) == (
        "AWS::SNS::Subscription",
        "HasOnCallEmail",
        {"Ref": "OnCallEmail"},
    )


def _custom_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The Careloop/<stage> metrics an alarm reads, as ``{"flow", "area", "outcome"}``."""
    stats = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
    if "MetricName" in alarm:
        stats.append(alarm)
    return [
        {"flow": m["MetricName"], **{d["Name"]: d["Value"] for d in m["Dimensions"]}}
        for m in stats
        if m["Namespace"] == {"Fn::Sub": "Careloop/${Stage}"}
    ]


def test_the_business_alarms_read_metrics_the_code_counts_and_say_where_to_look_first() -> None:
    """An alarm on a metric name or outcome no code emits would never fire: each one's metrics are in
    shared/metrics.py's vocabulary, in the stage's namespace the functions write to."""
    from shared.metrics import FLOWS

    assert template.load()["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ] == {"Fn::Sub": "Careloop/${Stage}"}
    read = {}
    for name, resource in template.resources("AWS::CloudWatch::Alarm").items():
        for metric in _custom_metrics(resource["Properties"]):
            area, outcomes = FLOWS[metric["flow"]]
            assert (metric["area"], metric["outcome"] in outcomes) == (area, True), (name, metric)
            read.setdefault(name, set()).add((metric["flow"], metric["outcome"]))
            assert "Look first at" in resource["Properties"]["AlarmDescription"], name
    assert read == {
        "WebhookRejectionsAlarm": {("WebhookDeliveries", "rejected")},
        "RemindersFailingAlarm": {("Reminders", "sent"), ("Reminders", "failed")},
        "RemindersStalledAlarm": {
            ("Reminders", "due"),
            ("Reminders", "sent"),
            ("Reminders", "failed"),
            ("Reminders", "undeliverable"),
        },
        "EscalationsBreachedAlarm": {("Escalations", "breached")},
    }


def test_the_dashboard_has_a_row_per_area_with_every_flow_and_outcome() -> None:
    from shared.metrics import FLOWS

    dashboard = template.resources("AWS::CloudWatch::Dashboard")["OperationsDashboard"]["Properties"]
    body = json.loads(dashboard["DashboardBody"]["Fn::Sub"])
    rows: dict[str, set[int]] = {}
    shown = set()
    for widget in body["widgets"]:
        for metric in widget["properties"]["metrics"]:
            if metric[0] == "Careloop/${Stage}":
                _ns, flow, _a, area, _o, outcome = metric
                rows.setdefault(area, set()).add(widget["y"])
                shown.add((flow, outcome))
    assert {area for area, _ in FLOWS.values()} == set(rows)
    assert all(len(ys) == 1 for ys in rows.values())  # an area's widgets share one row
    assert len({min(ys) for ys in rows.values()}) == len(rows)  # and no two areas share one
    assert shown == {(flow, o) for flow, (_area, outcomes) in FLOWS.items() for o in outcomes}


def test_aws_backup_copies_the_table_into_a_vault_the_stack_keeps() -> None:
    resources = template.resources()
    selection = resources["BackupSelection"]["Properties"]["BackupSelection"]
    assert selection["Resources"] == [{"Fn::GetAtt": ["CareTable", "Arn"]}]
    assert resources["BackupVault"]["DeletionPolicy"] == "Retain"
    rules = resources["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert [(r["Lifecycle"]["DeleteAfterDays"], r["ScheduleExpression"]) for r in rules] == [
        (365, "cron(0 8 1 * ? *)")  # a copy a month for a year; PITR covers the last 35 days
    ]
    assert resources["CareTable"]["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }


def test_a_stack_can_trust_another_stack_s_user_pool_instead_of_making_its_own() -> None:
    """The restore runbook's new stack keeps every user signing in: with ExistingUserPoolId it makes
    no pool, client or group, and its authorizer and outputs name the given pool and client."""
    resources = template.resources()
    cognito = [lid for lid, r in resources.items() if r["Type"].startswith("AWS::Cognito::")]
    assert len(cognito) == 7 and all(resources[lid]["Condition"] == "OwnsUserPool" for lid in cognito)
    assert resources["UserPool"]["DeletionPolicy"] == "Retain"  # a restored stack may still trust it
    assert template.load()["Conditions"]["OwnsUserPool"] == {
        "Fn::Equals": [{"Ref": "ExistingUserPoolId"}, ""]
    }
    jwt = resources["HttpApi"]["Properties"]["Auth"]["Authorizers"]["CognitoJwt"]["JwtConfiguration"]
    pool = {"Fn::If": ["OwnsUserPool", {"Ref": "UserPool"}, {"Ref": "ExistingUserPoolId"}]}
    client = {"Fn::If": ["OwnsUserPool", {"Ref": "UserPoolClient"}, {"Ref": "ExistingUserPoolClientId"}]}
    assert jwt["issuer"]["Fn::Sub"][1] == {"Pool": pool}
    assert jwt["audience"] == [client]
    outputs = template.load()["Outputs"]
    assert (outputs["UserPoolId"]["Value"], outputs["UserPoolClientId"]["Value"]) == (pool, client)
