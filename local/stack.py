"""Standing ``template.yaml``'s resources up in moto, under local names, and the values they resolve to.

Creates the single table (with its KMS key, stream, TTL and PITR), event buses, queues (with their
redrive policies), topics and secrets, and the rules (patterns and schedules, without targets: moto
cannot invoke Lambda targets, and the local runtime delivers to them itself). Returns ``names``: what
each ``Ref`` / ``Fn::GetAtt`` of the template resolves to locally, so functions get the environment
the template gives them.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from local.atomic import serialize_dynamodb
from local.template import ACCOUNT_ID, REGION, Template, create_table_kwargs, resolve

# moto accepts any credentials; these make sure nothing local ever signs with real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass
class Stack:
    table_name: str
    bus_name: str
    names: dict[str, Any] = field(default_factory=dict)

    @property
    def table_stream_arn(self) -> str:
        return str(self.names["table.StreamArn"])

    @property
    def bus_arn(self) -> str:
        return str(self.names["bus.Arn"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "table_name": self.table_name,
            "bus_name": self.bus_name,
            "table_stream_arn": self.table_stream_arn,
            "bus_arn": self.bus_arn,
            "names": self.names,
        }

    def __getitem__(self, key: str) -> Any:  # tests read the stack like a dict
        return self.as_dict()[key]


def base_names(tpl: Template, prefix: str) -> dict[str, Any]:
    names: dict[str, Any] = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::StackName": prefix,
        "AWS::URLSuffix": "amazonaws.com",
        **{k: v for k, v in tpl.parameter_defaults().items() if v is not None},
    }
    for fn in tpl.functions:
        names[fn.logical_id] = fn.logical_id
        names[f"{fn.logical_id}.Arn"] = fn.arn
    return names


def provision(session: Any, *, table_name: str, bus_name: str, tpl: Template | None = None) -> Stack:
    """Create the template's resources through ``session`` (a boto3 session pointed at moto)."""
    serialize_dynamodb()  # moto in this process must not let two transactions both win
    tpl = tpl or Template.default()
    names = base_names(tpl, bus_name)
    stack = Stack(table_name, bus_name, names)
    res = tpl.resources()

    for key_id, _ in tpl.resources("AWS::KMS::Key").items():
        meta = session.client("kms").create_key(Description=f"{key_id} (local)")["KeyMetadata"]
        names[key_id], names[f"{key_id}.Arn"] = meta["KeyId"], meta["Arn"]

    for bus_id in tpl.resources("AWS::Events::EventBus"):
        arn = session.client("events").create_event_bus(Name=bus_name)["EventBusArn"]
        names.update({bus_id: bus_name, f"{bus_id}.Name": bus_name, f"{bus_id}.Arn": arn, "bus.Arn": arn})
    if "bus.Arn" not in names:
        names["bus.Arn"] = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/default"

    sqs = session.client("sqs")
    redrives: dict[str, Any] = {}
    for queue_id, queue in tpl.resources("AWS::SQS::Queue").items():
        props = queue.get("Properties", {})
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        # a FIFO queue's name must end in .fifo (CloudFormation's generated names do)
        name = f"{bus_name}-{queue_id}" + (".fifo" if fifo else "")
        attrs = {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in props.items()
            if k
            in (
                "MessageRetentionPeriod",
                "VisibilityTimeout",
                "DelaySeconds",
                "FifoQueue",
                "ContentBasedDeduplication",
            )
        }
        if "RedrivePolicy" in props:
            redrives[queue_id] = props["RedrivePolicy"]
        url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        names.update(
            {
                queue_id: url,
                f"{queue_id}.Arn": arn,
                f"{queue_id}.QueueName": name,
                f"{queue_id}.QueueUrl": url,
            }
        )
    # once every queue exists, whatever order the template lists them in: moto refuses a redrive
    # policy whose dead-letter queue it cannot find, and moves a message there itself on the receive
    # after its ``maxReceiveCount``-th
    for queue_id, redrive in redrives.items():
        policy = resolve(redrive, names)
        sqs.set_queue_attributes(
            QueueUrl=names[queue_id],
            Attributes={"RedrivePolicy": policy if isinstance(policy, str) else json.dumps(policy)},
        )

    for group_id, group in tpl.resources("AWS::Scheduler::ScheduleGroup").items():
        name = str(resolve(group.get("Properties", {}).get("Name", group_id), names))
        session.client("scheduler").create_schedule_group(Name=name)
        names[group_id] = name

    for topic_id in tpl.resources("AWS::SNS::Topic"):
        name = f"{bus_name}-{topic_id}"
        arn = session.client("sns").create_topic(Name=name)["TopicArn"]
        names.update({topic_id: arn, f"{topic_id}.TopicName": name, f"{topic_id}.TopicArn": arn})

    for secret_id, secret in tpl.resources("AWS::SecretsManager::Secret").items():
        props = secret.get("Properties", {})
        value = props.get("SecretString")
        if value is None:
            gen = props.get("GenerateSecretString", {})
            value = secrets.token_urlsafe(32)
            if "SecretStringTemplate" in gen:
                value = json.dumps(
                    {**json.loads(gen["SecretStringTemplate"]), gen["GenerateStringKey"]: value}
                )
        arn = session.client("secretsmanager").create_secret(
            Name=f"{bus_name}/{secret_id}", SecretString=str(resolve(value, names))
        )["ARN"]
        names.update({secret_id: arn, f"{secret_id}.Id": arn})

    s3 = session.client("s3")
    for bucket_id, bucket in tpl.resources("AWS::S3::Bucket").items():
        # local names: the template's name holds the account id, which moto's is not
        name = f"{bus_name}-{bucket_id}".lower()
        s3.create_bucket(Bucket=name)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration=bucket["Properties"]["PublicAccessBlockConfiguration"],
        )
        if bucket["Properties"].get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        names.update({bucket_id: name, f"{bucket_id}.Arn": f"arn:aws:s3:::{name}"})

    for identity_id, identity in tpl.resources("AWS::SES::EmailIdentity").items():
        # moto's SES refuses mail from an unverified sender; Ref of an identity is its address
        address = resolve(identity.get("Properties", {})["EmailIdentity"], names)
        session.client("ses").verify_email_identity(EmailAddress=address)
        names[identity_id] = address

    table_id = tpl.table_id
    table_props = res[table_id]["Properties"]
    sse = table_props.get("SSESpecification", {})
    key_arn = resolve(sse.get("KMSMasterKeyId"), names) if sse.get("KMSMasterKeyId") else None
    ddb = session.client("dynamodb")
    table = ddb.create_table(**create_table_kwargs(table_name, key_arn, tpl))["TableDescription"]
    ttl = table_props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": ttl["Enabled"], "AttributeName": ttl["AttributeName"]},
        )
    if table_props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(
            TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    names.update(
        {
            table_id: table_name,
            f"{table_id}.Arn": table["TableArn"],
            f"{table_id}.StreamArn": table["LatestStreamArn"],
            "table.StreamArn": table["LatestStreamArn"],
        }
    )

    events = session.client("events")
    for rule in tpl.rules:
        if rule.schedule and rule.schedule.startswith("at("):
            continue  # one-time schedules are Scheduler's, fired by the runtime
        kwargs: dict[str, Any] = {"Name": rule.name, "State": "ENABLED"}
        if rule.pattern is not None:
            kwargs["EventPattern"] = json.dumps(rule.pattern)
            kwargs["EventBusName"] = resolve(rule.bus, names) or "default"
        else:
            kwargs["ScheduleExpression"] = rule.schedule
        events.put_rule(**kwargs)
    return stack


def function_environment(tpl: Template, logical_id: str, names: dict[str, Any]) -> dict[str, str]:
    """The environment variables the template gives a function, resolved to local values."""
    fn = tpl.function(logical_id)
    env = {k: str(resolve(v, names)) for k, v in fn.environment.items()}
    env.setdefault("POWERTOOLS_SERVICE_NAME", logical_id)
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=logical_id,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(fn.memory),
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
    )
    return env
