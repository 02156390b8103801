"""``template.yaml`` as data: functions, routes, the table, and provisioning them in moto.

Parsed with cfn-lint's CloudFormation-aware loader (short-form tags become ``{"Ref": ...}`` etc.).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
TABLE_ID = "CareTable"
BUS_ID = "CareEventBus"
DLQ_ID = "AsyncDeadLetterQueue"


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

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return dict(cfn_yaml.load(str(path)))


def resources(of_type: str | None = None) -> dict[str, dict[str, Any]]:
    res = load()["Resources"]
    return {k: v for k, v in res.items() if of_type is None or v["Type"] == of_type}


def functions() -> list[Function]:
    glob = load().get("Globals", {}).get("Function", {})
    out = []
    for logical_id, res in resources("AWS::Serverless::Function").items():
        props = res["Properties"]
        env = {
            **glob.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        out.append(Function(logical_id, props["Handler"], env, dict(props.get("Events", {}))))
    return out


def function(logical_id: str) -> Function:
    return next(f for f in functions() if f.logical_id == logical_id)


def routes() -> list[Route]:
    out = []
    for fn in functions():
        for ev in fn.events.values():
            if ev["Type"] != "HttpApi":
                continue
            props = ev["Properties"]
            authorizer = (props.get("Auth") or {}).get("Authorizer")
            out.append(Route(props["Method"].upper(), props["Path"], fn.logical_id, authorizer == "NONE"))
    return out


def table_properties() -> dict[str, Any]:
    return resources()[TABLE_ID]["Properties"]


def create_table_kwargs(table_name: str, kms_key_arn: str | None = None) -> dict[str, Any]:
    """``CreateTable`` arguments from the template's table (the name and key are the caller's)."""
    p = table_properties()
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p["BillingMode"],
        "GlobalSecondaryIndexes": p.get("GlobalSecondaryIndexes", []),
        "StreamSpecification": {"StreamEnabled": True, **p["StreamSpecification"]},
        "DeletionProtectionEnabled": p.get("DeletionProtectionEnabled", False),
    }
    if kms_key_arn:
        sse = p["SSESpecification"]
        kwargs["SSESpecification"] = {
            "Enabled": sse["SSEEnabled"],
            "SSEType": sse["SSEType"],
            "KMSMasterKeyId": kms_key_arn,
        }
    return _plain(kwargs)


def _plain(value: Any) -> Any:
    """cfn-lint nodes → plain dicts/lists (botocore's validator wants real types)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def provision(session: Any, *, table_name: str, bus_name: str) -> dict[str, str]:
    """Create the template's table (with its KMS key, TTL and PITR), bus and dead-letter queue through
    ``session`` (a boto3 session pointed at moto). Returns their names/ARNs."""
    kms = session.client("kms")
    key_arn = kms.create_key(Description="careloop table key (local)")["KeyMetadata"]["Arn"]
    ddb = session.client("dynamodb")
    table = ddb.create_table(**create_table_kwargs(table_name, key_arn))["TableDescription"]
    ttl = table_properties()["TimeToLiveSpecification"]
    ddb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": ttl["Enabled"], "AttributeName": str(ttl["AttributeName"])},
    )
    ddb.update_continuous_backups(
        TableName=table_name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    bus_arn = session.client("events").create_event_bus(Name=bus_name)["EventBusArn"]
    dlq_url = session.client("sqs").create_queue(QueueName=f"{bus_name}-dlq")["QueueUrl"]
    return {
        "table_name": table_name,
        "table_stream_arn": table["LatestStreamArn"],
        "bus_name": bus_name,
        "bus_arn": bus_arn,
        "dlq_url": dlq_url,
        "kms_key_arn": key_arn,
    }
