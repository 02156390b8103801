"""The webhook processor (SQS, partial batch failure, dead-letter queue): applies what partners sent.

Each message names a delivery (ids only; the body is in the table). A delivery is applied once: only
while it is ``queued`` (an SQS duplicate finds it done), and every resource through its source item,
which holds the partner's version we last applied (``meta.versionId`` / ``meta.lastUpdated``): an older
one is recorded as stale and ignored, a repeat changes nothing, and two processors racing on one
resource write it once (the source item's version condition).

- malformed FHIR, or a resource type the partner may not send: the delivery is ``failed`` with a code
  and the FHIR path of the problem; never retried (it would fail the same way);
- a patient no identifier matches: parked in the partner inbox for staff, never guessed;
- anything else that fails is retried by SQS; on the last receive the delivery is marked
  ``dead-lettered`` (an admin replays it once the cause is fixed) and the message moves to the queue's
  dead-letter queue. A poison message never holds up the others of its batch.

What each resource does: Encounter → the patient's encounters, PatientAdmitted / PatientDischarged;
Observation / DiagnosticReport → results, ResultAbnormal / ResultCritical (the escalation rules turn
them into review tasks); a device partner's Observation → the patient's reading (remote monitoring,
:mod:`shared.data.observations`: thresholds, trends, alerts); Appointment → our calendar when the
provider is ours (:mod:`shared.data.mirror`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pynamodb.exceptions import PutError
from ulid import ULID

from shared import clock, ids, metrics
from shared.data import keys, mirror
from shared.data import partners as repo
from shared.data import scheduling as sched
from shared.data import tasks as task_repo
from shared.data.patients import Actor
from shared.data.scheduling import Change
from shared.data.table import bind, lost_condition
from shared.data.tx import Cancelled
from shared.domain.clinical import EncounterRecord, ExternalAppointment, Incoming, ReportRecord, ResultRecord
from shared.domain.partners import (
    DeliveryOut,
    DeliveryStatus,
    EncounterOut,
    Identifier,
    InboxItemOut,
    InboxStatus,
    PartnerKind,
    PartnerOut,
)
from shared.domain.results import CriticalValue, Flag, Previous, ResultOut, corrects, flag
from shared.events import partners as events
from shared.fhir import inbound
from shared.fhir.outbound import OUR_PATIENT_SYSTEM
from shared.logs import correlate, entry_point, get_logger

logger = get_logger()
processor = BatchProcessor(event_type=EventType.SQS)
MAX_RECEIVES_ENV = "MAX_RECEIVES"
ADMITTED = frozenset({"arrived", "triaged", "in-progress", "onleave"})


def actor(org: str, partner_id: str) -> Actor:
    """Who the audit trail says wrote it: the partner, through its delivery."""
    return Actor(org, f"partner:{partner_id}", None, None)


# ---------------------------------------------------------------- a delivery


class _Run:
    """One delivery being applied."""

    def __init__(self, org: str, partner: PartnerOut, delivery_id: str, now: datetime) -> None:
        self.org, self.partner, self.delivery_id, self.now = org, partner, delivery_id, now
        self.counts: Counter[str] = Counter()
        self.reports: dict[str, str] = {}  # a report's source id → our result id
        policy, _ = task_repo.policy(org)
        self.critical: list[CriticalValue] = policy.critical_values()

    def change(self) -> Change:
        return Change(actor(self.org, self.partner.id), self.now)

    def patient(self, identifiers: list[tuple[str, str]]) -> str | None:
        """Matched by ``system|value`` only (never by name); our own patient id counts when the partner
        sends it in our system, if that patient exists in this organization."""
        for system, value in identifiers:
            ours = system == OUR_PATIENT_SYSTEM and keys.is_part(value)
            if ours and sched.get_item(sched.Patient, sched.patient_key(self.org, value)) is not None:
                return value
        return repo.patient_for(self.org, [f"{s}|{v}" for s, v in identifiers])

    def park(self, incoming: Incoming, reason: str) -> None:
        """One inbox item per delivery, reason and patient: parking the same again (a replay, a
        retry) finds it there."""
        named = sorted(incoming.patient)
        seed = f"{self.delivery_id}|{reason}|{named}".encode()
        item_id = str(ULID.from_bytes(hashlib.sha256(seed).digest()[:16]))
        record = InboxItemOut(
            id=item_id,
            reason=reason,
            partner_id=self.partner.id,
            delivery_id=self.delivery_id,
            resource_type=incoming.resource_type,
            identifiers=[Identifier(system=s, value=v) for s, v in named if s and v],
            status=InboxStatus.OPEN,
            received_at=self.now,
        )
        try:
            repo.inbox_item(self.org, record).save(repo.InboxItem.PK.does_not_exist())
        except PutError as exc:
            if not lost_condition(exc):
                raise
        self.counts["parked"] += 1

    def apply(self, incoming: Incoming) -> None:
        patient_id = self.patient(incoming.patient)
        if patient_id is None:
            self.park(incoming, "unmatched-patient")
            return
        record = incoming.record
        source = _source(self.org, self.partner.id, incoming.resource_type, record.source_id)
        order = _order(record, source)
        if order != "newer":
            self.counts["stale" if order == "older" else "repeat"] += 1
            return
        try:
            if self.partner.kind is PartnerKind.DEVICE and isinstance(record, ResultRecord):
                outcome = self.reading(record, patient_id)
            elif isinstance(record, ResultRecord | ReportRecord):
                outcome = self.result(record, patient_id, source)
            elif isinstance(record, EncounterRecord):
                outcome = self.encounter(record, patient_id, source)
            else:
                outcome = self.appointment(incoming, record, patient_id)
        except Cancelled:
            outcome = "repeat"  # another processor applied this version first
        self.counts[outcome] += 1

    # -------------------------------------------------------------- resources

    def _source_put(
        self,
        change: Change,
        incoming_type: str,
        record: Any,
        patient_id: str,
        record_id: str,
        source: repo.SourceItem | None,
    ) -> None:
        item = repo.SourceItem(
            keys.source_pk(self.org, self.partner.id, incoming_type, record.source_id),
            keys.SOURCE_SK,
            record_id=record_id,
            patient_id=patient_id,
            source_version=record.version,
            last_updated=clock.isoformat(record.last_updated) if record.last_updated else None,
        )
        if source is not None:
            item.version = source.version
        change.put("source", item)

    def reading(self, record: ResultRecord, patient_id: str) -> str:
        """A device's reading, recorded as the patient's own would be (:mod:`shared.data.observations`):
        checked, compared with their thresholds and trends. Its id is derived from the partner's, so a
        redelivery finds it recorded. A reading we do not monitor, or one that is not plausible, is
        counted and dropped (it would fail the same way again)."""
        from pydantic import ValidationError

        from shared.data import observations
        from shared.domain.monitoring import ObservationIn
        from shared.domain.observations import Sender

        seed = f"{self.org}|{self.partner.id}|{record.source_id}".encode()
        reading_id = str(ULID.from_bytes(hashlib.sha256(seed).digest()[:16]))
        try:
            body = ObservationIn.model_validate(
                {
                    "code": record.code.code,
                    "value": record.value if not record.components else None,
                    "unit": record.unit if not record.components else None,
                    "components": [c.model_dump() for c in record.components] or None,
                    "effective_at": record.effective or record.issued,
                    "device": True,
                }
            )
            observations.record(
                self.org,
                patient_id,
                body,
                Sender.DEVICE,
                actor(self.org, self.partner.id),
                self.now,
                reading_id,
            )
        except (ValidationError, ValueError):
            return "reading-refused"
        except observations.Recorded:
            return "repeat"
        except Cancelled:
            return "patient-inactive"  # the patient left the program: a reading is not taken
        return "applied"

    def result(
        self, record: ResultRecord | ReportRecord, patient_id: str, source: repo.SourceItem | None
    ) -> str:
        kind = "DiagnosticReport" if isinstance(record, ReportRecord) else "Observation"
        held_item = (
            _get(repo.ResultItem, keys.result_pk(self.org, source.record_id), keys.RESULT_SK)
            if source
            else None
        )
        held = (
            ResultOut.model_validate({**json.loads(held_item.body), "version": held_item.version})
            if held_item
            else None
        )
        result_id = held.id if held else ids.new_id()
        if isinstance(record, ReportRecord):
            self.reports[record.source_id] = result_id
            value: dict[str, Any] = {"flag": Flag.NORMAL}
        else:
            value = record.model_dump(
                include={"value", "unit", "value_text", "low", "high", "interpretation"}
            )
            value["flag"] = flag(record, self.critical)
        correction = corrects(held, record) if isinstance(record, ResultRecord) else False
        report_id: str | None = getattr(record, "report_id", None)
        out = ResultOut(
            id=result_id,
            version=(held.version + 1) if held else 1,
            partner_id=self.partner.id,
            source_id=record.source_id,
            received_at=self.now,
            code=record.code,
            status=record.status,
            kind=kind,
            issued=record.issued,
            effective=record.effective,
            report_id=(self.reports.get(report_id) if report_id else None)
            or _report_id(self.org, self.partner.id, report_id),
            corrected=correction or bool(held and held.corrected),
            previous=_previous(held) if correction else (held.previous if held else None),
            # a correction needs a clinician's eyes again
            acknowledged_at=None if correction or held is None else held.acknowledged_at,
            acknowledged_by=None if correction or held is None else held.acknowledged_by,
            **value,
        )
        change = self.change()
        self._source_put(change, kind, record, patient_id, result_id, source)
        change.put("result", result_item(self.org, patient_id, out, held_item.version if held_item else None))
        change.audit.append((patient_id, "result.write"))
        raised = out.flag is not Flag.NORMAL and (held is None or held.flag is not out.flag or correction)
        if raised:
            cls = events.ResultCritical if out.flag is Flag.CRITICAL else events.ResultAbnormal
            change.events.append(
                cls(
                    organization_id=self.org,
                    occurred_at=self.now,
                    patient_id=patient_id,
                    result_id=result_id,
                    partner_id=self.partner.id,
                    flag=out.flag,
                    corrected=out.corrected,
                )
            )
        change.commit()
        return "applied"

    def encounter(self, record: EncounterRecord, patient_id: str, source: repo.SourceItem | None) -> str:
        held_item = (
            _get(repo.EncounterItem, keys.encounter_pk(self.org, source.record_id), keys.ENCOUNTER_SK)
            if source
            else None
        )
        held = held_item.record() if held_item else None
        stay = record.class_code in events.STAY_CLASSES
        admitted = stay and record.status in ADMITTED and not (held and held.admitted_notified)
        discharged = (
            stay
            and record.status == "finished"
            and record.period_end is not None
            and not (held and held.discharged_notified)
        )
        out = EncounterOut(
            id=held.id if held else ids.new_id(),
            version=(held.version + 1) if held else 1,
            patient_id=patient_id,
            partner_id=self.partner.id,
            source_id=record.source_id,
            status=record.status,
            class_code=record.class_code,
            period_start=record.period_start,
            period_end=record.period_end,
            location=record.location,
            discharge_disposition=record.discharge_disposition,
            admitted_notified=bool(admitted or (held and held.admitted_notified)),
            discharged_notified=bool(discharged or (held and held.discharged_notified)),
            received_at=held.received_at if held else self.now,
            updated_at=self.now,
        )
        change = self.change()
        self._source_put(change, "Encounter", record, patient_id, out.id, source)
        change.put("encounter", encounter_item(self.org, out, held_item.version if held_item else None))
        change.audit.append((patient_id, "encounter.write"))
        common: dict[str, Any] = {
            "organization_id": self.org,
            "occurred_at": self.now,
            "patient_id": patient_id,
            "encounter_id": out.id,
            "partner_id": self.partner.id,
            "encounter_class": record.class_code,
            "admitted_at": record.period_start,
        }
        if admitted:
            change.events.append(events.PatientAdmitted(**common))
        if discharged:
            assert record.period_end is not None  # noqa: S101 - checked above
            disposition = record.discharge_disposition
            change.events.append(
                events.PatientDischarged(
                    **common,
                    discharged_at=record.period_end,
                    disposition=disposition if disposition in events.DISPOSITIONS else None,
                    complexity=record.complexity,
                )
            )
        change.commit()
        return "applied"

    def appointment(self, incoming: Incoming, record: ExternalAppointment, patient_id: str) -> str:
        provider_id = mirror.provider_for(self.org, record.practitioners)
        done = mirror.mirror_appointment(
            self.org,
            self.partner.id,
            record,
            patient_id,
            provider_id,
            actor(self.org, self.partner.id),
            self.now,
        )
        if done.outcome is mirror.MirrorOutcome.CONFLICT:
            self.park(incoming, "appointment-conflict")
            return "conflict"
        return {
            mirror.MirrorOutcome.STALE: "stale",
            mirror.MirrorOutcome.UNCHANGED: "repeat",
            mirror.MirrorOutcome.NOT_OURS: "not-ours",
        }.get(done.outcome, "applied")


def _get(model: Any, pk: str, sk: str) -> Any:
    try:
        return model.get(pk, sk, consistent_read=True)
    except model.DoesNotExist:
        return None


def _source(org: str, partner_id: str, resource_type: str, source_id: str) -> repo.SourceItem | None:
    return _get(repo.SourceItem, keys.source_pk(org, partner_id, resource_type, source_id), keys.SOURCE_SK)


def _report_id(org: str, partner_id: str, source_id: str | None) -> str | None:
    held = _source(org, partner_id, "DiagnosticReport", source_id) if source_id else None
    return held.record_id if held else None


def _order(record: Any, held: repo.SourceItem | None) -> str:
    """Is ``record`` newer than what we hold, the ``same``, or ``older``? By ``meta.lastUpdated``, then
    by a numeric ``meta.versionId``; a resource without either is applied (it cannot be ordered)."""
    if held is None:
        return "newer"
    if record.last_updated is not None and held.last_updated is not None:
        theirs = datetime.fromisoformat(held.last_updated)
        if record.last_updated != theirs:
            return "newer" if record.last_updated > theirs else "older"
    if record.version is not None and held.source_version is not None:
        if record.version == held.source_version:
            return "same"
        if record.version.isdigit() and held.source_version.isdigit():
            return "newer" if int(record.version) > int(held.source_version) else "older"
        return "newer"
    if record.last_updated is not None and held.last_updated is not None:
        return "same"
    return "newer"


def _previous(held: ResultOut | None) -> Previous | None:
    if held is None:
        return None
    return Previous(
        status=held.status,
        value=held.value,
        unit=held.unit,
        value_text=held.value_text,
        interpretation=held.interpretation,
        flag=held.flag,
        issued=held.issued,
    )


def result_item(org: str, patient_id: str, record: ResultOut, version: int | None) -> repo.ResultItem:
    item = repo.ResultItem(
        keys.result_pk(org, record.id),
        keys.RESULT_SK,
        patient_id=patient_id,
        body=record.model_dump_json(exclude={"version"}),
    )
    at = record.issued or record.effective or record.received_at
    item.GSI1PK = keys.patient_results_pk(org, patient_id)
    item.GSI1SK = keys.timed_sk(clock.isoformat(at), record.id)
    if version is not None:
        item.version = version
    return item


def encounter_item(org: str, record: EncounterOut, version: int | None) -> repo.EncounterItem:
    item = repo.EncounterItem(
        keys.encounter_pk(org, record.id),
        keys.ENCOUNTER_SK,
        patient_id=record.patient_id,
        body=record.model_dump_json(exclude={"version"}),
    )
    at = record.period_start or record.received_at
    item.GSI1PK = keys.patient_encounters_pk(org, record.patient_id)
    item.GSI1SK = keys.timed_sk(clock.isoformat(at), record.id)
    if version is not None:
        item.version = version
    return item


# ---------------------------------------------------------------- the delivery's outcome


def _finish(
    org: str, item: repo.DeliveryItem, record: DeliveryOut, now: datetime, **update: Any
) -> DeliveryOut:
    done = record.model_copy(update={"processed_at": now, **update})
    try:
        return repo.save_delivery(org, item, done)
    except PutError as exc:
        if not lost_condition(exc):
            raise
        logger.info("delivery finished elsewhere", extra={"delivery_id": record.id})
        return done


def process(org: str, partner_id: str, delivery_id: str) -> DeliveryOut | None:
    """Apply a queued delivery; ``None`` if it is gone (past its retention)."""
    now = clock.now()
    item = repo.delivery(org, partner_id, delivery_id)
    if item is None:
        return None
    record = item.record()
    if record.status is DeliveryStatus.DEAD_LETTERED:
        # its message came back from the dead-letter queue: a redrive after the fix (ops/redrive.py),
        # replayed as an admin's replay is
        try:
            record = repo.save_delivery(org, item, repo.requeued(record))
        except PutError as exc:
            if not lost_condition(exc):
                raise
            return None  # replayed by someone else a moment ago: their message applies it
    if record.status is not DeliveryStatus.QUEUED:
        return record  # a repeated message: already applied
    partner_item = repo.partner(org, partner_id)
    if partner_item is None:
        return _finish(org, item, record, now, status=DeliveryStatus.FAILED, error_code="unknown-partner")
    partner = partner_item.record()
    try:
        parsed = inbound.parse(item.content())
    except inbound.Malformed as malformed:
        logger.info("delivery malformed", extra={"delivery_id": delivery_id, "outcome": malformed.code})
        return _finish(
            org,
            item,
            record,
            now,
            status=DeliveryStatus.FAILED,
            error_code=malformed.code,
            error_path=malformed.path,
        )
    refused = next((i for i in parsed.items if i.resource_type not in partner.resource_types), None)
    if refused is not None:
        path = refused.resource_type if refused.entry is None else f"Bundle.entry[{refused.entry}].resource"
        return _finish(
            org, item, record, now, status=DeliveryStatus.FAILED, error_code="not-allowed", error_path=path
        )
    run = _Run(org, partner, delivery_id, now)
    # a report first, so its observations can name it by our id
    for incoming in sorted(parsed.items, key=lambda i: i.resource_type != "DiagnosticReport"):
        run.apply(incoming)
    counts = run.counts
    logger.info(
        "delivery applied",
        extra={
            "delivery_id": delivery_id,
            "applied_count": counts["applied"],
            "parked_count": counts["parked"],
            "stale_count": counts["stale"],
        },
    )
    return _finish(
        org,
        item,
        record,
        now,
        status=DeliveryStatus.PARKED if counts["parked"] else DeliveryStatus.PROCESSED,
        resources=counts["applied"],
        parked=counts["parked"],
        stale=counts["stale"],
        error_code=None,
        error_path=None,
    )


def dead_letter(org: str, partner_id: str, delivery_id: str, error: Exception) -> bool:
    """The last receive failed: say so on the delivery. Once the cause is fixed, an admin replays it
    (``POST /partners/{id}/deliveries/{id}/replay``) or on-call redrives the dead-letter queue."""
    item = repo.delivery(org, partner_id, delivery_id)
    if item is None:
        return False
    record = item.record()
    if record.status is not DeliveryStatus.QUEUED:
        return False  # a second message for it: marked by the first
    _finish(
        org,
        item,
        record,
        clock.now(),
        status=DeliveryStatus.DEAD_LETTERED,
        error_code=type(error).__name__,
    )
    return True


def _record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    correlate(message.get("correlation_id"))
    org, partner_id, delivery_id = message["organization_id"], message["partner_id"], message["delivery_id"]
    try:
        process(org, partner_id, delivery_id)
    except Exception as error:
        receives = int(record.attributes.approximate_receive_count)
        logger.warning(
            "delivery failed",
            extra={"delivery_id": delivery_id, "error_type": type(error).__name__, "receive_count": receives},
        )
        if receives >= int(os.environ.get(MAX_RECEIVES_ENV, "5")) and dead_letter(
            org, partner_id, delivery_id, error
        ):
            metrics.count("WebhookDeliveries", "dead-lettered")
        raise


@entry_point
def handler(event: dict[str, Any], context: Any) -> Any:
    bind()
    return process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
