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
import traceback
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
# JSON uses Lambda's level names: the platform's log-level filter reads the ``level`` key,
# knows only TRACE/DEBUG/INFO/WARN/ERROR/FATAL and counts anything else as INFO, so
# awslambdaric's "WARNING"/"CRITICAL" would be dropped by a WARN or ERROR filter wherever
# the level is not also carried by a telemetry frame header (stdout, Managed Instances).
_JSON_LEVEL_NAMES: Final = {"WARNING": "WARN", "CRITICAL": "FATAL"}
# awslambdaric indents traceback lines of error logs with NO-BREAK SPACEs (CloudWatch
# would otherwise trim them).
_ERROR_INDENT: Final = "\u00a0"
_RECORD_FIELDS: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class LogSink:
    """Where log lines go: a telemetry file descriptor (framed) or stdout."""

    __slots__ = ("_fd", "_frame_type", "redact")

    def __init__(self, fd: int | None, *, json: bool, redact: Redactor = NO_REDACTION) -> None:
        self._fd = fd
        self._frame_type = _FRAME_JSON if json else _FRAME_TEXT
        self.redact = redact

    def write(self, message: str, level: int = logging.NOTSET, *, raw: bool = False) -> None:
        """Write one record; it stays one log event even when it spans lines.

        ``raw``: a Text frame whatever the format, as awslambdaric frames ``context.log``.
        """
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
        frame_type = _FRAME_TEXT if raw else self._frame_type
        header = _FRAME_HEADER.pack(
            frame_type | _LEVEL_MASK.get(level, 0), len(data), time.time_ns() // 1000
        )
        try:
            os.write(self._fd, header + data)
        except OSError:
            pass

    def write_raw(self, message: str) -> None:
        """``context.log``: the message as it is, no level."""
        self.write(message, raw=True)


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
    """One JSON object per record with awslambdaric's keys (``level``, ``requestId``, …)."""

    def format(self, record: logging.LogRecord) -> str:
        # Keys in awslambdaric's order; its timestamps have whole seconds.
        out: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": _json_level(record.levelno),
            # A dict message stays a JSON object, as awslambdaric writes it.
            "message": record.msg
            if isinstance(record.msg, dict) and not record.args
            else record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["stackTrace"] = traceback.format_tb(record.exc_info[2])
            out["errorType"] = type(exc).__name__
            out["errorMessage"] = str(exc)
        out["requestId"] = request_id_var.get() or ""
        if record.exc_info and record.exc_info[1] is not None:
            out["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        if (tenant_id := tenant_id_var.get()) is not None:
            out["tenantId"] = tenant_id
        if (trace_id := trace_id_var.get()) is not None:
            out["xrayTraceId"] = trace_id
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key != "aws_request_id" and key not in out:
                out[key] = value
        return orjson.dumps(out, default=str).decode()


def _standard_level(levelno: int) -> int:
    """Custom levels count as the standard level below them, as awslambdaric files them."""
    return min(50, max(0, levelno)) // 10 * 10


def _json_level(levelno: int) -> str:
    name = logging.getLevelName(_standard_level(levelno))
    return _JSON_LEVEL_NAMES.get(name, name)


class SinkHandler(logging.Handler):
    """A logging handler that writes formatted records to a :class:`LogSink`.

    ``frame_levels``: put the record's level in the telemetry frame header. awslambdaric
    does so with JSON logs or an explicit ``AWS_LAMBDA_LOG_LEVEL``, not otherwise.
    """

    def __init__(self, sink: LogSink, *, frame_levels: bool = True) -> None:
        super().__init__()
        self.sink = sink
        self.frame_levels = frame_levels

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = _standard_level(record.levelno) if self.frame_levels else logging.NOTSET
            # Records end with a newline, as awslambdaric's do (in telemetry frames too).
            self.sink.write(self.format(record) + "\n", level)
        except Exception:
            self.handleError(record)


def unbuffer_stdio() -> None:
    """Make ``sys.stdout`` and ``sys.stderr`` unbuffered, as awslambdaric does.

    Lambda gives the runtime pipes, on which Python buffers blocks: a ``print()`` would
    surface in a later invocation's log, or never when the process is killed (timeout,
    ``os._exit``). Python's own ``-u`` streams are used (a raw file, text written
    through), whatever ``PYTHONUNBUFFERED`` says, so every write reaches the pipe at once.
    """
    import io

    for name in ("stdout", "stderr"):
        old = getattr(sys, name)
        try:
            fd = old.fileno()
            old.flush()
        except (AttributeError, OSError, ValueError):
            continue  # closed or replaced by something without a descriptor: leave it
        stream = io.TextIOWrapper(
            io.FileIO(fd, "w", closefd=False),
            encoding=old.encoding,
            errors=old.errors,
            write_through=True,
        )
        setattr(sys, name, stream)


def configure_logging(sink: LogSink, *, json: bool, level: str | None) -> None:
    """Install the Lambda log handler on the root logger (replacing existing handlers)."""
    handler = SinkHandler(sink, frame_levels=json or level is not None)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    if level is not None:
        root.setLevel(LEVELS[level])
    # Unset: Python's default (WARNING), as awslambdaric keeps it, in either format. Lambda
    # itself sets AWS_LAMBDA_LOG_LEVEL when a function chooses JSON logs.


def format_error_for_log(error_type: str, message: str, stack: Sequence[str], *, json: bool) -> str:
    """An uncaught error as awslambdaric logs it: ``[ERROR] Type: message`` + traceback."""
    if json:
        return orjson.dumps(
            {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "level": "ERROR",
                "errorMessage": message,
                "errorType": error_type,
                "requestId": request_id_var.get() or "",
                "stackTrace": list(stack),
            }
        ).decode()
    head = "[ERROR]"
    if error_type:
        head += f" {error_type}"
    if message:
        head += f": {message}" if error_type else f" {message}"
    lines = [head, "Traceback (most recent call last):"]
    for entry in stack:
        if entry == "":
            lines.append("")
        for line in entry.splitlines():
            stripped = line.lstrip(" ")
            lines.append(_ERROR_INDENT * (len(line) - len(stripped)) + stripped)
    return "\n".join(lines)
