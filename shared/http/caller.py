"""What every route needs from the request: the caller as an audit actor, audited reads, and the one
shape of a field-level 422 that domain checks raise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.audit import record_access
from shared.data.patients import Actor
from shared.errors import NotFound, Unprocessable
from shared.http.auth import Principal, principal_of


def caller(router: APIGatewayHttpRouter) -> tuple[Principal, Actor]:
    principal = principal_of(router)
    ctx = router.current_event.request_context
    # writes record where they came from; a read's event carries its request id instead, which the
    # API's access log (with the source IP) is keyed by: an IP address is an identifier, not event data
    return principal, Actor(principal.organization_id, principal.subject, ctx.request_id, ctx.http.source_ip)


def request_id(router: APIGatewayHttpRouter) -> str | None:
    return router.current_event.request_context.request_id


def audited_read(router: APIGatewayHttpRouter, patient_ids: list[str], action: str) -> None:
    record_access(principal_of(router), list(dict.fromkeys(patient_ids)), action, request_id(router))


def invalid(field: str, message: str, where: str = "body") -> Unprocessable:
    return Unprocessable(
        f"Fix the invalid field(s) and send again: {where}.{field}.",
        errors=[{"loc": [where, field], "msg": message, "type": "value_error"}],
    )


def require_parent(
    found: bool, cursor: str | None, model: type[Any], key: tuple[str, str], what: str
) -> None:
    """One rule for every sub-collection (a patient's appointments, referrals and waitlist entries, a
    provider's day): a parent that is not the caller's (missing, another organization's, or for a
    patient another patient's, which :meth:`Principal.require_patient` refuses before any read) is a
    404, never an empty list. Items ``found`` prove the parent: they sit in a partition of the caller's
    organization and are written only for a parent that exists there. So does a ``cursor``: sealed for
    this tenant and this partition, it is issued only after a page of items. Only an empty first page
    costs one GetItem of the parent."""
    if found or cursor:
        return
    try:
        model.get(*key)
    except model.DoesNotExist:
        raise NotFound(f"No {what} with this id.") from None


def audit_replay(router: APIGatewayHttpRouter, action: str) -> Callable[[Any], None]:
    """``on_replay`` of a create whose answer holds PHI: a replay is a read, audited as one (of the
    patient in the path)."""
    return lambda _: audited_read(router, [router.current_event.path_parameters["patient_id"]], action)


def check_period(first: Any, last: Any, max_days: int) -> None:
    """A report's ``from``-``to`` (dates, both included): ``to`` on or after ``from``, the period at
    most ``max_days`` long; a 422 on ``query.to`` otherwise (echoing neither date)."""
    if last < first or (last - first).days >= max_days:
        raise Unprocessable(
            f"`to` must be on or after `from`, and the period at most {max_days} days.",
            errors=[{"loc": ["query", "to"], "msg": "period out of range", "type": "value_error"}],
        )
