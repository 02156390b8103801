"""Structured logging that never writes PHI.

The rules, enforced by the formatter rather than by reviewers:
- a message is a constant string: ``%``-arguments are never interpolated, a non-string message
  (``logger.exception(exc)``) is logged as its type;
- extra keys are kept only when their name says they hold an identifier, a count or a duration
  (``patient_id``, ``item_count``, ``elapsed_ms``) or is one of a few named codes (``route``,
  ``status``, ``error_type``, ``detail_type``); every other value is written as ``[withheld]``;
- exceptions keep their type and stack frames (file, line, function) and drop their message, which
  can quote input (pydantic does);
- libraries that log request bodies at DEBUG (botocore, pynamodb, urllib3) are held at WARNING.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

WITHHELD = "[withheld]"

_STANDARD_KEYS = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "exception",
        "exception_name",
        # our own non-PHI context keys
        "route",
        "method",
        "status",
        "error_type",
        "detail_type",
        "source",
        "timer",
        "outcome",
        "channel",
    }
)
# Suffixes that say a value is an identifier or a measurement. Not "_status" or "_type": a
# "hiv_status" or "insurance_type" is PHI whatever its suffix.
_SAFE_SUFFIXES = ("_id", "_ids", "_count", "_ms")
_CHATTY_LIBRARIES = ("botocore", "boto3", "pynamodb", "urllib3", "s3transfer")


def is_safe_key(key: str) -> bool:
    return key in _STANDARD_KEYS or key.endswith(_SAFE_SUFFIXES)


class PhiSafeFormatter(LambdaPowertoolsFormatter):
    def _extract_log_message(self, log_record: logging.LogRecord) -> Any:
        message = log_record.msg
        return message if isinstance(message, str) else f"<{type(message).__name__}>"

    def _extract_log_keys(self, log_record: logging.LogRecord) -> dict[str, Any]:
        keys = super()._extract_log_keys(log_record)
        return {k: (v if is_safe_key(k) else WITHHELD) for k, v in keys.items()}

    def _extract_log_exception(self, log_record: logging.LogRecord) -> Any:
        exception, name, _notes = super()._extract_log_exception(log_record)
        return exception, name, None  # notes are free text

    def _serialize_stacktrace(self, log_record: logging.LogRecord) -> None:
        return None  # Powertools' structured stack trace carries the exception value

    def formatException(self, ei: Any) -> str:
        exc_type, _exc, tb = ei
        frames = "".join(
            f'  File "{f.filename}", line {f.lineno}, in {f.name}\n' for f in traceback.extract_tb(tb)
        )
        return f"Traceback (most recent call last):\n{frames}{exc_type.__name__}: {WITHHELD}"


@cache
def get_logger() -> Logger:
    """The process's logger (service name from ``POWERTOOLS_SERVICE_NAME``)."""
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    return Logger(logger_formatter=PhiSafeFormatter(), serialize_stacktrace=False)


def correlation_id() -> str | None:
    """The id that ties this invocation's log lines to the request or delivery that caused them."""
    return get_logger().get_correlation_id()


def correlate(value: str | None) -> None:
    """Make ``value`` the correlation id of the log lines that follow, or, without one, this
    invocation's own request id (a batch consumer calls it per record)."""
    get_logger().set_correlation_id(value or _invocation["request_id"])


def correlation_of(event: Any) -> str | None:
    """The correlation id an event carries: a domain event's ``detail.correlation_id``, or the
    ``correlation_id`` of a timer's input or a queued message's body."""
    if not isinstance(event, dict):
        return None
    detail = event.get("detail")
    found = detail.get("correlation_id") if isinstance(detail, dict) else event.get("correlation_id")
    return found if isinstance(found, str) else None


_invocation: dict[str, str | None] = {"request_id": None}


class HandlerFailed(Exception):
    """What an event handler raises instead of an exception whose message could quote data."""


F = TypeVar("F", bound=Callable[..., Any])


def phi_safe_errors(handler: F) -> F:
    """For functions not behind the HTTP resolver (stream, queue, schedule consumers): an exception
    is logged through the PHI-safe formatter and re-raised as :class:`HandlerFailed` naming only its
    type, because the Lambda runtime logs an escaping exception's message itself (and Powertools'
    ``BatchProcessingError`` quotes every record's)."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as exc:
            get_logger().exception("handler failed", error_type=type(exc).__name__)
            raise HandlerFailed(type(exc).__name__) from None

    return wrapper  # type: ignore[return-value]


def entry_point(handler: F) -> F:
    """The Lambda entry point of a function not behind the HTTP resolver (stream, queue, bus and
    timer consumers): Lambda's context on every log line, the correlation id the event carries (or
    the invocation's own request id), and exceptions through :func:`phi_safe_errors`."""
    logger = get_logger()

    @phi_safe_errors
    @logger.inject_lambda_context(clear_state=True)
    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        _invocation["request_id"] = getattr(context, "aws_request_id", None)
        correlate(correlation_of(event))
        return handler(event, context)

    return wrapper  # type: ignore[return-value]
