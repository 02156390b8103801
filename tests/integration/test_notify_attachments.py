"""An e-mailed reminder with its .ics, through moto's SES: one raw MIME mail a mail client reads as a
text part and a calendar invitation."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from icalendar import Calendar
from moto.ses.models import ses_backends

from shared import clock
from shared.domain.patients import Channel, PatientOut
from shared.notify.content import Facts, Kind, render
from shared.notify.send import DEFAULT_EMAIL_FROM, send
from tests.support.intake import patient_record
from tests.support.phi import PhiCanary

ACCOUNT, REGION = "123456789012", "us-east-1"
ORG = "acme"
EMAIL = "jane.roe@example.com"
START = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)  # 10:00 in New York
LINK = "https://api.careloop.example/r/" + "q" * 40


@pytest.fixture
def notify(aws: dict[str, Any], phi: PhiCanary, frozen_clock: clock.FixedClock) -> Iterator[PatientOut]:
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=DEFAULT_EMAIL_FROM)
    phi.register(EMAIL, "Jane", "Roe", "Riverside Clinic", LINK)
    yield patient_record()


def facts() -> Facts:
    return Facts(
        first_name="Jane",
        clinic_name="Riverside Clinic",
        clinic_phone="+15555550100",
        start=START,
        end=START + timedelta(minutes=30),
        time_zone="America/New_York",
        link=LINK,
        asks_confirmation=True,
        appointment_id="01JE0000000000000000000000",
        sequence=2,
        updated_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
    )


def test_an_appointment_email_goes_raw_with_its_text_and_ics(notify: PatientOut) -> None:
    message = render(Kind.APPOINTMENT, Channel.EMAIL, "es-MX", facts())
    delivery = send(ORG, notify, Channel.EMAIL, message, "reminder-appt1-7d")
    assert delivery.sent

    (sent,) = ses_backends[ACCOUNT][REGION].sent_messages
    assert sent.id == delivery.message_id and sent.source == DEFAULT_EMAIL_FROM
    mail = email.message_from_string(sent.raw_data, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    # a 70-77 character subject is folded right after "Subject:"; mail clients drop that leading
    # whitespace when they unfold, Python's parser keeps it
    assert (mail["From"], mail["To"], mail["Subject"].lstrip()) == (
        DEFAULT_EMAIL_FROM,
        EMAIL,
        message.subject,
    )
    assert message.subject == "Recordatorio: su cita en Riverside Clinic el martes, 8 de diciembre de 2026"

    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")  # lines end in CRLF on the wire
    assert text.rstrip("\n") == message.text
    assert "Hora: 10:00" in text and "Hola, Jane:" in text

    (attachment,) = mail.iter_attachments()
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_filename() == "appointment.ics"
    data = attachment.get_payload(decode=True)
    assert data == message.attachments[0].data
    (event,) = Calendar.from_ical(data).walk("VEVENT")
    assert event.decoded("DTSTART") == START
    assert str(event["UID"]) == "01JE0000000000000000000000@careloop"


def test_an_email_without_attachments_still_goes_through_send_email(notify: PatientOut) -> None:
    message = render(Kind.ANSWER_CONFIRMED, Channel.EMAIL, "en", facts())
    assert message.attachments == ()
    send(ORG, notify, Channel.EMAIL, message, "answer-appt1-c")
    (sent,) = ses_backends[ACCOUNT][REGION].sent_messages
    assert (sent.subject, sent.body) == (message.subject, message.text)  # a plain message, not raw
