"""Errors: the runtime's exception tree and Lambda's structured error documents.

Exception tree::

    AiolambdaError                  base of everything the runtime raises on purpose
    ├── RuntimeFault                a Runtime.X fault reported for an invocation or init
    │   └── InitError               handler loading failed: post /runtime/init/error, exit
    └── RuntimeAPIError             the Runtime API is gone or said 500: exit the process

Handler exceptions are not wrapped: they become an :class:`ErrorReport` whose JSON body
matches awslambdaric's ``{errorMessage, errorType, requestId, stackTrace}``.

See: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-invokeerror
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Final

import orjson

from aiolambda._core import protocol as p

# The aiolambda package (this file is in aiolambda/_core/): its frames are trimmed.
_PACKAGE_DIR: Final = os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep
_ERROR_TYPE_TAIL_OK: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class AiolambdaError(Exception):
    """Base class of the errors aiolambda raises on purpose."""


class RuntimeFault(AiolambdaError):
    """A ``Runtime.X`` fault: the runtime, not the handler, could not complete the work."""

    def __init__(self, error_type: str, message: str, stack: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = tuple(stack)


class InitError(RuntimeFault):
    """Loading the handler failed; reported to ``/runtime/init/error``, then the process exits."""


class RuntimeAPIError(AiolambdaError):
    """The Runtime API cannot be used any more (500, or unreachable after retries): exit."""


class ErrorReport:
    """One structured error: the JSON body, the error-type header and the X-Ray cause.

    Read-only once built. A plain class: a dataclass generates its methods with
    ``exec`` at every cold start.
    """

    __slots__ = (
        "error_message",
        "error_type",
        "header_type",
        "request_id",
        "stack_trace",
        "xray_cause",
    )

    def __init__(
        self,
        error_type: str,
        error_message: str,
        stack_trace: tuple[str, ...],
        *,
        request_id: str = "",
        header_type: str = p.RUNTIME_UNKNOWN,
        xray_cause: bytes | None = None,
    ) -> None:
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = stack_trace
        self.request_id = request_id
        self.header_type = header_type
        self.xray_cause = xray_cause

    def __repr__(self) -> str:
        return (
            f"ErrorReport(error_type={self.error_type!r}, error_message={self.error_message!r}, "
            f"request_id={self.request_id!r}, header_type={self.header_type!r})"
        )

    def body(self) -> bytes:
        """The error document, shaped like awslambdaric's."""
        return orjson.dumps(
            {
                "errorMessage": self.error_message,
                "errorType": self.error_type,
                "requestId": self.request_id,
                "stackTrace": list(self.stack_trace),
            }
        )


class Redactor:
    """Replaces credential values (from the environment) with ``***`` in error text and logs."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        # Short values would redact ordinary words; real credentials are long.
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def extend(self, secrets: Iterable[str]) -> None:
        """Redact ``secrets`` too: credentials that appeared later (after a SnapStart restore)."""
        added = {s for s in secrets if len(s) >= 8}
        self._secrets = tuple(sorted(added.union(self._secrets), key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


NO_REDACTION: Final = Redactor(())


def header_error_type(name: str, prefix: str = "Function") -> str:
    """Map an exception name onto the ``Function.X`` shape Lambda accepts in the header.

    RAPID turns anything not matching ``(Runtime|Function).[A-Z][a-zA-Z]+`` into
    ``Runtime.Unknown``; a name that cannot fit becomes ``Function.Unhandled``.
    """
    if "A" <= name[:1] <= "Z" and set(name[1:]) <= _ERROR_TYPE_TAIL_OK and len(name) > 1:
        return f"{prefix}.{name}"
    return p.FUNCTION_UNHANDLED


def from_exception(
    exc: BaseException, request_id: str = "", redact: Redactor = NO_REDACTION
) -> ErrorReport:
    """Build the report of an exception raised by user code (runtime frames trimmed)."""
    if isinstance(exc, RuntimeFault):
        return from_fault(exc, request_id, redact)
    frames = _user_frames(exc.__traceback__)
    error_type = type(exc).__name__
    message = redact(_utf8(_message(exc)))
    stack = tuple(redact(_utf8(line)) for line in format_frames(frames))
    return ErrorReport(
        error_type=error_type,
        error_message=message,
        stack_trace=stack,
        request_id=request_id,
        header_type=header_error_type(error_type),
        xray_cause=xray_cause(error_type, message, frames, redact),
    )


def from_fault(
    fault: RuntimeFault, request_id: str = "", redact: Redactor = NO_REDACTION
) -> ErrorReport:
    """Build the report of a ``Runtime.X`` fault."""
    return ErrorReport(
        error_type=fault.error_type,
        error_message=redact(_utf8(fault.message)),
        stack_trace=tuple(redact(_utf8(line)) for line in fault.stack),
        request_id=request_id,
        header_type=fault.error_type
        if p.is_valid_error_type(fault.error_type)
        else p.RUNTIME_UNKNOWN,
    )


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not take the runtime down
        return f"<unprintable {type(exc).__name__}>"


def _utf8(text: str) -> str:
    # Lone surrogates (bytes decoded with surrogateescape) are not UTF-8: the JSON encoder
    # would refuse the whole report and the invocation would go unanswered. Escape them.
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def format_frames(frames: traceback.StackSummary) -> list[str]:
    """One ``File "…", line N, in f`` entry per frame, without Python 3.11+'s ``^^^`` lines.

    awslambdaric formats (file, line, name, source) tuples, which carry no column
    positions, so its entries never have the error-location markers.
    """
    return traceback.format_list([(f.filename, f.lineno or 0, f.name, f.line) for f in frames])


def _user_frames(tb: TracebackType | None) -> traceback.StackSummary:
    frames = traceback.extract_tb(tb)
    return traceback.StackSummary.from_list(
        [f for f in frames if not f.filename.startswith(_PACKAGE_DIR)]
    )


def xray_cause(
    error_type: str,
    message: str,
    frames: traceback.StackSummary,
    redact: Redactor = NO_REDACTION,
) -> bytes:
    """The ``Lambda-Runtime-Function-XRay-Error-Cause`` JSON, cropped to fit 64 KiB.

    Frames are dropped from the outermost inwards, then the message is shortened,
    so the most useful part survives RAPID's limit.
    """
    import json  # error path only: keeps the stdlib json import off the cold start

    stack = [{"path": f.filename, "line": f.lineno or 0, "label": f.name} for f in reversed(frames)]
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    while True:
        cause = {
            "working_directory": cwd,
            "exceptions": [{"message": message, "type": error_type, "stack": stack}],
            "paths": sorted({str(s["path"]) for s in stack}),
        }
        # ASCII-only JSON: the cause travels in an HTTP header.
        encoded = redact(json.dumps(cause, ensure_ascii=True, separators=(",", ":"))).encode()
        if len(encoded) < p.MAX_XRAY_CAUSE_BYTES:
            return encoded
        if len(stack) > 1:
            stack = stack[: len(stack) // 2]
        elif message:
            message = message[: len(message) // 2]
        elif stack or len(cwd) > 1024:
            stack, cwd = [], cwd[:1024]
        else:
            error_type = error_type[:1024]
