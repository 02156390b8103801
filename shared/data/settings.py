"""Versioned settings in the single table (the organization's policies, a patient's thresholds), and
the base of the items that keep a domain model's JSON in ``body``. Light on purpose: an area that
reads a policy loads this, not the records area's models."""

from __future__ import annotations

import json
from typing import Generic, TypeVar

from pydantic import BaseModel
from pynamodb.attributes import UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import PutError

from shared.data import keys
from shared.data.core import Change, get_item
from shared.data.table import CareModel
from shared.errors import Conflict

M = TypeVar("M", bound=BaseModel)


def _json(record: BaseModel, exclude: set[str] | None = None) -> str:
    return json.dumps(record.model_dump(mode="json", exclude=exclude), separators=(",", ":"))


class Body(CareModel, discriminator="RecordBody"):
    """Base of the records' items: a JSON body of a domain model."""

    body = UnicodeAttribute()

    def load(self, model: type[M]) -> M:
        return model.model_validate_json(self.body)


class SettingsItem(Body, discriminator="RecordSettings"):
    version = VersionAttribute()


# ---------------------------------------------------------------- settings (per organization, per patient)


R = TypeVar("R", bound=BaseModel)


class Settings(Generic[R]):
    """A versioned settings item: the organization's policies, a patient's thresholds. The default
    (version 0) answers until someone writes one; a write names the version it replaces."""

    def __init__(self, out: type[R], sk: str) -> None:
        self.out, self.sk = out, sk

    def key(self, org: str, patient_id: str | None = None) -> tuple[str, str]:
        return (keys.patient_pk(org, patient_id) if patient_id else keys.org_pk(org)), self.sk

    def of(self, item: SettingsItem | None) -> R:
        if item is None:
            return self.out()
        return self.out.model_validate({**json.loads(item.body), "version": item.version})

    def get(self, org: str, patient_id: str | None = None) -> tuple[R, SettingsItem | None]:
        item = get_item(SettingsItem, self.key(org, patient_id))
        return self.of(item), item

    def _item(
        self, org: str, new: BaseModel, old: SettingsItem | None, patient_id: str | None
    ) -> SettingsItem:
        item = SettingsItem(*self.key(org, patient_id), body=_json(new))
        if old is not None:
            item.version = old.version
        return item

    def put(
        self,
        change: Change,
        org: str,
        new: BaseModel,
        old: SettingsItem | None,
        patient_id: str | None = None,
    ) -> R:
        """``new`` in ``change``, on ``old``'s version (what it returns is what commits)."""
        change.put("settings", self._item(org, new, old, patient_id))
        return self.out.model_validate({**new.model_dump(), "version": (old.version or 0) + 1 if old else 1})

    def replace(self, org: str, body: BaseModel, if_match: str | None) -> R:
        """An organization's policy ``PUT``: ``body`` in place of what ``If-Match`` names (428 without
        it once one exists, 409 when stale)."""
        from shared.http.contract import require_current

        _, item = self.get(org)
        if item is not None:
            require_current(if_match, item.version, "policy")
        return self.save(org, body, item)

    def save(self, org: str, new: BaseModel, old: SettingsItem | None, patient_id: str | None = None) -> R:
        item = self._item(org, new, old, patient_id)
        try:
            item.save()
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            raise Conflict("It changed since you read it; read it again.") from None
        return self.out.model_validate({**new.model_dump(), "version": item.version})
