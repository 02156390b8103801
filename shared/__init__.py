"""Careloop's shared package: what every function imports (deployed as a Lambda layer).

- ``domain``: pure rules over pydantic models (no boto3, no I/O, no clock reads)
- ``data``: the single-table model, key builders and access patterns
- ``http``: resolver factory, auth, errors as problem+json, idempotency, pagination
- ``events``: domain event models and their EventBridge form
"""
