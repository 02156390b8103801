"""A partner's FHIR R4 delivery to the records we act on (:mod:`shared.domain.clinical`).

:func:`parse` takes the raw body: one resource, or a ``Bundle`` of type ``transaction``,
``collection`` or ``message``. The FHIR library (R4B models) checks its structure and types; we check
the codes we act on (statuses, the encounter class, the bundle type), which the library does not.
Anything wrong raises :class:`Malformed` with the FHIR path of the first problem and a code, never
the offending value (it may be PHI, and the path ends up in logs and in the delivery log).

Resources we do not process (MessageHeader, Practitioner, a Patient there only to be referenced, a
type R4B does not know, an entry without a resource) are listed in :attr:`Parsed.skipped`.

Identifying the patient: a resource's ``subject`` (an Appointment's Patient participant) carries an
``identifier`` itself, or references a Patient in the same bundle (by ``fullUrl``, ``urn:uuid:`` or
``Patient/<id>``) or a contained one (``#id``), whose identifiers are taken. Only identifiers with
both a system and a value count; never a name. A resource about no identifiable patient is
``missing-subject``.

Ids: a record's ``source_id`` is the resource's ``id``; without one (a transaction creating it) its
first business identifier as ``system|value``, else the entry's ``fullUrl``. An Observation contained
in a DiagnosticReport is ``<report id>#<its id>``, its ids being local to the report.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, NoReturn, cast

from shared.domain.clinical import (
    Coding,
    Component,
    EncounterRecord,
    ExternalAppointment,
    Incoming,
    ReportRecord,
    ResultRecord,
)
from shared.fhir import _library
from shared.fhir._library import element, resource_class
from shared.fhir.systems import LOINC, TCM_COMPLEXITY_URL, UCUM, V3_ACT_CODE, V3_INTERPRETATION

if TYPE_CHECKING:
    from fhir.resources.R4B.appointment import Appointment
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.codeableconcept import CodeableConcept
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport
    from fhir.resources.R4B.domainresource import DomainResource
    from fhir.resources.R4B.encounter import Encounter
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.reference import Reference
    from fhir.resources.R4B.resource import Resource

Problem = Literal["invalid-json", "not-fhir", "structure", "code", "unsupported-bundle", "missing-subject"]

UNKNOWN = "(unknown)"  # a resource type R4B does not know: not echoed, it is whatever the partner wrote
NO_RESOURCE = "(none)"  # an entry without a resource (a transaction's DELETE)
MAX_DEPTH = 64  # levels of JSON objects and arrays: far deeper than any real resource

# The R4 value sets of the codes we act on (required bindings the library does not check).
BUNDLE_TYPES = frozenset(
    {
        "document",
        "message",
        "transaction",
        "transaction-response",
        "batch",
        "batch-response",
        "history",
        "searchset",
        "collection",
    }
)
ACCEPTED_BUNDLES = frozenset({"transaction", "collection", "message"})
ENCOUNTER_STATUS = frozenset(
    {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
# v3 ActEncounterCode (Encounter.class is extensible: a code of another system is taken as sent)
ENCOUNTER_CLASS = frozenset(
    {"AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR"}
)
OBSERVATION_STATUS = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
REPORT_STATUS = frozenset(
    {
        "registered",
        "partial",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "appended",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
APPOINTMENT_STATUS = frozenset(
    {
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    }
)
COMPLEXITIES = frozenset({"moderate", "high"})  # TCM (the Encounter extension tcm-complexity)
HANDLED = frozenset({"Encounter", "Observation", "DiagnosticReport", "Appointment"})
# what a reference must point to: a subject may be a bare identifier; an appointment's participant
# must say it is a Patient (or a Practitioner), its identifier alone could be anyone's
SUBJECT: frozenset[str | None] = frozenset({None, "Patient"})
PATIENT: frozenset[str | None] = frozenset({"Patient"})
PRACTITIONERS: frozenset[str | None] = frozenset({"Practitioner", "PractitionerRole"})
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?")
_TYPED = re.compile(r"(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?")


class Malformed(ValueError):
    """The delivery cannot be used as sent: ``path`` is the FHIR path of the (first) problem, ``code``
    what kind it is. Neither, nor the message, holds a value from the delivery."""

    def __init__(self, path: str, code: Problem) -> None:
        super().__init__(f"{code} at {path or 'the body'}")
        self.path = path
        self.code: Problem = code


@dataclass
class Parsed:
    """What a delivery holds for us (in bundle order), and what it holds that we leave alone:
    ``(entry index or None, resource type)``."""

    items: list[Incoming] = field(default_factory=list)
    skipped: list[tuple[int | None, str]] = field(default_factory=list)


def parse(body: bytes) -> Parsed:
    """The records in ``body`` (raw FHIR JSON), or :class:`Malformed`."""
    data = _json(body)
    kind = data.get("resourceType")
    if not isinstance(kind, str):
        raise Malformed("resourceType", "not-fhir")
    if kind == "Bundle":
        return _bundle(data)
    klass = resource_class(kind)
    if klass is None:
        return Parsed(skipped=[(None, UNKNOWN)])
    _check_tree(data, kind)
    resource = cast("Resource", _validated(klass, data, kind))
    if kind not in HANDLED:
        return Parsed(skipped=[(None, kind)])
    return Parsed(items=_Reader(None).read(resource, kind, None, None))


# ---------------------------------------------------------------- the envelope


def _reject_constant(_: str) -> NoReturn:
    raise ValueError("NaN and Infinity are not JSON")


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Malformed("", "invalid-json") from None
    if not isinstance(data, dict):
        raise Malformed("", "not-fhir")
    return data


def _check_tree(data: dict[str, Any], root: str) -> None:
    """Before the library sees it: not absurdly deep, and every nested resource of a type R4B knows
    (the library raises a bare KeyError on an unknown one, with no path)."""
    stack: list[tuple[Any, str, int]] = [(data, root, 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Malformed(path, "structure")
        if isinstance(node, dict):
            if depth and "resourceType" in node and resource_class(node["resourceType"]) is None:
                raise Malformed(f"{path}.resourceType", "structure")
            children = [(v, f"{path}.{element(k)}") for k, v in node.items()]
        elif isinstance(node, list):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(node)]
        else:
            continue
        stack.extend((v, p, depth + 1) for v, p in reversed(children) if isinstance(v, dict | list))


def _validated(klass: Any, data: dict[str, Any], root: str) -> Any:
    try:
        return _library.validate(klass, data, root)
    except _library.Invalid as invalid:
        path = invalid.path
    raise Malformed(path, "structure")


def _bundle(data: dict[str, Any]) -> Parsed:
    kind = data.get("type")
    if isinstance(kind, str) and kind not in BUNDLE_TYPES:
        raise Malformed("Bundle.type", "code")
    if isinstance(kind, str) and kind not in ACCEPTED_BUNDLES:
        raise Malformed("Bundle.type", "unsupported-bundle")
    skipped: dict[int, str] = {}
    entries = data.get("entry")
    if isinstance(entries, list):
        kept: list[Any] = []
        for i, entry in enumerate(entries):
            raw = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(raw, dict):
                if not isinstance(raw.get("resourceType"), str):
                    raise Malformed(f"Bundle.entry[{i}].resource.resourceType", "structure")
                if resource_class(raw["resourceType"]) is None:
                    skipped[i] = UNKNOWN  # left out of what the library sees
                    entry = {k: v for k, v in entry.items() if k != "resource"}
            kept.append(entry)
        data = {**data, "entry": kept}
    _check_tree(data, "Bundle")
    bundle = cast("Bundle", _validated(resource_class("Bundle"), data, "Bundle"))

    reader = _Reader(bundle)
    items: list[Incoming] = []
    for i, entry in enumerate(bundle.entry or []):
        resource = entry.resource
        if resource is None:
            skipped.setdefault(i, NO_RESOURCE)
            continue
        kind = resource.get_resource_type()
        if kind in HANDLED:
            items += reader.read(resource, f"Bundle.entry[{i}].resource", i, entry.fullUrl)
        else:
            skipped[i] = kind
    return Parsed(items=items, skipped=[(i, skipped[i]) for i in sorted(skipped)])


# ---------------------------------------------------------------- the resources


class _Reader:
    """Reads the resources of one delivery, resolving references within it."""

    def __init__(self, bundle: Bundle | None) -> None:
        entries = (bundle.entry or []) if bundle is not None else []
        self.by_url: dict[str, tuple[int, Resource, str | None]] = {}
        self.by_id: dict[tuple[str, str], tuple[int, Resource, str | None]] = {}
        for i, entry in enumerate(entries):
            if entry.resource is None:
                continue
            found = (i, entry.resource, entry.fullUrl)
            if entry.fullUrl:
                self.by_url[entry.fullUrl] = found
            if entry.resource.id:
                self.by_id[(entry.resource.get_resource_type(), entry.resource.id)] = found
        # bundle Observations listed in a report's results: entry index -> (report's source id, report)
        self.in_report: dict[int, tuple[str, DiagnosticReport]] = {}
        for i, entry in enumerate(entries):
            if entry.resource is not None and entry.resource.get_resource_type() == "DiagnosticReport":
                report = cast("DiagnosticReport", entry.resource)
                report_id = _source_id(report, entry.fullUrl, f"Bundle.entry[{i}].resource")
                for ref in report.result or []:
                    target = self._in_bundle(ref.reference)
                    if target is not None and target[1].get_resource_type() == "Observation":
                        self.in_report.setdefault(target[0], (report_id, report))

    def read(self, resource: Resource, path: str, entry: int | None, full_url: str | None) -> list[Incoming]:
        kind = resource.get_resource_type()
        if kind == "Encounter":
            return [self._encounter(cast("Encounter", resource), path, entry, full_url)]
        if kind == "Observation":
            obs = cast("Observation", resource)
            source_id = _source_id(obs, full_url, path)
            report = self.in_report.get(entry) if entry is not None else None
            if report is None:
                return [self._observation(obs, obs, source_id, None, [], path, entry)]
            report_patient = self._patient(report[1].subject, report[1])
            return [self._observation(obs, obs, source_id, report[0], report_patient, path, entry)]
        if kind == "DiagnosticReport":
            return self._report(cast("DiagnosticReport", resource), path, entry, full_url)
        return [self._appointment(cast("Appointment", resource), path, entry, full_url)]

    # -- references

    def _in_bundle(self, reference: str | None) -> tuple[int, Resource, str | None] | None:
        if not reference:
            return None
        if reference in self.by_url:
            return self.by_url[reference]
        relative = _RELATIVE.fullmatch(reference)
        return self.by_id.get((relative[1], relative[2])) if relative else None

    def _resolve(self, ref: Reference, container: DomainResource) -> Resource | None:
        reference = ref.reference
        if reference and reference.startswith("#"):
            return next((c for c in container.contained or [] if c.id == reference[1:]), None)
        found = self._in_bundle(reference)
        return found[1] if found else None

    def _kind(self, ref: Reference, target: Resource | None) -> str | None:
        """What a reference points to: its ``type``, else its ``Type/id`` form, else what it resolved to."""
        if ref.type:
            return ref.type.rsplit("/", 1)[-1]  # a type may be given as a StructureDefinition URL
        typed = _TYPED.fullmatch(ref.reference or "")
        if typed and not (ref.reference or "").startswith("urn:"):
            return typed[1]
        return target.get_resource_type() if target is not None else None

    def _identifiers(
        self, ref: Reference, container: DomainResource, kinds: frozenset[str | None]
    ) -> list[tuple[str, str]]:
        """The identifiers of what ``ref`` points to, if it is of one of ``kinds``: those it carries and
        those of the resource it resolves to. ``None`` in ``kinds``: a bare identifier will do."""
        target = self._resolve(ref, container)
        if self._kind(ref, target) not in kinds:
            return []
        found = [ref.identifier] if ref.identifier is not None else []
        if target is not None and target.get_resource_type() in kinds:
            found += getattr(target, "identifier", None) or []
        elif target is not None:
            return []
        return list(dict.fromkeys((i.system, i.value) for i in found if i.system and i.value))

    def _patient(self, ref: Reference | None, container: DomainResource) -> list[tuple[str, str]]:
        return [] if ref is None else self._identifiers(ref, container, SUBJECT)

    # -- each resource

    def _encounter(self, enc: Encounter, path: str, entry: int | None, full_url: str | None) -> Incoming:
        _check(enc.status, ENCOUNTER_STATUS, f"{path}.status")
        klass = enc.class_fhir
        if not klass.code:
            raise Malformed(f"{path}.class.code", "code")
        if klass.system in (None, V3_ACT_CODE):
            _check(klass.code, ENCOUNTER_CLASS, f"{path}.class.code")
        location = None
        if enc.location:
            place = enc.location[0].location
            target = self._resolve(place, enc)
            named = target is not None and target.get_resource_type() == "Location"
            location = place.display or (getattr(target, "name", None) if named else None)
        disposition = enc.hospitalization.dischargeDisposition if enc.hospitalization else None
        complexity = None
        for i, ext in enumerate(enc.extension or []):
            if ext.url == TCM_COMPLEXITY_URL:
                complexity = ext.valueCode
                _check(complexity, COMPLEXITIES, f"{path}.extension[{i}].valueCode")
        record = EncounterRecord(
            **_meta(enc, full_url, path),
            status=enc.status,
            class_code=klass.code,
            period_start=_instant(enc.period.start if enc.period else None),
            period_end=_instant(enc.period.end if enc.period else None),
            location=location,
            discharge_disposition=_first_code(disposition),
            complexity=complexity,
        )
        patient = _required(self._patient(enc.subject, enc), f"{path}.subject")
        return Incoming(resource_type="Encounter", patient=patient, record=record, entry=entry)

    def _observation(
        self,
        obs: Observation,
        container: DomainResource,
        source_id: str,
        report_id: str | None,
        report_patient: list[tuple[str, str]],
        path: str,
        entry: int | None,
    ) -> Incoming:
        _check(obs.status, OBSERVATION_STATUS, f"{path}.status")
        value = unit = text = None
        if obs.valueQuantity is not None:
            quantity = obs.valueQuantity
            value = _number(quantity.value, f"{path}.valueQuantity.value")
            unit = quantity.code if quantity.system == UCUM and quantity.code else quantity.unit
        elif obs.valueInteger is not None:
            value = float(obs.valueInteger)
        elif obs.valueString is not None:
            text = obs.valueString
        elif obs.valueCodeableConcept is not None:
            text = obs.valueCodeableConcept.text or _first_code(obs.valueCodeableConcept)
        low = high = None
        if obs.referenceRange:
            limits = obs.referenceRange[0]
            low = _number(limits.low.value if limits.low else None, f"{path}.referenceRange[0].low.value")
            high = _number(limits.high.value if limits.high else None, f"{path}.referenceRange[0].high.value")
        record = ResultRecord(
            source_id=source_id,
            version=obs.meta.versionId if obs.meta else None,
            last_updated=_instant(obs.meta.lastUpdated if obs.meta else None),
            status=obs.status,
            code=_coding(obs.code, f"{path}.code"),
            value=value,
            unit=unit,
            value_text=text,
            low=low,
            high=high,
            interpretation=_interpretation(obs.interpretation or []),
            issued=_instant(obs.issued),
            effective=_instant(
                obs.effectiveDateTime
                or obs.effectiveInstant
                or (obs.effectivePeriod.start if obs.effectivePeriod else None)
            ),
            report_id=report_id,
            components=[_component(c, f"{path}.component[{n}]") for n, c in enumerate(obs.component or [])],
        )
        # an Observation that came in a report and names no patient is about the report's
        patient = _required(self._patient(obs.subject, container) or report_patient, f"{path}.subject")
        return Incoming(resource_type="Observation", patient=patient, record=record, entry=entry)

    def _report(
        self, report: DiagnosticReport, path: str, entry: int | None, full_url: str | None
    ) -> list[Incoming]:
        _check(report.status, REPORT_STATUS, f"{path}.status")
        meta = _meta(report, full_url, path)
        report_id = meta["source_id"]
        patient = _required(self._patient(report.subject, report), f"{path}.subject")
        result_ids: list[str] = []
        for ref in report.result or []:
            reference = ref.reference or ""
            target = self._in_bundle(reference)
            if reference.startswith("#"):
                result_ids.append(f"{report_id}{reference}")
            elif target is not None:
                result_ids.append(_source_id(target[1], target[2], ""))
            elif typed := _TYPED.fullmatch(reference):
                result_ids.append(typed[2])  # an Observation the partner holds and did not send
        record = ReportRecord(
            **meta,
            status=report.status,
            code=_coding(report.code, f"{path}.code"),
            issued=_instant(report.issued),
            effective=_instant(
                report.effectiveDateTime or (report.effectivePeriod.start if report.effectivePeriod else None)
            ),
            result_ids=result_ids,
        )
        items = [Incoming(resource_type="DiagnosticReport", patient=patient, record=record, entry=entry)]
        for j, contained in enumerate(report.contained or []):
            if contained.get_resource_type() != "Observation":
                continue
            obs = cast("Observation", contained)
            inner = f"{path}.contained[{j}]"
            if not obs.id:
                raise Malformed(f"{inner}.id", "structure")
            source_id = f"{report_id}#{obs.id}"
            items.append(self._observation(obs, report, source_id, report_id, patient, inner, entry))
        return items

    def _appointment(self, appt: Appointment, path: str, entry: int | None, full_url: str | None) -> Incoming:
        _check(appt.status, APPOINTMENT_STATUS, f"{path}.status")
        patient: list[tuple[str, str]] = []
        practitioners: list[tuple[str, str]] = []
        for participant in appt.participant:
            if participant.actor is not None:
                patient += self._identifiers(participant.actor, appt, PATIENT)
                practitioners += self._identifiers(participant.actor, appt, PRACTITIONERS)
        record = ExternalAppointment(
            **_meta(appt, full_url, path),
            status=appt.status,
            start=_instant(appt.start),
            end=_instant(appt.end),
            practitioners=list(dict.fromkeys(practitioners)),
            appointment_type=_first_code(appt.appointmentType),
            cancelation_reason=_first_code(appt.cancelationReason),
        )
        patient = _required(list(dict.fromkeys(patient)), f"{path}.participant")
        return Incoming(resource_type="Appointment", patient=patient, record=record, entry=entry)


# ---------------------------------------------------------------- small readers


def _check(code: str | None, allowed: frozenset[str], path: str) -> None:
    if code not in allowed:
        raise Malformed(path, "code")


def _required(patient: list[tuple[str, str]], path: str) -> list[tuple[str, str]]:
    if not patient:
        raise Malformed(path, "missing-subject")
    return patient


def _source_id(resource: Any, full_url: str | None, path: str) -> str:
    if resource.id:
        return str(resource.id)
    for identifier in getattr(resource, "identifier", None) or []:
        if identifier.system and identifier.value:
            return f"{identifier.system}|{identifier.value}"
    if full_url:
        return full_url
    raise Malformed(f"{path}.id", "structure")


def _meta(resource: Any, full_url: str | None, path: str) -> dict[str, Any]:
    meta = resource.meta
    return {
        "source_id": _source_id(resource, full_url, path),
        "version": meta.versionId if meta else None,
        "last_updated": _instant(meta.lastUpdated if meta else None),
    }


def _instant(value: datetime | date | str | None) -> datetime | None:
    """A FHIR instant or dateTime in UTC. A dateTime may be partial (``2024``, ``2024-03``,
    ``2024-03-05``): the start of that period in UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    year, _, month = value.partition("-")
    return datetime(int(year), int(month or 1), 1, tzinfo=UTC)


def _number(value: Any, path: str) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise Malformed(path, "structure")
    return number


def _coding(concept: CodeableConcept, path: str) -> Coding:
    """The LOINC coding when there is one, else the first: what a result or report is."""
    codings = [c for c in concept.coding or [] if c.code]
    if not codings:
        raise Malformed(f"{path}.coding", "code")
    chosen = next((c for c in codings if c.system == LOINC), codings[0])
    return Coding(system=chosen.system, code=str(chosen.code), display=chosen.display)


def _component(component: Any, path: str) -> Component:
    """A component's code and quantity (a blood pressure's systolic, in mm[Hg])."""
    quantity = component.valueQuantity
    value = _number(quantity.value, f"{path}.valueQuantity.value") if quantity is not None else None
    unit = (
        (quantity.code if quantity.system == UCUM and quantity.code else quantity.unit) if quantity else None
    )
    return Component(code=_coding(component.code, f"{path}.code").code, value=value, unit=unit)


def _first_code(concept: CodeableConcept | None) -> str | None:
    if concept is None:
        return None
    return next((str(c.code) for c in concept.coding or [] if c.code), None)


def _interpretation(concepts: list[CodeableConcept]) -> str | None:
    for concept in concepts:
        for coding in concept.coding or []:
            if coding.code and coding.system in (None, V3_INTERPRETATION):
                return str(coding.code)
    return None
