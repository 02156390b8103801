"""Every key in the single table is built here, and nowhere else.

Rules (ARCHITECTURE.md section 3):
- every partition key starts with ``ORG#<organization>``: nothing is readable across tenants by
  accident, because no builder can make a key without an organization;
- sort-key prefixes separate entity types inside a partition; the ``entity`` attribute records the
  type but is never the only thing a query relies on;
- ids that go into keys are validated (:func:`part`): a ``#`` in a token claim or path parameter
  can't shift a key into another entity's space.

Access patterns (each endpoint's pattern and the call that serves it; areas add theirs here):

- organization profile (``GET /me``): GetItem ``ORG#<org>`` / ``PROFILE``
- outbox event: put in the TransactWriteItems of the change it reports, read only by the stream relay:
  ``ORG#<org>#OUTBOX#<event id>`` / ``EVENT``
- idempotency record (Powertools): ``ORG#<org>#IDEMPOTENCY`` / ``<function>#<hash>``
- a patient (``GET /patients/{id}``): GetItem ``ORG#<org>#PATIENT#<id>`` / ``PROFILE``
- register a patient: one TransactWriteItems: the patient, its phone entry, its duplicate signatures,
  its audit entry and its outbox event
- probable duplicate (same birth date and name, or same phone and birth date): a condition in that
  transaction on ``ORG#<org>#DUP#<kind>#<hash>`` / ``SIG``
- search by name prefix: Query GSI1 ``ORG#<org>#PATIENTS`` / begins_with ``NAME#<family given>``
- search by birth date: Query GSI2 ``ORG#<org>#DOB#<date>`` / ``PATIENT#<id>``
- search by phone: Query ``ORG#<org>#PHONE#<digits>`` / ``PATIENT#<id>`` (+ BatchGetItem)
- assessments, coverage (history, newest first): Query ``ORG#<org>#PATIENT#<id>`` / begins_with
  ``ASSESSMENT#`` or ``COVERAGE#``
- my panel: Query ``ORG#<org>#PANEL#<staff>`` / ``PATIENT#<id>`` (+ BatchGetItem)
- a patient's audit trail: Query ``ORG#<org>#AUDIT#PATIENT#<id>`` / ``<at>#<entry id>``

Indexes: ``GSI1`` (``GSI1PK``/``GSI1SK``) and ``GSI2`` (``GSI2PK``/``GSI2SK``) are overloaded:
each entity documents above what it puts there. TTL attribute: ``ttl`` (epoch seconds; advisory,
reads must filter expired items themselves).
"""

from __future__ import annotations

import re

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


def part(value: str) -> str:
    """A key component: refuses anything that could break out of its slot."""
    if not _PART.fullmatch(value):
        raise ValueError("invalid key component")
    return value


def org_pk(org: str) -> str:
    return f"ORG#{part(org)}"


ORG_PROFILE_SK = "PROFILE"


def outbox_pk(org: str, event_id: str) -> str:
    return f"{org_pk(org)}#OUTBOX#{part(event_id)}"


OUTBOX_SK = "EVENT"


def idempotency_pk(org: str) -> str:
    return f"{org_pk(org)}#IDEMPOTENCY"


PROFILE_SK = "PROFILE"


def patient_pk(org: str, patient_id: str) -> str:
    return f"{org_pk(org)}#PATIENT#{part(patient_id)}"


def patients_by_name_pk(org: str) -> str:
    return f"{org_pk(org)}#PATIENTS"


def patient_name_sk(search_name: str, patient_id: str) -> str:
    return f"NAME#{search_name}#{part(patient_id)}"


def patients_by_birth_date_pk(org: str, birth_date: str) -> str:
    return f"{org_pk(org)}#DOB#{part(birth_date)}"


def patients_by_phone_pk(org: str, phone: str) -> str:
    return f"{org_pk(org)}#PHONE#{part(phone.lstrip('+'))}"


def patient_sk(patient_id: str) -> str:
    return f"PATIENT#{part(patient_id)}"


def duplicate_pk(org: str, kind: str, digest: str) -> str:
    return f"{org_pk(org)}#DUP#{part(kind)}#{part(digest)}"


DUPLICATE_SK = "SIG"


def assessment_sk(assessment_id: str) -> str:
    return f"ASSESSMENT#{part(assessment_id)}"


ASSESSMENT_PREFIX = "ASSESSMENT#"


def coverage_sk(coverage_id: str) -> str:
    return f"COVERAGE#{part(coverage_id)}"


COVERAGE_PREFIX = "COVERAGE#"


def panel_pk(org: str, staff_id: str) -> str:
    return f"{org_pk(org)}#PANEL#{part(staff_id)}"


def audit_pk(org: str, patient_id: str) -> str:
    return f"{org_pk(org)}#AUDIT#PATIENT#{part(patient_id)}"


def audit_sk(at: str, entry_id: str) -> str:
    return f"{part(at)}#{part(entry_id)}"
