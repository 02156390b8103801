"""The API as a front-end team meets it: a typed client generated from the runtime's /openapi.json with
openapi-python-client, driving register -> book -> the slot-taken 409 -> confirm -> cancel, and a 401,
through its models. A response the document declares wrongly (a 409 declared with the success model,
a 401 shaped otherwise than documented) makes the generated parser raise or return the wrong type."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.intake import patient

from .conftest import Client

pytestmark = pytest.mark.e2e
PACKAGE = "careloop_client"


@pytest.fixture(scope="module")
def generated(careloop: Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package, generated into a temporary directory and imported from there."""
    out = tmp_path_factory.mktemp("client")
    spec = out / "openapi.json"
    spec.write_text(json.dumps(careloop.get("/openapi.json").json()))
    config = out / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))  # no formatter needed to import it
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec)]
    command += ["--meta", "none", "--output-path", str(out / PACKAGE), "--config", str(config)]
    run = subprocess.run(  # noqa: S603
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # The generator warns about every part of the document it cannot turn into code.
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def api(name: str) -> Any:
    """``api("appointments.book_appointment")``: a generated endpoint module."""
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def model(name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


def test_a_generated_client_books_meets_the_409_confirms_cancels_and_reads_the_401(
    generated: ModuleType, careloop: Client
) -> None:
    def as_(roles: tuple[str, ...], **extra: Any) -> Any:
        token = careloop.token(org="gen-client", roles=roles, sub=f"{roles[0]}-gen", **extra)
        return generated.AuthenticatedClient(
            base_url=careloop.url, token=token, raise_on_unexpected_status=True
        )

    admin, coordinator = as_(("admin",)), as_(("coordinator",))
    Problem, GatewayMessage = model("Problem"), model("GatewayMessage")

    # set-up through the client too: a type and a provider open every day
    typed = api("providers.put_appointment_type").sync_detailed(
        "follow-up", client=admin, body=model("AppointmentTypeIn")(display="Follow-up", duration_minutes=30)
    )
    assert typed.status_code == 200
    provider_in = model("ProviderIn").from_dict(
        {
            "name": "Dr. Generated",
            "specialty": "cardiology",
            "location": "Clinic",
            "time_zone": "UTC",
            "appointment_types": ["follow-up"],
            "availability": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(1, 8)],
        }
    )
    created = api("providers.create_provider").sync_detailed(client=admin, body=provider_in)
    assert created.status_code == 201 and created.headers["location"].endswith(created.parsed.id)
    provider = created.parsed

    registered = api("patients.register_patient").sync_detailed(
        client=coordinator,
        body=model("PatientIn").from_dict(patient(name={"given": ["Gen"], "family": "Client"})),
        idempotency_key="gen-register-1",
    )
    assert registered.status_code == 201
    person = registered.parsed
    assert isinstance(person, model("PatientOut")) and person.quiet_hours.start == "21:00"
    replayed = api("patients.register_patient").sync_detailed(
        client=coordinator,
        body=model("PatientIn").from_dict(patient(name={"given": ["Gen"], "family": "Client"})),
        idempotency_key="gen-register-1",
    )
    assert replayed.headers["idempotent-replayed"] == "true" and replayed.parsed.id == person.id

    now = datetime.fromisoformat(careloop.get("/_local/clock").json()["now"].replace("Z", "+00:00"))
    day: date = (now + timedelta(days=2)).astimezone(UTC).date()
    slots = api("scheduling.get_availability").sync(
        client=coordinator, appointment_type="follow-up", from_=day, to=day, provider_id=provider.id, limit=5
    )
    slot = slots.items[0]

    booking = model("BookingIn")(
        patient_id=person.id, provider_id=provider.id, appointment_type="follow-up", start=slot.start
    )
    booked = api("appointments.book_appointment").sync_detailed(client=coordinator, body=booking)
    assert booked.status_code == 201
    appointment = booked.parsed
    assert isinstance(appointment, model("AppointmentOut")) and appointment.status.value == "pending"

    taken = api("appointments.book_appointment").sync_detailed(client=coordinator, body=booking)
    assert taken.status_code == 409
    assert isinstance(taken.parsed, Problem), "the 409 must parse as a problem, not as an appointment"
    assert taken.parsed.conflict == "slot"
    assert taken.parsed.type_.endswith("/conflict")

    confirmed = api("appointments.confirm_appointment").sync_detailed(
        appointment.id, client=coordinator, if_match=booked.headers["etag"]
    )
    assert confirmed.status_code == 200 and confirmed.parsed.status.value == "booked"
    stale = api("appointments.cancel_appointment").sync_detailed(
        appointment.id,
        client=coordinator,
        body=model("CancelIn")(reason=model("CancelReason")("patient")),
        if_match='"1"',
    )
    assert stale.status_code == 409 and isinstance(stale.parsed, Problem)
    assert stale.parsed.current_version == 2
    cancelled = api("appointments.cancel_appointment").sync_detailed(
        appointment.id,
        client=coordinator,
        body=model("CancelIn")(reason=model("CancelReason")("patient")),
        if_match=confirmed.headers["etag"],
    )
    assert cancelled.status_code == 200 and cancelled.parsed.status.value == "cancelled"

    anonymous = generated.AuthenticatedClient(base_url=careloop.url, token="not-a-token")
    refused = api("identity.get_me").sync_detailed(client=anonymous)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, GatewayMessage) and refused.parsed.message == "Unauthorized"


def test_every_operation_generates_a_short_function(generated: ModuleType) -> None:
    """operationIds become the client's function names: ``book_appointment``, not
    ``book_appointments_post``."""
    root = Path(generated.__file__).parent / "api"
    functions = sorted(p.stem for p in root.glob("*/*.py") if p.stem != "__init__")
    assert "book_appointment" in functions and len(functions) >= 40
    assert all(len(name) <= 30 and not name.endswith(("_get", "_post", "_put")) for name in functions)


def test_a_generated_client_documents_messages_and_reads_the_timeline(
    generated: ModuleType, careloop: Client
) -> None:
    """The records area through the typed client: a note and its stale amendment (a typed problem), an
    urgent message answered at once, a reading refused as a problem, and the timeline in both views
    (staff's and the patient's: two response shapes one operation returns)."""

    def as_(roles: tuple[str, ...], **extra: Any) -> Any:
        token = careloop.token(org="gen-records", roles=roles, sub=f"{roles[0]}-gen", **extra)
        return generated.AuthenticatedClient(
            base_url=careloop.url, token=token, raise_on_unexpected_status=True
        )

    Problem = model("Problem")
    coordinator = as_(("coordinator",))
    person = api("patients.register_patient").sync(
        client=coordinator,
        body=model("PatientIn").from_dict(patient(name={"given": ["Rec"], "family": "Client"})),
    )
    me = as_(("patient",), patient_id=person.id)

    written = api("records.write_note").sync_detailed(
        person.id,
        client=coordinator,
        body=model("NoteIn").from_dict({"type": "phone", "text": "Called.\nNo answer."}),
    )
    assert written.status_code == 201 and written.parsed.versions[0].text == "Called.\nNo answer."
    amendment = model("AmendmentIn")(text="Called twice. No answer.", reason="the second call")
    amended = api("records.amend_note").sync_detailed(
        person.id, written.parsed.id, client=coordinator, body=amendment, if_match=written.headers["etag"]
    )
    assert amended.status_code == 201 and [v.number for v in amended.parsed.versions] == [2, 1]
    stale = api("records.amend_note").sync_detailed(
        person.id, written.parsed.id, client=coordinator, body=amendment, if_match=written.headers["etag"]
    )
    assert (
        stale.status_code == 409 and isinstance(stale.parsed, Problem) and stale.parsed.current_version == 2
    )

    sent = api("messages.send_message").sync_detailed(
        person.id, client=me, body=model("MessageIn")(text="I have chest pain since this morning")
    )
    assert sent.status_code == 201
    assert "911" in sent.parsed.emergency_reply.text and sent.parsed.message.author.value == "patient"

    heavy = model("ObservationIn").from_dict({"code": "29463-7", "value": 80, "unit": "kg"})
    recorded = api("monitoring.record_observation").sync_detailed(person.id, client=me, body=heavy)
    assert recorded.status_code == 201
    refused = api("monitoring.record_observation").sync_detailed(
        person.id,
        client=me,
        body=model("ObservationIn").from_dict({"code": "29463-7", "value": 4000, "unit": "kg"}),
    )
    assert refused.status_code == 422 and isinstance(refused.parsed, Problem)
    assert refused.parsed.errors and "4000" not in str(refused.parsed.to_dict())

    staff_view = api("records.get_timeline").sync(person.id, client=coordinator, limit=50)
    kinds = {entry.kind.value for entry in staff_view.items}
    assert {"note", "message", "observation"} <= kinds
    mine = api("records.get_timeline").sync(person.id, client=me, limit=50)
    assert {entry.kind.value for entry in mine.items} <= {"registration", "message", "observation"}
    assert "note" not in {entry.kind.value for entry in mine.items}
