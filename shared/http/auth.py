"""Who is calling, and what they may touch. Deny by default.

Claims arrive in ``requestContext.authorizer.jwt.claims`` (API Gateway's JWT authorizer has
already checked signature, issuer, audience and expiry). Cognito gives:

| claim               | meaning                                   |
|---------------------|-------------------------------------------|
| ``sub``             | the user                                  |
| ``custom:org``      | the organization (tenant) the user is in  |
| ``cognito:groups``  | roles; API Gateway flattens the list to ``"[a b]"`` |
| ``custom:patient_id`` | for a patient user, their patient record |

Every route declares who may call it with :func:`allow` or :func:`public`; the :func:`authorize`
middleware answers 404 for any route that declared nothing and any caller outside the declaration.
Object-level checks (which patient) use :meth:`Principal.require_patient`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter
from pydantic import BaseModel, ConfigDict

from shared.errors import Forbidden, NotFound, Unauthorized

CLAIM_ORG = "custom:org"
CLAIM_ROLES = "cognito:groups"
CLAIM_PATIENT = "custom:patient_id"

# Ids from tokens end up inside keys: no '#', no spaces, bounded.
_TOKEN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


class Role(StrEnum):
    COORDINATOR = "coordinator"
    NURSE = "nurse"
    PHYSICIAN = "physician"
    ADMIN = "admin"
    PATIENT = "patient"


STAFF: frozenset[Role] = frozenset({Role.COORDINATOR, Role.NURSE, Role.PHYSICIAN, Role.ADMIN})
EVERYONE: frozenset[Role] = frozenset(Role)


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    organization_id: str
    roles: frozenset[Role]
    patient_id: str | None = None

    @property
    def is_patient(self) -> bool:
        return Role.PATIENT in self.roles

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF)

    def can_see_patient(self, patient_id: str) -> bool:
        """Staff see their organization's patients (the organization is in every key they read);
        a patient sees only their own record."""
        if self.is_patient:
            return patient_id == self.patient_id
        return self.is_staff

    def require_patient(self, patient_id: str) -> None:
        """404, not 403: a caller must not learn that someone else's record exists."""
        if not self.can_see_patient(patient_id):
            raise NotFound("No patient with this id.")


def parse_roles(value: Any) -> frozenset[Role]:
    """Roles from a claim: a JSON list, API Gateway's ``"[a b]"``, or ``"a,b"``. Unknown names are
    ignored (Cognito groups the API doesn't know grant nothing)."""
    if isinstance(value, str):
        names = value.strip().strip("[]").replace(",", " ").split()
    elif isinstance(value, list | tuple):
        names = [str(v) for v in value]
    else:
        names = []
    known = {r.value for r in Role}
    return frozenset(Role(n) for n in names if n in known)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Raise :class:`Forbidden` unless the claims name a user, an organization and a role set that
    makes sense (a patient user is only a patient, and is linked to a patient record). A 403, not a
    401: API Gateway accepted the token, and only it answers 401 (``{"message": "Unauthorized"}``), so
    a client has one 401 to handle; this account is signed in but not set up for Careloop."""
    subject, org = claims.get("sub"), claims.get(CLAIM_ORG)
    if not isinstance(subject, str) or not _TOKEN_ID.fullmatch(subject):
        raise Forbidden("The token has no valid subject.")
    if not isinstance(org, str) or not _TOKEN_ID.fullmatch(org):
        raise Forbidden("The token names no valid organization.")
    roles = parse_roles(claims.get(CLAIM_ROLES))
    patient_id = claims.get(CLAIM_PATIENT) or None
    if Role.PATIENT in roles:
        if roles != {Role.PATIENT}:
            raise Forbidden("A patient account cannot also hold staff roles.")
        if not isinstance(patient_id, str) or not _TOKEN_ID.fullmatch(patient_id):
            raise Forbidden("This patient account is not linked to a patient record.")
    else:
        patient_id = None
    return Principal(subject=subject, organization_id=org, roles=roles, patient_id=patient_id)


def claims_of(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    jwt = authorizer.get("jwt") or {}
    claims = jwt.get("claims")
    return claims if isinstance(claims, Mapping) else None


# ---------------------------------------------------------------- route policies


@dataclass(frozen=True)
class Access:
    roles: frozenset[Role] | None  # None: public (no token needed)

    @property
    def is_public(self) -> bool:
        return self.roles is None


_ACCESS_ATTR = "__careloop_access__"
F = TypeVar("F", bound=Callable[..., Any])


def allow(*roles: Role | frozenset[Role]) -> Callable[[F], F]:
    """Declare which roles may call a route: ``@allow(STAFF)``, ``@allow(Role.ADMIN)``,
    ``@allow(STAFF, Role.PATIENT)``. Put it under the router's decorator."""
    allowed: set[Role] = set()
    for r in roles:
        allowed |= {r} if isinstance(r, Role) else set(r)
    if not allowed:
        raise ValueError("allow() needs at least one role; use @public for unauthenticated routes")

    def mark(fn: F) -> F:
        setattr(fn, _ACCESS_ATTR, Access(frozenset(allowed)))
        return fn

    return mark


def public(fn: F) -> F:
    """Declare a route that needs no token (health, webhooks that check their own signature)."""
    setattr(fn, _ACCESS_ATTR, Access(None))
    return fn


def access_of(fn: Callable[..., Any]) -> Access | None:
    return getattr(fn, _ACCESS_ATTR, None)


def authorize(app: ApiGatewayResolver, next_middleware: Callable[[ApiGatewayResolver], Response]) -> Response:
    """Global middleware: enforce the matched route's declaration; no declaration, no entry."""
    route = app.context.get("_route")
    access = access_of(route.func) if route is not None else None
    if access is None:
        # An unknown path (Powertools' not-found route) or a route that forgot to declare access:
        # either way nothing runs. (tests/integration/test_routes.py keeps the second from shipping.)
        raise NotFound("No such route: check the method and path.")
    if access.is_public:
        return next_middleware(app)
    claims = claims_of(app.current_event.raw_event)
    if claims is None:
        raise Unauthorized("Send a bearer token in the Authorization header.")
    principal = principal_from_claims(claims)
    if not principal.roles & (access.roles or frozenset()):
        raise Forbidden("Your role may not call this route.")
    app.append_context(principal=principal)
    return next_middleware(app)


def principal_of(app: BaseRouter) -> Principal:
    """The caller of the current (authorized) route."""
    principal = app.context.get("principal")
    if not isinstance(principal, Principal):
        raise Unauthorized("Send a bearer token in the Authorization header.")
    return principal
