"""The logger writes ids and codes, never PHI; the canary notices when something else does."""

from __future__ import annotations

import json

from shared.logs import WITHHELD, get_logger


def test_extra_keys_that_are_not_ids_or_codes_are_withheld(phi) -> None:
    phi.register("Jane Roe", "+15555550123")
    get_logger().info(
        "patient registered",
        hiv_status="positive",
        insurance_type="medicaid",
        patient_id="01KAPZ8Q1V0000000000000000",
        full_name="Jane Roe",
        phone="+15555550123",
        item_count=2,
    )
    record = json.loads(phi.lines[-1])
    assert record["patient_id"] == "01KAPZ8Q1V0000000000000000"
    assert record["item_count"] == 2
    assert record["full_name"] == record["phone"] == WITHHELD
    assert record["hiv_status"] == record["insurance_type"] == WITHHELD  # a suffix is no licence


def test_message_arguments_are_never_interpolated(phi) -> None:
    phi.register("Jane Roe")
    get_logger().info("looking up %s", "Jane Roe")
    assert json.loads(phi.lines[-1])["message"] == "looking up %s"


def test_exception_messages_are_withheld_but_type_and_frames_kept(phi) -> None:
    phi.register("1961-04-12")
    try:
        birth_date = "1961-04-12"
        raise ValueError(f"bad birth date {birth_date}")
    except ValueError as exc:
        get_logger().exception(exc)
    record = json.loads(phi.lines[-1])
    assert record["exception_name"] == "ValueError"
    assert "test_logs.py" in record["exception"]
    assert record["message"] == "<ValueError>"


def test_the_canary_catches_phi_written_into_a_message(phi) -> None:
    phi.register("Jane Roe")
    name = "Jane Roe"
    get_logger().info(f"registered {name}")  # the mistake the canary exists for
    assert [value for value, _ in phi.leaks()] == ["Jane Roe"]
    phi.clear()  # this test's leak was on purpose


def test_library_debug_logging_is_held_back(phi) -> None:
    import logging

    get_logger()
    assert logging.getLogger("botocore").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("pynamodb").getEffectiveLevel() >= logging.WARNING


def test_an_event_handler_failure_escapes_without_its_message(phi) -> None:
    import pytest

    from shared.logs import HandlerFailed, phi_safe_errors

    phi.register("Jane Roe")

    @phi_safe_errors
    def consumer(event: dict, context: object) -> None:
        raise KeyError(f"no patient named {event['name']}")

    with pytest.raises(HandlerFailed) as failure:
        consumer({"name": "Jane Roe"}, None)
    assert str(failure.value) == "KeyError"
    assert failure.value.__suppress_context__
    assert json.loads(phi.lines[-1])["exception_name"] == "KeyError"
