"""The single-table base model, bound to its table at run time.

PynamoDB reads ``Meta`` when a class is defined and caches a connection per class; Careloop reads the
table name from the environment when a handler runs (:func:`bind`), so the same code serves moto in
tests, the local runtime and AWS. The endpoint comes from botocore's own ``AWS_ENDPOINT_URL_DYNAMODB``.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import DiscriminatorAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from shared.settings import settings


class GSI1(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    GSI1PK = UnicodeAttribute(hash_key=True)
    GSI1SK = UnicodeAttribute(range_key=True)


class GSI2(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "GSI2"
        projection = AllProjection()

    GSI2PK = UnicodeAttribute(hash_key=True)
    GSI2SK = UnicodeAttribute(range_key=True)


class GSI3(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "GSI3"
        projection = AllProjection()

    GSI3PK = UnicodeAttribute(hash_key=True)
    GSI3SK = UnicodeAttribute(range_key=True)


class CareModel(Model):
    """Base of every entity. Subclasses set ``discriminator="<Entity>"`` and define no ``Meta``."""

    class Meta:
        table_name = "careloop-local"  # replaced by bind()
        region = "us-east-1"
        max_retry_attempts = 3
        connect_timeout_seconds = 2
        read_timeout_seconds = 5

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    GSI1PK = UnicodeAttribute(null=True)
    GSI1SK = UnicodeAttribute(null=True)
    GSI2PK = UnicodeAttribute(null=True)
    GSI2SK = UnicodeAttribute(null=True)
    GSI3PK = UnicodeAttribute(null=True)
    GSI3SK = UnicodeAttribute(null=True)
    entity = DiscriminatorAttribute()
    ttl = TTLAttribute(null=True)

    gsi1 = GSI1()
    gsi2 = GSI2()
    gsi3 = GSI3()

    @classmethod
    def _get_connection(cls) -> Any:
        """One connection for every entity: they share one table, its keys and its indexes (all
        declared here). PynamoDB would make one per class, each with its own botocore session that
        loads DynamoDB's service model again (~4 ms of JSON each time a class is first used)."""
        if cls is not CareModel:
            return CareModel._get_connection()
        return super()._get_connection()


def _models(cls: type[Model] = CareModel) -> list[type[Model]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_models(sub))
    return out


def bind() -> None:
    """Point every model at the configured table (cheap when nothing changed; called per invocation)."""
    s, meta = settings(), CareModel.Meta
    if (meta.table_name, meta.region) == (s.table_name, s.region):
        return
    meta.table_name, meta.region = s.table_name, s.region
    reset_connections()


def reset_connections() -> None:
    """Drop cached connections (tests do this when moto starts, as clients made before it are real)."""
    for model in _models():
        model._connection = None


def lost_condition(exc: Exception) -> bool:
    """Whether a PynamoDB write failed its condition (an item already there, a version moved on: a
    lost race the caller answers), not DynamoDB itself (which the caller lets raise)."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"
