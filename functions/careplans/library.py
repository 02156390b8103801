"""The two catalogs an admin defines by code over the built-in ones (care-plan templates, education
materials): one PUT and one GET for both."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from shared import clock
from shared.data import careplans as repo
from shared.data import core
from shared.data.tx import Cancelled
from shared.errors import Conflict, NotFound
from shared.http.caller import caller, invalid
from shared.http.contract import etag, require_current


def put_library(
    library: repo.Library[Any], router: APIGatewayHttpRouter, code: str, body: Any, if_match: str | None
) -> Response[Any]:
    """``PUT /care-plan-templates/{code}`` and ``PUT /education/{code}``: the organization's version of
    ``code`` (If-Match optional; stale is a 409), replacing a built-in one for it."""
    principal, actor = caller(router)
    org, now = principal.organization_id, clock.now()
    for n, activity in enumerate(getattr(body, "activities", [])):
        if activity.material is not None and repo.MATERIALS.get(org, activity.material) is None:
            raise invalid(f"activities.{n}.material", "no material with this code in the catalog")
    stored = library.get_item(org, code)
    version = stored.version if stored is not None else 0
    if if_match is not None:
        require_current(if_match, version, library.kind)
    record = library.record_type(**body.model_dump(), code=code, version=version + 1, updated_at=now)
    change = core.Change(actor, now)
    library.put(change, org, record, stored)
    try:
        change.commit()
    except Cancelled:
        raise Conflict("It changed meanwhile; read it again.") from None
    return Response(200, "application/json", record, headers=etag(record.version))


def get_library(library: repo.Library[Any], router: APIGatewayHttpRouter, code: str) -> Response[Any]:
    record = library.get(caller(router)[0].organization_id, code)
    if record is None:
        raise NotFound(f"Nothing in the {library.kind} catalog with this code.")
    return Response(200, "application/json", record, headers=etag(record.version))
