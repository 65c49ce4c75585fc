"""Lambda Runtime API wire facts: paths, header names, status codes, error types.

This module is the one place where AWS's wire names appear. It is pure (no I/O)
and imports nothing but the standard library, so both the runtime client and the
local emulator can share one definition of the protocol.

See: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

from __future__ import annotations

import re
from typing import Final

# -- paths ----------------------------------------------------------------------------
API_VERSION: Final = "2018-06-01"
EXTENSION_API_VERSION: Final = "2020-01-01"
INVOKE_API_VERSION: Final = "2015-03-31"
STREAMING_INVOKE_API_VERSION: Final = "2021-11-15"  # InvokeWithResponseStream

RUNTIME_PREFIX: Final = f"/{API_VERSION}/runtime"
NEXT_PATH: Final = f"{RUNTIME_PREFIX}/invocation/next"
INIT_ERROR_PATH: Final = f"{RUNTIME_PREFIX}/init/error"
# SnapStart: Lambda snapshots the environment while /restore/next is pending and answers
# it after a restore; a failed after-restore hook is reported to /restore/error.
RESTORE_NEXT_PATH: Final = f"{RUNTIME_PREFIX}/restore/next"
RESTORE_ERROR_PATH: Final = f"{RUNTIME_PREFIX}/restore/error"
EXTENSION_PREFIX: Final = f"/{EXTENSION_API_VERSION}/extension"
EXTENSION_REGISTER_PATH: Final = f"{EXTENSION_PREFIX}/register"
EXTENSION_NEXT_PATH: Final = f"{EXTENSION_PREFIX}/event/next"


def response_path(request_id: str) -> str:
    """Path of ``POST …/invocation/{id}/response`` (the id must be validated first)."""
    return f"{RUNTIME_PREFIX}/invocation/{request_id}/response"


def error_path(request_id: str) -> str:
    """Path of ``POST …/invocation/{id}/error`` (the id must be validated first)."""
    return f"{RUNTIME_PREFIX}/invocation/{request_id}/error"


# Request ids go into a URL path: allow only what real ids (UUIDs) and RIE-style ids use,
# so a hostile header can never inject a CRLF, a slash or a dot-segment.
MAX_REQUEST_ID_CHARS: Final = 128


def is_valid_request_id(request_id: str) -> bool:
    """True when ``request_id`` is safe to put into a Runtime API URL path.

    ASCII letters and digits, then also ``-`` and ``_``, at most 128 characters. String
    methods rather than a regex: compiling one is ~0.15 ms of every cold start.
    """
    return (
        0 < len(request_id) <= MAX_REQUEST_ID_CHARS
        and request_id.isascii()
        and request_id[0].isalnum()
        and request_id.replace("-", "").replace("_", "").isalnum()
    )


# -- headers on the /next response (lower-case: HTTP header names are case-insensitive) --
H_REQUEST_ID: Final = "lambda-runtime-aws-request-id"
H_DEADLINE_MS: Final = "lambda-runtime-deadline-ms"
H_FUNCTION_ARN: Final = "lambda-runtime-invoked-function-arn"
H_TRACE_ID: Final = "lambda-runtime-trace-id"
H_CLIENT_CONTEXT: Final = "lambda-runtime-client-context"
H_COGNITO_IDENTITY: Final = "lambda-runtime-cognito-identity"
H_TENANT_ID: Final = "lambda-runtime-aws-tenant-id"
H_INVOCATION_ID: Final = "lambda-runtime-invocation-id"
H_CONTENT_TYPE: Final = "content-type"

# -- headers the runtime sends --------------------------------------------------------
H_ERROR_TYPE: Final = "Lambda-Runtime-Function-Error-Type"
H_ERROR_BODY: Final = "Lambda-Runtime-Function-Error-Body"
H_XRAY_ERROR_CAUSE: Final = "Lambda-Runtime-Function-XRay-Error-Cause"
H_RESPONSE_MODE: Final = "Lambda-Runtime-Function-Response-Mode"
RESPONSE_MODE_STREAMING: Final = "streaming"

# -- Extensions API -------------------------------------------------------------------
H_EXTENSION_NAME: Final = "Lambda-Extension-Name"
H_EXTENSION_ID: Final = "Lambda-Extension-Identifier"
H_EXTENSION_ERROR_TYPE: Final = "Lambda-Extension-Function-Error-Type"

# -- content types --------------------------------------------------------------------
CT_JSON: Final = "application/json"
CT_BYTES: Final = "application/unknown"  # awslambdaric's type for a bytes result
CT_OCTET_STREAM: Final = "application/octet-stream"
CT_HTTP_INTEGRATION: Final = "application/vnd.awslambda.http-integration-response"
# An HTTP integration response: JSON prelude, this separator, then the body.
HTTP_INTEGRATION_SEPARATOR: Final = b"\0" * 8

# -- status codes ---------------------------------------------------------------------
STATUS_OK: Final = 200
STATUS_ACCEPTED: Final = 202
STATUS_BAD_REQUEST: Final = 400  # unknown or already-answered request id
STATUS_FORBIDDEN: Final = 403  # invalid state transition
STATUS_GONE: Final = 410  # answer arrived after the invocation timed out
STATUS_PAYLOAD_TOO_LARGE: Final = 413
STATUS_SERVER_ERROR: Final = 500  # container error: the runtime must exit

# -- limits ---------------------------------------------------------------------------
# See: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_PAYLOAD_BYTES: Final = 6 * 1024 * 1024 + 100  # RAPID's constant: 6 MiB + 100 B
MAX_STREAMED_RESPONSE_BYTES: Final = 200 * 1024 * 1024
MAX_XRAY_CAUSE_BYTES: Final = 64 * 1024  # RAPID crops the X-Ray cause to this

# -- error types ----------------------------------------------------------------------
# RAPID maps any header value not matching this to Runtime.Unknown / Function.Unknown.
# A pattern, not a compiled regex: only error reports use it (re caches it on first use).
ERROR_TYPE_PATTERN: Final = r"(Runtime|Function)\.[A-Z][a-zA-Z]+"


def is_valid_error_type(error_type: str) -> bool:
    """True when RAPID passes ``error_type`` through as ``Lambda-Runtime-Function-Error-Type``."""
    return re.fullmatch(ERROR_TYPE_PATTERN, error_type) is not None


MALFORMED_HANDLER_NAME: Final = "Runtime.MalformedHandlerName"
IMPORT_MODULE_ERROR: Final = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR: Final = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND: Final = "Runtime.HandlerNotFound"
BUILT_IN_MODULE_CONFLICT: Final = "Runtime.BuiltInModuleConflict"
UNMARSHAL_ERROR: Final = "Runtime.UnmarshalError"
MARSHAL_ERROR: Final = "Runtime.MarshalError"
# aiolambda's own: valid JSON that does not match the handler's event annotation (typed events).
INVALID_EVENT: Final = "Runtime.InvalidEvent"
RUNTIME_UNKNOWN: Final = "Runtime.Unknown"
RUNTIME_EXIT_ERROR: Final = "Runtime.ExitError"
FUNCTION_UNHANDLED: Final = "Function.Unhandled"
FUNCTION_TIMEOUT: Final = "Function.Timeout"  # aiolambda's own deadline cancellation
FUNCTION_RESPONSE_TOO_LARGE: Final = "Function.ResponseSizeTooLarge"
SANDBOX_TIMEDOUT: Final = "Sandbox.Timedout"
BEFORE_SNAPSHOT_ERROR: Final = "Runtime.BeforeSnapshotError"  # header of a failed hook's init/error
AFTER_RESTORE_ERROR: Final = "Runtime.AfterRestoreError"  # header of a /restore/error post

# -- environment variable names (read only by RuntimeConfig.from_environ) ---------------
ENV_RUNTIME_API: Final = "AWS_LAMBDA_RUNTIME_API"
ENV_HANDLER: Final = "_HANDLER"
ENV_TASK_ROOT: Final = "LAMBDA_TASK_ROOT"
ENV_FUNCTION_NAME: Final = "AWS_LAMBDA_FUNCTION_NAME"
ENV_FUNCTION_VERSION: Final = "AWS_LAMBDA_FUNCTION_VERSION"
ENV_FUNCTION_MEMORY: Final = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
ENV_LOG_GROUP: Final = "AWS_LAMBDA_LOG_GROUP_NAME"
ENV_LOG_STREAM: Final = "AWS_LAMBDA_LOG_STREAM_NAME"
ENV_LOG_FORMAT: Final = "AWS_LAMBDA_LOG_FORMAT"
ENV_LOG_LEVEL: Final = "AWS_LAMBDA_LOG_LEVEL"
ENV_MAX_CONCURRENCY: Final = "AWS_LAMBDA_MAX_CONCURRENCY"
ENV_TELEMETRY_FD: Final = "_LAMBDA_TELEMETRY_LOG_FD"
ENV_TELEMETRY_SOCKET: Final = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"
ENV_TRACE_ID: Final = "_X_AMZN_TRACE_ID"
ENV_EXECUTION_ENV: Final = "AWS_EXECUTION_ENV"
ENV_INITIALIZATION_TYPE: Final = "AWS_LAMBDA_INITIALIZATION_TYPE"
INIT_TYPE_SNAP_START: Final = "snap-start"  # the value that asks the runtime for the restore flow
ENV_FUNCTION_TIMEOUT: Final = "AWS_LAMBDA_FUNCTION_TIMEOUT"  # RIE's name; not set on Lambda

# Environment names whose values must never reach an error payload or a log.
SECRET_ENV_NAMES: Final = frozenset(
    {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECURITY_TOKEN"}
    # SnapStart functions fetch their credentials from a local endpoint with this token.
    | {"AWS_CONTAINER_AUTHORIZATION_TOKEN"}
)
