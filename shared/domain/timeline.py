"""The patient timeline: one entry per event about the patient, in time order.

Every area already publishes what happens to a patient as an event (ids and codes only). An entry is
that event as the timeline shows it: its kind (what a filter names), its type (the event), the record
it links to, and the event's codes. Which events make entries, their kind, whether the patient sees
them and where they link is this module's table (:data:`ENTRIES`); an event not in it makes none.

The patient sees their registration, appointments, the messages and reminders they were sent, their
education, plans, observations and messages; never tasks, escalations, notes, results, transitions,
assessments, prior authorizations or the alerts monitoring raised (a result or an alert reaches them
from a clinician first). A link is given to the patient only when they may open it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from shared.domain.base import Model


class Kind(StrEnum):
    REGISTRATION = "registration"
    ASSESSMENT = "assessment"
    APPOINTMENT = "appointment"
    WAITLIST = "waitlist"
    REFERRAL = "referral"
    INTERACTION = "interaction"
    TASK = "task"
    ESCALATION = "escalation"
    TRANSITION = "transition"
    ENCOUNTER = "encounter"
    RESULT = "result"
    CARE_PLAN = "care-plan"
    EDUCATION = "education"
    NOTE = "note"
    MESSAGE = "message"
    OBSERVATION = "observation"
    ALERT = "alert"
    AUTHORIZATION = "authorization"


@dataclass(frozen=True)
class Shape:
    kind: Kind
    record: str  # the record type the entry links to
    id_field: str  # the event's field holding its id
    href: str  # the route that reads it ({patient} and {id} filled in)
    patient: bool = False  # the patient sees the entry
    patient_href: bool = False  # ...and may open its link


def _same(kind: Kind, record: str, id_field: str, href: str, names: str, **flags: bool) -> dict[str, Shape]:
    return {name: Shape(kind, record, id_field, href, **flags) for name in names.split()}


_APPT = "/appointments/{id}"
_P = "/patients/{patient}"
ENTRIES: dict[str, Shape] = {
    "PatientRegistered": Shape(Kind.REGISTRATION, "patient", "patient_id", _P, True, True),
    **_same(
        Kind.ASSESSMENT,
        "assessment",
        "assessment_id",
        _P + "/assessments",
        "AssessmentRecorded SocialNeedIdentified SafetyConcernIdentified",
    ),
    **_same(
        Kind.APPOINTMENT,
        "appointment",
        "appointment_id",
        _APPT,
        "AppointmentBooked AppointmentRescheduled AppointmentCancelled AppointmentConfirmed "
        "AppointmentCheckedIn AppointmentArrived AppointmentFulfilled AppointmentNoShow",
        patient=True,
        patient_href=True,
    ),
    **_same(
        Kind.WAITLIST,
        "waitlist-entry",
        "entry_id",
        _P + "/waitlist",
        "PatientWaitlisted WaitlistEntryRemoved SlotOffered SlotOfferAccepted SlotOfferDeclined "
        "SlotOfferExpired",
        patient=True,
        patient_href=True,
    ),
    **_same(
        Kind.REFERRAL,
        "referral",
        "referral_id",
        "/referrals/{id}",
        "ReferralCreated ReferralSent ReferralAccepted ReferralRejected ReferralScheduled "
        "ReferralUnscheduled ReferralCompleted ReferralCancelled ReferralClosed ReferralOverdue",
    ),
    # the interaction Careloop logs for a reminder or a reply has the event's id
    **_same(
        Kind.INTERACTION,
        "interaction",
        "event_id",
        _P + "/interactions/{id}",
        "ReminderSent PatientReplied",
        patient=True,
    ),
    **_same(Kind.INTERACTION, "interaction", "event_id", _P + "/interactions/{id}", "ReminderUndeliverable"),
    **_same(
        Kind.INTERACTION, "interaction", "interaction_id", _P + "/interactions/{id}", "InteractionLogged"
    ),
    **_same(
        Kind.TASK,
        "task",
        "task_id",
        "/tasks/{id}",
        "TaskCreated TaskAssigned TaskCompleted TaskCancelled TaskFailed",
    ),
    **_same(
        Kind.ESCALATION,
        "task",
        "task_id",
        "/tasks/{id}",
        "EscalationRaised EscalationEscalated EscalationBreached EscalationResumed",
    ),
    **_same(
        Kind.TRANSITION,
        "transition",
        "transition_id",
        "/transitions/{id}",
        "TransitionOpened TransitionStepCompleted TransitionStepMissed TransitionPaused TransitionClosed",
    ),
    **_same(
        Kind.AUTHORIZATION,
        "authorization",
        "authorization_id",
        "/authorizations/{id}",
        "AuthorizationRequested AuthorizationMoved AuthorizationOverdue AuthorizationUnitUsed",
    ),
    **_same(
        Kind.ENCOUNTER, "encounter", "encounter_id", _P + "/encounters", "PatientAdmitted PatientDischarged"
    ),
    **_same(
        Kind.RESULT,
        "result",
        "result_id",
        _P + "/results",
        "ResultAbnormal ResultCritical ResultAcknowledged",
    ),
    **_same(
        Kind.CARE_PLAN,
        "care-plan",
        "care_plan_id",
        "/care-plans/{id}",
        "CarePlanCreated CarePlanStatusChanged GoalAchieved",
        patient=True,
    ),
    **_same(
        Kind.EDUCATION,
        "education",
        "assignment_id",
        _P + "/education/{id}",
        "EducationAssigned EducationAssessed",
        patient=True,
        patient_href=True,
    ),
    **_same(Kind.NOTE, "note", "note_id", _P + "/notes/{id}", "NoteSigned NoteAmended NoteEnteredInError"),
    **_same(
        Kind.MESSAGE,
        "message",
        "message_id",
        _P + "/messages/{id}",
        "MessageSent",
        patient=True,
        patient_href=True,
    ),
    **_same(Kind.MESSAGE, "message", "message_id", _P + "/messages/{id}", "MessageUrgent MessageUnanswered"),
    **_same(
        Kind.OBSERVATION,
        "observation",
        "observation_id",
        _P + "/observations/{id}",
        "ObservationRecorded",
        patient=True,
        patient_href=True,
    ),
    **_same(
        Kind.ALERT,
        "observation",
        "observation_id",
        _P + "/observations/{id}",
        "ObservationOutOfRange TrendDetected",
    ),
    **_same(Kind.ALERT, "care-plan", "care_plan_id", "/care-plans/{id}", "MeasurementMissed"),
}
# what an entry shows of its event besides the ids: its codes and flags (ids and instants are left out)
_NOT_CODES = frozenset({"event_id", "organization_id", "occurred_at", "patient_id", "schema_version"})
_CODE_IDS = frozenset({"rule_id", "template_id", "material_id"})  # named ids, but codes: a rule, a template


class RecordLink(Model):
    type: str
    id: str
    href: str


class TimelineEntry(Model):
    id: str = Field(description="the event's id")
    at: datetime
    kind: Kind
    type: str = Field(description="what happened: the event, e.g. AppointmentBooked")
    record: RecordLink
    codes: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="the event's codes: a status, a channel, a priority..."
    )
    patient_visible: bool
    hidden: bool = Field(False, description="entered in error: out of the default timeline")


class TimelinePatientEntry(Model):
    id: str
    at: datetime
    kind: Kind
    type: str
    href: str | None = Field(None, description="the record, when the patient may open it")

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelinePatientEntry:
        shape = ENTRIES[entry.type]
        href = entry.record.href if shape.patient_href else None
        return cls(id=entry.id, at=entry.at, kind=entry.kind, type=entry.type, href=href)


def entry_of(detail_type: str, detail: dict[str, Any]) -> TimelineEntry | None:
    """The entry an event makes, or None (not about one patient, or not a timeline event)."""
    shape = ENTRIES.get(detail_type)
    patient = detail.get("patient_id")
    record_id = detail.get(shape.id_field) if shape else None
    if shape is None or not isinstance(patient, str) or not isinstance(record_id, str):
        return None
    codes = {
        name: value
        for name, value in detail.items()
        if name not in _NOT_CODES
        and (name in _CODE_IDS or not name.endswith(("_id", "_ids", "_at")))
        and isinstance(value, str | int | float | bool)
    }
    href = shape.href.format(patient=patient, id=record_id)
    return TimelineEntry(
        id=str(detail["event_id"]),
        at=detail["occurred_at"],
        kind=shape.kind,
        type=detail_type,
        record=RecordLink(type=shape.record, id=record_id, href=href),
        codes=codes,
        patient_visible=shape.patient,
    )


PATIENT_KINDS = frozenset(shape.kind for shape in ENTRIES.values() if shape.patient)
