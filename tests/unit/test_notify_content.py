"""What a patient reads: reminder texts in their language, their local date and time, SMS in one
part, organizations' templates checked, and the .ics a calendar imports."""

from __future__ import annotations

import calendar
import dataclasses
import itertools
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from icalendar import Calendar

from shared.domain.patients import Channel
from shared.notify.content import _DEFAULTS as DEFAULTS
from shared.notify.content import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    ICS_CONTENT_TYPE,
    ICS_FILENAME,
    PLACEHOLDERS,
    Facts,
    Kind,
    Template,
    check_template,
    ics,
    is_gsm7,
    languages,
    render,
    sms_parts,
)

NEW_YORK = "America/New_York"
LINK = "https://api.careloop.example/r/" + "a1B2c3D4e5" * 4  # 71 characters, as issued
# 2026-12-08 is a Tuesday; 15:00 UTC is 10:00 in New York (EST)
START = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)


def facts(**changes: Any) -> Facts:
    base = Facts(
        first_name="Jane",
        clinic_name="Riverside Clinic",
        clinic_phone="+15555550100",
        start=START,
        end=START + timedelta(minutes=30),
        time_zone=NEW_YORK,
        link=LINK,
        asks_confirmation=True,
        appointment_id="01JE0000000000000000000000",
        sequence=3,
        updated_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
    )
    if "start" in changes and "end" not in changes:  # a moved visit keeps its length
        changes["end"] = changes["start"] and changes["start"] + timedelta(minutes=30)
    return dataclasses.replace(base, **changes)


def sms(kind: Kind | str, language: str, **changes: Any) -> str:
    return render(kind, Channel.SMS, language, facts(**changes)).text


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """The instant (UTC) at which New York's wall clock reads this."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(NEW_YORK)).astimezone(UTC)


# ---------------------------------------------------------------- SMS as carriers count it


def test_the_gsm7_tables_are_the_standard_ones() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes, ESC being the way into the extension table
    assert frozenset("\f^{}\\[~]|€") == GSM7_EXTENSION
    assert is_gsm7("é ñ ü Ñ Ü ¿ ¡ à @ £ Ç") and is_gsm7("")
    for outside in ("á", "í", "ó", "ú", "ç", "sáb", "\u202f", "\u2019", "😀"):
        assert not is_gsm7(outside), outside


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),  # 2 x 153
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters count two septets: 160
        ("€" * 80 + "a", 2),
        ("a" * 152 + "€" + "a" * 152, 3),  # the escape pair does not fit in part 1: it moves on
        ("á" * 70, 1),
        ("á" * 71, 2),
        ("á" * 134, 2),  # 2 x 67
        ("á" * 135, 3),
        ("a" * 69 + "á", 1),  # one character outside GSM-7 turns the whole text to UCS-2
        ("a" * 70 + "á", 2),
        ("😀" * 35, 1),  # an emoji is two UTF-16 code units
        ("😀" * 36, 2),
        ("a" * 66 + "😀" + "a" * 66, 3),  # a surrogate pair is never split across parts
    ],
)
def test_sms_parts_count_septets_or_utf16_units(text: str, parts: int) -> None:
    assert sms_parts(text) == parts


def _worst_case_dates() -> list[datetime]:
    """Every weekday in every month (the last such day: two-digit days), at the longest times."""
    found = []
    for month in range(1, 13):
        last = calendar.monthrange(2027, month)[1]
        days = [date(2027, month, d) for d in range(last, last - 7, -1)]
        for day in days:
            for wall in (time(10, 30), time(12, 45), time(23, 59), time(0, 5)):
                found.append(datetime.combine(day, wall, tzinfo=ZoneInfo(NEW_YORK)).astimezone(UTC))
    local = {
        (d.astimezone(ZoneInfo(NEW_YORK)).month, d.astimezone(ZoneInfo(NEW_YORK)).weekday()) for d in found
    }
    assert len(local) == 12 * 7
    return found


WORST = {
    "first_name": "Christabella",  # 12
    "clinic_name": "Northwestern Family Care",  # 24
    "clinic_phone": "+" + "9" * 15,  # the longest E.164 number
    "link": LINK,
}


def test_every_default_sms_is_one_gsm7_part_in_the_worst_case() -> None:
    assert (len(WORST["first_name"]), len(WORST["clinic_name"]), len(LINK)) == (12, 24, 71)
    dated = {Kind.APPOINTMENT, Kind.ANSWER_CONFIRMED}
    longest: dict[str, int] = {}
    rendered = 0
    for language in ("en", "es"):
        for kind in Kind:
            for asks in (True, False):
                for link, phone in itertools.product((LINK, None), (WORST["clinic_phone"], None)):
                    if kind in (Kind.ANSWER_HELP, Kind.REFERRAL) and phone is None and link is None:
                        continue  # refused: nothing to say (tested below)
                    if kind is Kind.ANSWER_HELP and phone is None:
                        continue
                    for start in _worst_case_dates() if kind in dated else [START]:
                        changes = {**WORST, "link": link, "clinic_phone": phone}
                        text = sms(kind, language, **changes, asks_confirmation=asks, start=start)
                        rendered += 1
                        assert is_gsm7(text), (language, kind, text)
                        assert sms_parts(text) == 1, (language, kind, len(text), text)
                        longest[language] = max(longest.get(language, 0), len(text))
    assert rendered > 2 * 2 * 2 * 4 * 12 * 7 * 4
    assert longest["en"] <= 160 and longest["es"] <= 160


def test_a_saturday_stays_gsm7_in_spanish_though_babels_sab_is_not() -> None:
    # Babel's own abbreviation of Saturday is not GSM-7: the Spanish SMS date leaves weekdays out
    saturday = at(2027, 1, 30, 10, 0)
    assert format_datetime(saturday, "EEE", tzinfo=ZoneInfo(NEW_YORK), locale="es") == "sáb"
    text = sms(Kind.APPOINTMENT, "es", start=saturday)
    assert "30 ene 10:00" in text and is_gsm7(text)


# ---------------------------------------------------------------- language, date, time


def test_a_spanish_speaker_reads_spanish_with_a_24_hour_clock() -> None:
    afternoon = at(2026, 12, 8, 15, 0)  # 3 PM in New York
    assert sms(Kind.APPOINTMENT, "es-MX", start=afternoon) == (
        f"Riverside Clinic: cita 8 dic 15:00. Responda C para confirmar, R para cambiar {LINK}"
    )
    assert sms(Kind.APPOINTMENT, "en-US", start=afternoon) == (
        f"Riverside Clinic appt Tue, Dec 8 3:00 PM. Reply C to confirm, R to reschedule {LINK}"
    )
    assert sms(Kind.APPOINTMENT, "es", start=afternoon, asks_confirmation=False, link=None) == (
        "Riverside Clinic: Jane, su cita es el 8 dic, 15:00. Responda R para cambiar su cita"
    )
    assert sms(Kind.APPOINTMENT, "en", start=afternoon, asks_confirmation=False, link=None) == (
        "Riverside Clinic: Jane, your appointment is Tue, Dec 8 at 3:00 PM. Reply R to reschedule"
    )


@pytest.mark.parametrize("language", ["fr", "fr-CA", "de", "zz", "", "123", "not a tag"])
def test_a_language_we_do_not_write_falls_back_to_english(language: str) -> None:
    assert sms(Kind.APPOINTMENT, language) == sms(Kind.APPOINTMENT, "en")
    assert render(Kind.ANSWER_STOP, Channel.EMAIL, language, facts()).subject == (
        "You will get no more texts from Riverside Clinic"
    )


def test_language_tags_are_tried_from_the_longest_to_english() -> None:
    assert languages("es-MX") == ["es-MX", "es", "en"]
    assert languages("es_mx") == ["es-MX", "es", "en"]
    assert languages("zh-hant-tw") == ["zh-Hant-TW", "zh-Hant", "zh", "en"]
    assert languages("en-GB") == ["en-GB", "en"]
    assert languages("") == ["en"]


@pytest.mark.parametrize(
    ("instant", "en", "es"),
    [
        # before the change (EDT, UTC-4) and after it (EST, UTC-5): 10:00 on the patient's clock both times
        (datetime(2026, 10, 30, 14, 0, tzinfo=UTC), "Fri, Oct 30 10:00 AM", "30 oct 10:00"),
        (datetime(2026, 11, 2, 15, 0, tzinfo=UTC), "Mon, Nov 2 10:00 AM", "2 nov 10:00"),
        # the night of the change: 01:30 happens twice; 06:30 UTC is the second one (EST)
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "Sun, Nov 1 1:30 AM", "1 nov 1:30"),
        # already Wednesday in UTC, still Tuesday evening in New York
        (datetime(2026, 12, 9, 3, 30, tzinfo=UTC), "Tue, Dec 8 10:30 PM", "8 dic 22:30"),
    ],
)
def test_dates_and_times_are_the_patients_local_ones_across_dst(instant: datetime, en: str, es: str) -> None:
    assert f"appt {en}. Reply" in sms(Kind.APPOINTMENT, "en", start=instant)
    assert f"cita {es}. Responda" in sms(Kind.APPOINTMENT, "es", start=instant)


def test_the_time_zone_is_the_patients_not_the_servers() -> None:
    assert "Tue, Dec 8 4:00 PM" in sms(Kind.APPOINTMENT, "en", time_zone="Europe/Madrid")
    assert "8 dic 16:00" in sms(Kind.APPOINTMENT, "es", time_zone="Europe/Madrid")
    assert "Tue, Dec 8 5:00 AM" in sms(Kind.APPOINTMENT, "en", time_zone="Pacific/Honolulu")


def test_the_english_time_has_a_plain_space_not_cldrs_narrow_no_break_space() -> None:
    text = sms(Kind.APPOINTMENT, "en")
    assert "10:00 AM" in text and "\u202f" not in text and is_gsm7(text)


def test_an_email_spells_the_date_out_in_the_patients_language() -> None:
    english = render(Kind.APPOINTMENT, Channel.EMAIL, "en", facts())
    assert english.subject == "Reminder: your appointment at Riverside Clinic on Tuesday, December 8, 2026"
    assert "on Tuesday, December 8, 2026 at 10:00 AM." in english.text
    assert english.text.startswith("Hello Jane,\n\n")
    assert f"Please confirm that you can come, or choose another time: {LINK}" in english.text
    assert "To reach us, call +15555550100." in english.text

    spanish = render(Kind.APPOINTMENT, Channel.EMAIL, "es-MX", facts(start=at(2027, 1, 30, 15, 0)))
    assert spanish.subject == "Recordatorio: su cita en Riverside Clinic el sábado, 30 de enero de 2027"
    assert "Fecha: sábado, 30 de enero de 2027\nHora: 15:00\n" in spanish.text
    assert spanish.text.startswith("Hola, Jane:\n\n")


def test_an_email_leaves_out_the_lines_it_has_no_facts_for() -> None:
    message = render(Kind.APPOINTMENT, Channel.EMAIL, "en", facts(link=None, clinic_phone=None))
    assert "http" not in message.text and "call" not in message.text
    assert "\n\n\n" not in message.text
    assert message.text == (
        "Hello Jane,\n\n"
        "This is a reminder of your appointment at Riverside Clinic on Tuesday, December 8, 2026 at 10:00 AM."
        "\n\nRiverside Clinic"
    )
    unconfirmed = render(Kind.APPOINTMENT, Channel.EMAIL, "en", facts(asks_confirmation=False))
    assert f"If you need another time: {LINK}" in unconfirmed.text and "confirm" not in unconfirmed.text


# ---------------------------------------------------------------- what each answer says


@pytest.mark.parametrize("language", ["en", "es"])
def test_stop_says_no_more_texts_and_how_to_restart(language: str) -> None:
    text = sms(Kind.ANSWER_STOP, language)
    assert "START" in text and "Riverside Clinic" in text
    assert ("no more texts" in text) if language == "en" else ("ya no le enviaremos mensajes" in text)
    assert "Jane" not in text and LINK not in text


@pytest.mark.parametrize("language", ["en", "es"])
def test_help_names_the_clinic_and_its_phone_and_how_to_stop(language: str) -> None:
    text = sms(Kind.ANSWER_HELP, language)
    assert "Riverside Clinic" in text and "+15555550100" in text and "STOP" in text


def test_help_without_a_clinic_phone_is_refused_rather_than_sent_without_contact() -> None:
    with pytest.raises(ValueError, match="clinic_phone"):
        sms(Kind.ANSWER_HELP, "en", clinic_phone=None)


def test_a_referral_offers_what_the_clinic_has() -> None:
    assert sms(Kind.REFERRAL, "en") == (
        f"Riverside Clinic: please book your visit. Call +15555550100 or tap {LINK}"
    )
    assert sms(Kind.REFERRAL, "en", clinic_phone=None) == (
        f"Riverside Clinic: Jane, please book your visit: {LINK}"
    )
    assert sms(Kind.REFERRAL, "es", link=None) == (
        "Riverside Clinic: Jane, haga su cita llamando al +15555550100."
    )
    with pytest.raises(ValueError, match="clinic_phone, link"):
        sms(Kind.REFERRAL, "en", link=None, clinic_phone=None)


def test_answers_say_what_happened() -> None:
    assert sms(Kind.ANSWER_CONFIRMED, "en") == (
        "Riverside Clinic: thank you, your appointment on Tue, Dec 8 at 10:00 AM is confirmed."
    )
    assert sms(Kind.ANSWER_CONFIRMED, "es", start=None, end=None) == (
        "Riverside Clinic: gracias, su cita queda confirmada."
    )
    assert "no appointment waiting" in sms(Kind.ANSWER_NOTHING_OPEN, "en")
    unknown = sms(Kind.ANSWER_UNKNOWN, "es")
    assert "guardamos su mensaje" in unknown and "911" in unknown
    assert "START" not in sms(Kind.ANSWER_START, "en") and "STOP" in sms(Kind.ANSWER_START, "en")


def test_an_appointment_reminder_needs_its_start() -> None:
    with pytest.raises(ValueError, match="start"):
        sms(Kind.APPOINTMENT, "en", start=None, end=None)


def test_voice_has_no_text_here() -> None:
    with pytest.raises(ValueError, match="voice"):
        render(Kind.APPOINTMENT, Channel.VOICE, "en", facts())


def test_a_name_cannot_add_lines_or_placeholders() -> None:
    text = sms(Kind.ANSWER_CONFIRMED, "en", clinic_name="Acme\nBcc: x {link}\u2028Clinic")
    assert text.startswith("Acme Bcc: x {link} Clinic: thank you") and "\n" not in text
    message = render(Kind.APPOINTMENT, Channel.EMAIL, "en", facts(clinic_name="Acme\r\nX-Evil: 1"))
    assert "\r" not in message.subject and "\n" not in message.subject


# ---------------------------------------------------------------- organizations' templates


def test_an_override_for_spanish_is_what_a_mexican_patient_reads() -> None:
    overrides = {
        ("appointment", "es", "sms"): Template(
            "{clinic_name}: {first_name}, le esperamos el {date} a las {time}."
        ),
    }
    message = render(Kind.APPOINTMENT, Channel.SMS, "es-MX", facts(), overrides)
    assert message.text == "Riverside Clinic: Jane, le esperamos el 8 dic a las 10:00."
    # an English patient of the same organization still reads our default
    assert render(Kind.APPOINTMENT, Channel.SMS, "en", facts(), overrides).text == sms(Kind.APPOINTMENT, "en")


def test_the_most_specific_override_wins_and_english_ones_serve_the_fallback() -> None:
    overrides = {
        (Kind.ANSWER_STOP, "es", Channel.SMS): Template("{clinic_name}: es. Responda START."),
        ("answer-stop", "es-mx", "sms"): Template("{clinic_name}: es-MX. Responda START."),
        ("answer-stop", "en", "sms"): Template("{clinic_name}: en. Reply START."),
    }
    assert (
        render(Kind.ANSWER_STOP, "sms", "es-MX", facts(), overrides).text
        == "Riverside Clinic: es-MX. Responda START."
    )
    assert (
        render(Kind.ANSWER_STOP, "sms", "es-AR", facts(), overrides).text
        == "Riverside Clinic: es. Responda START."
    )
    assert (
        render(Kind.ANSWER_STOP, "sms", "fr", facts(), overrides).text == "Riverside Clinic: en. Reply START."
    )


def test_an_override_in_a_language_we_do_not_write_uses_its_dates() -> None:
    overrides = {("appointment", "fr", "sms"): Template("{clinic_name} : RDV {date} à {time}.")}
    text = render(Kind.APPOINTMENT, Channel.SMS, "fr-CA", facts(), overrides).text
    assert text == "Riverside Clinic : RDV mar. 8 déc. à 10:00."  # CLDR's French, on the patient's clock


def test_an_email_override_without_subject_keeps_the_default_subject() -> None:
    overrides = {("answer-confirmed", "es", "email"): Template("Hola {first_name}: confirmada, {date}.")}
    message = render(Kind.ANSWER_CONFIRMED, Channel.EMAIL, "es-MX", facts(), overrides)
    assert message.subject == "Su cita en Riverside Clinic está confirmada"
    assert message.text == "Hola Jane: confirmada, martes, 8 de diciembre de 2026."
    with pytest.raises(ValueError, match="subject"):
        render(
            Kind.ANSWER_CONFIRMED,
            "email",
            "fr",
            facts(),
            {("answer-confirmed", "fr", "email"): Template("x")},
        )


def test_literal_braces_are_doubled() -> None:
    overrides = {("answer-stop", "en", "sms"): Template("{{STOP}} {clinic_name} {{first_name}}")}
    assert (
        render(Kind.ANSWER_STOP, "sms", "en", facts(), overrides).text
        == "{STOP} Riverside Clinic {first_name}"
    )


@pytest.mark.parametrize(
    "text",
    [
        "{0}",
        "{}",
        "{a.b}",
        "{a[0]}",
        "{x!r}",
        "{x:>10}",
        "{patient_dob}",
        "{ first_name }",
        "{",
        "}",
        "a } b",
        "{first_name",
        "{{first_name}",
        "{a{b}}",
    ],
)
def test_bad_placeholders_are_refused_without_repeating_them(text: str) -> None:
    secret = "SECRET-123-45-6789"
    with pytest.raises(ValueError) as refused:
        check_template(f"{secret} {text}")
    assert secret not in str(refused.value)
    for part in ("patient_dob", "a.b", "a[0]", "!r", ">10"):
        assert part not in str(refused.value)


@pytest.mark.parametrize("text", ["{first_name.__class__}", "{first_name!r}", "{link[0]}", "{date:%Y}"])
def test_a_misused_placeholder_of_ours_is_named(text: str) -> None:
    name = text[1:].split(".")[0].split("!")[0].split("[")[0].split(":")[0]
    with pytest.raises(ValueError, match=f"placeholder {name} must be written"):
        check_template(text)


def test_good_templates_pass_and_every_default_is_one() -> None:
    check_template("{first_name} {clinic_name} {clinic_phone} {date} {time} {link} {reply} {{ }}")
    check_template("no placeholders at all")
    for variants in DEFAULTS.values():
        for variant in variants:
            check_template(variant.text)
            check_template(variant.subject or "")
    assert {k for k, _lang, _ch in DEFAULTS} == set(Kind)
    for kind in Kind:
        for language in ("en", "es"):
            for channel in ("sms", "email"):
                assert (kind, language, channel) in DEFAULTS


def test_a_bad_override_is_refused_at_render_time() -> None:
    with pytest.raises(ValueError, match="unknown placeholder"):
        render(Kind.APPOINTMENT, "sms", "en", facts(), {("appointment", "en", "sms"): Template("{dob}")})
    with pytest.raises(ValueError, match="placeholder date must be written"):
        render(
            Kind.APPOINTMENT,
            "email",
            "en",
            facts(),
            {("appointment", "en", "email"): Template("ok", subject="{date.year}")},
        )


def test_an_override_that_cannot_be_filled_is_refused() -> None:
    overrides = {("answer-confirmed", "en", "sms"): Template("Confirmed for {date}.")}
    with pytest.raises(ValueError, match="without date"):
        render(Kind.ANSWER_CONFIRMED, "sms", "en", facts(start=None, end=None), overrides)


# ---------------------------------------------------------------- .ics


def _event(data: bytes) -> Any:
    parsed = Calendar.from_ical(data)
    assert str(parsed["METHOD"]) == "PUBLISH" and str(parsed["VERSION"]) == "2.0"
    (event,) = parsed.walk("VEVENT")
    return event


def test_the_ics_holds_the_instants_in_utc_and_names_only_the_clinic() -> None:
    start = at(2026, 11, 2, 9, 15)  # EST, the day after the change
    data = ics(facts(start=start, end=start + timedelta(minutes=45)))
    event = _event(data)
    assert event.decoded("DTSTART") == datetime(2026, 11, 2, 14, 15, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert b"DTSTART:20261102T141500Z" in data and b"TZID" not in data  # UTC, not floating
    assert event.decoded("DTSTAMP") == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert str(event["UID"]) == "01JE0000000000000000000000@careloop"
    assert event.decoded("SEQUENCE") == 3
    assert str(event["SUMMARY"]) == "Appointment at Riverside Clinic"
    assert str(event["STATUS"]) == "TENTATIVE"
    assert b"Jane" not in data and LINK.encode() not in data


def test_the_ics_is_confirmed_once_no_confirmation_is_asked_and_speaks_spanish() -> None:
    event = _event(ics(facts(asks_confirmation=False), "es-MX"))
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Cita en Riverside Clinic"


def test_the_same_version_renders_the_same_ics() -> None:
    assert ics(facts()) == ics(facts())
    assert ics(facts()) != ics(facts(sequence=4))


def test_an_ics_needs_an_id_a_start_and_a_stamp() -> None:
    for changes in ({"appointment_id": None}, {"start": None, "end": None}, {"updated_at": None}):
        with pytest.raises(ValueError):
            ics(facts(**changes))


def test_only_an_appointment_email_carries_the_ics() -> None:
    message = render(Kind.APPOINTMENT, Channel.EMAIL, "es", facts())
    (attachment,) = message.attachments
    assert (attachment.filename, attachment.content_type) == (ICS_FILENAME, ICS_CONTENT_TYPE)
    assert str(_event(attachment.data)["SUMMARY"]) == "Cita en Riverside Clinic"
    assert render(Kind.APPOINTMENT, Channel.SMS, "es", facts()).attachments == ()
    assert render(Kind.ANSWER_CONFIRMED, Channel.EMAIL, "es", facts()).attachments == ()
    assert render(Kind.APPOINTMENT, Channel.EMAIL, "es", facts(appointment_id=None)).attachments == ()


# ---------------------------------------------------------------- PHI and purity


def test_facts_keep_phi_out_of_repr_and_errors() -> None:
    shown = repr(facts())
    for phi in ("Jane", "Riverside", "+1555", "2026", "careloop.example"):
        assert phi not in shown
    with pytest.raises(ValueError) as naive:
        facts(start=datetime(2026, 12, 8, 10, 0))  # noqa: DTZ001 - the point of the test
    assert "2026" not in str(naive.value)
    with pytest.raises(ValueError, match="IANA"):
        facts(time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="end"):
        facts(end=START - timedelta(minutes=1))
    assert "data" not in repr(render(Kind.APPOINTMENT, "email", "en", facts()).attachments[0])


def test_importing_the_module_does_not_import_babel_or_icalendar() -> None:
    code = (
        "import sys, shared.notify.content as c\n"
        "assert 'babel' not in sys.modules and 'icalendar' not in sys.modules\n"
        "from datetime import datetime, UTC\n"
        "f = c.Facts('J', 'C', None, datetime(2026, 1, 1, tzinfo=UTC), None, 'UTC', None, True, None)\n"
        "c.render('appointment', 'sms', 'en', f)\n"
        "assert 'babel' in sys.modules and 'icalendar' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)  # noqa: S603


def test_the_placeholder_set_is_closed() -> None:
    assert (
        frozenset({"first_name", "clinic_name", "clinic_phone", "date", "time", "link", "reply"})
        == PLACEHOLDERS
    )
