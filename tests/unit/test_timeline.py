"""The patient timeline (shared/domain/timeline.py): the events about a patient, each made into an entry
with its kind, the record it links to and the event's codes.

Events are built here with the real event classes and turned into their EventBridge ``detail``, as
the records area receives them. What is checked:
- an event not about one patient, or without its record's id, makes no entry;
- an entry's codes are the event's codes and flags only: no ids, no instants, no organization;
- a link is the route that reads the record, with the patient and the record's id filled in, and a
  route the API really serves;
- the patient sees only some kinds, and may open only some links.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from datetime import UTC, datetime
from typing import Any

import pytest

import shared.events
from local.template import Template
from shared.domain.timeline import (
    ENTRIES,
    PATIENT_KINDS,
    Kind,
    RecordLink,
    Shape,
    TimelineEntry,
    TimelinePatientEntry,
    _same,
    entry_of,
)
from shared.events.careplans import CarePlanCreated, EducationAssessed
from shared.events.intake import PatientRecordAccessed, PatientRegistered, SocialNeedIdentified
from shared.events.models import DomainEvent
from shared.events.partners import PatientDischarged, ResultCritical
from shared.events.records import (
    MessageAnswered,
    MessageSent,
    MessageUrgent,
    NoteEnteredInError,
    ObservationOutOfRange,
    ObservationRecorded,
)
from shared.events.reminders import PatientReplied, ReminderSent
from shared.events.scheduling import AppointmentBooked, AppointmentCancelled, SlotOfferAccepted
from shared.events.tasks import EscalationRaised, TaskCreated
from shared.events.transitions import TransitionClosed

AT = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)
ORG = "01J9Z3M2K7Q8R4T6V8W0X2Y4Z0"
PATIENT = "01J9Z3M2K7Q8R4T6V8W0X2Y4Z1"
RECORD = "01J9Z3M2K7Q8R4T6V8W0X2Y4Z2"
OTHER = "01J9Z3M2K7Q8R4T6V8W0X2Y4Z3"
EVENT = "01J9Z3M2K7Q8R4T6V8W0X2Y4Z4"


def detail(event_type: type[DomainEvent], **fields: Any) -> dict[str, Any]:
    event = event_type(organization_id=ORG, event_id=EVENT, occurred_at=AT, **fields)
    return event.detail()


def entry(event_type: type[DomainEvent], **fields: Any) -> TimelineEntry:
    made = entry_of(event_type.detail_type, detail(event_type, **fields))
    assert made is not None
    return made


def event_classes() -> dict[str, type[DomainEvent]]:
    found: dict[str, type[DomainEvent]] = {}
    for module in pkgutil.iter_modules(shared.events.__path__):
        for value in vars(importlib.import_module(f"shared.events.{module.name}")).values():
            if isinstance(value, type) and issubclass(value, DomainEvent) and "detail_type" in vars(value):
                found[value.detail_type] = value
    return found


# ---------------------------------------------------------------- the table against the code base


def test_every_timeline_event_is_a_real_event_about_a_patient_with_its_id_field() -> None:
    events = event_classes()
    assert set(ENTRIES) <= set(events), sorted(set(ENTRIES) - set(events))
    for name, shape in ENTRIES.items():
        fields = events[name].model_fields
        assert "patient_id" in fields, name
        assert shape.id_field in fields, (name, shape.id_field)


def test_every_link_is_a_route_the_api_serves() -> None:
    def bare(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    gets = {bare(route.path) for route in Template.default().routes if route.method.upper() == "GET"}
    missing = {name: shape.href for name, shape in ENTRIES.items() if bare(shape.href) not in gets}
    assert not missing


def test_the_patient_sees_only_their_own_kinds_of_entry() -> None:
    assert {
        Kind.REGISTRATION,
        Kind.APPOINTMENT,
        Kind.WAITLIST,
        Kind.INTERACTION,
        Kind.CARE_PLAN,
        Kind.EDUCATION,
        Kind.MESSAGE,
        Kind.OBSERVATION,
    } == PATIENT_KINDS
    for hidden in ("TaskCreated", "EscalationRaised", "NoteSigned", "ResultCritical", "TransitionOpened"):
        assert not ENTRIES[hidden].patient
    for hidden in ("AssessmentRecorded", "ObservationOutOfRange", "TrendDetected", "MeasurementMissed"):
        assert not ENTRIES[hidden].patient
    # the alerts about a message stay with staff; the message itself is the patient's
    assert (ENTRIES["MessageSent"].patient, ENTRIES["MessageUrgent"].patient) == (True, False)


def test_the_patient_opens_a_link_only_on_an_entry_they_see() -> None:
    assert all(shape.patient for shape in ENTRIES.values() if shape.patient_href)


def test_one_shape_for_every_event_named() -> None:
    shapes = _same(
        Kind.NOTE, "note", "note_id", "/patients/{patient}/notes/{id}", "NoteSigned  NoteAmended\n"
    )
    assert shapes == {
        "NoteSigned": Shape(Kind.NOTE, "note", "note_id", "/patients/{patient}/notes/{id}"),
        "NoteAmended": Shape(Kind.NOTE, "note", "note_id", "/patients/{patient}/notes/{id}"),
    }
    seen = _same(
        Kind.MESSAGE, "message", "message_id", "/m/{id}", "MessageSent", patient=True, patient_href=True
    )
    assert seen["MessageSent"] == Shape(Kind.MESSAGE, "message", "message_id", "/m/{id}", True, True)


# ---------------------------------------------------------------- entries


def test_a_booked_appointment_links_to_the_appointment_and_shows_its_codes() -> None:
    made = entry(
        AppointmentBooked,
        appointment_id=RECORD,
        patient_id=PATIENT,
        provider_id=OTHER,
        status="booked",
        overbooked=True,
        referral_id=OTHER,
    )
    assert made == TimelineEntry(
        id=EVENT,
        at=AT,
        kind=Kind.APPOINTMENT,
        type="AppointmentBooked",
        record=RecordLink(type="appointment", id=RECORD, href=f"/appointments/{RECORD}"),
        codes={"status": "booked", "overbooked": True},
        patient_visible=True,
        hidden=False,
    )


def test_a_cancellation_shows_why_and_by_whom() -> None:
    made = entry(
        AppointmentCancelled,
        appointment_id=RECORD,
        patient_id=PATIENT,
        provider_id=OTHER,
        status="cancelled",
        reason="patient",
        by_patient=True,
        source_partner_id=OTHER,
    )
    assert made.codes == {"status": "cancelled", "reason": "patient", "by_patient": True}


def test_a_discharge_shows_no_instant_and_no_partner() -> None:
    made = entry(
        PatientDischarged,
        patient_id=PATIENT,
        encounter_id=RECORD,
        partner_id=OTHER,
        encounter_class="IMP",
        discharged_at=datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
        admitted_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        disposition="home",
    )
    assert made.codes == {"encounter_class": "IMP", "disposition": "home"}  # complexity not sent: absent
    assert made.record == RecordLink(type="encounter", id=RECORD, href=f"/patients/{PATIENT}/encounters")
    assert (made.kind, made.patient_visible) == (Kind.ENCOUNTER, False)


def test_a_closed_transition_shows_its_codes_and_flags_but_not_its_list_of_failures() -> None:
    made = entry(
        TransitionClosed,
        transition_id=RECORD,
        patient_id=PATIENT,
        reason="period-ended",
        qualifies=False,
        failures=["contact-late", "visit-late"],
    )
    assert made.codes == {"reason": "period-ended", "qualifies": False}
    assert made.record.href == f"/transitions/{RECORD}"


def test_an_escalation_shows_its_level_severity_and_rule_but_no_owner() -> None:
    made = entry(
        EscalationRaised,
        task_id=RECORD,
        patient_id=PATIENT,
        code="answer-message",
        status="requested",
        priority="urgent",
        role="nurse",
        owner_id=OTHER,
        focus_type="message",
        focus_id=OTHER,
        rule_id="urgent-message",
        severity="high",
        level=1,
    )
    assert made.codes == {
        "code": "answer-message",
        "status": "requested",
        "priority": "urgent",
        "role": "nurse",
        "focus_type": "message",
        "severity": "high",
        "level": 1,
        "rule_id": "urgent-message",
    }
    assert (made.kind, made.record.type, made.record.href) == (Kind.ESCALATION, "task", f"/tasks/{RECORD}")


def test_an_out_of_range_reading_is_an_alert_on_the_observation() -> None:
    made = entry(
        ObservationOutOfRange,
        patient_id=PATIENT,
        observation_id=RECORD,
        code="85354-9",
        component="8480-6",
        interpretation="HH",
        priority="urgent",
    )
    assert made.codes == {
        "code": "85354-9",
        "component": "8480-6",
        "interpretation": "HH",
        "priority": "urgent",
    }
    assert made.record == RecordLink(
        type="observation", id=RECORD, href=f"/patients/{PATIENT}/observations/{RECORD}"
    )
    assert (made.kind, made.patient_visible) == (Kind.ALERT, False)


def test_a_registration_links_to_the_patient() -> None:
    made = entry(PatientRegistered, patient_id=PATIENT)
    assert made.record == RecordLink(type="patient", id=PATIENT, href=f"/patients/{PATIENT}")
    assert (made.kind, made.codes, made.patient_visible) == (Kind.REGISTRATION, {}, True)


def test_a_reminder_is_the_interaction_logged_under_the_event_s_id() -> None:
    made = entry(
        ReminderSent,
        touch_id=OTHER,
        patient_id=PATIENT,
        subject_kind="appointment",
        subject_id=OTHER,
        channel="sms",
    )
    assert made.record == RecordLink(
        type="interaction", id=EVENT, href=f"/patients/{PATIENT}/interactions/{EVENT}"
    )
    assert made.codes == {"subject_kind": "appointment", "channel": "sms"}
    assert (made.kind, made.patient_visible) == (Kind.INTERACTION, True)


def test_a_note_entered_in_error_links_to_the_note() -> None:
    made = entry(
        NoteEnteredInError,
        patient_id=PATIENT,
        note_id=RECORD,
        type="progress",
        doc_status="entered-in-error",
        revision=3,
    )
    assert made.codes == {"type": "progress", "doc_status": "entered-in-error", "revision": 3}
    assert made.record.href == f"/patients/{PATIENT}/notes/{RECORD}"
    assert not made.patient_visible


def test_codes_are_the_scalars_of_the_detail_and_never_an_id_an_instant_or_the_organization() -> None:
    sent = {
        "event_id": EVENT,
        "organization_id": ORG,
        "occurred_at": AT.isoformat(),
        "schema_version": 2,
        "patient_id": PATIENT,
        "observation_id": RECORD,
        "partner_ids": "p1,p2",  # ids, however they come
        "reviewed_at": "2026-12-03T16:00:00Z",
        "code": "29463-7",
        "device": True,
        "count": 3,
        "ratio": 0.5,
        "components": ["8480-6"],
        "bounds": {"low": 1},
        "unit": None,
    }
    made = entry_of("ObservationRecorded", sent)
    assert made is not None
    assert made.codes == {"code": "29463-7", "device": True, "count": 3, "ratio": 0.5}
    assert made.id == EVENT


@pytest.mark.parametrize(
    ("event_type", "fields"),
    [
        # about no patient (a task on a referral's partner, a reply from a number we could not match)
        (
            TaskCreated,
            {
                "task_id": RECORD,
                "code": "other",
                "status": "requested",
                "priority": "routine",
                "role": "nurse",
            },
        ),
        (PatientReplied, {"reply_id": RECORD, "intent": "help"}),
        # not timeline events
        (MessageAnswered, {"patient_id": PATIENT, "message_id": RECORD, "answer_id": OTHER}),
        (PatientRecordAccessed, {"patient_ids": [PATIENT], "actor_id": OTHER, "action": "timeline.read"}),
    ],
)
def test_an_event_about_no_patient_or_not_on_the_timeline_makes_no_entry(
    event_type: type[DomainEvent], fields: dict[str, Any]
) -> None:
    assert entry_of(event_type.detail_type, detail(event_type, **fields)) is None


def test_an_event_without_its_record_s_id_makes_no_entry() -> None:
    booked = detail(
        AppointmentBooked, appointment_id=RECORD, patient_id=PATIENT, provider_id=OTHER, status="booked"
    )
    assert entry_of("AppointmentBooked", booked) is not None
    assert entry_of("AppointmentBooked", {k: v for k, v in booked.items() if k != "appointment_id"}) is None
    assert entry_of("AppointmentBooked", {**booked, "appointment_id": None}) is None
    assert entry_of("AppointmentBooked", {**booked, "patient_id": None}) is None
    assert entry_of("AppointmentBooked", {**booked, "patient_id": 42}) is None
    assert entry_of("AppointmentBooked", {k: v for k, v in booked.items() if k != "patient_id"}) is None
    # a record id under another event's field is not this event's record
    assert entry_of("ReferralCreated", booked) is None


def test_a_task_about_a_patient_makes_a_staff_entry() -> None:
    made = entry(
        TaskCreated,
        task_id=RECORD,
        patient_id=PATIENT,
        code="call-patient",
        status="requested",
        priority="routine",
        role="coordinator",
    )
    assert made.record == RecordLink(type="task", id=RECORD, href=f"/tasks/{RECORD}")
    assert (made.kind, made.patient_visible) == (Kind.TASK, False)


# ---------------------------------------------------------------- what the patient reads


@pytest.mark.parametrize(
    ("event_type", "fields", "href"),
    [
        (
            MessageSent,
            {"patient_id": PATIENT, "message_id": RECORD, "author": "staff"},
            f"/patients/{PATIENT}/messages/{RECORD}",
        ),
        (
            ObservationRecorded,
            {"patient_id": PATIENT, "observation_id": RECORD, "code": "29463-7", "device": True},
            f"/patients/{PATIENT}/observations/{RECORD}",
        ),
        (
            SlotOfferAccepted,
            {
                "entry_id": RECORD,
                "patient_id": PATIENT,
                "offer_id": OTHER,
                "provider_id": OTHER,
                "appointment_id": OTHER,
            },
            f"/patients/{PATIENT}/waitlist",
        ),
        (
            EducationAssessed,
            {
                "assignment_id": RECORD,
                "patient_id": PATIENT,
                "material_id": "hf-daily-weights",
                "outcome": "understood",
            },
            f"/patients/{PATIENT}/education/{RECORD}",
        ),
        # seen, but not opened: the interaction log and the plan are staff's records
        (
            ReminderSent,
            {
                "touch_id": OTHER,
                "patient_id": PATIENT,
                "subject_kind": "referral",
                "subject_id": OTHER,
                "channel": "email",
            },
            None,
        ),
        (
            CarePlanCreated,
            {"care_plan_id": RECORD, "patient_id": PATIENT, "category": "preventive", "status": "draft"},
            None,
        ),
    ],
)
def test_the_patient_reads_the_entry_with_a_link_only_to_what_they_may_open(
    event_type: type[DomainEvent], fields: dict[str, Any], href: str | None
) -> None:
    made = entry(event_type, **fields)
    assert made.patient_visible
    assert TimelinePatientEntry.of(made) == TimelinePatientEntry(
        id=EVENT, at=AT, kind=made.kind, type=event_type.detail_type, href=href
    )


@pytest.mark.parametrize(
    ("event_type", "fields"),
    [
        (MessageUrgent, {"patient_id": PATIENT, "message_id": RECORD}),
        (ResultCritical, {"patient_id": PATIENT, "result_id": RECORD, "flag": "critical"}),
        (SocialNeedIdentified, {"patient_id": PATIENT, "assessment_id": RECORD, "domain": "food"}),
    ],
)
def test_staff_only_entries(event_type: type[DomainEvent], fields: dict[str, Any]) -> None:
    made = entry(event_type, **fields)
    assert not made.patient_visible
    assert made.kind not in PATIENT_KINDS or event_type is MessageUrgent


def test_a_reminder_that_never_reached_the_patient_is_for_staff_only() -> None:
    detail = {
        "event_id": EVENT,
        "organization_id": ORG,
        "occurred_at": AT,
        "patient_id": PATIENT,
        "touch_id": RECORD,
        "subject_kind": "appointment",
        "subject_id": OTHER,
    }
    failed = entry_of("ReminderUndeliverable", detail)
    sent = entry_of("ReminderSent", {**detail, "channel": "sms"})
    assert failed is not None and sent is not None
    assert (failed.patient_visible, sent.patient_visible) == (False, True)
    assert failed.record.href == f"/patients/{PATIENT}/interactions/{EVENT}"
