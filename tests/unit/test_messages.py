"""Secure messages (shared/domain/messages.py): what makes a patient message urgent, the emergency reply
the patient gets at once, the organization's message policy, and the bookkeeping of a conversation
(which patient messages wait for an answer, and when one is overdue).

Urgent words are matched as a nurse would want: without case or accents, as whole words (a longer
word that merely starts with one does not count), across any run of spaces, with the curly apostrophe
phones type, and every language's words in every message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.calendar import Calendar
from shared.domain.messages import (
    MAX_UNANSWERED,
    AttachmentOut,
    Author,
    Conversation,
    MessageOut,
    MessagePatientView,
    MessagePolicy,
    answered,
    fold,
    is_patient_side,
    is_urgent,
    overdue,
    received,
)
from shared.domain.tasks import DueIn, due_at

T0 = datetime(2026, 12, 4, 21, 55, tzinfo=UTC)  # Friday 16:55 in New York
NY = Calendar(time_zone="America/New_York")


def defaults() -> MessagePolicy:
    """The policy an organization starts with, made when a test runs (not when this file is read)."""
    return MessagePolicy()


def policy(**fields: Any) -> MessagePolicy:
    return MessagePolicy.model_validate(fields)


def error_of(fields: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        policy(**fields)
    return str(caught.value.errors()[0]["msg"])


# ---------------------------------------------------------------- fold


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("DOLOR de PÉCHO", "dolor de pecho"),
        ("Convulsión", "convulsion"),
        ("ME DESMAYÉ", "me desmaye"),
        ("can\u2019t breathe", "can't breathe"),  # the apostrophe phones type
        ("CAN'T", "can't"),
        ("Straße", "strasse"),  # casefold, not just lower
        ("ataque al corazón", "ataque al corazon"),
        ("911", "911"),
    ],
)
def test_fold_drops_case_and_accents_and_straightens_apostrophes(typed: str, folded: str) -> None:
    assert fold(typed) == folded


# ---------------------------------------------------------------- urgent words (the defaults)

# One message per default word, as patients write them; each holds that word and no other, so each
# word is shown to work by itself.
URGENT_EN = [
    "I have had CHEST PAIN since this morning",
    "I think I am having a heart attack",
    "I can't breathe well tonight",
    "I cannot breathe when I lie down",
    "i cant breathe",
    "I get short of breath on the stairs",
    "My father has trouble breathing",
    "Difficulty breathing after the new pills",
    "She is choking on her food",
    "Is this a stroke? His arm is weak",
    "Her face drooping on one side",
    "He has slurred speech since lunch",
    "My wife is unconscious",
    "I passed out in the kitchen",
    "I fainted at church",
    "He had a seizure an hour ago",
    "There is severe bleeding from the wound",
    "My nose is bleeding heavily",
    "I keep thinking about suicide",
    "I feel suicidal",
    "I want to kill myself",
    "I want to end my life",
    "I took an overdose of my pills",
    "This is an emergency!!",
    "Should I call 911?",
]
URGENT_ES = [
    "Tengo dolor de pecho",
    "Creo que es un ataque al corazón",
    "No puedo respirar bien",
    "Tengo falta de aire",
    "Me ahogo cuando camino",
    "Mi mamá tuvo un derrame",
    "Mi hijo tuvo una convulsión",
    "Tuve un desmayo en la calle",
    "Ayer me desmayé dos veces",
    "Mi esposo está inconsciente",
    "Tengo un sangrado fuerte",
    "Pienso en el suicidio",
    "Quiero suicidarme",
    "Quiero matarme",
    "Quiero quitarme la vida",
    "Tomé una sobredosis",
    "Es una emergencia",
]


@pytest.mark.parametrize("text", URGENT_EN + URGENT_ES)
def test_every_default_urgent_word_makes_a_message_urgent(text: str) -> None:
    assert is_urgent(text, defaults())


@pytest.mark.parametrize("text", URGENT_EN)
def test_each_english_message_holds_one_urgent_word_only(text: str) -> None:
    """The table above is worth what it claims: drop the word a message holds and it is not urgent."""
    words = defaults().urgent_words["en"]
    held = [w for w in words if is_urgent(text, policy(urgent_words={"en": [w]}))]
    assert len(held) == 1
    rest = [w for w in words if w not in held]
    assert not is_urgent(text, policy(urgent_words={"en": rest, "es": defaults().urgent_words["es"]}))


@pytest.mark.parametrize(
    "text",
    [
        "DOLOR de pécho desde ayer",  # case and accents ignored
        "I  have   chest\tpain",  # any run of spaces between the words of a phrase
        "chest\npain",
        "I can\u2019t breathe",  # the curly apostrophe of phones
        "CAN\u2019T BREATHE",
        "no chest pain, but please call",  # errs on the side of the nurse
        "stroke.",
        "(stroke)",
        "emergency-room visit?",  # a hyphen ends a word
        "call 911",
        "911",
    ],
)
def test_urgent_whatever_the_case_accents_spacing_and_punctuation(text: str) -> None:
    assert is_urgent(text, defaults())


@pytest.mark.parametrize(
    "text",
    [
        "Can I go to the emergencyroom clinic?",  # one word, not "emergency"
        "He strokes the cat when he is anxious",  # not "stroke"
        "My suicidality screening is on Monday",  # not "suicidal"
        "Order 9110 arrived",  # not "911"
        "chestpain",
        "I am short of money this month",
        "Please refill my lisinopril, thank you.",
        "Thank you, I feel better today",
        "",
    ],
)
def test_not_urgent_when_no_whole_urgent_word_is_there(text: str) -> None:
    assert not is_urgent(text, defaults())


def test_every_language_s_words_are_matched_in_every_message() -> None:
    # a Spanish phrase in an otherwise English message, and the other way round
    assert is_urgent("My mother says she has dolor de pecho", defaults())
    assert is_urgent("Mi papá dice que tiene chest pain", defaults())
    words = policy(urgent_words={"vi": ["khó thở"], "fr": ["douleur thoracique"]})
    assert is_urgent("Ông ấy bị KHÓ THỞ", words)
    assert is_urgent("ong ay bi kho tho", words)  # typed without the marks
    assert is_urgent("Il a une douleur thoracique", words)
    assert not is_urgent("chest pain", words)


def test_an_organization_s_own_list_replaces_the_default() -> None:
    own = policy(urgent_words={"en": ["black stool", "can\u2019t walk"]})
    assert is_urgent("I noticed BLACK   stool today", own)
    assert is_urgent("I can't walk", own)  # its curly apostrophe matches a straight one
    assert not is_urgent("I have chest pain", own)
    assert not is_urgent("dolor de pecho", own)


@pytest.mark.parametrize("words", [{}, {"en": []}, {"en": [], "es": []}])
def test_empty_lists_make_nothing_urgent(words: dict[str, list[str]]) -> None:
    empty = policy(urgent_words=words)
    for text in ("I have chest pain.", "!!", "", "..."):
        assert not is_urgent(text, empty)


def test_the_default_words_are_written_as_they_are_matched() -> None:
    """An admin reads the defaults before editing them: lower case and without accents, the form a
    message is compared in."""
    for words in defaults().urgent_words.values():
        assert words
        assert all(w == fold(w) for w in words)


# ---------------------------------------------------------------- the emergency reply


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("es", "es"),
        ("es-MX", "es"),
        ("ES-mx", "es"),
        ("es-419", "es"),
        ("vi", "en"),  # no Vietnamese text: English
        ("zh-Hant-TW", "en"),
        ("fr", "fr"),
        ("fr-CA", "fr"),
    ],
)
def test_the_emergency_reply_is_in_the_patient_s_language_or_english(language: str, expected: str) -> None:
    texts = {**defaults().emergency_reply, "fr": "Votre message semble urgent : appelez le 911 maintenant."}
    replies = policy(emergency_reply=texts)
    assert replies.reply_in(language) == texts[expected]


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        (
            "en",
            [
                "call 911 now or go to the nearest emergency room",
                "call or text 988",
                "A nurse has been told about your message",
            ],
        ),
        (
            "es",
            [
                "llame al 911 ahora o vaya a la sala de emergencias más cercana",
                "llame o envíe un texto al 988",
                "Una enfermera ya sabe de su mensaje",
            ],
        ),
    ],
)
def test_the_default_emergency_reply_tells_what_to_do_now(language: str, phrases: list[str]) -> None:
    text = defaults().reply_in(language)
    for phrase in phrases:
        assert phrase in text
    # whole sentences, each capitalised and ended, separated by one space
    sentences = re.split(r"(?<=\.) ", text)
    assert len(sentences) == 4
    assert all(s[0].isupper() and s.endswith(".") and "  " not in s for s in sentences)


def test_the_defaults_as_read_can_be_written_back() -> None:
    """GET /message-policy then PUT of what was read: the defaults pass their own validation."""
    again = MessagePolicy.model_validate(defaults().model_dump(mode="json"))
    assert again == defaults()
    assert set(again.urgent_words) == set(again.emergency_reply) == {"en", "es"}


def test_a_patient_message_is_due_one_business_day_later_by_default() -> None:
    """Friday 16:55 is due Monday 16:55 (New York)."""
    assert due_at(defaults().response_time, T0, NY, None) == datetime(2026, 12, 7, 21, 55, tzinfo=UTC)
    assert defaults().response_time == DueIn(amount=1, unit="business-days")


# ---------------------------------------------------------------- the policy's validation


def test_at_most_500_urgent_words_in_all_languages() -> None:
    words = [f"w{i}" for i in range(500)]
    assert sum(map(len, policy(urgent_words={"en": words}).urgent_words.values())) == 500
    assert policy(urgent_words={"en": words[:250], "es": words[250:]}).urgent_words["es"][-1] == "w499"
    too_many = {"en": words[:250], "es": [*words[250:], "one-more"]}
    assert error_of({"urgent_words": too_many}) == "Value error, at most 500 urgent words in all"


@pytest.mark.parametrize(
    "words",
    [
        {"EN": ["chest pain"]},  # a language is two lower-case letters
        {"eng": ["chest pain"]},
        {"en": ["x"]},  # a word has two characters at least
        {"en": ["y" * 61]},
    ],
)
def test_urgent_words_that_make_no_sense_are_refused(words: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError):
        policy(urgent_words=words)


def test_the_emergency_reply_needs_an_english_text() -> None:
    spanish_only = {"es": defaults().emergency_reply["es"]}
    assert error_of({"emergency_reply": spanish_only}) == (
        "Value error, the emergency reply has an English text (the fallback)"
    )
    with pytest.raises(ValidationError):
        policy(emergency_reply={"en": "Call 911."})  # too short to say what to do
    assert policy(emergency_reply={"en": "Call 911 or go to the ER now."}).reply_in("es") == (
        "Call 911 or go to the ER now."
    )


# ---------------------------------------------------------------- the conversation


def message(message_id: str, at: datetime, author: Author = Author.PATIENT, **extra: Any) -> MessageOut:
    return MessageOut(
        id=message_id, patient_id="pat-1", author=author, author_id="sub-1", text="Hello", sent_at=at, **extra
    )


@pytest.mark.parametrize(
    ("author", "patient_side"),
    [(Author.PATIENT, True), (Author.CAREGIVER, True), (Author.STAFF, False), (Author.SYSTEM, False)],
)
def test_the_patient_and_their_caregiver_write_on_the_patient_s_side(
    author: Author, patient_side: bool
) -> None:
    assert is_patient_side(author) is patient_side


def test_patient_messages_wait_and_the_oldest_sets_the_clock() -> None:
    first = received(Conversation(), message("m1", T0))
    assert first == Conversation(unanswered=["m1"], first_unanswered_at=T0, last_at=T0)
    later = T0 + timedelta(hours=2)
    second = received(first, message("m2", later))
    assert second == Conversation(unanswered=["m1", "m2"], first_unanswered_at=T0, last_at=later)


def test_waiting_messages_are_capped() -> None:
    conversation = Conversation()
    for n in range(MAX_UNANSWERED + 3):
        conversation = received(conversation, message(f"m{n}", T0 + timedelta(minutes=n)))
    assert len(conversation.unanswered) == MAX_UNANSWERED
    # the oldest holds the clock (and the unanswered alert): it stays, the middle goes
    assert conversation.unanswered[0] == "m0" and conversation.first_unanswered_at == T0
    assert conversation.unanswered[1] == "m4"
    assert conversation.unanswered[-1] == f"m{MAX_UNANSWERED + 2}"
    assert conversation.last_at == T0 + timedelta(minutes=MAX_UNANSWERED + 2)


def test_an_organization_s_word_with_two_spaces_or_a_stroked_letter_still_matches() -> None:
    words = policy(urgent_words={"en": ["chest  pain"], "vi": ["đau ngực"]})
    assert is_urgent("my chest pain is back", words)
    assert is_urgent("dau nguc tu sang", words)
    assert is_urgent("ĐAU NGỰC", words)


def test_a_received_message_keeps_what_was_raised() -> None:
    raised = Conversation(unanswered=["m1"], first_unanswered_at=T0, last_at=T0, escalated_id="m1")
    after = received(raised, message("m2", T0 + timedelta(days=2)))
    assert after.escalated_id == "m1"
    assert after.first_unanswered_at == T0


def test_a_staff_message_answers_every_waiting_message_and_resets_the_clock() -> None:
    waiting = Conversation(
        unanswered=["m1", "m2"], first_unanswered_at=T0, last_at=T0 + timedelta(hours=1), escalated_id="m1"
    )
    at = T0 + timedelta(days=1)
    after, answers = answered(waiting, at)
    assert answers == ["m1", "m2"]
    assert after == Conversation(last_at=at)
    assert answered(Conversation(), at) == (Conversation(last_at=at), [])


def test_the_oldest_waiting_message_is_overdue_once_its_time_has_come() -> None:
    waiting = Conversation(unanswered=["m1", "m2"], first_unanswered_at=T0, last_at=T0)
    due = T0 + timedelta(days=3)
    assert overdue(waiting, due, due - timedelta(seconds=1)) is None
    assert overdue(waiting, due, due) == "m1"
    assert overdue(waiting, due, due + timedelta(days=1)) == "m1"


def test_an_overdue_message_is_raised_once() -> None:
    due = T0 + timedelta(days=3)
    raised = Conversation(unanswered=["m1", "m2"], first_unanswered_at=T0, escalated_id="m1")
    assert overdue(raised, due, due) is None
    # answered since, then a new message waited past its time: that one is raised
    again = Conversation(unanswered=["m3"], first_unanswered_at=T0, escalated_id="m1")
    assert overdue(again, due, due) == "m3"


@pytest.mark.parametrize(
    "conversation",
    [Conversation(), Conversation(last_at=T0), Conversation(unanswered=["m1"], first_unanswered_at=None)],
)
def test_nothing_is_overdue_when_nothing_waits(conversation: Conversation) -> None:
    assert overdue(conversation, T0, T0 + timedelta(days=30)) is None


# ---------------------------------------------------------------- the patient's view


def test_the_patient_reads_no_staff_identity_and_no_triage() -> None:
    attachment = AttachmentOut(
        id="att-1", content_type="image/png", size=2048, status="attached", message_id="m9", created_at=T0
    )
    staff = message(
        "m9",
        T0,
        Author.STAFF,
        attachments=[attachment],
        urgent=True,
        read_at=T0 + timedelta(minutes=5),
        answers=["m1", "m2"],
    )
    view = MessagePatientView.of(staff)
    assert view.model_dump() == {
        "id": "m9",
        "author": Author.STAFF,
        "text": "Hello",
        "attachments": [attachment.model_dump()],
        "sent_at": T0,
        "read_at": T0 + timedelta(minutes=5),
    }


def test_an_attachment_names_the_message_or_the_prior_authorization_it_went_with() -> None:
    pending = AttachmentOut(
        id="att-1", content_type="application/pdf", size=2048, status="pending", created_at=T0
    )
    assert (pending.message_id, pending.authorization_id) == (None, None)
    sent = pending.model_copy(update={"status": "attached", "authorization_id": "auth-1"})
    assert AttachmentOut.model_validate(sent.model_dump()).authorization_id == "auth-1"
    on_message = AttachmentOut(
        id="att-2", content_type="image/png", size=10, status="attached", message_id="m1", created_at=T0
    )
    assert on_message.authorization_id is None
