"""What every intake route needs: the caller as an audit actor, the patient they may touch, audited reads."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.audit import record_access
from shared.data import patients as repo
from shared.errors import NotFound, Unprocessable
from shared.http.auth import Principal, principal_of


def caller(router: APIGatewayHttpRouter) -> tuple[Principal, repo.Actor]:
    principal = principal_of(router)
    ctx = router.current_event.request_context
    # writes record where they came from; a read's event carries its request id instead, which the
    # API's access log (with the source IP) is keyed by: an IP address is an identifier, not event data
    return principal, repo.Actor(
        principal.organization_id, principal.subject, ctx.request_id, ctx.http.source_ip
    )


def request_id(router: APIGatewayHttpRouter) -> str | None:
    return router.current_event.request_context.request_id


def patient_for(principal: Principal, patient_id: str) -> repo.Patient:
    """The patient, if this caller may touch it: a patient only their own, staff their organization's
    (the organization is part of the key). Otherwise 404, never 403: existence does not leak."""
    principal.require_patient(patient_id)
    try:
        item = repo.get(principal.organization_id, patient_id)
    except ValueError:  # an id that cannot be a key
        item = None
    if item is None:
        raise NotFound("No patient with this id.")
    return item


def audited_read(router: APIGatewayHttpRouter, patient_ids: list[str], action: str) -> None:
    record_access(principal_of(router), patient_ids, action, request_id(router))


def invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(
        f"Fix the invalid field(s) and send again: body.{field}.",
        errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )
