import json
import os
import traceback

import orjson

from aiolambda._errors import (
    ErrorReport,
    Redactor,
    RuntimeFault,
    from_exception,
    from_fault,
    header_error_type,
    xray_cause,
)


def _raise_in_user_code() -> None:
    def inner() -> None:
        raise KeyError("missing")

    inner()


def test_exception_report_matches_awslambdaric_shape() -> None:
    try:
        _raise_in_user_code()
    except KeyError as exc:
        report = from_exception(exc, "req-1")
    doc = orjson.loads(report.body())
    assert list(doc) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert doc["errorType"] == "KeyError"
    assert doc["errorMessage"] == "'missing'"
    assert doc["requestId"] == "req-1"
    assert all(line.startswith('  File "') for line in doc["stackTrace"])
    assert "inner" in doc["stackTrace"][-1]
    assert report.header_type == "Function.KeyError"


def test_runtime_frames_are_trimmed() -> None:
    import aiolambda._codec as codec

    try:
        codec.decode_event(b"{", "application/json")
    except RuntimeFault:
        pass
    try:
        # a frame inside aiolambda's package must not appear in the stack trace
        codec._default(object())
    except TypeError as exc:
        report = from_exception(exc)
    assert not any("aiolambda/_codec.py" in line for line in report.stack_trace)
    assert any("test_errors.py" in line for line in report.stack_trace)


def test_fault_report_keeps_runtime_type() -> None:
    report = from_fault(RuntimeFault("Runtime.MarshalError", "nope"), "r")
    assert report.error_type == report.header_type == "Runtime.MarshalError"
    assert orjson.loads(report.body())["stackTrace"] == []


def test_header_error_type_shape() -> None:
    assert header_error_type("ValueError") == "Function.ValueError"
    assert header_error_type("my_error") == "Function.Unhandled"
    assert header_error_type("HTTP2Error") == "Function.Unhandled"
    assert header_error_type("X") == "Function.Unhandled"


def test_fault_with_bad_type_gets_runtime_unknown_header() -> None:
    report = from_fault(RuntimeFault("weird type", "m"))
    assert report.header_type == "Runtime.Unknown"
    assert report.error_type == "weird type"


def test_xray_cause_shape_and_limit() -> None:
    try:
        _raise_in_user_code()
    except KeyError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
    cause = json.loads(xray_cause("KeyError", "m", frames))
    assert cause["working_directory"] == os.getcwd()
    (entry,) = cause["exceptions"]
    assert entry["type"] == "KeyError"
    assert {"path", "line", "label"} <= set(entry["stack"][0])
    assert cause["paths"]
    huge = xray_cause("KeyError", "é" * 200_000, frames * 2000)
    assert len(huge) < 64 * 1024
    assert huge.isascii()  # it travels in an HTTP header
    json.loads(huge)


def test_secrets_are_redacted_everywhere() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    redact = Redactor([secret, "short"])
    try:
        raise RuntimeError(f"cannot sign with {secret}")
    except RuntimeError as exc:
        report = from_exception(exc, "r", redact)
    assert secret not in report.body().decode()
    assert report.xray_cause is not None and secret.encode() not in report.xray_cause
    assert "***" in report.error_message
    assert redact("short stays") == "short stays"  # too short to be a credential


def test_unprintable_exception_message() -> None:
    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    report = from_exception(Weird())
    assert report.error_message == "<unprintable Weird>"


def test_error_report_is_frozen_value() -> None:
    report = ErrorReport("T", "m", ())
    assert orjson.loads(report.body())["requestId"] == ""
