"""Documentation (shared/domain/documentation.py): interactions coordinators log, and clinical notes
signed when saved, corrected only by amendment (a new signed version; the earlier ones kept) and
marked entered in error (never deleted).

The rules, as a coordinator meets them:
- an interaction happened: not in the future (a minute of clock skew aside), and is logged within
  30 days of it; it defaults to now;
- an attempt that did not reach anyone is ``not-done``, a contact that did is ``completed``;
- a note is version 1, ``final``, signed by its author when saved; an amendment is the next version,
  signed by who amended it, with its reason, and makes the note ``amended``;
- a note has at most 50 versions; an amendment must change the text; a note entered in error takes
  no amendment and is not marked twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.documentation import (
    MAX_VERSIONS,
    AmendmentIn,
    ContactDirection,
    DocStatus,
    EnteredInErrorIn,
    IllegalChange,
    InteractionIn,
    Medium,
    NoteHead,
    NoteIn,
    NoteType,
    NoteVersion,
    Party,
    RecordType,
    RelatesTo,
    Retraction,
    Source,
    Topic,
    amend,
    check_occurred,
    interaction,
    note_out,
    retract,
    sign,
)

NOW = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
APPOINTMENT = "01J9Z3M2K7Q8R4T6V8W0X2Y4Z6"
FUTURE = "an interaction cannot happen in the future"
TOO_OLD = "an interaction is logged within 30 days of it"


def body(**fields: Any) -> InteractionIn:
    return InteractionIn.model_validate(
        {"channel": "phone", "direction": "outbound", "reached": True, **fields}
    )


def logged(**fields: Any) -> Any:
    return interaction(body(**fields), "int-1", "pat-1", "coord-1", NOW)


def refused(error: type[Exception], message: str, call: Any, *args: Any, **kwargs: Any) -> None:
    """The call raises exactly this error, with this message (what the caller reads in the 409/422)."""
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert type(caught.value) is error
    assert str(caught.value) == message


# ---------------------------------------------------------------- interactions


@pytest.mark.parametrize(
    "at",
    [
        NOW,
        NOW + timedelta(minutes=1),  # a minute of clock skew
        NOW - timedelta(days=30),  # logged on the last day allowed
        NOW - timedelta(days=2, hours=3),
    ],
)
def test_an_interaction_may_have_happened_now_or_within_30_days(at: datetime) -> None:
    check_occurred(at, NOW)
    assert logged(occurred_at=at.isoformat()).occurred_at == at


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (NOW + timedelta(minutes=1, seconds=1), FUTURE),
        (NOW + timedelta(hours=2), FUTURE),
        (NOW - timedelta(days=30, seconds=1), TOO_OLD),
        (NOW - timedelta(days=45), TOO_OLD),
    ],
)
def test_an_interaction_in_the_future_or_over_30_days_old_is_refused(at: datetime, message: str) -> None:
    refused(ValueError, message, check_occurred, at, NOW)
    refused(ValueError, message, logged, occurred_at=at.isoformat())


def test_a_reached_call_is_completed_and_keeps_what_the_coordinator_wrote() -> None:
    at = NOW - timedelta(hours=3)
    out = interaction(
        body(
            channel="video",
            direction="inbound",
            party="caregiver",
            duration_minutes=12,
            topics=["medication", "appointment"],
            summary="Daughter asked about the new dose.\nExplained; she will call back.",
            occurred_at="2026-12-03T09:00:00-05:00",
            relates_to={"type": "appointment", "id": APPOINTMENT},
        ),
        "int-7",
        "pat-3",
        "coord-2",
        NOW,
    )
    assert out.model_dump() == {
        "id": "int-7",
        "patient_id": "pat-3",
        "channel": Medium.VIDEO,
        "direction": ContactDirection.INBOUND,
        "party": Party.CAREGIVER,
        "reached": True,
        "status": "completed",
        "duration_minutes": 12,
        "topics": [Topic.MEDICATION, Topic.APPOINTMENT],
        "summary": "Daughter asked about the new dose.\nExplained; she will call back.",
        "occurred_at": at,
        "relates_to": {"type": RecordType.APPOINTMENT, "id": APPOINTMENT},
        "source": Source.STAFF,
        "recorded_by": "coord-2",
        "recorded_at": NOW,
    }


def test_an_attempt_that_reached_nobody_is_not_done_and_happened_now_by_default() -> None:
    out = logged(reached=False)
    assert (out.status, out.reached, out.occurred_at, out.recorded_at) == ("not-done", False, NOW, NOW)
    assert (out.party, out.topics, out.summary, out.relates_to) == (Party.PATIENT, [], None, None)


@pytest.mark.parametrize(
    "fields",
    [
        {"duration_minutes": -1},
        {"duration_minutes": 601},
        {"occurred_at": "2026-12-03T09:00:00"},  # no offset: which 9 o'clock?
        {"relates_to": {"type": "appointment", "id": "not-a-ulid"}},
        {"summary": "x" * 4001},
        {"channel": "fax"},
        {"recorded_by": "someone-else"},  # the caller is who logs it
    ],
)
def test_an_interaction_that_makes_no_sense_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        body(**fields)


# ---------------------------------------------------------------- notes


def signed(text: str = "Called: BP log reviewed, no changes.", **extra: Any) -> tuple[NoteHead, NoteVersion]:
    note = NoteIn.model_validate({"type": "phone", "text": text, **extra})
    return sign(note, "note-1", "pat-1", "nurse-1", NOW)


def amendment(text: str, reason: str = "wrong dose written") -> AmendmentIn:
    return AmendmentIn(text=text, reason=reason)


def test_a_saved_note_is_signed_version_1_final() -> None:
    head, first = signed(relates_to={"type": "care-plan", "id": APPOINTMENT})
    assert head == NoteHead(
        id="note-1",
        patient_id="pat-1",
        type=NoteType.PHONE,
        doc_status=DocStatus.FINAL,
        relates_to=RelatesTo(type=RecordType.CARE_PLAN, id=APPOINTMENT),
        created_by="nurse-1",
        created_at=NOW,
        current=1,
    )
    assert first == NoteVersion(
        number=1, text="Called: BP log reviewed, no changes.", reason=None, signed_by="nurse-1", signed_at=NOW
    )


def test_an_amendment_is_the_next_signed_version_with_its_reason() -> None:
    head, first = signed("Metoprolol 50 mg.")
    later = NOW + timedelta(hours=1)
    after, second = amend(head, first.text, amendment("Metoprolol 25 mg."), "nurse-2", later)
    assert after == head.model_copy(update={"current": 2, "doc_status": DocStatus.AMENDED})
    assert second == NoteVersion(
        number=2, text="Metoprolol 25 mg.", reason="wrong dose written", signed_by="nurse-2", signed_at=later
    )
    # the original stays as it was signed; the author and creation time do not move
    assert (after.created_by, after.created_at) == ("nurse-1", NOW)
    again, third = amend(after, second.text, amendment("Metoprolol 12.5 mg.", "dose changed"), "md-1", later)
    assert (again.current, again.doc_status, third.number, third.reason) == (
        3,
        DocStatus.AMENDED,
        3,
        "dose changed",
    )


def test_an_amendment_must_change_the_text() -> None:
    head, first = signed("Metoprolol 50 mg.")
    refused(
        ValueError,
        "the amendment reads as the note does now",
        amend,
        head,
        first.text,
        amendment("Metoprolol 50 mg."),
        "nurse-2",
        NOW,
    )
    # it compares with the note as it reads now, not as first signed
    after, second = amend(head, first.text, amendment("Metoprolol 25 mg."), "nurse-2", NOW)
    back, third = amend(after, second.text, amendment("Metoprolol 50 mg."), "nurse-2", NOW)
    assert (back.current, third.text) == (3, "Metoprolol 50 mg.")


def test_a_note_has_at_most_50_versions() -> None:
    head, _ = signed()
    at_49 = head.model_copy(update={"current": MAX_VERSIONS - 1, "doc_status": DocStatus.AMENDED})
    at_50, last = amend(at_49, "version 49", amendment("version 50"), "nurse-1", NOW)
    assert (at_50.current, last.number) == (50, 50)
    refused(
        IllegalChange,
        "A note has at most 50 versions: write a new note.",
        amend,
        at_50,
        "version 50",
        amendment("version 51"),
        "nurse-1",
        NOW,
    )


def test_a_note_entered_in_error_keeps_its_versions_and_records_who_why_and_when() -> None:
    head, first = signed()
    at = NOW + timedelta(days=1)
    wrong = retract(head, EnteredInErrorIn(reason="written in the wrong chart"), "md-1", at)
    assert wrong == head.model_copy(
        update={
            "doc_status": DocStatus.ENTERED_IN_ERROR,
            "entered_in_error": Retraction(by="md-1", at=at, reason="written in the wrong chart"),
        }
    )
    assert wrong.current == 1  # no version is added or removed
    amended, _ = amend(head, first.text, amendment("corrected"), "nurse-1", NOW)
    assert retract(amended, EnteredInErrorIn(reason="wrong patient"), "md-1", at).current == 2


def test_a_note_entered_in_error_takes_no_amendment_and_is_not_marked_twice() -> None:
    head, first = signed()
    wrong = retract(head, EnteredInErrorIn(reason="wrong patient"), "md-1", NOW)
    refused(
        IllegalChange,
        "A note entered in error cannot be amended: write a new note.",
        amend,
        wrong,
        first.text,
        amendment("something else"),
        "nurse-1",
        NOW,
    )
    refused(
        IllegalChange,
        "The note is already marked entered in error.",
        retract,
        wrong,
        EnteredInErrorIn(reason="again"),
        "md-1",
        NOW,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "new text", "reason": ""},
        {"text": "", "reason": "typo"},
        {"text": "x" * 20_001, "reason": "y"},
    ],
)
def test_an_amendment_needs_a_text_and_a_reason(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        AmendmentIn.model_validate(fields)


def test_a_note_reads_with_every_version_the_current_one_first() -> None:
    head, first = signed("v1")
    head2, second = amend(head, "v1", amendment("v2"), "nurse-2", NOW)
    head3, third = amend(head2, "v2", amendment("v3"), "nurse-3", NOW)
    out = note_out(head3, [second, first, third], version=7)  # as the store returns them
    assert [v.number for v in out.versions] == [3, 2, 1]
    assert [v.text for v in out.versions] == ["v3", "v2", "v1"]
    assert out.version == 7
    assert (out.id, out.patient_id, out.type, out.doc_status) == (
        "note-1",
        "pat-1",
        NoteType.PHONE,
        "amended",
    )
    assert (out.created_by, out.created_at, out.entered_in_error, out.relates_to) == (
        "nurse-1",
        NOW,
        None,
        None,
    )
    assert "current" not in out.model_dump()
