"""Audit of reads. Writes carry their audit entry in their own transaction (shared.data.patients);
a read changes nothing, so it publishes a ``PatientRecordAccessed`` event that the audit writer
(functions/audit) turns into entries. If the event cannot be published the read is refused (503):
no unaudited access to PHI."""

from __future__ import annotations

from collections.abc import Sequence

from shared.aws import client
from shared.errors import ServiceUnavailable
from shared.events.intake import PatientRecordAccessed
from shared.events.models import event_entry
from shared.http.auth import Principal
from shared.logs import get_logger
from shared.settings import settings


def record_access(
    principal: Principal, patient_ids: Sequence[str], action: str, request_id: str | None
) -> None:
    if not patient_ids:
        return
    event = PatientRecordAccessed(
        organization_id=principal.organization_id,
        patient_ids=list(patient_ids),
        actor_id=principal.subject,
        action=action,
        request_id=request_id,
    )
    response = client("events").put_events(Entries=[event_entry(event, settings().event_bus_name)])
    if response.get("FailedEntryCount"):
        get_logger().error("audit event refused", error_type=response["Entries"][0].get("ErrorCode"))
        raise ServiceUnavailable("The access could not be audited, so it was refused; retry shortly.")
