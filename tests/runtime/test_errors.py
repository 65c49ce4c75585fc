import json
import os
import traceback

import orjson
import pytest

from aiolambda._core.errors import (
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
    import aiolambda._core.codec as codec

    with pytest.raises(RuntimeFault) as fault:
        codec.decode_event(b"{", "application/json")
    assert fault.value.error_type == "Runtime.UnmarshalError"
    with pytest.raises(TypeError) as raised:
        codec._default(object())
    # the raw traceback has a frame inside aiolambda's package; the report must not
    raw = traceback.format_tb(raised.value.__traceback__)
    assert any("aiolambda/_core/codec.py" in line for line in raw)
    report = from_exception(raised.value)
    assert not any("aiolambda/_core/codec.py" in line for line in report.stack_trace)
    assert any("test_errors.py" in line for line in report.stack_trace)


def test_frames_of_public_modules_outside_core_are_trimmed_too() -> None:
    # The trimmed directory is the whole package, not only aiolambda/_core/.
    from aiolambda import StreamingResponse

    try:
        StreamingResponse(None, headers=5)  # type: ignore[arg-type]
    except TypeError as exc:
        report = from_exception(exc)
    assert not any("aiolambda/streaming.py" in line for line in report.stack_trace)
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


from aiolambda._core.client import InvalidInvocation, parse_invocation  # noqa: E402
from aiolambda._core.transport import HttpResponse  # noqa: E402


@pytest.mark.parametrize(
    "request_id",
    [
        "",
        "a\r\nX-Injected: 1",
        "a/b",
        "..",
        "../../init/error",
        "x" * 10_000,
        "id with space",
        "ïd",
        "-leading-dash",
        "a?b",
        "a%2Fb",
    ],
)
def test_unusable_request_ids_are_rejected_before_any_url(request_id: str) -> None:
    response = HttpResponse(200, {"lambda-runtime-aws-request-id": request_id}, b"{}")
    with pytest.raises(InvalidInvocation) as info:
        parse_invocation(response)
    assert len(str(info.value)) < 200  # a 10 KB id is not echoed whole into the log
    assert "\r" not in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "request_id", ["8476a536-e9f4-11e8-9739-2dfe598c3fcd", "abc_DEF-123", "a" * 128]
)
def test_real_request_ids_are_accepted(request_id: str) -> None:
    response = HttpResponse(200, {"lambda-runtime-aws-request-id": request_id}, b"{}")
    assert parse_invocation(response).request_id == request_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700000000000", 1700000000000),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1e12", None),
        ("١٢٣", None),
        ("9" * 40, None),
    ],
)
def test_deadline_header_parsing(value: str, expected: int | None) -> None:
    headers = {"lambda-runtime-aws-request-id": "r", "lambda-runtime-deadline-ms": value}
    assert parse_invocation(HttpResponse(200, headers, b"")).deadline_ms == expected


def test_runtime_api_error_bodies_are_redacted_before_being_cut() -> None:
    from aiolambda._core.client import RuntimeAPIClient
    from aiolambda._core.transport import connect

    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    client = RuntimeAPIClient(connect("lean", "127.0.0.1", 9), Redactor([secret]))
    for offset in range(170, 200):  # the secret straddles the 200-character cut
        shown = client._snippet(b"x" * offset + secret.encode() + b" tail")
        assert secret[:6] not in shown
    assert client._snippet(b"plain") == "plain"
