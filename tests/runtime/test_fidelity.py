"""Behaviour a function can tell apart from AWS's managed Python runtime (awslambdaric).

Regression tests for issue 10; the same behaviours are checked against AWS's own
emulator and awslambdaric side by side in ``tests/conformance`` (where RIE is present).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import orjson
import pytest

from aiolambda._core import protocol as p
from aiolambda._core.bigint import may_hold_big_int
from aiolambda._core.codec import decode_event, encode_result
from aiolambda._core.context import request_id_var
from aiolambda._core.errors import RuntimeFault, from_exception
from aiolambda._core.logs import JsonFormatter, LogSink, configure_logging, format_error_for_log
from aiolambda.emulator import Emulator
from tests.lambda_env import lambda_environ

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
_MARKERS = re.compile(r"^\s*[\^~]+\s*$")


# -- 1. stdout and stderr are unbuffered, whatever the environment ---------------------


async def _spawn(emu: Emulator, handler: str) -> asyncio.subprocess.Process:
    env = lambda_environ(
        runtime_api=emu.runtime_api,
        handler=handler,
        task_root=str(FIXTURES),
        PYTHONPATH=str(REPO),
    )
    assert not any(key.startswith("PYTHONUNBUFFERED") for key in env)  # as on Lambda
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiolambda",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await asyncio.wait_for(proc.wait(), 10)


async def test_a_print_reaches_the_pipe_during_its_invocation() -> None:
    async with Emulator(spawn=False, timeout=10) as emu:
        proc = await _spawn(emu, "fidelity.prints")
        try:
            assert proc.stdout is not None
            for _ in range(2):
                res = await emu.invoke({})
                assert res.json() == "ok"
                line = await asyncio.wait_for(proc.stdout.readline(), 10)
                assert line == f"printed by {res.request_id}\n".encode()
        finally:
            await _stop(proc)


async def test_a_print_just_before_os_exit_is_not_lost() -> None:
    async with Emulator(spawn=False, timeout=10) as emu:
        proc = await _spawn(emu, "fidelity.print_then_die")
        pending = asyncio.ensure_future(emu.invoke({}))
        try:
            assert proc.stdout is not None
            output = await asyncio.wait_for(proc.stdout.read(), 10)
            assert await asyncio.wait_for(proc.wait(), 10) == 3
            assert b"printed just before os._exit\n" in output
        finally:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
            await _stop(proc)


# -- 2. integers beyond 64 bits stay exact ----------------------------------------------


def test_big_integers_in_events_stay_exact() -> None:
    body = (
        b'{"big": 18446744073709551617, "neg": -9223372036854775809, "max": 18446744073709551615}'
    )
    event = decode_event(body, p.CT_JSON)
    assert event == {
        "big": 18446744073709551617,
        "neg": -9223372036854775809,
        "max": 18446744073709551615,
    }
    assert all(type(v) is int for v in event.values())
    assert decode_event(b"[" + b"9" * 400 + b"]", None) == [int("9" * 400)]


def test_big_integers_in_results_stay_exact() -> None:
    body, content_type = encode_result({"a": 2**64 + 1, "b": [-(2**63) - 1], "c": (10**30,)})
    assert content_type == p.CT_JSON
    assert body == (
        b'{"a":18446744073709551617,"b":[-9223372036854775809],"c":[1000000000000000000000000000000]}'
    )


def test_exact_decoding_keeps_the_codec_rules() -> None:
    # The exact path refuses what orjson refuses, with the same error type.
    for body in (b'{"n": 12345678901234567890, "x": NaN}', b"[12345678901234567890"):
        with pytest.raises(RuntimeFault) as caught:
            decode_event(body, None)
        assert caught.value.error_type == p.UNMARSHAL_ERROR
    # Floats with long digit runs take the exact path and read the same.
    assert decode_event(b"[0.12345678901234567890123]", None) == [0.12345678901234567890123]


@pytest.mark.parametrize("length", range(15, 25))
@pytest.mark.parametrize("offset", range(12))
def test_long_integer_tokens_are_found_wherever_they_are(length: int, offset: int) -> None:
    digits = b"7" * length
    token = b'{"k":"' + b"x" * offset + b'","n":' + digits + b"}"
    assert may_hold_big_int(token) is (length >= 19)
    # the same digits inside a string (a sequence number) keep orjson's path
    assert not may_hold_big_int(b'{"k":"' + b"x" * offset + digits + b'"}')


def test_digit_runs_of_18_do_not_take_the_exact_path() -> None:
    body = b"[" + b",".join([b"123456789012345678"] * 1000) + b"]"
    assert not may_hold_big_int(body)
    assert may_hold_big_int(body[:-1] + b",1234567890123456789]")


# -- 3. logs as the managed runtime writes them -----------------------------------------


@pytest.fixture
def root_logger() -> Any:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield root
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize("json_logs", [False, True])
def test_unset_log_level_keeps_pythons_default(root_logger: Any, json_logs: bool) -> None:
    root_logger.setLevel(logging.WARNING)
    configure_logging(LogSink(None, json=json_logs), json=json_logs, level=None)
    assert root_logger.level == logging.WARNING  # as awslambdaric: INFO is not let through
    configure_logging(LogSink(None, json=json_logs), json=json_logs, level="INFO")
    assert root_logger.level == logging.INFO


def _json_record(level: int, msg: Any, exc_info: Any = None) -> dict[str, Any]:
    record = logging.LogRecord("app", level, __file__, 7, msg, None, exc_info, func="fn")
    token = request_id_var.set(None)
    try:
        return dict(json.loads(JsonFormatter().format(record)))
    finally:
        request_id_var.reset(token)


def test_json_records_have_awslambdaric_timestamps_and_keys() -> None:
    doc = _json_record(logging.ERROR, {"order": 1})
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["timestamp"])  # no millis
    assert doc["message"] == {"order": 1}  # a dict message stays an object
    assert doc["requestId"] == ""  # present outside an invocation too
    assert list(doc) == ["timestamp", "level", "message", "logger", "requestId"]


def test_json_level_names_are_lambdas() -> None:
    """Intended difference (README: Compatibility): Lambda's level filter reads ``level``
    and knows WARN and FATAL, not awslambdaric's WARNING and CRITICAL."""
    assert _json_record(logging.WARNING, "w")["level"] == "WARN"
    assert _json_record(logging.CRITICAL, "c")["level"] == "FATAL"
    assert _json_record(25, "custom")["level"] == "INFO"  # custom levels round down


def test_json_exception_stack_trace_is_a_list_of_frames() -> None:
    try:
        {}["k"]  # raises on purpose
    except KeyError:
        doc = _json_record(logging.ERROR, "caught", sys.exc_info())
    assert doc["errorType"] == "KeyError"
    (frame,) = doc["stackTrace"]
    assert frame.startswith('  File "') and "in test_json_exception_stack_trace" in frame
    assert list(doc) == [
        "timestamp", "level", "message", "logger",
        "stackTrace", "errorType", "errorMessage", "requestId", "location",
    ]  # fmt: skip


def test_text_frames_carry_levels_only_when_awslambdaric_does(root_logger: Any) -> None:
    fd, path = tempfile.mkstemp()
    try:
        for level, expected in ((None, 0xA55A0003), ("WARN", 0xA55A0013)):
            configure_logging(LogSink(fd, json=False), json=False, level=level)
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            logging.getLogger("app").warning("w")
            data = Path(path).read_bytes()
            assert int.from_bytes(data[:4], "big") == expected
            assert data[16:].endswith(b"\tw\n")  # a record ends with a newline
    finally:
        os.close(fd)
        os.unlink(path)


def test_context_log_is_a_text_frame_in_either_format() -> None:
    fd, path = tempfile.mkstemp()
    try:
        LogSink(fd, json=True).write_raw("raw\n")
        data = Path(path).read_bytes()
    finally:
        os.close(fd)
        os.unlink(path)
    assert int.from_bytes(data[:4], "big") == 0xA55A0003  # as awslambdaric frames it
    assert data[16:] == b"raw\n"


def test_text_error_log_indents_with_no_break_spaces() -> None:
    text = format_error_for_log("E", "m", ['  File "a.py", line 1, in f\n    x()\n'], json=False)
    assert text.split("\n") == [
        "[ERROR] E: m",
        "Traceback (most recent call last):",
        '\u00a0\u00a0File "a.py", line 1, in f',
        "\u00a0\u00a0\u00a0\u00a0x()",
    ]
    assert format_error_for_log("E", "m", [], json=False).endswith(
        "Traceback (most recent call last):"
    )
    doc = json.loads(format_error_for_log("E", "m", [], json=True))
    assert list(doc) == [
        "timestamp",
        "level",
        "errorMessage",
        "errorType",
        "requestId",
        "stackTrace",
    ]


# -- 4. no position markers in error documents --------------------------------------------


def _lookup(table: dict[str, int]) -> int:
    return 1 + table["missing"] * 2


def test_error_stack_traces_have_no_marker_lines() -> None:
    try:
        _lookup({})
    except KeyError as exc:
        report = from_exception(exc, "rid")
        python_says = traceback.format_exception(exc)
    assert any(_MARKERS.match(line) for entry in python_says for line in entry.splitlines())
    stack = orjson.loads(report.body())["stackTrace"]
    assert len(stack) == 2
    assert not any(_MARKERS.match(line) for entry in stack for line in entry.splitlines())
    line = _lookup.__code__.co_firstlineno + 1
    assert stack[1] == (
        f'  File "{__file__}", line {line}, in _lookup\n    return 1 + table["missing"] * 2\n'
    )


# -- intended differences (README: Compatibility with the managed runtime) --------------


def test_json_records_carry_the_trace_id() -> None:
    from aiolambda._core.context import trace_id_var

    token = trace_id_var.set("Root=1-5759e988-bd862e3fe1be46a994272793")
    try:
        doc = _json_record(logging.WARNING, "w")
    finally:
        trace_id_var.reset(token)
    assert doc["xrayTraceId"] == "Root=1-5759e988-bd862e3fe1be46a994272793"


def _awslambdaric_marshal(result: Any) -> tuple[str, str]:
    from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller

    return LambdaMarshaller().marshal_response(result)  # type: ignore[no-any-return]


def test_results_awslambdaric_cannot_encode_are_encoded() -> None:
    import dataclasses
    import datetime
    import enum
    import uuid

    from awslambdaric.lambda_runtime_exception import FaultException

    @dataclasses.dataclass
    class Point:
        x: int

    class Color(enum.Enum):
        RED = "red"

    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    cases = [
        (when, '"2024-01-02T03:04:05+00:00"'),
        ({3}, "[3]"),
        (Point(1), '{"x":1}'),
        (ident, '"12345678-1234-5678-1234-567812345678"'),
        (Color.RED, '"red"'),
    ]
    for value, expected in cases:
        assert encode_result(value)[0].decode() == expected
        with pytest.raises(FaultException) as caught:
            _awslambdaric_marshal(value)
        assert caught.value.exception_type == "Runtime.MarshalError"


def test_nan_is_null_where_awslambdaric_writes_invalid_json() -> None:
    assert encode_result([math.nan, math.inf])[0] == b"[null,null]"
    assert _awslambdaric_marshal([math.nan, math.inf])[0] == "[NaN, Infinity]"


def test_results_are_compact_utf8_where_awslambdaric_spaces_and_escapes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)  # its classic (pre-3.12) mode
    value = {"text": "zażółć", "n": [1, 2]}
    assert encode_result(value)[0] == '{"text":"zażółć","n":[1,2]}'.encode()
    assert (
        _awslambdaric_marshal(value)[0] == '{"text": "za\\u017c\\u00f3\\u0142\\u0107", "n": [1, 2]}'
    )


def test_big_integers_stay_exact_in_typed_dataclass_events() -> None:
    import dataclasses

    from aiolambda._core.typed import _dataclass_decoder

    @dataclasses.dataclass
    class Order:
        amount: int

    decode = _dataclass_decoder(Order)
    assert decode(b'{"amount": 18446744073709551617}', None) == Order(18446744073709551617)
