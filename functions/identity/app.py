"""Identity area: ``GET /health`` (no token) and ``GET /me`` (the caller, from the token)."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from shared.data.models import OrganizationProfile
from shared.http.auth import EVERYONE, Role, allow, principal_of, public
from shared.http.resolver import make_handler, make_resolver

router = APIGatewayHttpRouter()


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Organization(BaseModel):
    id: str
    name: str | None = None
    time_zone: str | None = None


class Me(BaseModel):
    subject: str
    roles: list[Role]
    organization: Organization
    patient_id: str | None = None


@router.get(
    "/health",
    summary="Liveness",
    tags=["identity"],
    operation_id="getHealth",
)
@public
def health() -> Health:
    return Health()


@router.get(
    "/me",
    summary="Who the caller is",
    tags=["identity"],
    operation_id="getMe",
)
@allow(EVERYONE)
def me() -> Me:
    principal = principal_of(router)
    profile = OrganizationProfile.find(principal.organization_id)
    return Me(
        subject=principal.subject,
        roles=sorted(principal.roles),
        organization=Organization(
            id=principal.organization_id,
            name=profile.name if profile else None,
            time_zone=profile.time_zone if profile else None,
        ),
        patient_id=principal.patient_id,
    )


app = make_resolver(router)
handler = make_handler(app)
