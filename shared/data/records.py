"""Interactions, notes, secure messages, observations and the patient timeline in the single table.
Keys and access patterns: :mod:`shared.data.keys` (Records).

Every record is JSON of its domain model in ``body`` (PHI stays there: the table is encrypted with
the customer-managed key; keys and index attributes hold ids, codes and instants only). Each change
is one :class:`~shared.data.core.Change`: the record, its audit entry, its events and the timeline
entries of those events (:func:`record_event`), so the timeline never shows what was not written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, VersionAttribute

from shared.clock import isoformat
from shared.data import keys
from shared.data.core import Change, get_item
from shared.data.patients import Actor
from shared.data.settings import Body, R, Settings, SettingsItem, _json  # noqa: F401 - records' policies
from shared.data.table import CareModel
from shared.domain.documentation import DocStatus, InteractionOut, NoteHead, NoteSummary, NoteVersion
from shared.domain.messages import AttachmentOut, Conversation, MessageOut, MessagePolicyOut
from shared.domain.monitoring import MonitoringPolicyOut
from shared.domain.observations import PatientThresholdsOut
from shared.domain.timeline import TimelineEntry, entry_of
from shared.errors import Unprocessable
from shared.events.models import DomainEvent

SYSTEM = "system:records"


def system_actor(org: str) -> Actor:
    """Careloop itself, for the audit entries of what the records consumer writes."""
    return Actor(org, SYSTEM, None, None)


class InteractionItem(Body, discriminator="Interaction"):
    patient_id = UnicodeAttribute()


class NoteItem(Body, discriminator="Note"):
    patient_id = UnicodeAttribute()
    entries = UnicodeAttribute(null=True)  # JSON: the note's timeline entries (hidden with it)
    current = UnicodeAttribute(null=True)  # JSON: the current signed version (what a list shows)
    hidden = BooleanAttribute(null=True)  # entered in error: out of the default list
    version = VersionAttribute()

    def timeline(self) -> list[TimelineEntry]:
        return [TimelineEntry.model_validate(e) for e in json.loads(self.entries or "[]")]


class NoteVersionItem(Body, discriminator="NoteVersion"):
    pass


class ConversationItem(Body, discriminator="Conversation"):
    version = VersionAttribute()


class MessageItem(Body, discriminator="Message"):
    patient_id = UnicodeAttribute()
    checked = UnicodeAttribute(null=True)  # JSON: attachment id → the S3 version checked and served
    version = VersionAttribute()

    def versions(self) -> dict[str, str]:
        return dict(json.loads(self.checked or "{}"))


class AttachmentItem(Body, discriminator="Attachment"):
    patient_id = UnicodeAttribute()
    version = VersionAttribute()


class ObservationItem(Body, discriminator="Observation"):
    patient_id = UnicodeAttribute()
    code = UnicodeAttribute()


class MonitorItem(Body, discriminator="Monitor"):
    code = UnicodeAttribute()
    version = VersionAttribute()


class MissedItem(CareModel, discriminator="MeasurementMissed"):
    """A measurement's gap already raised (its key says which; TTL)."""


class TimelineItem(Body, discriminator="TimelineEntry"):
    kind = UnicodeAttribute()
    hidden = BooleanAttribute(null=True)


# ---------------------------------------------------------------- the timeline


def timeline_item(org: str, patient_id: str, entry: TimelineEntry) -> TimelineItem:
    sk = keys.timed_sk(isoformat(entry.at), entry.id)
    item = TimelineItem(
        keys.timeline_pk(org, patient_id),
        sk,
        body=_json(entry),
        kind=entry.kind.value,
        GSI1PK=keys.timeline_pk(org, patient_id, kind=entry.kind.value),
        GSI1SK=sk,
    )
    if entry.hidden:
        item.hidden = True
    elif entry.patient_visible:  # sparse: the patient's views hold only what they may see
        item.GSI2PK = keys.timeline_pk(org, patient_id, "PATIENT")
        item.GSI2SK = sk
        item.GSI3PK = keys.timeline_pk(org, patient_id, "PATIENT", entry.kind.value)
        item.GSI3SK = sk
    return item


def record_event(change: Change, event: DomainEvent, *, hidden: bool = False) -> TimelineEntry | None:
    """``event`` in the change's outbox, and its timeline entry beside it (the records area's own)."""
    change.events.append(event)
    detail = event.detail()
    entry = entry_of(event.detail_type, detail)
    if entry is not None:
        entry = entry.model_copy(update={"hidden": hidden})
        change.put("timeline", timeline_item(event.organization_id, detail["patient_id"], entry))
    return entry


def project(org: str, detail_type: str, detail: dict[str, Any]) -> TimelineEntry | None:
    """Another area's event, as its entry (put on its key: a redelivery writes the same item)."""
    entry = entry_of(detail_type, detail)
    if entry is not None:
        timeline_item(org, detail["patient_id"], entry).save()
    return entry


def hide_entries(
    change: Change, org: str, patient_id: str, entries: Iterable[TimelineEntry]
) -> list[TimelineEntry]:
    """The entries, hidden (a note entered in error): out of the default timeline, kept for staff."""
    hidden = [entry.model_copy(update={"hidden": True}) for entry in entries]
    for entry in hidden:
        change.put("timeline", timeline_item(org, patient_id, entry))
    return hidden


def timeline_page(
    org: str,
    patient_id: str,
    *,
    patient_view: bool,
    kind: str | None,
    include_hidden: bool,
    limit: int,
    start: dict[str, Any] | None,
) -> tuple[list[TimelineEntry], Any]:
    """One Query, newest first: the table (staff), GSI1 (staff, one kind), GSI2 (the patient), GSI3
    (the patient, one kind)."""
    condition = None if include_hidden or patient_view else TimelineItem.hidden.does_not_exist()
    args: dict[str, Any] = {
        "scan_index_forward": False,
        "limit": limit,
        "last_evaluated_key": start,
        "filter_condition": condition,
    }
    if patient_view:
        index = TimelineItem.gsi3 if kind else TimelineItem.gsi2
        result = index.query(keys.timeline_pk(org, patient_id, "PATIENT", kind), **args)
    elif kind:
        result = TimelineItem.gsi1.query(keys.timeline_pk(org, patient_id, kind=kind), **args)
    else:
        result = TimelineItem.query(keys.timeline_pk(org, patient_id), **args)
    return [i.load(TimelineEntry) for i in result], result.last_evaluated_key


# ---------------------------------------------------------------- what a record relates to

RELATED = {  # a record type → the key of its item
    "appointment": lambda org, i: (keys.appointment_pk(org, i), keys.APPOINTMENT_SK),
    "referral": lambda org, i: (keys.referral_pk(org, i), keys.REFERRAL_SK),
    "task": lambda org, i: (keys.task_pk(org, i), keys.TASK_SK),
    "care-plan": lambda org, i: (keys.careplan_pk(org, i), keys.CAREPLAN_SK),
    "transition": lambda org, i: (keys.transition_pk(org, i), keys.TRANSITION_SK),
}


def related_patient(org: str, record_type: str, record_id: str) -> str | None:
    """Whose record it is (None: no such record in the organization): one GetItem of one attribute,
    whatever area holds it."""
    pk, sk = RELATED[record_type](org, record_id)
    raw = CareModel._get_connection().get_item(pk, sk, attributes_to_get=["patient_id"])
    value = raw.get("Item", {}).get("patient_id", {}).get("S")
    return str(value) if value else None


# ---------------------------------------------------------------- interactions


def put_interaction(change: Change, org: str, record: InteractionOut) -> None:
    item = InteractionItem(
        keys.interaction_pk(org, record.id),
        keys.INTERACTION_SK,
        body=_json(record),
        patient_id=record.patient_id,
        GSI1PK=keys.patient_interactions_pk(org, record.patient_id),
        GSI1SK=keys.timed_sk(isoformat(record.occurred_at), record.id),
    )
    change.put("interaction", item, InteractionItem.PK.does_not_exist())
    change.audit.append((record.patient_id, "interaction.create"))


def get_interaction(org: str, interaction_id: str) -> InteractionOut | None:
    item = get_item(InteractionItem, (keys.interaction_pk(org, interaction_id), keys.INTERACTION_SK))
    return item.load(InteractionOut) if item is not None else None


def interactions_page(
    org: str, patient_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[InteractionOut], Any]:
    result = InteractionItem.gsi1.query(
        keys.patient_interactions_pk(org, patient_id),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
    )
    return [i.load(InteractionOut) for i in result], result.last_evaluated_key


# ---------------------------------------------------------------- notes


@dataclass
class StoredNote:
    item: NoteItem
    head: NoteHead
    versions: list[NoteVersion]


def put_note(
    change: Change,
    org: str,
    head: NoteHead,
    item: NoteItem | None,
    entries: list[TimelineEntry],
    version: NoteVersion | None = None,
) -> None:
    """The note's head (new, or on its version) with its timeline entries, and one more signed
    version (``version``), never overwritten."""
    new = NoteItem(
        keys.note_pk(org, head.id),
        keys.NOTE_SK,
        body=_json(head),
        patient_id=head.patient_id,
        entries=json.dumps([e.model_dump(mode="json") for e in entries], separators=(",", ":")),
        current=_json(version) if version is not None else (item.current if item is not None else None),
        GSI1PK=keys.patient_notes_pk(org, head.patient_id),
        GSI1SK=keys.timed_sk(isoformat(head.created_at), head.id),
    )
    if head.doc_status is DocStatus.ENTERED_IN_ERROR:
        new.hidden = True
    if item is None:
        change.put("note", new, NoteItem.PK.does_not_exist())
    else:
        new.version = item.version
        change.put("note", new)
    if version is not None:
        signed = NoteVersionItem(
            keys.note_pk(org, head.id), keys.note_version_sk(version.number), body=_json(version)
        )
        change.put("note-version", signed, NoteVersionItem.PK.does_not_exist())


def notes_page(
    org: str, patient_id: str, include_hidden: bool, limit: int, start: dict[str, Any] | None
) -> tuple[list[NoteSummary], Any]:
    """One Query, newest first (entered-in-error notes filtered out unless asked for)."""
    result = NoteItem.gsi1.query(
        keys.patient_notes_pk(org, patient_id),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
        filter_condition=None if include_hidden else NoteItem.hidden.does_not_exist(),
    )
    out = [
        NoteSummary(
            **i.load(NoteHead).model_dump(exclude={"current"}),
            current=NoteVersion.model_validate_json(i.current or "{}"),
            version=i.version or 0,
        )
        for i in result
    ]
    return out, result.last_evaluated_key


def get_note(org: str, note_id: str) -> StoredNote | None:
    """One Query of the note's partition: its head and every version."""
    head: NoteItem | None = None
    versions: list[NoteVersion] = []
    for item in Body.query(keys.note_pk(org, note_id), consistent_read=True):
        if isinstance(item, NoteItem):
            head = item
        elif isinstance(item, NoteVersionItem):
            versions.append(item.load(NoteVersion))
    if head is None:
        return None
    return StoredNote(head, head.load(NoteHead), versions)


# ---------------------------------------------------------------- messages and attachments


def conversation(org: str, patient_id: str) -> tuple[Conversation, ConversationItem | None]:
    item = get_item(ConversationItem, (keys.messages_pk(org, patient_id), keys.CONVERSATION_SK))
    return (item.load(Conversation) if item is not None else Conversation()), item


def put_conversation(
    change: Change, org: str, patient_id: str, record: Conversation, item: ConversationItem | None
) -> None:
    new = ConversationItem(keys.messages_pk(org, patient_id), keys.CONVERSATION_SK, body=_json(record))
    if item is None:
        change.put("conversation", new, ConversationItem.PK.does_not_exist())
    else:
        new.version = item.version
        change.put("conversation", new)


def message_item(
    org: str, record: MessageOut, version: int | None = None, checked: dict[str, str] | None = None
) -> MessageItem:
    item = MessageItem(
        keys.messages_pk(org, record.patient_id),
        keys.message_sk(record.id),
        body=_json(record),
        patient_id=record.patient_id,
        checked=json.dumps(checked) if checked else None,
    )
    if version is not None:
        item.version = version
    return item


def get_message(org: str, patient_id: str, message_id: str) -> MessageItem | None:
    return get_item(MessageItem, (keys.messages_pk(org, patient_id), keys.message_sk(message_id)))


def messages_page(
    org: str, patient_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[MessageItem], Any]:
    result = MessageItem.query(
        keys.messages_pk(org, patient_id),
        MessageItem.SK.startswith(keys.MESSAGE_PREFIX),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
    )
    return list(result), result.last_evaluated_key


def attachment_item(
    org: str, patient_id: str, record: AttachmentOut, version: int | None = None
) -> AttachmentItem:
    item = AttachmentItem(
        keys.attachment_pk(org, record.id),
        keys.ATTACHMENT_SK,
        body=_json(record, exclude={"upload", "download_url"}),
        patient_id=patient_id,
    )
    if version is not None:
        item.version = version
    return item


def get_attachment(org: str, attachment_id: str) -> AttachmentItem | None:
    return get_item(AttachmentItem, (keys.attachment_pk(org, attachment_id), keys.ATTACHMENT_SK))


def _bad_attachment(n: int, message: str) -> Unprocessable:
    return Unprocessable(
        "Fix the invalid field(s) and send again: body.attachment_ids.",
        errors=[{"loc": ["body", "attachment_ids", n], "msg": message, "type": "value_error"}],
    )


def attach(
    change: Change, org: str, patient_id: str, attachment_ids: list[str], **to: str
) -> tuple[list[AttachmentOut], dict[str, str]]:
    """The attachments a message or an authorization (``to``: ``message_id=`` or
    ``authorization_id=``) names, checked (uploaded, no larger than announced, of the announced type
    by their first bytes) and marked attached in ``change``, and the S3 version of each that was
    checked: the one served. A 422 naming the first that is not."""
    from shared import files

    out, checked = [], {}
    for n, attachment_id in enumerate(dict.fromkeys(attachment_ids)):
        item = get_attachment(org, attachment_id)
        if item is None or item.patient_id != patient_id or item.load(AttachmentOut).status != "pending":
            raise _bad_attachment(n, "no attachment of this patient waiting with this id")
        record = item.load(AttachmentOut)
        key = keys.attachment_object(org, patient_id, attachment_id)
        found = files.stored(key)
        if found is None:
            raise _bad_attachment(n, "nothing was uploaded for this attachment yet")
        if (
            found.size > record.size
            or found.content_type != record.content_type
            or not files.is_a(record.content_type, files.head_bytes(key, found.version_id))
        ):
            raise _bad_attachment(n, "the upload is not the type and size announced")
        attached = record.model_copy(update={"status": "attached", **to})
        change.put("attachment", attachment_item(org, patient_id, attached, item.version))
        out.append(attached)
        if found.version_id:
            checked[attachment_id] = found.version_id
    return out, checked


MESSAGE_POLICY = Settings(MessagePolicyOut, keys.MESSAGE_POLICY_SK)
MONITORING_POLICY = Settings(MonitoringPolicyOut, keys.MONITORING_POLICY_SK)
THRESHOLDS = Settings(PatientThresholdsOut, keys.THRESHOLDS_SK)


# ---------------------------------------------------------------- observations


def observation_item(org: str, record: Any) -> ObservationItem:
    sk = keys.timed_sk(isoformat(record.effective_at), record.id)
    return ObservationItem(
        keys.observation_pk(org, record.id),
        keys.OBSERVATION_SK,
        body=_json(record),
        patient_id=record.patient_id,
        code=record.code.value,
        GSI1PK=keys.patient_observations_pk(org, record.patient_id, record.code.value),
        GSI1SK=sk,
        GSI2PK=keys.patient_observations_pk(org, record.patient_id),
        GSI2SK=sk,
    )


def get_observation(org: str, observation_id: str) -> ObservationItem | None:
    return get_item(ObservationItem, (keys.observation_pk(org, observation_id), keys.OBSERVATION_SK))


def series(
    org: str,
    patient_id: str,
    code: str | None,
    since: datetime,
    until: datetime,
    limit: int | None = None,
    start: dict[str, Any] | None = None,
    newest_first: bool = False,
) -> tuple[list[ObservationItem], Any]:
    """One Query: a code's readings (GSI1) or every code's (GSI2) between two instants."""
    index = ObservationItem.gsi1 if code else ObservationItem.gsi2
    sk = ObservationItem.GSI1SK if code else ObservationItem.GSI2SK
    result = index.query(
        keys.patient_observations_pk(org, patient_id, code),
        sk.between(isoformat(since), isoformat(until) + "~"),
        scan_index_forward=not newest_first,
        limit=limit,
        last_evaluated_key=start,
    )
    return list(result), result.last_evaluated_key


def monitors(org: str, patient_id: str) -> dict[str, MonitorItem]:
    """One Query: the patient's measures now, by code."""
    return {i.code: i for i in MonitorItem.query(keys.monitor_pk(org, patient_id), consistent_read=True)}


def monitor_item(
    org: str, patient_id: str, code: str, record: BaseModel, old: MonitorItem | None
) -> MonitorItem:
    item = MonitorItem(keys.monitor_pk(org, patient_id), code, body=_json(record), code=code)
    if old is not None:
        item.version = old.version
    return item
