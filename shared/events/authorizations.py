"""Events the authorizations area publishes through the outbox: ids and codes only (no service code,
no diagnosis, no payer, no number: a consumer that needs them reads the authorization by its id)."""

from __future__ import annotations

from shared.domain.authorizations import AlertKind, AuthAction, AuthStatus, AuthUrgency
from shared.events.models import DomainEvent

SOURCE = "careloop.authorizations"


class AuthorizationEvent(DomainEvent):
    source = SOURCE
    authorization_id: str
    patient_id: str


class AuthorizationRequested(AuthorizationEvent):
    """A draft, made by staff."""

    detail_type = "AuthorizationRequested"
    urgency: AuthUrgency


class AuthorizationMoved(AuthorizationEvent):
    """A move of its lifecycle (submitted, information asked or given, decided, appealed, expired,
    cancelled): its timer follows."""

    detail_type = "AuthorizationMoved"
    action: AuthAction
    status: AuthStatus
    on_time: bool | None = None


class AuthorizationOverdue(AuthorizationEvent):
    """The payer's decision is late (or the information it asked for): the escalation rules act."""

    detail_type = "AuthorizationOverdue"
    alert: AlertKind
    urgency: AuthUrgency


class AuthorizationUnitUsed(AuthorizationEvent):
    detail_type = "AuthorizationUnitUsed"
    appointment_id: str
    units_left: int


class VisitWithoutAuthorization(AuthorizationEvent):
    """A visit whose type needs an approval was held with none covering it (``authorization_id`` is
    the patient's latest request for the service, or empty)."""

    detail_type = "VisitWithoutAuthorization"
    appointment_id: str
