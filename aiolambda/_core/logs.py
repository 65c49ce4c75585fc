"""Function logs: Lambda's Text and JSON formats, request ids, telemetry-FD framing.

The root logger gets one handler writing to the log sink: the telemetry file
descriptor when Lambda provides one (each record one frame, so multi-line records
stay one CloudWatch event), otherwise stdout with newlines turned into ``\\r`` for the
same reason. Records carry the invocation's request id (and tenant id, trace id in
JSON) from context variables, so concurrent invocations never mix them up.

See: https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
"""

from __future__ import annotations

import logging
import os
import struct
import sys
import time
from collections.abc import Sequence
from typing import Any, Final

import orjson

from aiolambda._core.context import request_id_var, tenant_id_var, trace_id_var
from aiolambda._core.errors import NO_REDACTION, Redactor

_FRAME_TEXT: Final = 0xA55A0003
_FRAME_JSON: Final = 0xA55A0002
_FRAME_HEADER: Final = struct.Struct(">IIQ")
_LEVEL_MASK: Final = {
    logging.NOTSET: 0x00,
    logging.DEBUG: 0x08,
    logging.INFO: 0x0C,
    logging.WARNING: 0x10,
    logging.ERROR: 0x14,
    logging.CRITICAL: 0x18,
}
# AWS_LAMBDA_LOG_LEVEL -> logging level, as awslambdaric maps them.
LEVELS: Final = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}
# JSON uses Lambda's level names, which its level filter keys on.
_JSON_LEVEL_NAMES: Final = {"WARNING": "WARN", "CRITICAL": "FATAL"}
_RECORD_FIELDS: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class LogSink:
    """Where log lines go: a telemetry file descriptor (framed) or stdout."""

    __slots__ = ("_fd", "_frame_type", "redact")

    def __init__(self, fd: int | None, *, json: bool, redact: Redactor = NO_REDACTION) -> None:
        self._fd = fd
        self._frame_type = _FRAME_JSON if json else _FRAME_TEXT
        self.redact = redact

    def write(self, message: str, level: int = logging.NOTSET) -> None:
        """Write one record; it stays one log event even when it spans lines."""
        if self.redact:
            message = self.redact(message)
        if self._fd is None:
            body = message.rstrip("\n").replace("\n", "\r") + "\n"
            try:
                sys.stdout.write(body)
                sys.stdout.flush()
            except (OSError, ValueError):
                pass  # stdout closed by the handler: logging must never break the runtime
            return
        data = message.encode("utf-8", "replace")
        header = _FRAME_HEADER.pack(
            self._frame_type | _LEVEL_MASK.get(level, 0), len(data), time.time_ns() // 1000
        )
        try:
            os.write(self._fd, header + data)
        except OSError:
            pass

    def write_raw(self, message: str) -> None:
        """``context.log``: the message as it is, no level."""
        self.write(message)


class TextFormatter(logging.Formatter):
    """``[LEVEL]\\t2024-01-01T00:00:00.000Z\\t<request id>\\t<message>`` as awslambdaric writes."""

    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )

    def format(self, record: logging.LogRecord) -> str:
        record.aws_request_id = request_id_var.get() or ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record with Lambda's keys (``level``, ``requestId``, …)."""

    def format(self, record: logging.LogRecord) -> str:
        created = time.gmtime(record.created)
        out: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", created) + f".{int(record.msecs):03d}Z",
            "level": _JSON_LEVEL_NAMES.get(record.levelname, record.levelname),
            "message": record.getMessage(),
            "logger": record.name,
        }
        if (request_id := request_id_var.get()) is not None:
            out["requestId"] = request_id
        if (tenant_id := tenant_id_var.get()) is not None:
            out["tenantId"] = tenant_id
        if (trace_id := trace_id_var.get()) is not None:
            out["xrayTraceId"] = trace_id
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["errorType"] = type(exc).__name__
            out["errorMessage"] = str(exc)
            out["stackTrace"] = self.formatException(record.exc_info).splitlines()
            out["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key != "aws_request_id":
                out[key] = value
        return orjson.dumps(out, default=str).decode()


class SinkHandler(logging.Handler):
    """A logging handler that writes formatted records to a :class:`LogSink`."""

    def __init__(self, sink: LogSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.write(self.format(record), record.levelno)
        except Exception:
            self.handleError(record)


def configure_logging(sink: LogSink, *, json: bool, level: str | None) -> None:
    """Install the Lambda log handler on the root logger (replacing existing handlers)."""
    handler = SinkHandler(sink)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    if level is not None:
        root.setLevel(LEVELS[level])
    elif json:
        root.setLevel(logging.INFO)  # Lambda's default application log level with JSON


def format_error_for_log(error_type: str, message: str, stack: Sequence[str], *, json: bool) -> str:
    """An uncaught error as awslambdaric logs it: ``[ERROR] Type: message`` + traceback."""
    if json:
        return orjson.dumps(
            {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "level": "ERROR",
                "message": message,
                "logger": "root",
                "requestId": request_id_var.get() or "",
                "errorType": error_type,
                "errorMessage": message,
                "stackTrace": list(stack),
            }
        ).decode()
    lines = [f"[ERROR] {error_type}: {message}"]
    if stack:
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in stack)
    return "\n".join(lines)
