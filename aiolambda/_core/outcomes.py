"""What both drivers share of one invocation, with no asyncio: its context, its outcome.

The asyncio driver (:mod:`aiolambda._core.invocation`, :mod:`aiolambda._core.runtime`)
and the blocking one (:mod:`aiolambda._core.runtime_sync`) differ only in how they
wait; the context a handler gets, the per-invocation variables, the result types, the
timeout and too-large errors and how errors are logged are built here, once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, Final

import orjson

from aiolambda._core import protocol as p
from aiolambda._core.config import RuntimeConfig
from aiolambda._core.context import (
    ClientContext,
    CognitoIdentity,
    Context,
    request_id_var,
    tenant_id_var,
    trace_id_var,
    w3c_fields,
)
from aiolambda._core.errors import ErrorReport, RuntimeFault, from_fault
from aiolambda._core.exchange import Invocation
from aiolambda._core.logs import LogSink, format_error_for_log

_NO_DEADLINE_MS: Final = 15 * 60 * 1000  # Lambda's longest timeout, for a missing header


class Response:
    """A handler's encoded result (read-only; a plain class: no code generated at start)."""

    __slots__ = ("body", "content_type")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type

    def __repr__(self) -> str:
        return f"Response(body={self.body!r}, content_type={self.content_type!r})"


class ProcessExit:
    """The handler called ``sys.exit()``: the runtime exits with ``status``, unanswered.

    As under awslambdaric: the process ends, Lambda answers the caller with
    ``Runtime.ExitError`` and the next invocation gets a fresh environment. With
    ``AWS_LAMBDA_MAX_CONCURRENCY`` > 1 the runtime stops polling and lets the other
    invocations in flight finish and be answered first. Read-only; a plain class, as
    :class:`Response` (no code generated at start).
    """

    __slots__ = ("status",)

    def __init__(self, status: int) -> None:
        self.status = status

    def __repr__(self) -> str:
        return f"ProcessExit(status={self.status})"


class HandlerTimeout(Exception):
    """The handler was still running at the invocation's cancellation point."""


def exit_status(exc: SystemExit) -> int:
    """The process exit status Python gives ``exc`` (a message is printed, status 1)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code % 256
    import sys

    print(exc.code, file=sys.stderr)
    return 1


def enter(inv: Invocation, *, set_trace_env: bool) -> None:
    """Make ``inv`` the current invocation: context variables and ``_X_AMZN_TRACE_ID``.

    The environment is process-wide: ``set_trace_env`` only when one invocation runs
    at a time.
    """
    request_id_var.set(inv.request_id)
    tenant_id_var.set(inv.tenant_id)
    trace_id_var.set(inv.trace_id)
    if set_trace_env:
        if inv.trace_id is not None:
            os.environ[p.ENV_TRACE_ID] = inv.trace_id
        else:
            os.environ.pop(p.ENV_TRACE_ID, None)


def leave() -> None:
    """No invocation is current any more (log lines between invocations carry no id)."""
    request_id_var.set(None)
    tenant_id_var.set(None)
    trace_id_var.set(None)


def build_context(
    config: RuntimeConfig, inv: Invocation, log_writer: Callable[[str], None]
) -> Context:
    """The ``context`` argument of the handler for ``inv``."""
    client_data = _json_object(inv.client_context, "client context") if inv.client_context else None
    return Context(
        aws_request_id=inv.request_id,
        deadline_ms=(
            inv.deadline_ms
            if inv.deadline_ms is not None
            else int(time.time() * 1000) + _NO_DEADLINE_MS
        ),
        invoked_function_arn=inv.invoked_function_arn,
        function_name=config.function_name,
        function_version=config.function_version,
        memory_limit_in_mb=config.memory_limit_in_mb,
        log_group_name=config.log_group_name,
        log_stream_name=config.log_stream_name,
        identity=CognitoIdentity(
            _json_object(inv.cognito_identity, "Cognito identity") if inv.cognito_identity else None
        ),
        client_context=ClientContext(client_data) if client_data is not None else None,
        w3c=w3c_fields(client_data) if client_data else None,
        tenant_id=inv.tenant_id,
        xray_trace_id=inv.trace_id,
        log_writer=log_writer,
    )


def margin_s(config: RuntimeConfig, deadline_s: float) -> float:
    """How long before ``deadline_s`` the handler is given up on: the configured margin,
    never more than a quarter of the time left, so short timeouts still run."""
    return min(config.timeout_margin_ms / 1000, max(0.0, deadline_s - time.time()) / 4)


def timeout_report(config: RuntimeConfig, inv: Invocation, *, retiring: bool) -> ErrorReport:
    """The ``Function.Timeout`` error of ``inv``; ``retiring`` when its handler did not stop."""
    message = (
        "Handler cancelled shortly before the invocation's deadline so that this error "
        f"reaches the caller (AIOLAMBDA_TIMEOUT_MARGIN_MS={config.timeout_margin_ms})"
    )
    if retiring:
        message += "; it did not stop, so this runtime will restart"
    return from_fault(RuntimeFault(p.FUNCTION_TIMEOUT, message), inv.request_id)


def too_large(inv: Invocation, size: int) -> ErrorReport:
    """The error Lambda's own runtimes post for a result over the payload limit."""
    fault = RuntimeFault(
        p.FUNCTION_RESPONSE_TOO_LARGE,
        f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
        f"({p.MAX_PAYLOAD_BYTES} bytes).",
    )
    return from_fault(fault, inv.request_id)


def log_error(sink: LogSink, report: ErrorReport, *, json: bool) -> None:
    """Log ``report`` as awslambdaric logs an invocation's or init's error."""
    text = format_error_for_log(
        report.error_type, report.error_message, report.stack_trace, json=json
    )
    sink.write(text, logging.ERROR)


def _json_object(raw: str | None, what: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RuntimeFault(
            "Runtime.LambdaContextUnmarshalError", f"Unable to parse {what} JSON"
        ) from None
    if not isinstance(value, dict):
        raise RuntimeFault(
            "Runtime.LambdaContextUnmarshalError", f"The {what} is not a JSON object"
        )
    return value
