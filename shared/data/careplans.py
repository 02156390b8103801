"""Care plans, their templates, the education catalog and assignments in the single table. Keys and
access patterns: :mod:`shared.data.keys`.

- A plan is one item (its problems, goals, activities and the last changes' history: one GetItem
  reads it all), versioned. GSI1 holds live plans by review date; GSI2 a patient's plans, active
  first (the patient's own view is one Query).
- The patient's live social-needs plan has a pointer, put on condition: two needs from one screening,
  handled at once, add to one plan.
- Templates and materials an organization defines are items (:class:`Library`); Careloop's built-in
  ones (JSON beside this module, in ``library/``) answer for codes the organization has not defined.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from pynamodb.attributes import UnicodeAttribute, VersionAttribute

from shared.clock import isoformat
from shared.data import keys
from shared.data.core import Change
from shared.data.table import CareModel
from shared.domain.careplans import LIVE, CarePlanOut, CarePlanTemplateOut, PlanStatus
from shared.domain.education import AssignmentOut, MaterialOut

LIBRARY = Path(__file__).parent / "library"
R = TypeVar("R", CarePlanTemplateOut, MaterialOut)
RANK = {
    PlanStatus.ACTIVE: 1,
    PlanStatus.ON_HOLD: 2,
    PlanStatus.DRAFT: 3,
    PlanStatus.COMPLETED: 4,
    PlanStatus.REVOKED: 5,
}


def _json(record: Any, exclude: set[str] | None = None) -> str:
    return json.dumps(record.model_dump(mode="json", exclude=exclude or {"version"}), separators=(",", ":"))


class CarePlanItem(CareModel, discriminator="CarePlan"):
    plan_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    status = UnicodeAttribute()
    category = UnicodeAttribute()
    body = UnicodeAttribute()  # JSON of CarePlanOut (its version is the item's)
    version = VersionAttribute()

    def record(self) -> CarePlanOut:
        return CarePlanOut.model_validate({**json.loads(self.body), "version": self.version or 0})


class SocialPlanItem(CareModel, discriminator="SocialPlan"):
    plan_id = UnicodeAttribute()


class TemplateItem(CareModel, discriminator="CarePlanTemplate"):
    code = UnicodeAttribute()
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> CarePlanTemplateOut:
        return CarePlanTemplateOut.model_validate({**json.loads(self.body), "version": self.version or 0})


class MaterialItem(CareModel, discriminator="EducationMaterial"):
    code = UnicodeAttribute()
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> MaterialOut:
        return MaterialOut.model_validate({**json.loads(self.body), "version": self.version or 0})


class AssignmentItem(CareModel, discriminator="EducationAssignment"):
    assignment_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    body = UnicodeAttribute()
    version = VersionAttribute()

    def record(self) -> AssignmentOut:
        return AssignmentOut.model_validate({**json.loads(self.body), "version": self.version or 0})


# ---------------------------------------------------------------- plans


def plan_key(org: str, plan_id: str) -> tuple[str, str]:
    return keys.careplan_pk(org, plan_id), keys.CAREPLAN_SK


def social_key(org: str, patient_id: str) -> tuple[str, str]:
    return keys.social_plan_pk(org, patient_id), keys.SOCIAL_PLAN_SK


def plan_item(org: str, record: CarePlanOut, version: int | None) -> CarePlanItem:
    item = CarePlanItem(
        *plan_key(org, record.id),
        plan_id=record.id,
        patient_id=record.patient_id,
        status=record.status.value,
        category=record.category.value,
        body=_json(record),
        GSI2PK=keys.patient_careplans_pk(org, record.patient_id),
        GSI2SK=f"{RANK[record.status]}#{keys.timed_sk(isoformat(record.created_at), record.id)}",
    )
    if record.status in LIVE:  # sparse: only live plans are reviewed
        item.GSI1PK = keys.careplans_review_pk(org)
        item.GSI1SK = keys.timed_sk(record.review_date.isoformat(), record.id)
    if version is not None:
        item.version = version
    return item


def get_plan(org: str, plan_id: str) -> CarePlanItem | None:
    try:
        return CarePlanItem.get(*plan_key(org, plan_id), consistent_read=True)
    except CarePlanItem.DoesNotExist:
        return None


def put_plan(change: Change, org: str, record: CarePlanOut, item: CarePlanItem | None, action: str) -> None:
    """``record`` as the next version of ``item`` (none: a new plan); a stale write fails the
    transaction (label ``plan``)."""
    if item is None:
        change.put("plan", plan_item(org, record, None), CarePlanItem.PK.does_not_exist())
    else:
        change.put("plan", plan_item(org, record, item.version))
    change.audit.append((record.patient_id, f"careplan.{action}"))


def patient_plans(
    org: str, patient_id: str, limit: int, start: dict[str, Any] | None, active_only: bool = False
) -> tuple[list[CarePlanItem], Any]:
    """One Query: the patient's plans, active first (``active_only``: nothing else)."""
    condition = CarePlanItem.GSI2SK.startswith(f"{RANK[PlanStatus.ACTIVE]}#") if active_only else None
    result = CarePlanItem.gsi2.query(
        keys.patient_careplans_pk(org, patient_id), condition, limit=limit, last_evaluated_key=start
    )
    return [i for i in result if isinstance(i, CarePlanItem)], result.last_evaluated_key


def live_plans(org: str, patient_id: str) -> list[CarePlanItem]:
    """The patient's active and on-hold plans (what their appointments, tasks and referrals move):
    one Query."""
    upper = f"{RANK[PlanStatus.ON_HOLD]}#~"
    condition = CarePlanItem.GSI2SK.between(f"{RANK[PlanStatus.ACTIVE]}#", upper)
    result = CarePlanItem.gsi2.query(keys.patient_careplans_pk(org, patient_id), condition)
    return [i for i in result if isinstance(i, CarePlanItem)]


def review_page(
    org: str, through: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[CarePlanItem], Any]:
    """One Query: live plans whose review date is on or before ``through`` (ISO date), oldest first."""
    result = CarePlanItem.gsi1.query(
        keys.careplans_review_pk(org),
        f"{through}#~" >= CarePlanItem.GSI1SK,
        limit=limit,
        last_evaluated_key=start,
    )
    return [i for i in result if isinstance(i, CarePlanItem)], result.last_evaluated_key


def social_plan_id(org: str, patient_id: str) -> str | None:
    try:
        return str(SocialPlanItem.get(*social_key(org, patient_id), consistent_read=True).plan_id)
    except SocialPlanItem.DoesNotExist:
        return None


def claim_social(change: Change, org: str, record: CarePlanOut) -> None:
    """``record`` becomes the patient's social-needs plan, only if they have none (label ``social``)."""
    pointer = SocialPlanItem(*social_key(org, record.patient_id), plan_id=record.id)
    change.put("social", pointer, SocialPlanItem.PK.does_not_exist())


def release_social(change: Change, org: str, record: CarePlanOut) -> None:
    """An ended social-needs plan is no longer the one screens add to."""
    pointer = SocialPlanItem(*social_key(org, record.patient_id))
    change.delete("social", pointer, SocialPlanItem.plan_id == record.id)


# ---------------------------------------------------------------- templates and materials


@cache
def _built_in(kind: str) -> dict[str, dict[str, Any]]:
    """Careloop's built-in templates or materials, by code (read on first use, never at import)."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((LIBRARY / kind).glob("*.json"))}


@dataclass(frozen=True)
class Library(Generic[R]):
    """A catalog an organization defines by code (care-plan templates, education materials), over
    Careloop's built-in one: the organization's item of a code replaces the built-in one for it."""

    kind: str  # its folder in library/
    model: type[TemplateItem] | type[MaterialItem]
    record_type: type[R]
    pk: Callable[[str, str], str]
    sk: str
    list_pk: Callable[[str], str]

    def built_in(self, code: str) -> R | None:
        body = _built_in(self.kind).get(code)
        if body is None:
            return None
        return self.record_type.model_validate({**body, "code": code, "version": 0, "built_in": True})

    def get_item(self, org: str, code: str) -> Any:
        try:
            return self.model.get(self.pk(org, code), self.sk, consistent_read=True)
        except self.model.DoesNotExist:
            return None

    def get(self, org: str, code: str) -> R | None:
        """The organization's of this code, else the built-in one, else ``None``."""
        item = self.get_item(org, code)
        return item.record() if item is not None else self.built_in(code)

    def all(self, org: str) -> list[R]:
        """The organization's and the built-in ones it has not replaced, by code."""
        own = {i.code: i.record() for i in self.model.gsi1.query(self.list_pk(org))}
        built = {c: self.built_in(c) for c in _built_in(self.kind) if c not in own}
        merged = {**{c: r for c, r in built.items() if r is not None}, **own}
        return [merged[c] for c in sorted(merged)]

    def put(self, change: Change, org: str, record: Any, stored: Any) -> None:
        """``record`` as the next version of ``stored`` (none: the first; label ``library``)."""
        item = self.model(
            self.pk(org, record.code),
            self.sk,
            code=record.code,
            body=_json(record, {"version", "built_in"}),
            GSI1PK=self.list_pk(org),
            GSI1SK=record.code,
        )
        if stored is not None:
            item.version = stored.version
        change.put("library", item, None if stored is not None else self.model.PK.does_not_exist())


TEMPLATES = Library(
    "templates",
    TemplateItem,
    CarePlanTemplateOut,
    keys.careplan_template_pk,
    keys.CAREPLAN_TEMPLATE_SK,
    keys.careplan_templates_pk,
)
MATERIALS = Library(
    "education", MaterialItem, MaterialOut, keys.material_pk, keys.MATERIAL_SK, keys.materials_pk
)


def get_template(org: str, code: str) -> CarePlanTemplateOut | None:
    return TEMPLATES.get(org, code)


def get_material(org: str, code: str) -> MaterialOut | None:
    return MATERIALS.get(org, code)


# ---------------------------------------------------------------- assignments


def assignment_key(org: str, assignment_id: str) -> tuple[str, str]:
    return keys.assignment_pk(org, assignment_id), keys.ASSIGNMENT_SK


def assignment_item(org: str, record: AssignmentOut, version: int | None) -> AssignmentItem:
    item = AssignmentItem(
        *assignment_key(org, record.id),
        assignment_id=record.id,
        patient_id=record.patient_id,
        body=_json(record),
        GSI2PK=keys.patient_education_pk(org, record.patient_id),
        GSI2SK=keys.timed_sk(isoformat(record.assigned_at), record.id),
    )
    if version is not None:
        item.version = version
    return item


def get_assignment(org: str, assignment_id: str) -> AssignmentItem | None:
    try:
        return AssignmentItem.get(*assignment_key(org, assignment_id), consistent_read=True)
    except AssignmentItem.DoesNotExist:
        return None


def put_assignment(
    change: Change, org: str, record: AssignmentOut, item: AssignmentItem | None, action: str
) -> AssignmentOut:
    written = record if item is None else record.model_copy(update={"version": (item.version or 0) + 1})
    if item is None:
        change.put("assignment", assignment_item(org, written, None), AssignmentItem.PK.does_not_exist())
    else:
        change.put("assignment", assignment_item(org, written, item.version))
    change.audit.append((record.patient_id, f"education.{action}"))
    return written


def patient_assignments(
    org: str, patient_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[AssignmentItem], Any]:
    result = AssignmentItem.gsi2.query(
        keys.patient_education_pk(org, patient_id),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start,
    )
    return [i for i in result if isinstance(i, AssignmentItem)], result.last_evaluated_key
