"""What a patient reads of their own appointment, referral and provider, against the rule written in
each view: everything about their own visit, nothing staff wrote about staff or other patients."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.domain.referrals import ReferralOut, ReferralPatientView
from shared.domain.scheduling import (
    AppointmentOut,
    AppointmentPatientView,
    Insurance,
    ProviderOut,
    ProviderPatientView,
)

T = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def appointment(**changes: Any) -> AppointmentOut:
    return AppointmentOut.model_validate(
        {
            "id": "A1",
            "version": 7,
            "status": "booked",
            "patient_id": "P1",
            "provider_id": "D1",
            "appointment_type": "follow-up",
            "start": T,
            "end": T + 30 * MINUTE,
            "time_zone": "America/Chicago",
            "referral_id": "R1",
            "offer_id": "O1",
            "overbooked": True,
            "booked_by": "coord-1",
            "created_at": T - 9 * MINUTE,
            "updated_at": T - 8 * MINUTE,
            "confirmed_at": T - 7 * MINUTE,
            "arrived_at": T - 6 * MINUTE,
            "checked_in_at": T - 5 * MINUTE,
            "completed_at": T - 4 * MINUTE,
            "rescheduled_count": 2,
            "insurance": "awaiting-insurance-approval",
            "authorization_id": "PA1",
            "reschedules": [
                {
                    "start": T - 60 * MINUTE,
                    "end": T - 30 * MINUTE,
                    "at": T - 3 * MINUTE,
                    "by": "coord-1",
                    "version": 3,
                },
                {
                    "start": T + 60 * MINUTE,
                    "end": T + 90 * MINUTE,
                    "at": T - 2 * MINUTE,
                    "by": "P1",
                    "version": 5,
                },
            ],
            **changes,
        }
    )


def cancellation(by_role: str) -> dict[str, Any]:
    return {"by": "someone-1", "by_role": by_role, "reason": "patient", "note": "a note", "at": T - MINUTE}


def test_a_patient_reads_every_fact_of_their_own_visit_and_none_of_staffs() -> None:
    view = AppointmentPatientView.of(appointment()).model_dump()
    assert view == {
        "id": "A1",
        "version": 7,
        "status": "booked",
        "patient_id": "P1",
        "provider_id": "D1",
        "appointment_type": "follow-up",
        "start": T,
        "end": T + 30 * MINUTE,
        "time_zone": "America/Chicago",
        "referral_id": "R1",
        "offer_id": "O1",
        "created_at": T - 9 * MINUTE,
        "updated_at": T - 8 * MINUTE,
        "confirmed_at": T - 7 * MINUTE,
        "arrived_at": T - 6 * MINUTE,
        "checked_in_at": T - 5 * MINUTE,
        "completed_at": T - 4 * MINUTE,
        "cancellation": None,
        "rescheduled_count": 2,
        "insurance": "awaiting-insurance-approval",  # in words the patient reads, never the payer's
        "reschedules": [
            {"start": T - 60 * MINUTE, "end": T - 30 * MINUTE, "at": T - 3 * MINUTE},
            {"start": T + 60 * MINUTE, "end": T + 90 * MINUTE, "at": T - 2 * MINUTE},
        ],
    }


def test_a_patient_reads_whether_insurance_approved_their_visit_but_not_which_approval() -> None:
    approved = AppointmentPatientView.of(appointment(insurance="approved", authorization_id="PA1"))
    assert approved.insurance is Insurance.APPROVED
    assert "authorization_id" not in approved.model_dump()
    assert "authorization_id" not in AppointmentPatientView.model_fields
    plain = AppointmentPatientView.of(appointment(insurance=None, authorization_id=None))
    assert plain.insurance is None
    assert [i.value for i in Insurance] == ["approved", "awaiting-insurance-approval"]


def test_a_cancellation_shows_the_patients_own_note_and_never_staffs() -> None:
    mine = AppointmentPatientView.of(appointment(status="cancelled", cancellation=cancellation("patient")))
    assert mine.model_dump()["cancellation"] == {
        "reason": "patient",
        "at": T - MINUTE,
        "by_patient": True,
        "note": "a note",
    }
    for role in ("coordinator", "admin", "nurse"):
        theirs = AppointmentPatientView.of(appointment(status="cancelled", cancellation=cancellation(role)))
        assert theirs.model_dump()["cancellation"] == {
            "reason": "patient",
            "at": T - MINUTE,
            "by_patient": False,
            "note": None,
        }, role


def test_a_patient_reads_a_provider_without_their_time_off() -> None:
    record = ProviderOut.model_validate(
        {
            "id": "D1",
            "version": 4,
            "name": "Dr. Ana Ruiz",
            "specialty": "cardiology",
            "location": "Main St Clinic",
            "time_zone": "America/Chicago",
            "slot_minutes": 15,
            "appointment_types": ["follow-up"],
            "availability": [{"weekday": 2, "start": "09:00", "end": "12:00"}],
            "time_off": [{"first": "2026-12-01", "last": "2026-12-02", "reason": "sick"}],
            "active": True,
        }
    )
    view = ProviderPatientView.of(record).model_dump(mode="json")
    assert view == {
        "id": "D1",
        "version": 4,
        "name": "Dr. Ana Ruiz",
        "specialty": "cardiology",
        "location": "Main St Clinic",
        "time_zone": "America/Chicago",
        "slot_minutes": 15,
        "appointment_types": ["follow-up"],
        "availability": [{"weekday": 2, "start": "09:00", "end": "12:00"}],
        "active": True,
    }


def test_a_patient_reads_their_referral_without_staffs_bookkeeping() -> None:
    record = ReferralOut.model_validate(
        {
            "id": "R1",
            "version": 3,
            "status": "rejected",
            "fhir_status": "revoked",
            "patient_id": "P1",
            "specialty": "cardiology",
            "reason": "chest pain on exertion",
            "urgency": "urgent",
            "due_date": date(2026, 12, 1),
            "overdue": True,
            "overdue_since": date(2026, 12, 2),
            "appointment_id": "A1",
            "status_reason": "staff-only words",
            "created_by": "coord-1",
            "created_at": T,
            "updated_at": T + MINUTE,
        }
    )
    assert ReferralPatientView.of(record).model_dump() == {
        "id": "R1",
        "status": "rejected",
        "fhir_status": "revoked",
        "patient_id": "P1",
        "specialty": "cardiology",
        "provider_id": None,
        "reason": "chest pain on exertion",
        "urgency": "urgent",
        "due_date": date(2026, 12, 1),
        "overdue": True,
        "appointment_id": "A1",
        "created_at": T,
        "updated_at": T + MINUTE,
    }
