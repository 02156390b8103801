"""What scheduling routes share: ids in paths, lookups that 404 across walls, the one rule for a
sub-collection's parent, what a patient reads of an appointment, and the one mapping from a cancelled
transaction to the problem a caller can act on."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared.data import scheduling as repo
from shared.data.tx import Cancelled
from shared.domain.scheduling import AppointmentOut, AppointmentPatientView
from shared.errors import CareloopError, Conflict, NotFound
from shared.http.auth import Principal, principal_of

_CONFLICTS = {
    "slot": "That time was just taken: pick another slot from GET /availability.",
    "patient": "The patient's record changed (it may have been made inactive); read it and try again.",
    "appointment": "The appointment changed since you read it; read it again and retry.",
    "referral": "The referral changed since you read it; read it again and retry.",
    "offer": "This offer is no longer open: it was accepted, declined or has expired.",
    "entry": "The waitlist entry changed since you read it; read it again and retry.",
    "release": "The time changed hands while this was being saved; read it again and retry.",
    "authorization": "Another booking took the approval's last unit meanwhile: book again.",
    "item": "It changed since you read it; read it again and retry.",
}


def conflict(cancelled: Cancelled) -> CareloopError:
    """The first failed condition, as a 409 a front end can act on."""
    for label in cancelled.failed:
        if label in _CONFLICTS:
            return Conflict(_CONFLICTS[label], conflict=label)
    return Conflict(_CONFLICTS["item"])


def commit(change: repo.Change) -> None:
    """Write ``change``; a failed condition is the 409 that names it."""
    try:
        change.commit()
    except Cancelled as cancelled:
        raise conflict(cancelled) from None


def _visible(principal: Principal, model: type[Any], key: tuple[str, str], what: str) -> Any:
    """The item if the caller may see it (staff: their organization's, which the key holds; a
    patient: their own), else 404: another patient's does not exist for them."""
    item = repo.get_item(model, key)
    if item is None or (principal.is_patient and item.patient_id != principal.patient_id):
        raise NotFound(f"No {what} with this id.")
    return item


def appointment_for(principal: Principal, appointment_id: str) -> repo.Appointment:
    key = (repo.keys.appointment_pk(principal.organization_id, appointment_id), repo.keys.APPOINTMENT_SK)
    return _visible(principal, repo.Appointment, key, "appointment")


def entry_for(principal: Principal, entry_id: str) -> repo.WaitlistEntry:
    key = (repo.keys.waitlist_pk(principal.organization_id, entry_id), repo.keys.WAITLIST_SK)
    return _visible(principal, repo.WaitlistEntry, key, "waitlist entry")


def offer_for(principal: Principal, offer_id: str) -> repo.SlotOffer:
    key = (repo.keys.offer_pk(principal.organization_id, offer_id), repo.keys.OFFER_SK)
    return _visible(principal, repo.SlotOffer, key, "offer")


def provider_for(org: str, provider_id: str) -> repo.Provider:
    item = repo.get_item(repo.Provider, repo.provider_key(org, provider_id))
    if item is None:
        raise NotFound("No provider with this id in your organization.")
    return item


def appointment_view(principal: Principal, record: AppointmentOut) -> AppointmentOut | AppointmentPatientView:
    """Staff read the whole appointment; a patient their own view of it."""
    return AppointmentPatientView.of(record) if principal.is_patient else record


F = TypeVar("F", bound=Callable[..., Any])


def appointment_for_patients(router: APIGatewayHttpRouter) -> Callable[[F], F]:
    """For a create that returns an appointment and honours ``Idempotency-Key``: stack it between
    ``@allow`` and ``@idempotent``. The stored response is the staff record; a patient is given their
    view of whatever comes out, first response or replay, so no replay can hand a patient a staff
    view (whoever's request it replays)."""

    def decorator(fn: F) -> F:
        @functools.wraps(fn)  # keeps the signature Powertools reads (@idempotent's, with its header)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            response = fn(*args, **kwargs)
            principal = principal_of(router)
            if principal.is_patient and isinstance(response, Response):
                body = response.body
                record = body if isinstance(body, AppointmentOut) else AppointmentOut.model_validate(body)
                response.body = AppointmentPatientView.of(record)
            return response

        return wrapper  # type: ignore[return-value]

    return decorator
