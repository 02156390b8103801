"""Webhooks area, HTTP (JWT): partners and their secrets, subscriptions and deliveries (admins), the
identifiers partners know patients by and the partner inbox (staff), and what partners told us about
a patient: results (staff; a patient reads their own) and encounters (staff).

Secrets are made here and shown once: their values go to Secrets Manager only
(:mod:`shared.data.partners`), so creating one takes no ``Idempotency-Key``: a replayed answer would
have to be stored, and a secret never is. A retried request makes a second secret; revoke it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pynamodb.exceptions import PutError

from functions.webhooks.ingest import enqueue
from shared import clock, ids
from shared.data import keys
from shared.data import partners as repo
from shared.data import scheduling as sched
from shared.data.table import lost_condition
from shared.data.tx import Cancelled, Tx
from shared.domain.partners import (
    MAX_SECRETS,
    MAX_SUBSCRIPTIONS,
    DeliveryOut,
    DeliveryStatus,
    Direction,
    EncounterOut,
    IdentifiersIn,
    IdentifiersOut,
    InboxItemOut,
    InboxStatus,
    MatchIn,
    PartnerIn,
    PartnerOut,
    PartnerPatch,
    SecretCreated,
    SecretIn,
    SecretMeta,
    SubscriptionIn,
    SubscriptionOut,
    patched,
)
from shared.domain.results import ResultOut, ResultPatientView
from shared.errors import Conflict, NotFound
from shared.events.partners import ResultAcknowledged
from shared.http.auth import STAFF, Role, allow
from shared.http.caller import audited_read, caller, invalid, require_parent
from shared.http.contract import IfMatch, UlidPath, etag, require_current, responses
from shared.http.idempotency import idempotent
from shared.http.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from shared.http.resolver import make_handler, make_resolver
from shared.webhooks import egress, signing

router = APIGatewayHttpRouter()
CLINICIANS = (Role.NURSE, Role.PHYSICIAN)
SecretPath = Annotated[str, Path(min_length=26, max_length=26, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]


def _partner(org: str, partner_id: str) -> repo.PartnerItem:
    item = repo.partner(org, partner_id)
    if item is None:
        raise NotFound("No partner with this id.")
    return item


def _save_partner(
    org: str, record: PartnerOut, item: repo.PartnerItem | None, secret_version: str | None
) -> PartnerOut:
    """The partner and its route in one transaction, on the version read (a lost race is a 409)."""
    written = record.model_copy(update={"version": (item.version or 0) + 1 if item else 1})
    partner_item, route = repo.partner_items(
        org, written, item.version if item else None, secret_version, repo.inbound_ids(written)
    )
    try:
        with Tx() as tx:
            tx.put("partner", partner_item)
            tx.put("route", route)
    except Cancelled:
        raise Conflict("The partner changed since you read it; read it again.", conflict="partner") from None
    return written


def _page(
    query: Any,
    list_id: str,
    partition: dict[str, str],
    attrs: tuple[str, ...],
    org: str,
    limit: int,
    cursor: str | None,
    **kwargs: Any,
) -> tuple[list[Any], str | None]:
    start = decode_cursor(cursor, list_id, partition, attrs, tenant=org)
    result = query(limit=limit, last_evaluated_key=start, **kwargs)
    items = list(result)
    return items, encode_cursor(list_id, result.last_evaluated_key, tenant=org)


# ---------------------------------------------------------------- partners


@router.post(
    "/partners",
    summary="Add a partner (hospital, lab, EHR); then make it a secret",
    tags=["partners"],
    operation_id="createPartner",
    responses=responses(201, "Created", headers=["Location", "ETag"]),
)
@allow(Role.ADMIN)
@idempotent(router)
def create_partner(body: PartnerIn) -> Response[PartnerOut]:
    org, now = caller(router)[0].organization_id, clock.now()
    partner_id = ids.new_id()
    record = PartnerOut(
        **body.model_dump(),
        id=partner_id,
        version=1,
        webhook_path=f"/webhooks/{partner_id}",
        created_at=now,
        updated_at=now,
    )
    written = _save_partner(org, record, None, None)
    return Response(
        201,
        "application/json",
        written,
        headers={"Location": f"/partners/{partner_id}", **etag(written.version)},
    )


@router.get(
    "/partners", summary="The organization's partners", tags=["partners"], operation_id="listPartners"
)
@allow(Role.ADMIN)
def list_partners(limit: Limit = 50, cursor: Cursor = None) -> Page[PartnerOut]:
    org = caller(router)[0].organization_id
    pk = keys.partners_pk(org)
    items, next_cursor = _page(
        lambda **kw: repo.PartnerItem.query(pk, repo.PartnerItem.SK.startswith("PARTNER#"), **kw),
        "partners",
        {"PK": pk},
        ("PK", "SK"),
        org,
        limit,
        cursor,
    )
    return Page[PartnerOut](items=[i.record() for i in items], next_cursor=next_cursor)


@router.get(
    "/partners/<partner_id>",
    summary="A partner (its secrets' ids and dates, never their values)",
    tags=["partners"],
    operation_id="getPartner",
    responses=responses(headers=["ETag"]),
)
@allow(Role.ADMIN)
def read_partner(partner_id: UlidPath) -> Response[PartnerOut]:
    item = _partner(caller(router)[0].organization_id, partner_id)
    return Response(200, "application/json", item.record(), headers=etag(item.version))


@router.patch(
    "/partners/<partner_id>",
    summary="Change a partner (If-Match); inactive, its deliveries are refused",
    tags=["partners"],
    operation_id="editPartner",
    responses=responses(headers=["ETag"], errors={428: "Send If-Match"}),
)
@allow(Role.ADMIN)
def edit_partner(partner_id: UlidPath, body: PartnerPatch, if_match: IfMatch = None) -> Response[PartnerOut]:
    org = caller(router)[0].organization_id
    item = _partner(org, partner_id)
    require_current(if_match, item.version, "partner")
    written = _save_partner(org, patched(item.record(), body, clock.now()), item, item.secret_version)
    return Response(200, "application/json", written, headers=etag(written.version))


@router.post(
    "/partners/<partner_id>/secrets",
    summary="Make a signing secret (whsec_…, shown once); older ones stay valid until revoked",
    tags=["partners"],
    operation_id="createPartnerSecret",
    responses=responses(
        201, "Created: the only time the secret is shown", errors={409: "Too many live secrets"}
    ),
)
@allow(Role.ADMIN)
def create_secret(partner_id: UlidPath, body: SecretIn) -> Response[SecretCreated]:
    principal, _ = caller(router)
    org, now = principal.organization_id, clock.now()
    item = _partner(org, partner_id)
    record = item.record()
    if sum(s.use is body.use for s in record.secrets) >= MAX_SECRETS:
        raise Conflict(
            f"A partner has at most {MAX_SECRETS} live {body.use.value} secrets: revoke one first."
        )
    secrets = dict(repo.read_secrets(partner_id, item.secret_version))
    made = SecretCreated(
        id=ids.new_id(),
        use=body.use,
        created_at=now,
        created_by=principal.subject,
        secret=signing.new_secret(),
    )
    secrets[made.id] = {"use": made.use.value, "value": made.secret}
    version = repo.write_secrets(partner_id, item.secret_version, secrets)
    meta = SecretMeta(**made.model_dump(exclude={"secret"}))
    _save_partner(
        org, record.model_copy(update={"secrets": [meta, *record.secrets], "updated_at": now}), item, version
    )
    return Response(201, "application/json", made, headers={"Cache-Control": "no-store"})


@router.delete(
    "/partners/<partner_id>/secrets/<secret_id>",
    summary="Revoke a secret: deliveries signed with it are refused from now on",
    tags=["partners"],
    operation_id="revokePartnerSecret",
    responses=responses(204, "Revoked"),
)
@allow(Role.ADMIN)
def revoke_secret(partner_id: UlidPath, secret_id: SecretPath) -> Response[None]:
    org, now = caller(router)[0].organization_id, clock.now()
    item = _partner(org, partner_id)
    record = item.record()
    if not any(s.id == secret_id for s in record.secrets):
        raise NotFound("No live secret with this id.")
    secrets = {k: v for k, v in repo.read_secrets(partner_id, item.secret_version).items() if k != secret_id}
    version = repo.write_secrets(partner_id, item.secret_version, secrets)
    kept = [s for s in record.secrets if s.id != secret_id]
    _save_partner(org, record.model_copy(update={"secrets": kept, "updated_at": now}), item, version)
    return Response(204, None, None)


# ---------------------------------------------------------------- deliveries


@router.get(
    "/partners/<partner_id>/deliveries",
    summary="Deliveries from and to a partner, newest first",
    tags=["partners"],
    operation_id="listDeliveries",
)
@allow(Role.ADMIN)
def list_deliveries(
    partner_id: UlidPath,
    direction: Annotated[Direction | None, Query(description="inbound or outbound; both when absent")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryOut]:
    org = caller(router)[0].organization_id
    pk = keys.deliveries_pk(org, partner_id)
    only = repo.DeliveryItem.direction == direction.value if direction else None
    items, next_cursor = _page(
        lambda **kw: repo.DeliveryItem.query(pk, scan_index_forward=False, filter_condition=only, **kw),
        f"deliveries:{direction}",
        {"PK": pk},
        ("PK", "SK"),
        org,
        limit,
        cursor,
    )
    require_parent(
        bool(items), cursor, repo.PartnerItem, (keys.partners_pk(org), keys.partner_sk(partner_id)), "partner"
    )
    return Page[DeliveryOut](items=[i.record() for i in items], next_cursor=next_cursor)


@router.post(
    "/partners/<partner_id>/deliveries/<delivery_id>/replay",
    summary="Process a dead-lettered delivery again (once its cause is fixed)",
    tags=["partners"],
    operation_id="replayDelivery",
    responses=responses(202, "Queued", errors={409: "Only a dead-lettered inbound delivery can be replayed"}),
)
@allow(Role.ADMIN)
def replay(partner_id: UlidPath, delivery_id: UlidPath) -> Response[DeliveryOut]:
    org = caller(router)[0].organization_id
    item = repo.delivery(org, partner_id, delivery_id)
    if item is None:
        raise NotFound("No delivery with this id.")
    record = item.record()
    if record.direction is not Direction.INBOUND or record.status is not DeliveryStatus.DEAD_LETTERED:
        raise Conflict("Only a dead-lettered inbound delivery can be replayed.", conflict="delivery")
    return Response(202, "application/json", _requeue(org, partner_id, item, record))


def _requeue(org: str, partner_id: str, item: repo.DeliveryItem, record: DeliveryOut) -> DeliveryOut:
    queued = repo.requeued(record)
    try:
        repo.save_delivery(org, item, queued)
    except PutError as exc:
        if not lost_condition(exc):
            raise
        raise Conflict(
            "The delivery changed since you read it; read it again.", conflict="delivery"
        ) from None
    enqueue(org, partner_id, record.id)
    return queued


# ---------------------------------------------------------------- subscriptions


@router.post(
    "/partners/<partner_id>/subscriptions",
    summary="Subscribe a partner's https URL to our events (signed with its outbound secrets)",
    tags=["partners"],
    operation_id="createSubscription",
    responses=responses(
        201, "Created", headers=["Location"], errors={409: "The partner has no outbound secret"}
    ),
)
@allow(Role.ADMIN)
@idempotent(router)
def subscribe(partner_id: UlidPath, body: SubscriptionIn) -> Response[SubscriptionOut]:
    org, now = caller(router)[0].organization_id, clock.now()
    record = _partner(org, partner_id).record()
    try:
        url = egress.check_url(body.url, allow_loopback=egress.loopback_allowed())
    except egress.UnsafeUrl as unsafe:
        raise invalid("url", f"not a public https URL ({unsafe.code})") from None
    if not any(s.use.value == "outbound" for s in record.secrets):
        raise Conflict("Make the partner an outbound secret first: deliveries are signed with it.")
    pk = keys.partners_pk(org)
    held = list(
        repo.SubscriptionItem.query(pk, repo.SubscriptionItem.SK.startswith(keys.subscription_sk(partner_id)))
    )
    if len(held) >= MAX_SUBSCRIPTIONS:
        raise Conflict(f"A partner has at most {MAX_SUBSCRIPTIONS} subscriptions.")
    out = SubscriptionOut(id=ids.new_id(), url=url, event_types=body.event_types, active=True, created_at=now)
    repo.SubscriptionItem(
        pk, keys.subscription_sk(partner_id, out.id), partner_id=partner_id, body=out.model_dump_json()
    ).save()
    location = f"/partners/{partner_id}/subscriptions/{out.id}"
    return Response(201, "application/json", out, headers={"Location": location})


@router.get(
    "/partners/<partner_id>/subscriptions",
    summary="A partner's subscriptions",
    tags=["partners"],
    operation_id="listSubscriptions",
)
@allow(Role.ADMIN)
def list_subscriptions(partner_id: UlidPath) -> Page[SubscriptionOut]:
    org = caller(router)[0].organization_id
    _partner(org, partner_id)
    items = repo.SubscriptionItem.query(
        keys.partners_pk(org), repo.SubscriptionItem.SK.startswith(keys.subscription_sk(partner_id))
    )
    return Page[SubscriptionOut](items=[i.record() for i in items])


@router.delete(
    "/partners/<partner_id>/subscriptions/<subscription_id>",
    summary="Stop delivering to a subscription",
    tags=["partners"],
    operation_id="deleteSubscription",
    responses=responses(204, "Deleted"),
)
@allow(Role.ADMIN)
def unsubscribe(partner_id: UlidPath, subscription_id: UlidPath) -> Response[None]:
    org = caller(router)[0].organization_id
    try:
        repo.SubscriptionItem(
            keys.partners_pk(org), keys.subscription_sk(partner_id, subscription_id)
        ).delete(repo.SubscriptionItem.PK.exists())
    except Exception as exc:  # PynamoDB's DeleteError
        if not lost_condition(exc):
            raise
        raise NotFound("No subscription with this id.") from None
    return Response(204, None, None)


# ---------------------------------------------------------------- identifiers


def _patient_exists(org: str, patient_id: str) -> None:
    if sched.get_item(sched.Patient, sched.patient_key(org, patient_id)) is None:
        raise NotFound("No patient with this id.")


@router.get(
    "/patients/<patient_id>/identifiers",
    summary="The identifiers partners know a patient by (MRNs, by system)",
    tags=["partners"],
    operation_id="getIdentifiers",
    responses=responses(headers=["ETag"]),
)
@allow(STAFF)
def read_identifiers(patient_id: UlidPath) -> Response[IdentifiersOut]:
    org = caller(router)[0].organization_id
    item = repo.identifiers(org, patient_id)
    if item is None:
        _patient_exists(org, patient_id)
    audited_read(router, [patient_id], "identifiers.read")
    out = repo.identifiers_out(patient_id, item)
    return Response(200, "application/json", out, headers=etag(out.version))


@router.put(
    "/patients/<patient_id>/identifiers",
    summary="Replace a patient's identifiers (If-Match once written); one patient per system|value",
    tags=["partners"],
    operation_id="putIdentifiers",
    responses=responses(
        headers=["ETag"], errors={409: "Another patient holds one of them", 428: "Send If-Match"}
    ),
)
@allow(STAFF)
def write_identifiers(
    patient_id: UlidPath, body: IdentifiersIn, if_match: IfMatch = None
) -> Response[IdentifiersOut]:
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    item = repo.identifiers(org, patient_id)
    if item is not None:
        require_current(if_match, item.version, "identifiers")
    old = {i.token for i in (item.identifiers() if item else [])}
    new = {i.token for i in body.identifiers}
    change = sched.Change(actor, now)
    sched.active_patient(change, org, patient_id)
    written = repo.IdentifiersItem(
        keys.patient_pk(org, patient_id),
        keys.IDENTIFIERS_SK,
        body=json.dumps([i.model_dump() for i in body.identifiers]),
    )
    if item is not None:
        written.version = item.version
    change.put("identifiers", written)
    for token in new - old:
        change.put("claim", repo.claim(org, token, patient_id), repo.IdentClaim.PK.does_not_exist())
    for token in old - new:
        change.delete("release", repo.claim(org, token, patient_id), repo.IdentClaim.patient_id == patient_id)
    change.audit.append((patient_id, "identifiers.write"))
    try:
        change.commit()
    except Cancelled as cancelled:
        if "claim" in cancelled.failed:
            raise Conflict("Another patient holds one of these identifiers.", conflict="identifier") from None
        if "patient" in cancelled.failed:
            raise NotFound("No patient with this id.") from None
        raise Conflict("The identifiers changed since you read them; read them again.") from None
    out = IdentifiersOut(
        patient_id=patient_id, version=(item.version or 0) + 1 if item else 1, identifiers=body.identifiers
    )
    return Response(200, "application/json", out, headers=etag(out.version))


# ---------------------------------------------------------------- the partner inbox


def _inbox(org: str, item_id: str) -> repo.InboxItem:
    try:
        return repo.InboxItem.get(keys.inbox_pk(org, item_id), keys.INBOX_SK, consistent_read=True)
    except repo.InboxItem.DoesNotExist:
        raise NotFound("No inbox item with this id.") from None


@router.get(
    "/partner-inbox",
    summary="What partners sent that waits for staff (unmatched patients, conflicts), oldest first",
    tags=["partners"],
    operation_id="listPartnerInbox",
)
@allow(STAFF)
def list_inbox(limit: Limit = 50, cursor: Cursor = None) -> Page[InboxItemOut]:
    org = caller(router)[0].organization_id
    pk = keys.open_inbox_pk(org)
    items, next_cursor = _page(
        lambda **kw: repo.InboxItem.gsi1.query(pk, **kw),
        "partner-inbox",
        {"GSI1PK": pk},
        ("GSI1PK", "GSI1SK", "PK", "SK"),
        org,
        limit,
        cursor,
    )
    return Page[InboxItemOut](
        items=[i.record() for i in items if isinstance(i, repo.InboxItem)], next_cursor=next_cursor
    )


def _resolve(
    org: str, item: repo.InboxItem, record: InboxItemOut, subject: str, patient_id: str | None
) -> InboxItemOut:
    """Close the inbox item and queue its delivery again: the processor applies what it now can (a
    resource already applied is a repeat and changes nothing)."""
    now = clock.now()
    done = record.model_copy(
        update={
            "status": InboxStatus.MATCHED,
            "matched_patient_id": patient_id,
            "matched_at": now,
            "matched_by": subject,
        }
    )
    delivery = repo.delivery(org, record.partner_id, record.delivery_id)
    try:
        repo.inbox_item(org, done, item.version).save()
    except PutError as exc:
        if not lost_condition(exc):
            raise
        raise Conflict("The inbox item changed since you read it; read it again.", conflict="inbox") from None
    if delivery is not None and delivery.record().status is not DeliveryStatus.QUEUED:
        _requeue(org, record.partner_id, delivery, delivery.record())
    return done


@router.post(
    "/partner-inbox/<item_id>/match",
    summary="Match an unmatched patient: the identifiers become the patient's, and the delivery is processed",
    tags=["partners"],
    operation_id="matchInboxItem",
    responses=responses(
        errors={409: "Done already, another patient holds the identifier, or not an unmatched patient"}
    ),
)
@allow(STAFF)
def match(item_id: UlidPath, body: MatchIn) -> InboxItemOut:
    principal, actor = caller(router)
    org = principal.organization_id
    item = _inbox(org, item_id)
    record = item.record()
    if record.status is not InboxStatus.OPEN or record.reason != "unmatched-patient":
        raise Conflict("This inbox item is not an open unmatched patient.", conflict="inbox")
    held = repo.identifiers(org, body.patient_id)
    current = held.identifiers() if held else []
    systems = {i.system for i in current}
    added = [i for i in record.identifiers if i.system not in systems]
    if len(added) < len(record.identifiers) and not all(i in current for i in record.identifiers):
        raise Conflict("The patient already has another identifier in this system.", conflict="identifier")
    change = sched.Change(actor, clock.now())
    sched.active_patient(change, org, body.patient_id)
    written = repo.IdentifiersItem(
        keys.patient_pk(org, body.patient_id),
        keys.IDENTIFIERS_SK,
        body=json.dumps([i.model_dump() for i in [*current, *added]]),
    )
    if held is not None:
        written.version = held.version
    change.put("identifiers", written)
    for identifier in added:
        change.put(
            "claim", repo.claim(org, identifier.token, body.patient_id), repo.IdentClaim.PK.does_not_exist()
        )
    change.audit.append((body.patient_id, "identifiers.write"))
    try:
        change.commit()
    except Cancelled as cancelled:
        if "patient" in cancelled.failed:
            raise invalid("patient_id", "no active patient with this id") from None
        raise Conflict(
            "Another patient holds this identifier, or the patient's changed.", conflict="identifier"
        ) from None
    return _resolve(org, item, record, principal.subject, body.patient_id)


@router.post(
    "/partner-inbox/<item_id>/retry",
    summary="Process an appointment conflict's delivery again (after freeing the time)",
    tags=["partners"],
    operation_id="retryInboxItem",
    responses=responses(errors={409: "Done already, or not an appointment conflict"}),
)
@allow(STAFF)
def retry(item_id: UlidPath) -> InboxItemOut:
    principal, _ = caller(router)
    org = principal.organization_id
    item = _inbox(org, item_id)
    record = item.record()
    if record.status is not InboxStatus.OPEN or record.reason != "appointment-conflict":
        raise Conflict("This inbox item is not an open appointment conflict.", conflict="inbox")
    return _resolve(org, item, record, principal.subject, None)


# ---------------------------------------------------------------- results and encounters


@router.get(
    "/patients/<patient_id>/results",
    summary="A patient's lab results, newest first (a patient reads their own)",
    tags=["results"],
    operation_id="listResults",
)
@allow(STAFF, Role.PATIENT)
def list_results(
    patient_id: UlidPath, limit: Limit = 50, cursor: Cursor = None
) -> Page[ResultOut] | Page[ResultPatientView]:
    principal, _ = caller(router)
    principal.require_patient(patient_id)
    items, next_cursor = _patient_list(repo.ResultItem, keys.patient_results_pk, patient_id, limit, cursor)
    records = [i.record() for i in items]
    if principal.is_patient:
        return Page[ResultPatientView](
            items=[ResultPatientView.of(r) for r in records], next_cursor=next_cursor
        )
    return Page[ResultOut](items=records, next_cursor=next_cursor)


def _patient_list(
    model: Any, partition: Any, patient_id: str, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """A page of a patient's results or encounters (GSI1, newest first), audited, 404 for a patient
    that is not the caller's (:func:`shared.http.caller.require_parent`)."""
    org = caller(router)[0].organization_id
    pk = partition(org, patient_id)
    items, next_cursor = _page(
        lambda **kw: model.gsi1.query(pk, scan_index_forward=False, **kw),
        f"{model.__name__}:patient",
        {"GSI1PK": pk},
        ("GSI1PK", "GSI1SK", "PK", "SK"),
        org,
        limit,
        cursor,
    )
    require_parent(bool(items), cursor, sched.Patient, sched.patient_key(org, patient_id), "patient")
    if items:
        kind = "result" if model is repo.ResultItem else "encounter"
        audited_read(router, [patient_id], f"{kind}.read")
    return items, next_cursor


@router.post(
    "/patients/<patient_id>/results/<result_id>/acknowledge",
    summary="A clinician has reviewed the result (closes its review tasks)",
    tags=["results"],
    operation_id="acknowledgeResult",
    responses=responses(headers=["ETag"], errors={409: "Reviewed already, or changed since read"}),
)
@allow(*CLINICIANS)
def acknowledge(patient_id: UlidPath, result_id: UlidPath, if_match: IfMatch = None) -> Response[ResultOut]:
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    try:
        item = repo.ResultItem.get(keys.result_pk(org, result_id), keys.RESULT_SK, consistent_read=True)
    except repo.ResultItem.DoesNotExist:
        item = None
    if item is None or item.patient_id != patient_id:
        raise NotFound("No result with this id for this patient.")
    if if_match is not None:
        require_current(if_match, item.version, "result")
    record = item.record()
    if record.acknowledged_at is not None:
        raise Conflict("The result was reviewed already.", conflict="result")
    done = record.model_copy(update={"acknowledged_at": now, "acknowledged_by": principal.subject})
    change = sched.Change(actor, now)
    written = repo.ResultItem(
        item.PK,
        item.SK,
        patient_id=patient_id,
        body=done.model_dump_json(exclude={"version"}),
        GSI1PK=item.GSI1PK,
        GSI1SK=item.GSI1SK,
    )
    written.version = item.version
    change.put("result", written)
    change.audit.append((patient_id, "result.acknowledge"))
    change.events.append(
        ResultAcknowledged(
            organization_id=org,
            occurred_at=now,
            patient_id=patient_id,
            result_id=result_id,
            partner_id=record.partner_id,
            flag=record.flag,
            corrected=record.corrected,
        )
    )
    try:
        change.commit()
    except Cancelled:
        raise Conflict("The result changed since you read it; read it again.", conflict="result") from None
    out = done.model_copy(update={"version": (item.version or 0) + 1})
    return Response(200, "application/json", out, headers=etag(out.version))


@router.get(
    "/patients/<patient_id>/encounters",
    summary="A patient's hospital encounters partners told us about, newest first",
    tags=["results"],
    operation_id="listEncounters",
)
@allow(STAFF)
def list_encounters(patient_id: UlidPath, limit: Limit = 50, cursor: Cursor = None) -> Page[EncounterOut]:
    items, next_cursor = _patient_list(
        repo.EncounterItem, keys.patient_encounters_pk, patient_id, limit, cursor
    )
    return Page[EncounterOut](items=[i.record() for i in items], next_cursor=next_cursor)


app = make_resolver(router)
handler = make_handler(app)
