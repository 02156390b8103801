"""Audit writer: ``PatientRecordAccessed`` events (reads, published by the API) → audit entries.

Idempotent: an entry's key derives from the event id, and a put that finds it already there is a
no-op, so EventBridge's at-least-once delivery never doubles an entry.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError

from shared.data.patients import Actor, AuditEntry, audit_entry
from shared.data.table import bind
from shared.events.intake import PatientRecordAccessed
from shared.logs import entry_point, get_logger

logger = get_logger()


@entry_point
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    bind()
    detail = {k: v for k, v in event["detail"].items() if k != "schema_version"}
    accessed = PatientRecordAccessed.model_validate(detail)
    actor = Actor(accessed.organization_id, accessed.actor_id, accessed.request_id, None)
    written = 0
    for n, patient_id in enumerate(accessed.patient_ids):
        entry = audit_entry(
            actor, patient_id, accessed.action, accessed.occurred_at, f"{accessed.event_id}-{n}"
        )
        try:
            entry.save(condition=AuditEntry.PK.does_not_exist())
            written += 1
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
    logger.info("audit entries written", entry_count=written, event_id=accessed.event_id)
    return {"written": written}
