"""Secure messages over HTTP: the patient (from their app) and their care team, attachments, read
receipts, and the organization's message policy. Every read is audited. See
:mod:`shared.domain.messages` for the rules (response time, urgent words)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field

from functions.records.common import commit, exists, patient_of
from shared import clock, files, ids
from shared.data import core, keys
from shared.data import records as repo
from shared.data.patients import Patient
from shared.data.tx import Cancelled
from shared.domain.base import Model
from shared.domain.messages import (
    AttachmentIn,
    AttachmentOut,
    Author,
    MessageIn,
    MessageOut,
    MessagePatientView,
    MessagePolicy,
    MessagePolicyOut,
    Upload,
    answered,
    is_patient_side,
    is_urgent,
    received,
)
from shared.errors import Conflict, NotFound
from shared.events.records import MessageAnswered, MessageSent, MessageUrgent
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audit_replay, audited_read, caller, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIGatewayHttpRouter()
POLICY = repo.MESSAGE_POLICY
ATTEMPTS = 3  # the conversation moved (both sides wrote at once): read it and write again
MessagePage = Page[MessageOut]
MessagePatientPage = Page[MessagePatientView]


class Posted(Model):
    message: MessageOut | MessagePatientView
    emergency_reply: MessagePatientView | None = Field(
        None, description="an urgent patient message: what to do now (also in the conversation)"
    )


# ---------------------------------------------------------------- policy


@router.get(
    "/message-policy",
    summary="The organization's message policy: response time, urgent words, the emergency reply",
    tags=["messages"],
    operation_id="getMessagePolicy",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read_policy() -> Response[MessagePolicyOut]:
    principal, _ = caller(router)
    record, _ = POLICY.get(principal.organization_id)
    return Response(200, "application/json", record, headers=etag(record.version))


@router.put(
    "/message-policy",
    summary="Replace the message policy (If-Match once it exists)",
    tags=["messages"],
    operation_id="putMessagePolicy",
    responses=responses(
        headers=["ETag"], errors={409: "If-Match is stale (`current_version`)", 428: "Send If-Match"}
    ),
)
@allow(Role.ADMIN)
def write_policy(body: MessagePolicy, if_match: IfMatch = None) -> Response[MessagePolicyOut]:
    principal, _ = caller(router)
    record = POLICY.replace(principal.organization_id, body, if_match)
    return Response(200, "application/json", record, headers=etag(record.version))


# ---------------------------------------------------------------- attachments


@router.post(
    "/patients/<patient_id>/attachments",
    summary="Start an attachment: a form to upload one file (type and size as announced) within minutes",
    tags=["messages"],
    operation_id="createAttachment",
    responses=responses(201, "Upload it, then name it in a message"),
)
@allow(STAFF, Role.PATIENT)
@idempotent(router)
def create_attachment(patient_id: UlidPath, body: AttachmentIn) -> Response[AttachmentOut]:
    """POST the form's ``fields`` and then the file (as ``file``) to ``upload.url``. S3 refuses another
    type, a larger file, or a late upload. Then send a message naming its id."""
    principal, actor = caller(router)
    principal.require_patient(patient_id)
    org, now = principal.organization_id, clock.now()
    patient_of(org, patient_id, active=True)
    record = AttachmentOut(
        id=ids.new_id(), content_type=body.content_type, size=body.size, status="pending", created_at=now
    )
    change = core.Change(actor, now)
    change.put(
        "attachment", repo.attachment_item(org, patient_id, record), repo.AttachmentItem.PK.does_not_exist()
    )
    change.audit.append((patient_id, "attachment.create"))
    commit(change, "patient")
    form = files.upload_form(
        keys.attachment_object(org, patient_id, record.id), body.content_type, body.size, now
    )
    upload = Upload(url=form.url, fields=form.fields, expires_at=form.expires_at)
    return Response(201, "application/json", record.model_copy(update={"upload": upload}))


# ---------------------------------------------------------------- messages


def _view(principal: Any, record: MessageOut) -> MessageOut | MessagePatientView:
    return MessagePatientView.of(record) if principal.is_patient else record


def _send(
    org: str, patient: Any, author: Author, by: str, body: MessageIn, actor: Any, now: datetime
) -> tuple[MessageOut, MessageOut | None]:
    """One transaction: the message, its attachments, the conversation, the events (and for an urgent
    patient message, Careloop's emergency reply)."""
    patient_id = patient.patient_id
    policy, _ = POLICY.get(org)
    patient_side = is_patient_side(author)
    urgent = patient_side and is_urgent(body.text, policy)
    for _ in range(ATTEMPTS):
        change = core.Change(actor, now)
        exists(change, org, patient_id)
        message_id = ids.new_id()
        attachments, checked = repo.attach(
            change, org, patient_id, body.attachment_ids, message_id=message_id
        )
        conversation, item = repo.conversation(org, patient_id)
        answers: list[str] = []
        record = MessageOut(
            id=message_id,
            patient_id=patient_id,
            author=author,
            author_id=by,
            text=body.text,
            attachments=attachments,
            urgent=urgent,
            sent_at=now,
        )
        if patient_side:
            after = received(conversation, record)
        else:
            after, answers = answered(conversation, now)
            record = record.model_copy(update={"answers": answers})
        change.put(
            "message", repo.message_item(org, record, checked=checked), repo.MessageItem.PK.does_not_exist()
        )
        repo.put_conversation(change, org, patient_id, after, item)
        change.audit.append((patient_id, "message.create"))
        common = {"organization_id": org, "patient_id": patient_id, "occurred_at": now}
        repo.record_event(
            change,
            MessageSent(
                **common, message_id=record.id, author=author, urgent=urgent, attachments=len(attachments)
            ),
        )
        for answered_id in answers:
            change.events.append(MessageAnswered(**common, message_id=answered_id, answer_id=record.id))
        reply = None
        if urgent:
            repo.record_event(change, MessageUrgent(**common, message_id=record.id))
            reply = MessageOut(
                id=ids.new_id(),
                patient_id=patient_id,
                author=Author.SYSTEM,
                author_id="system",
                text=policy.reply_in(str(patient.record().preferred_language)),
                sent_at=now,
            )
            change.put("reply", repo.message_item(org, reply), repo.MessageItem.PK.does_not_exist())
        try:
            commit(change, "conversation")
        except Conflict:
            continue
        return record, reply
    raise Conflict("The conversation changed while you wrote; send again.")


@router.post(
    "/patients/<patient_id>/messages",
    summary="Send a message in the patient's conversation with their care team",
    tags=["messages"],
    operation_id="sendMessage",
    responses=responses(201, "Sent", headers=["Location"]),
)
@allow(STAFF, Role.PATIENT)
@idempotent(router, on_replay=audit_replay(router, "message.read"))
def send_message(patient_id: UlidPath, body: MessageIn) -> Response[Posted]:
    """A patient message waits for the care team's answer (a task after the organization's response
    time). One holding an urgent word goes to the nurses at once and is answered at once with what to
    do in an emergency (``emergency_reply``). A staff message answers every patient message before it,
    and the patient is told of it by SMS or e-mail (without its text)."""
    principal, actor = caller(router)
    principal.require_patient(patient_id)
    org, now = principal.organization_id, clock.now()
    patient = patient_of(org, patient_id, active=True)
    if principal.is_patient:
        author = Author(body.author or Author.PATIENT)
    elif body.author is not None:
        raise invalid("author", "only the patient's app names its author")
    else:
        author = Author.STAFF
    record, reply = _send(org, patient, author, principal.subject, body, actor, now)
    posted = Posted(
        message=_view(principal, record), emergency_reply=MessagePatientView.of(reply) if reply else None
    )
    return Response(
        201, "application/json", posted, headers={"Location": f"/patients/{patient_id}/messages/{record.id}"}
    )


@router.get(
    "/patients/<patient_id>/messages",
    summary="The patient's conversation with their care team, newest first",
    tags=["messages"],
    operation_id="listMessages",
)
@allow(STAFF, Role.PATIENT)
def list_messages(
    patient_id: UlidPath, limit: Limit = 25, cursor: Cursor = None
) -> MessagePage | MessagePatientPage:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    partition = keys.messages_pk(org, patient_id)
    list_id = "messages"
    start = decode_cursor(cursor, list_id, {"PK": partition}, ("PK", "SK"), tenant=org)
    items, last = repo.messages_page(org, patient_id, limit, start)
    if principal.is_staff:
        require_parent(bool(items), cursor, Patient, core.patient_key(org, patient_id), "patient")
    if items:
        audited_read(router, [patient_id], "message.read")
    next_cursor = encode_cursor(list_id, last, tenant=org)
    records = [i.load(MessageOut) for i in items]
    if principal.is_patient:
        return MessagePatientPage(items=[MessagePatientView.of(r) for r in records], next_cursor=next_cursor)
    return MessagePage(items=records, next_cursor=next_cursor)


def _message(org: str, patient_id: str, message_id: str) -> tuple[repo.MessageItem, MessageOut]:
    item = repo.get_message(org, patient_id, message_id)
    if item is None:
        raise NotFound("No message with this id for this patient.")
    return item, item.load(MessageOut)


@router.get(
    "/patients/<patient_id>/messages/<message_id>",
    summary="A message, with a link to each attachment that works for minutes",
    tags=["messages"],
    operation_id="getMessage",
)
@allow(STAFF, Role.PATIENT)
def read_message(patient_id: UlidPath, message_id: UlidPath) -> MessageOut | MessagePatientView:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    org = principal.organization_id
    item, record = _message(org, patient_id, message_id)
    audited_read(router, [patient_id], "message.read")
    checked = item.versions()
    linked = [
        a.model_copy(
            update={
                "download_url": files.download_url(
                    keys.attachment_object(org, patient_id, a.id), checked.get(a.id)
                )
            }
        )
        for a in record.attachments
    ]
    return _view(principal, record.model_copy(update={"attachments": linked}))


@router.post(
    "/patients/<patient_id>/messages/<message_id>/read",
    summary="Say you read a message of the other side (a read receipt); again changes nothing",
    tags=["messages"],
    operation_id="markMessageRead",
    responses=responses(errors={409: "Your own side's message"}),
)
@allow(STAFF, Role.PATIENT)
def mark_read(patient_id: UlidPath, message_id: UlidPath) -> MessageOut | MessagePatientView:
    principal, actor = caller(router)
    principal.require_patient(patient_id)
    org, now = principal.organization_id, clock.now()
    item, record = _message(org, patient_id, message_id)
    if is_patient_side(record.author) == principal.is_patient:
        raise Conflict("A read receipt is for a message from the other side.")
    if record.read_at is None:
        record = record.model_copy(update={"read_at": now})
        change = core.Change(actor, now)
        change.put("message", repo.message_item(org, record, item.version, item.versions()))
        change.audit.append((patient_id, "message.read-receipt"))
        try:
            change.commit()
        except Cancelled:
            _, record = _message(org, patient_id, message_id)  # read meanwhile: the first receipt stands
    return _view(principal, record)
