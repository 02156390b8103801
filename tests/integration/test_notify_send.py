"""Sending through moto's SNS and SES: once per dedupe key, again after a crash, never PHI at rest or
in the logs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from shared import aws as shared_aws
from shared import clock
from shared.data import keys
from shared.domain.patients import Channel, PatientOut
from shared.notify.send import (
    DEFAULT_EMAIL_FROM,
    LEASE,
    Communication,
    Delivery,
    InFlight,
    Message,
    Undeliverable,
    send,
)
from tests.support.intake import GRANTED, patient_record
from tests.support.phi import PhiCanary

ACCOUNT, REGION = "123456789012", "us-east-1"
ORG = "acme"
PHONE, EMAIL = "+15555550123", "jane.roe@example.com"
OFFER = Message(subject="A sooner appointment for Jane", text="Jane Roe, a slot opened Tue 10:00. Reply YES.")


def patient(**changes: Any) -> PatientOut:
    return patient_record(**changes)  # type: ignore[no-any-return]


@pytest.fixture
def notify(aws: dict[str, Any], phi: PhiCanary, frozen_clock: clock.FixedClock) -> Iterator[PatientOut]:
    """moto with the sender verified (the template's identity may not exist yet), PHI registered."""
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=DEFAULT_EMAIL_FROM)
    phi.register(PHONE, EMAIL, "Jane", "Roe", "1961-04-12", PHONE.lstrip("+"), OFFER.subject, OFFER.text)
    yield patient()


def sms() -> dict[str, tuple[str, str]]:
    return dict(sns_backends[ACCOUNT][REGION].sms_messages)


def mail() -> list[Any]:
    return list(ses_backends[ACCOUNT][REGION].sent_messages)


def stored(dedupe_key: str) -> Communication:
    return Communication.get(
        keys.communication_pk(ORG, dedupe_key), keys.COMMUNICATION_SK, consistent_read=True
    )


def raw_items() -> list[dict[str, Any]]:
    return list(boto3.client("dynamodb", region_name=REGION).scan(TableName="careloop-test")["Items"])


def test_sms_is_sent_once_per_dedupe_key(notify: PatientOut) -> None:
    first = send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1")
    assert first.sent and not first.duplicate and first.channel is Channel.SMS
    assert sms() == {first.message_id: (PHONE, OFFER.text)}

    again = send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1")
    assert again == Delivery(Channel.SMS, first.message_id, sent=False, duplicate=True)
    assert len(sms()) == 1

    item = stored("offer-slot1-p1")
    assert (item.status, item.channel, item.message_id) == ("completed", "sms", first.message_id)
    assert item.ttl == clock.now().replace(microsecond=0) + timedelta(days=90)

    other = send(ORG, notify, Channel.SMS, OFFER, "offer-slot2-p1")
    assert other.sent and len(sms()) == 2


def test_email_goes_through_ses_from_the_configured_sender(
    notify: PatientOut, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = send(ORG, notify, Channel.EMAIL, OFFER, "offer-slot1-p1")
    (sent,) = mail()
    assert (sent.id, sent.source, sent.subject, sent.body) == (
        delivery.message_id,
        DEFAULT_EMAIL_FROM,
        OFFER.subject,
        OFFER.text,
    )
    assert sent.destinations["ToAddresses"] == [EMAIL]
    assert send(ORG, notify, Channel.EMAIL, OFFER, "offer-slot1-p1").duplicate
    assert len(mail()) == 1

    monkeypatch.setenv("NOTIFY_EMAIL_FROM", "care@clinic.example")
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress="care@clinic.example")
    send(ORG, notify, Channel.EMAIL, OFFER, "offer-slot2-p1")
    assert mail()[-1].source == "care@clinic.example"


def test_a_crash_between_claim_and_send_sends_on_retry_exactly_once(
    notify: PatientOut, monkeypatch: pytest.MonkeyPatch
) -> None:
    sns = shared_aws.client("sns")
    publish, calls = sns.publish, []

    def crash_once(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("provider unreachable")
        return publish(**kwargs)

    monkeypatch.setattr(sns, "publish", crash_once)
    with pytest.raises(ConnectionError):
        send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1")
    assert sms() == {}
    assert stored("offer-slot1-p1").status == "preparation"

    retry = send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1")
    assert retry.sent and not retry.duplicate
    assert list(sms()) == [retry.message_id]
    assert stored("offer-slot1-p1").status == "completed"

    assert send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1").duplicate
    assert len(sms()) == 1 and len(calls) == 2


def test_two_callers_racing_on_one_key_send_one_message(
    notify: PatientOut, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second caller arrives while the first is at the provider: it must not send too."""
    sns = shared_aws.client("sns")
    publish, outcomes = sns.publish, []

    def slow_provider(**kwargs: Any) -> Any:
        try:  # the other consumer's delivery of the same message, mid-send
            outcomes.append(send(ORG, notify, Channel.SMS, OFFER, "offer-race"))
        except InFlight as exc:
            outcomes.append(exc)
        return publish(**kwargs)

    monkeypatch.setattr(sns, "publish", slow_provider)
    first = send(ORG, notify, Channel.SMS, OFFER, "offer-race")
    assert first.sent and len(sms()) == 1
    assert len(outcomes) == 1 and isinstance(outcomes[0], InFlight)
    monkeypatch.setattr(sns, "publish", publish)
    assert send(ORG, notify, Channel.SMS, OFFER, "offer-race").duplicate


def test_a_claim_whose_holder_crashed_is_taken_over_once_its_lease_runs_out(
    notify: PatientOut, frozen_clock: clock.FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a holder that claimed and died before sending (its lease still running)
    stale = Communication(
        keys.communication_pk(ORG, "offer-crash"),
        keys.COMMUNICATION_SK,
        patient_id=notify.id,
        dedupe_key="offer-crash",
        channel="sms",
        status="preparation",
        lease_until=clock.isoformat(frozen_clock.now() + LEASE),
        created_at=clock.isoformat(frozen_clock.now()),
        updated_at=clock.isoformat(frozen_clock.now()),
    )
    stale.save()
    with pytest.raises(InFlight):
        send(ORG, notify, Channel.SMS, OFFER, "offer-crash")
    assert sms() == {}
    frozen_clock.advance(LEASE + timedelta(seconds=1))
    assert send(ORG, notify, Channel.SMS, OFFER, "offer-crash").sent
    assert len(sms()) == 1


def test_a_permanent_refusal_is_undeliverable_and_gives_the_key_back(
    notify: PatientOut, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    sns = shared_aws.client("sns")
    publish = sns.publish

    def opted_out(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "OptedOut", "Message": "opted out"}}, "Publish")

    monkeypatch.setattr(sns, "publish", opted_out)
    with pytest.raises(Undeliverable):
        send(ORG, notify, Channel.SMS, OFFER, "offer-optout")
    monkeypatch.setattr(sns, "publish", publish)  # e.g. the patient opted back in
    assert send(ORG, notify, Channel.SMS, OFFER, "offer-optout").sent  # not held by a dead lease


def test_an_expired_claim_counts_as_absent(notify: PatientOut, frozen_clock: clock.FixedClock) -> None:
    send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1")
    frozen_clock.advance(timedelta(days=91))  # DynamoDB may not have deleted it yet: moto never does
    assert send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1").sent
    assert len(sms()) == 2


def test_the_record_holds_no_text_and_no_address(notify: PatientOut) -> None:
    send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1")
    send(ORG, notify, Channel.EMAIL, OFFER, "offer-slot2-p1")
    items = raw_items()
    assert {i["entity"]["S"] for i in items} == {"Communication"}
    dumped = str(items).lower()
    for value in (PHONE, PHONE.lstrip("+"), EMAIL, "jane", "roe", "slot opened", "sooner"):
        assert value.lower() not in dumped


@pytest.mark.parametrize(
    ("changes", "channel"),
    [
        ({"consent": {"email": GRANTED}}, Channel.SMS),
        ({"consent": {"sms": {**GRANTED, "granted": False}}}, Channel.SMS),
        ({"contact": {"phone": PHONE}}, Channel.EMAIL),
        ({"consent": {"voice": GRANTED}}, Channel.VOICE),
    ],
    ids=["no-consent", "withdrawn", "no-address", "voice"],
)
def test_an_unusable_channel_is_refused_before_anything_is_written(
    notify: PatientOut, changes: dict[str, Any], channel: Channel
) -> None:
    with pytest.raises(Undeliverable):
        send(ORG, patient(**changes), channel, OFFER, "offer-slot1-p1")
    assert raw_items() == [] and sms() == {} and mail() == []


def test_a_dedupe_key_that_could_break_its_key_slot_is_refused(notify: PatientOut) -> None:
    with pytest.raises(ValueError, match="invalid key component"):
        send(ORG, notify, Channel.SMS, OFFER, "a#b")
    assert sms() == {}


def test_the_message_is_kept_out_of_repr_and_must_say_something() -> None:
    assert "Jane" not in repr(OFFER)
    with pytest.raises(ValueError, match="empty"):
        Message(subject="s", text="  ")


def test_logs_name_ids_only(notify: PatientOut, phi: PhiCanary) -> None:
    send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1")
    send(ORG, notify, Channel.SMS, OFFER, "offer-slot1-p1")
    lines = [line for line in phi.lines if "notification" in line]
    assert len(lines) == 2
    assert all(notify.id in line for line in lines)  # the canary (autouse) checks they hold no PHI


def test_provision_verifies_the_templates_email_identities(aws: dict[str, Any]) -> None:
    from local.stack import provision
    from local.template import TEMPLATE, Template

    tpl = Template(TEMPLATE)  # a private copy: the cached default stays as it is
    tpl.data.setdefault("Parameters", {})["TestSenderAddress"] = {"Type": "String", "Default": "x@y.example"}
    tpl.data["Resources"]["TestSender"] = {
        "Type": "AWS::SES::EmailIdentity",
        "Properties": {"EmailIdentity": {"Ref": "TestSenderAddress"}},
    }
    stack = provision(boto3.Session(), table_name="notify-check", bus_name="notify-check", tpl=tpl)
    assert stack.names["TestSender"] == "x@y.example"
    assert "x@y.example" in boto3.client("ses", region_name=REGION).list_identities()["Identities"]
