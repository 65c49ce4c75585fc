"""Log records: telemetry-FD framing, Lambda's Text and JSON shapes, request ids."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import Any

from aiolambda._core.context import request_id_var
from aiolambda._core.logs import (
    JsonFormatter,
    LogSink,
    SinkHandler,
    TextFormatter,
    format_error_for_log,
)
from tests.runtime.harness import running

TEXT, JSON_ = 0xA55A0003, 0xA55A0002
ERROR_MASK = 0x14


async def test_runtime_errors_and_context_log_are_single_frames(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        context.log("line one\nline two")
        raise ValueError("multi\nline message")

    async with running(handler, transport=transport) as r:
        res = await r.emu.invoke({})
        assert res.function_error == "Unhandled"
        frames = r.frames()
    raw = [msg for kind, msg in frames if kind == TEXT]
    assert "line one\nline two" in raw  # one frame, newline kept inside it
    (error,) = [msg for kind, msg in frames if kind == TEXT | ERROR_MASK]
    assert error.startswith("[ERROR] ValueError: multi\nline message\nTraceback")
    # Traceback lines indented with NO-BREAK SPACEs, as awslambdaric writes them.
    assert "\n\u00a0\u00a0File " in error and "\n  File " not in error
    assert "test_logs.py" in error


def _record(msg: str, level: int = logging.WARNING, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("app", level, __file__, 10, msg, (), None, func="fn")
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_text_format_matches_awslambdaric() -> None:
    token = request_id_var.set("req-1")
    try:
        line = TextFormatter().format(_record("hello"))
    finally:
        request_id_var.reset(token)
    level, stamp, request_id, message = line.split("\t")
    assert level == "[WARNING]"
    assert stamp.endswith("Z") and "T" in stamp and len(stamp) == 24
    assert (request_id, message) == ("req-1", "hello")


def test_json_format_uses_lambda_keys() -> None:
    token = request_id_var.set("req-2")
    try:
        doc = json.loads(JsonFormatter().format(_record("hi", logging.WARNING, order=7)))
        crit = json.loads(JsonFormatter().format(_record("x", logging.CRITICAL)))
    finally:
        request_id_var.reset(token)
    assert doc["level"] == "WARN"
    assert crit["level"] == "FATAL"
    assert doc["requestId"] == "req-2"
    assert doc["message"] == "hi"
    assert doc["logger"] == "app"
    assert doc["order"] == 7


def test_json_format_carries_exceptions() -> None:
    try:
        raise KeyError("k")
    except KeyError:
        import sys

        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    doc = json.loads(JsonFormatter().format(record))
    assert doc["errorType"] == "KeyError"
    assert doc["errorMessage"] == "'k'"
    # awslambdaric's shape: one entry per frame (traceback.format_tb), no "Traceback" line.
    (frame,) = doc["stackTrace"]
    assert frame.startswith('  File "') and 'raise KeyError("k")' in frame
    assert doc["location"].endswith(":1")


def test_sink_frames_levels_and_redacts() -> None:
    from aiolambda._core.errors import Redactor

    secret = "AKIAIOSFODNN7EXAMPLEsecretvalue"
    fd, path = tempfile.mkstemp()
    try:
        sink = LogSink(fd, json=True, redact=Redactor([secret]))
        handler = SinkHandler(sink)
        handler.setFormatter(JsonFormatter())
        handler.emit(_record(f"key={secret}", logging.ERROR))
        with open(path, "rb") as f:
            data = f.read()
    finally:
        os.close(fd)
        os.unlink(path)
    kind, length = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
    assert kind == JSON_ | ERROR_MASK
    body = data[16 : 16 + length].decode()
    assert secret not in body and "key=***" in body
    assert len(data) == 16 + length


def test_stdout_sink_keeps_a_record_on_one_line(capsys: Any) -> None:
    LogSink(None, json=False).write("a\nb\nc\n")
    assert capsys.readouterr().out == "a\rb\rc\n"


def test_error_log_json_shape() -> None:
    doc = json.loads(format_error_for_log("T", "m", ["  File x\n"], json=True))
    assert doc["level"] == "ERROR"
    assert (doc["errorType"], doc["errorMessage"], doc["stackTrace"]) == ("T", "m", ["  File x\n"])
