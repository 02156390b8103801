"""What a patient reminder says, in the patient's language. Pure: no I/O, no clock reads.

:func:`render` turns a :class:`Kind` of message, a channel (SMS or e-mail), the patient's BCP 47 tag
and the :class:`Facts` a message may carry into a :class:`shared.notify.send.Message`:

- **Language**: the tag, then its shorter forms (``es-MX`` → ``es``), then English. At each step an
  organization's override wins over our default; English and Spanish have a default for every kind
  and channel, so an unknown language reads English.
- **Dates and times** are the patient's local ones (``Facts.time_zone``), written by Babel as the
  template's language writes them (en ``Tue, Dec 8`` / ``10:00 AM``; es ``8 dic`` / ``10:00``).
- **SMS** says little: at most the first name, the clinic, the date and time, how to reply and the
  one-tap link; never a diagnosis, a provider or a specialty. Every default is one part (160 GSM-7
  characters) for a first name up to 12 characters, a clinic name up to 24, a 71-character link,
  any date: Spanish SMS dates leave out the weekday because Babel's ``sáb`` (and ``á í ó ú``
  anywhere) is not GSM-7 and would cut a part to 70 characters. A name outside GSM-7 (``María``)
  still does, and makes the text two or three parts: :func:`sms_parts` says what a text costs.
- **E-mail** has a subject and a plain-text body; an ``appointment`` e-mail carries an ``.ics``
  (:func:`ics`) when the appointment id is known.

Templates are strings with ``{placeholder}`` fields from a closed set (:data:`PLACEHOLDERS`);
``{{`` and ``}}`` are literal braces. They are filled by a regular-expression substitution, never
``str.format`` (an organization's text must not reach attributes or indexes). A line whose
placeholder has no value (no link, no clinic phone, no date) is left out; a template left with
nothing to say is a ``ValueError``. Errors name our placeholders only, never the caller's text or a
patient's data.

Babel and icalendar are imported inside the functions that use them: a function that never renders
does not pay for them at cold start.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain.patients import Channel
from shared.domain.reminders import MessageKind
from shared.notify.send import Attachment, Message

PLACEHOLDERS = frozenset({"first_name", "clinic_name", "clinic_phone", "date", "time", "link", "reply"})
FALLBACK_LANGUAGE = "en"
ICS_FILENAME = "appointment.ics"
ICS_CONTENT_TYPE = "text/calendar; method=PUBLISH; charset=UTF-8"
CHANNELS = (Channel.SMS, Channel.EMAIL)


# the kinds of message (a reminder, and each answer to an SMS reply): the domain's, which templates name
Kind = MessageKind


@dataclass(frozen=True)
class Facts:
    """Everything a message may say. Datetimes are aware; PHI stays out of ``repr``.

    ``sequence`` is the appointment's version and ``updated_at`` when that version was made: the
    ``.ics`` SEQUENCE and DTSTAMP, so a calendar replaces an older copy of the same appointment
    (``updated_at`` is a fact, not a clock read: the same version renders the same bytes)."""

    first_name: str = field(repr=False)
    clinic_name: str = field(repr=False)
    clinic_phone: str | None = field(repr=False)
    start: datetime | None = field(repr=False)
    end: datetime | None = field(repr=False)
    time_zone: str
    link: str | None = field(repr=False)
    asks_confirmation: bool
    appointment_id: str | None
    sequence: int = 0
    updated_at: datetime | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("start", "end", "updated_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")
        if self.end is not None and self.start is None:
            raise ValueError("end needs a start")
        if self.sequence < 0:
            raise ValueError("sequence must not be negative")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError("time_zone must be an IANA time zone, e.g. America/Chicago") from None


@dataclass(frozen=True)
class Template:
    """An organization's text for one (kind, language, channel). ``subject`` is for e-mail; without
    one, the default subject of the same language is used."""

    text: str
    subject: str | None = None


# ------------------------------------------------------------------------------------ SMS parts

# GSM 03.38 default alphabet (without ESC, which only introduces the extension table) and the
# extension characters, which cost two septets.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM-7 default alphabet or its extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def sms_parts(text: str) -> int:
    """How many parts carriers bill (and throttle) for ``text``; an empty text is one part.

    GSM-7: 160 septets in one part, 153 per part once split, an extension character counting two.
    Otherwise UCS-2: 70 UTF-16 code units in one part, 67 once split (an emoji counts two). A part
    never ends inside an escape sequence or a surrogate pair: such a character moves to the next."""
    if is_gsm7(text):
        units = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        units = [len(ch.encode("utf-16-le")) // 2 for ch in text]
        single, part = UCS2_SINGLE, UCS2_PART
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for unit in units:
        if used + unit > part:
            parts, used = parts + 1, 0
        used += unit
    return parts


# ------------------------------------------------------------------------------------ templates

# {{ and }} are literal braces; {name} a placeholder; anything else with a brace is refused
_TOKEN = re.compile(r"\{\{|\}\}|\{[^{}]*\}|[{}]")
_HEAD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _placeholders(text: str) -> list[str]:
    return [m.group()[1:-1] for m in _TOKEN.finditer(text) if m.group() not in ("{{", "}}")]


def check_template(text: str) -> None:
    """``ValueError`` unless every ``{...}`` in ``text`` is one of :data:`PLACEHOLDERS`, written
    bare (no ``{0}``, ``{a.b}``, ``{a[0]}``, ``{x!r}``, ``{x:>9}``), and every other brace is doubled.
    The message names the placeholder only when it is one of ours; it never repeats the text."""
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("{{", "}}"):
            continue
        if len(token) == 1:
            raise ValueError("template has an unmatched brace; write {{ or }} for a literal one")
        inner = token[1:-1]
        if inner in PLACEHOLDERS:
            continue
        head = _HEAD.match(inner)
        if head and head.group() in PLACEHOLDERS:
            raise ValueError(
                f"placeholder {head.group()} must be written {{{head.group()}}}: "
                "no attributes, indexes, conversions or format specs"
            )
        raise ValueError(f"template has an unknown placeholder; allowed: {', '.join(sorted(PLACEHOLDERS))}")


_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _clean(value: str) -> str:
    """A fact as one line of text: control, format and line-separator characters become spaces (a
    newline in a name must not start a line of its own, nor reach an e-mail header)."""
    return " ".join("".join(" " if unicodedata.category(ch) in _UNSAFE else ch for ch in value).split())


def _fill(text: str, values: Mapping[str, str | None]) -> tuple[str, set[str]]:
    """The filled text, and the placeholders that had no value (their lines are left out)."""
    missing: set[str] = set()
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        absent = {name for name in _placeholders(line) if not values.get(name)}
        if absent:
            missing |= absent
            continue

        def value(match: re.Match[str]) -> str:
            token = match.group()
            if token in ("{{", "}}"):
                return token[0]
            return values[token[1:-1]] or ""

        kept.append(_TOKEN.sub(value, line).rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip(), missing


# ------------------------------------------------------------------------------------ defaults


@dataclass(frozen=True)
class _Default:
    """One way to say it. ``asks``: only when ``Facts.asks_confirmation`` is that (None: always)."""

    text: str
    subject: str | None = None
    asks: bool | None = None


_SMS, _EMAIL = Channel.SMS.value, Channel.EMAIL.value

# Per language: SMS date, e-mail date, time (Babel patterns). Spanish SMS dates have no weekday:
# Babel's "sáb" is not GSM-7. Time patterns are spelt out: CLDR's English "h:mm a" separates
# "AM" with a narrow no-break space (U+202F), which is not GSM-7 either.
_PATTERNS: dict[str, tuple[str, str, str]] = {
    "en": ("EEE, MMM d", "EEEE, MMMM d, y", "h:mm a"),
    "es": ("d MMM", "EEEE, d 'de' MMMM 'de' y", "H:mm"),
}

# How to answer a reminder by text (the SMS reply handler's keywords), with and without a
# confirmation asked.
_REPLY: dict[str, tuple[str, str]] = {
    "en": ("Reply C to confirm, R to reschedule", "Reply R to reschedule"),
    "es": ("Responda C para confirmar, R para cambiar", "Responda R para cambiar su cita"),
}

_SUMMARY = {"en": "Appointment at {clinic_name}", "es": "Cita en {clinic_name}"}

# (kind, language, channel) -> the ways to say it, best first: the first whose placeholders all
# have values (and whose `asks` matches) is used; failing that, the last that matches `asks`, with
# the lines it cannot fill left out.
_DEFAULTS: dict[tuple[str, str, str], tuple[_Default, ...]] = {
    # ---------------------------------------------------------------- English, SMS
    (Kind.APPOINTMENT, "en", _SMS): (
        _Default("{clinic_name} appt {date} {time}. {reply} {link}"),
        _Default("{clinic_name}: {first_name}, your appointment is {date} at {time}. {reply}"),
    ),
    (Kind.REFERRAL, "en", _SMS): (
        _Default("{clinic_name}: please book your visit. Call {clinic_phone} or tap {link}"),
        _Default("{clinic_name}: {first_name}, please book your visit: {link}"),
        _Default("{clinic_name}: {first_name}, please call {clinic_phone} to book your visit."),
    ),
    (Kind.ANSWER_CONFIRMED, "en", _SMS): (
        _Default("{clinic_name}: thank you, your appointment on {date} at {time} is confirmed."),
        _Default("{clinic_name}: thank you, your appointment is confirmed."),
    ),
    (Kind.ANSWER_RESCHEDULE, "en", _SMS): (
        _Default("{clinic_name}: got it. Choose a new time at {link} or we will contact you."),
        _Default("{clinic_name}: got it. We will contact you to find a new time."),
    ),
    (Kind.ANSWER_STOP, "en", _SMS): (
        _Default("{clinic_name}: you will get no more texts from us. Reply START to get them again."),
    ),
    (Kind.ANSWER_START, "en", _SMS): (
        _Default(
            "{clinic_name}: you will get our texts again. Msg&data rates may apply. "
            "Reply HELP for help, STOP to opt out."
        ),
    ),
    (Kind.ANSWER_HELP, "en", _SMS): (
        _Default(
            "{clinic_name} appointment texts. Help: call {clinic_phone}. Msg&data rates may apply. "
            "Reply STOP to opt out."
        ),
    ),
    (Kind.ANSWER_UNKNOWN, "en", _SMS): (
        _Default(
            "{clinic_name}: thank you, we kept your message for our team. Call us at {clinic_phone}. "
            "Emergencies: call 911."
        ),
        _Default("{clinic_name}: thank you, we kept your message for our team. Emergencies: call 911."),
    ),
    (Kind.ANSWER_NOTHING_OPEN, "en", _SMS): (
        _Default(
            "{clinic_name}: we found no appointment waiting for your answer. Questions? Call {clinic_phone}."
        ),
        _Default("{clinic_name}: we found no appointment waiting for your answer."),
    ),
    # ---------------------------------------------------------------- English, e-mail
    (Kind.APPOINTMENT, "en", _EMAIL): (
        _Default(
            "Hello {first_name},\n\n"
            "This is a reminder of your appointment at {clinic_name} on {date} at {time}.\n\n"
            "Please confirm that you can come, or choose another time: {link}\n"
            "To reach us, call {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="Reminder: your appointment at {clinic_name} on {date}",
            asks=True,
        ),
        _Default(
            "Hello {first_name},\n\n"
            "This is a reminder of your appointment at {clinic_name} on {date} at {time}.\n\n"
            "If you need another time: {link}\n"
            "To reach us, call {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="Reminder: your appointment at {clinic_name} on {date}",
            asks=False,
        ),
    ),
    (Kind.REFERRAL, "en", _EMAIL): (
        _Default(
            "Hello {first_name},\n\n"
            "You have a visit to book with {clinic_name}.\n\n"
            "Book it online: {link}\n"
            "Or call us at {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="Please book your visit with {clinic_name}",
        ),
    ),
    (Kind.ANSWER_CONFIRMED, "en", _EMAIL): (
        _Default(
            "Hello {first_name},\n\n"
            "Thank you: your appointment at {clinic_name} is confirmed.\n"
            "It is on {date} at {time}.\n\n"
            "{clinic_name}",
            subject="Your appointment at {clinic_name} is confirmed",
        ),
    ),
    (Kind.ANSWER_RESCHEDULE, "en", _EMAIL): (
        _Default(
            "Hello {first_name},\n\n"
            "We received your request for another time.\n"
            "Choose one here: {link}\n"
            "Otherwise we will contact you. To reach us, call {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="Your request for another time at {clinic_name}",
        ),
    ),
    (Kind.ANSWER_STOP, "en", _EMAIL): (
        _Default(
            "Hello {first_name},\n\n"
            "You will get no more text messages from {clinic_name}.\n"
            "To get them again, reply START to our text message.\n\n"
            "{clinic_name}",
            subject="You will get no more texts from {clinic_name}",
        ),
    ),
    (Kind.ANSWER_START, "en", _EMAIL): (
        _Default(
            "Hello {first_name},\n\n"
            "You will get text messages from {clinic_name} again. Message and data rates may apply.\n"
            "Reply HELP for help, STOP to stop them.\n\n"
            "{clinic_name}",
            subject="Texts from {clinic_name} are back on",
        ),
    ),
    (Kind.ANSWER_HELP, "en", _EMAIL): (
        _Default(
            "Hello {first_name},\n\n"
            "These are appointment messages from {clinic_name}.\n"
            "For help, call {clinic_phone}.\n"
            "Reply STOP to our text message to stop them. Message and data rates may apply.\n\n"
            "{clinic_name}",
            subject="Help with messages from {clinic_name}",
        ),
    ),
    (Kind.ANSWER_UNKNOWN, "en", _EMAIL): (
        _Default(
            "Hello {first_name},\n\n"
            "Thank you: we kept your message for our team.\n"
            "To reach us, call {clinic_phone}.\n"
            "Messages are not for emergencies: in an emergency, call 911.\n\n"
            "{clinic_name}",
            subject="We received your message",
        ),
    ),
    (Kind.ANSWER_NOTHING_OPEN, "en", _EMAIL): (
        _Default(
            "Hello {first_name},\n\n"
            "We found no appointment waiting for your answer.\n"
            "Questions? Call us at {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="No appointment waiting for your answer",
        ),
    ),
    # ---------------------------------------------------------------- Spanish, SMS (no á í ó ú)
    (Kind.APPOINTMENT, "es", _SMS): (
        _Default("{clinic_name}: cita {date} {time}. {reply} {link}"),
        _Default("{clinic_name}: {first_name}, su cita es el {date}, {time}. {reply}"),
    ),
    (Kind.REFERRAL, "es", _SMS): (
        _Default("{clinic_name}: haga su cita llamando al {clinic_phone} o en {link}"),
        _Default("{clinic_name}: {first_name}, haga su cita en {link}"),
        _Default("{clinic_name}: {first_name}, haga su cita llamando al {clinic_phone}."),
    ),
    (Kind.ANSWER_CONFIRMED, "es", _SMS): (
        _Default("{clinic_name}: gracias, su cita del {date}, {time} queda confirmada."),
        _Default("{clinic_name}: gracias, su cita queda confirmada."),
    ),
    (Kind.ANSWER_RESCHEDULE, "es", _SMS): (
        _Default("{clinic_name}: recibido. Elija otra hora en {link} o le llamaremos."),
        _Default("{clinic_name}: recibido. Nos pondremos en contacto con usted para buscar otra hora."),
    ),
    (Kind.ANSWER_STOP, "es", _SMS): (
        _Default(
            "{clinic_name}: ya no le enviaremos mensajes de texto. Para recibirlos de nuevo, responda START."
        ),
    ),
    (Kind.ANSWER_START, "es", _SMS): (
        _Default(
            "{clinic_name}: volveremos a enviarle mensajes. Pueden aplicar tarifas de mensajes y datos. "
            "Responda HELP para ayuda, STOP para cancelar."
        ),
    ),
    (Kind.ANSWER_HELP, "es", _SMS): (
        _Default(
            "{clinic_name}: recordatorios de citas. Ayuda: {clinic_phone}. Responda STOP para cancelar. "
            "Pueden aplicar tarifas de mensajes y datos."
        ),
    ),
    (Kind.ANSWER_UNKNOWN, "es", _SMS): (
        _Default(
            "{clinic_name}: gracias, guardamos su mensaje para el equipo. Tel. {clinic_phone}. "
            "Emergencias: llame al 911."
        ),
        _Default("{clinic_name}: gracias, guardamos su mensaje para el equipo. Emergencias: llame al 911."),
    ),
    (Kind.ANSWER_NOTHING_OPEN, "es", _SMS): (
        _Default(
            "{clinic_name}: no tenemos ninguna cita pendiente de su respuesta. "
            "¿Preguntas? Llame al {clinic_phone}."
        ),
        _Default("{clinic_name}: no tenemos ninguna cita pendiente de su respuesta."),
    ),
    # ---------------------------------------------------------------- Spanish, e-mail
    (Kind.APPOINTMENT, "es", _EMAIL): (
        _Default(
            "Hola, {first_name}:\n\n"
            "Le recordamos su cita en {clinic_name}.\n\n"
            "Fecha: {date}\n"
            "Hora: {time}\n\n"
            "Por favor, confirme que vendrá o elija otra hora: {link}\n"
            "Para hablar con nosotros, llame al {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="Recordatorio: su cita en {clinic_name} el {date}",
            asks=True,
        ),
        _Default(
            "Hola, {first_name}:\n\n"
            "Le recordamos su cita en {clinic_name}.\n\n"
            "Fecha: {date}\n"
            "Hora: {time}\n\n"
            "Si necesita otra hora: {link}\n"
            "Para hablar con nosotros, llame al {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="Recordatorio: su cita en {clinic_name} el {date}",
            asks=False,
        ),
    ),
    (Kind.REFERRAL, "es", _EMAIL): (
        _Default(
            "Hola, {first_name}:\n\n"
            "Tiene una cita por programar con {clinic_name}.\n\n"
            "Prográmela en línea: {link}\n"
            "O llámenos al {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="Programe su cita con {clinic_name}",
        ),
    ),
    (Kind.ANSWER_CONFIRMED, "es", _EMAIL): (
        _Default(
            "Hola, {first_name}:\n\n"
            "Gracias: su cita en {clinic_name} queda confirmada.\n\n"
            "Fecha: {date}\n"
            "Hora: {time}\n\n"
            "{clinic_name}",
            subject="Su cita en {clinic_name} está confirmada",
        ),
    ),
    (Kind.ANSWER_RESCHEDULE, "es", _EMAIL): (
        _Default(
            "Hola, {first_name}:\n\n"
            "Recibimos su solicitud de cambiar la cita.\n"
            "Elija otra hora aquí: {link}\n"
            "Si no, nos pondremos en contacto con usted.\n"
            "Para hablar con nosotros, llame al {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="Su solicitud de cambiar la cita en {clinic_name}",
        ),
    ),
    (Kind.ANSWER_STOP, "es", _EMAIL): (
        _Default(
            "Hola, {first_name}:\n\n"
            "Ya no recibirá mensajes de texto de {clinic_name}.\n"
            "Para volver a recibirlos, responda START a nuestro mensaje de texto.\n\n"
            "{clinic_name}",
            subject="Ya no recibirá mensajes de texto de {clinic_name}",
        ),
    ),
    (Kind.ANSWER_START, "es", _EMAIL): (
        _Default(
            "Hola, {first_name}:\n\n"
            "Volverá a recibir mensajes de texto de {clinic_name}. Pueden aplicarse tarifas de mensajes "
            "y datos.\n"
            "Responda HELP para recibir ayuda, STOP para dejar de recibirlos.\n\n"
            "{clinic_name}",
            subject="Vuelve a recibir mensajes de {clinic_name}",
        ),
    ),
    (Kind.ANSWER_HELP, "es", _EMAIL): (
        _Default(
            "Hola, {first_name}:\n\n"
            "Estos son mensajes sobre sus citas en {clinic_name}.\n"
            "Para recibir ayuda, llame al {clinic_phone}.\n"
            "Para dejar de recibirlos, responda STOP a nuestro mensaje de texto. Pueden aplicarse "
            "tarifas de mensajes y datos.\n\n"
            "{clinic_name}",
            subject="Ayuda con los mensajes de {clinic_name}",
        ),
    ),
    (Kind.ANSWER_UNKNOWN, "es", _EMAIL): (
        _Default(
            "Hola, {first_name}:\n\n"
            "Gracias: guardamos su mensaje para nuestro equipo.\n"
            "Para hablar con nosotros, llame al {clinic_phone}.\n"
            "Los mensajes no son para emergencias: en una emergencia, llame al 911.\n\n"
            "{clinic_name}",
            subject="Recibimos su mensaje",
        ),
    ),
    (Kind.ANSWER_NOTHING_OPEN, "es", _EMAIL): (
        _Default(
            "Hola, {first_name}:\n\n"
            "No tenemos ninguna cita pendiente de su respuesta.\n"
            "¿Preguntas? Llámenos al {clinic_phone}.\n\n"
            "{clinic_name}",
            subject="Ninguna cita pendiente de su respuesta",
        ),
    ),
}


# ------------------------------------------------------------------------------------ languages


def _normalize(tag: str) -> str:
    """A BCP 47 tag in its usual case (``es-mx`` and ``es_MX`` → ``es-MX``); ``""`` if it is not one."""
    parts = [p for p in re.split(r"[-_]", tag.strip()) if p]
    if not parts or not parts[0].isascii() or not parts[0].isalpha() or not 2 <= len(parts[0]) <= 8:
        return ""
    out = [parts[0].lower()]
    for part in parts[1:]:
        if not part.isascii() or not part.isalnum():
            break
        if len(part) == 4 and part.isalpha():
            out.append(part.title())  # script
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())  # region
        else:
            out.append(part.lower())
    return "-".join(out)


def languages(tag: str) -> list[str]:
    """The languages tried for ``tag``, best first: the tag, its shorter forms, then English
    (``zh-Hant-TW`` → ``zh-Hant-TW``, ``zh-Hant``, ``zh``, ``en``)."""
    parts = _normalize(tag).split("-") if _normalize(tag) else []
    tried = ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]
    return [*dict.fromkeys([*tried, FALLBACK_LANGUAGE])]


def _base(language: str) -> str:
    return language.split("-", 1)[0]


# ------------------------------------------------------------------------------------ formatting


def _babel_locale(language: str) -> str:
    """The Babel locale for a template's language; English when Babel does not know it."""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(language, sep="-"))
    except (UnknownLocaleError, ValueError, TypeError):
        return FALLBACK_LANGUAGE


def _when(at: datetime, time_zone: str, language: str, channel: Channel) -> tuple[str, str]:
    """The date and time of ``at`` on the patient's wall clock, as ``language`` writes them."""
    from babel.dates import format_date, format_datetime, format_skeleton, format_time

    zone = ZoneInfo(time_zone)
    base = _base(language)
    if base in _PATTERNS:
        sms_date, email_date, time_pattern = _PATTERNS[base]
        date_text = format_datetime(
            at, sms_date if channel is Channel.SMS else email_date, tzinfo=zone, locale=base
        )
        time_text = format_datetime(at, time_pattern, tzinfo=zone, locale=base)
    else:  # a language only an organization's override speaks: CLDR's own formats
        locale = _babel_locale(language)
        if channel is Channel.SMS:
            date_text = format_skeleton("MMMEd", at, tzinfo=zone, locale=locale)
        else:
            date_text = format_date(at.astimezone(zone).date(), "full", locale=locale)
        time_text = format_time(at, "short", tzinfo=zone, locale=locale)
    return _plain(date_text), _plain(time_text)


def _plain(text: str) -> str:
    """CLDR puts no-break spaces (U+00A0, U+202F) in dates and times: plain ones keep SMS GSM-7."""
    return _clean(text.replace("\u202f", " ").replace("\xa0", " "))


def _values(kind: Kind, channel: Channel, language: str, facts: Facts) -> dict[str, str | None]:
    date_text = time_text = None
    if facts.start is not None:
        date_text, time_text = _when(facts.start, facts.time_zone, language, channel)
    reply = None
    if kind is Kind.APPOINTMENT and _base(language) in _REPLY:
        asks, plain = _REPLY[_base(language)]
        reply = asks if facts.asks_confirmation else plain
    return {
        "first_name": _clean(facts.first_name),
        "clinic_name": _clean(facts.clinic_name),
        "clinic_phone": _clean(facts.clinic_phone or ""),
        "date": date_text,
        "time": time_text,
        "link": _clean(facts.link or ""),
        "reply": reply,
    }


# ------------------------------------------------------------------------------------ rendering


def _pick(
    variants: tuple[_Default, ...], facts: Facts, values: Mapping[str, str | None]
) -> tuple[_Default, set[str]]:
    """The variant to use, and the placeholders without a value that ruled the others out."""
    matching = [v for v in variants if v.asks is None or v.asks == facts.asks_confirmation]
    missing: set[str] = set()
    for variant in matching:
        absent = {name for name in _placeholders(variant.text) if not values.get(name)}
        if not absent:
            return variant, set()
        missing |= absent
    return matching[-1], missing


def _choose(
    kind: Kind,
    channel: Channel,
    language: str,
    overrides: Mapping[tuple[str, str, str], Template] | None,
) -> tuple[str, Template | tuple[_Default, ...]]:
    """The language used, and the organization's template or our variants for it."""
    mine = {
        (str(k), _normalize(lang), str(c)): template
        for (k, lang, c), template in (overrides or {}).items()
        if _normalize(lang)
    }
    for candidate in languages(language):
        if (kind.value, candidate, channel.value) in mine:
            return candidate, mine[(kind.value, candidate, channel.value)]
        if (kind.value, candidate, channel.value) in _DEFAULTS:
            return candidate, _DEFAULTS[(kind.value, candidate, channel.value)]
    raise AssertionError("English has a default for every kind and channel")  # pragma: no cover


def _nothing_left(missing: set[str], what: str) -> ValueError:
    return ValueError(f"{what} has nothing left to say without {', '.join(sorted(missing))}")


def render(
    kind: Kind | str,
    channel: Channel | str,
    language: str,
    facts: Facts,
    overrides: Mapping[tuple[str, str, str], Template] | None = None,
) -> Message:
    """The message for ``kind`` on ``channel`` (SMS or e-mail) to a patient speaking ``language``.

    ``overrides`` are an organization's templates keyed by ``(kind, language, channel)``; one for
    ``es`` is used for ``es-MX`` unless there is one for ``es-MX``. An ``appointment`` needs
    ``facts.start``; its e-mail carries the ``.ics`` when ``facts.appointment_id`` is set (which
    then needs ``facts.updated_at``). ``ValueError`` for a bad override, a kind or channel we do not
    write, or a template left with nothing to say (a HELP answer needs the clinic's phone)."""
    kind, channel = Kind(kind), Channel(channel)
    if channel not in CHANNELS:
        raise ValueError(f"no message texts for channel {channel.value}")
    if kind is Kind.APPOINTMENT and facts.start is None:
        raise ValueError("an appointment reminder needs the appointment's start")
    chosen, template = _choose(kind, channel, language, overrides)
    values = _values(kind, channel, chosen, facts)

    if isinstance(template, Template):
        override = template
        check_template(override.text)
        text, subject_text = override.text, override.subject
        if subject_text is not None:
            check_template(subject_text)
        elif channel is Channel.EMAIL:
            same = _DEFAULTS.get((kind.value, _base(chosen), channel.value))
            if same is None:
                raise ValueError("an e-mail override in a language we do not write needs a subject")
            subject_text = _pick(same, facts, values)[0].subject
        ruled_out: set[str] = set()
    else:
        variant, ruled_out = _pick(template, facts, values)
        text, subject_text = variant.text, variant.subject

    body, missing = _fill(text, values)
    if not body:
        raise _nothing_left(missing | ruled_out, "the template")
    subject = ""
    if channel is Channel.EMAIL:
        if not subject_text or not subject_text.strip() or re.search(r"[\r\n]", subject_text):
            raise ValueError("an e-mail needs a subject, on one line")
        subject, missing = _fill(subject_text, values)
        if not subject:
            raise _nothing_left(missing, "the subject")

    attachments: tuple[Attachment, ...] = ()
    if channel is Channel.EMAIL and kind is Kind.APPOINTMENT and facts.appointment_id:
        attachments = (Attachment(ICS_FILENAME, ICS_CONTENT_TYPE, ics(facts, chosen)),)
    return Message(subject=subject, text=body, attachments=attachments)


# ------------------------------------------------------------------------------------ .ics


def ics(facts: Facts, language: str = FALLBACK_LANGUAGE) -> bytes:
    """The appointment as an iCalendar object (METHOD:PUBLISH, one VEVENT), instants in UTC.

    UID ``<appointment_id>@careloop`` and SEQUENCE ``facts.sequence``, so a calendar that has an
    earlier copy replaces it; DTSTAMP is ``facts.updated_at``. The SUMMARY names the clinic only;
    STATUS is TENTATIVE while a confirmation is asked, else CONFIRMED."""
    from icalendar import Calendar, Event

    if not facts.appointment_id or facts.start is None:
        raise ValueError("an .ics needs the appointment's id and start")
    if facts.updated_at is None:
        raise ValueError("an .ics needs facts.updated_at (its DTSTAMP)")
    summary_template = next(
        (_SUMMARY[_base(c)] for c in languages(language) if _base(c) in _SUMMARY), _SUMMARY["en"]
    )
    summary = summary_template.replace("{clinic_name}", _clean(facts.clinic_name))

    event = Event()
    event.add("uid", f"{facts.appointment_id}@careloop")
    event.add("dtstamp", facts.updated_at.astimezone(UTC))
    event.add("dtstart", facts.start.astimezone(UTC))
    if facts.end is not None:
        event.add("dtend", facts.end.astimezone(UTC))
    event.add("sequence", facts.sequence)
    event.add("summary", summary)
    event.add("status", "TENTATIVE" if facts.asks_confirmation else "CONFIRMED")
    calendar = Calendar()
    calendar.add("prodid", "-//Careloop//Reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    return calendar.to_ical()
