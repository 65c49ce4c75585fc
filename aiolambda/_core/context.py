"""The ``context`` object handed to the handler, compatible with awslambdaric's.

Attribute names and types follow awslambdaric's ``LambdaContext`` exactly, so
Powertools, Mangum and other libraries keep working: note that
``memory_limit_in_mb`` is a ``str``, as the environment gives it.

See: https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

# Per-invocation state lives in context variables, never in process globals, so
# concurrent invocations on one loop (Lambda Managed Instances) never see each other's.
request_id_var: ContextVar[str | None] = ContextVar("aiolambda_request_id", default=None)
tenant_id_var: ContextVar[str | None] = ContextVar("aiolambda_tenant_id", default=None)
trace_id_var: ContextVar[str | None] = ContextVar("aiolambda_trace_id", default=None)


def current_request_id() -> str | None:
    """The request id of the invocation running in this task (``None`` outside one)."""
    return request_id_var.get()


def current_trace_id() -> str | None:
    """The X-Ray trace header of the invocation running in this task.

    Unlike ``os.environ["_X_AMZN_TRACE_ID"]`` (kept in sync only when the runtime
    serves one invocation at a time), this is right under concurrency too.
    """
    return trace_id_var.get()


W3C_FIELDS = ("traceparent", "tracestate", "baggage")


def w3c_fields(client_context: Mapping[str, Any]) -> dict[str, str]:
    """The W3C trace-context strings carried in a client context's ``w3c`` object."""
    raw = client_context.get("w3c")
    if not isinstance(raw, Mapping):
        return {}
    return {key: raw[key] for key in W3C_FIELDS if isinstance(raw.get(key), str)}


class CognitoIdentity:
    """The caller's Amazon Cognito identity (attributes are ``None`` when absent)."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        data = data or {}
        self.cognito_identity_id: str | None = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id: str | None = data.get("cognitoIdentityPoolId")

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    """The mobile client application that invoked the function."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.installation_id: str | None = data.get("installation_id")
        self.app_title: str | None = data.get("app_title")
        self.app_version_name: str | None = data.get("app_version_name")
        self.app_version_code: str | None = data.get("app_version_code")
        self.app_package_name: str | None = data.get("app_package_name")

    def __repr__(self) -> str:
        return (
            f"Client([installation_id={self.installation_id},app_title={self.app_title},"
            f"app_version_name={self.app_version_name},app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    """Client context sent by the AWS mobile SDKs (``custom``, ``env``, ``client``)."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, data: Mapping[str, Any]) -> None:
        client = data.get("client")
        self.client: Client | None = Client(client) if isinstance(client, Mapping) else None
        self.custom: Any = data.get("custom")
        self.env: Any = data.get("env")

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class Context:
    """What the handler receives as ``context``: the invocation's and function's metadata.

    Same names and types as awslambdaric's ``LambdaContext``. Additions, all optional
    to use: ``deadline_ms`` (the absolute deadline, epoch milliseconds),
    ``xray_trace_id`` and :meth:`remaining_time` (seconds, a float).
    """

    # No __slots__: libraries and tests attach attributes to the context object.

    def __init__(
        self,
        *,
        aws_request_id: str,
        deadline_ms: int,
        invoked_function_arn: str,
        function_name: str,
        function_version: str,
        memory_limit_in_mb: str,
        log_group_name: str,
        log_stream_name: str,
        identity: CognitoIdentity | None = None,
        client_context: ClientContext | None = None,
        tenant_id: str | None = None,
        xray_trace_id: str | None = None,
        w3c: Mapping[str, str] | None = None,
        log_writer: Callable[[str], None] | None = None,
    ) -> None:
        self.aws_request_id = aws_request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity = identity if identity is not None else CognitoIdentity()
        self.client_context = client_context
        self.tenant_id = tenant_id
        self.xray_trace_id = xray_trace_id
        self.deadline_ms = deadline_ms
        self._epoch_deadline_time_in_ms = deadline_ms
        self._w3c_fields = dict(w3c or {})
        self._log_writer = log_writer

    def w3c(self) -> dict[str, str]:
        """The W3C trace context (``traceparent``, ``tracestate``, ``baggage``) of the invoke."""
        return dict(self._w3c_fields)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda's deadline (never negative)."""
        return max(self.deadline_ms - int(time.time() * 1000), 0)

    def remaining_time(self) -> float:
        """Seconds left before Lambda's deadline (never negative)."""
        return max(self.deadline_ms / 1000 - time.time(), 0.0)

    def log(self, msg: object) -> None:
        """Write ``msg`` to the function's log as is (awslambdaric's ``context.log``)."""
        if self._log_writer is not None:
            self._log_writer(str(msg))
        else:
            import sys

            sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )
