"""What the emulator's caller-facing endpoints share: Invoke, InvokeWithResponseStream, URL.

Request limits, the Lambda service's error shape, the checks Lambda applies to an
invoke request before any environment sees it (function name, invocation type, size,
JSON payload, client context), and the log tail.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from aiohttp import web

from aiolambda._core import protocol as p
from aiolambda.emulator._engine import Invocation

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiolambda.emulator._engine import Engine
    from aiolambda.emulator._types import InvokeResult

LOG_TAIL_BYTES: Final = 4 * 1024
# The Invoke API caps request payloads at 6 MB (RAPID's 6 MiB + 100 B on the runtime side).
MAX_REQUEST_BYTES: Final = p.MAX_PAYLOAD_BYTES
# How much of an oversized request body is read (and dropped) before the 413.
DISCARD_CAP: Final = 64 * 1024 * 1024


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    """An error in the Lambda service's REST-JSON shape, which boto3 turns into ClientError."""
    body = json.dumps({"Type": "User", "message": message})
    headers = {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())}
    return web.Response(status=status, text=body, content_type=p.CT_JSON, headers=headers)


# The operation names Lambda puts in its 413 message: the Invoke API's is its internal
# name, InvokeFunction (the IAM action), not the API name "Invoke".
INVOKE_OPERATION: Final = "InvokeFunction"
STREAM_INVOKE_OPERATION: Final = "InvokeWithResponseStream"
# The size Lambda's 413 message names: 6 MiB, without the 100 bytes of slack the
# enforced MAX_REQUEST_BYTES (shared with the runtime side) allows.
_WORDED_LIMIT: Final = 6 * 1024 * 1024


def function_not_found(function_arn: str, name: str) -> web.Response:
    """Lambda's 404 for ``name`` (plain, qualified, partial or full ARN): it names the ARN."""
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:  # a partial ARN, ACCOUNT:function:NAME[:QUALIFIER]
        arn = f"{function_arn.split(':function:', 1)[0].rsplit(':', 1)[0]}:{name}"
    else:
        arn = f"{function_arn.split(':function:', 1)[0]}:function:{name}"
    return aws_error(404, "ResourceNotFoundException", f"Function not found: {arn}")


def request_too_large(operation: str) -> web.Response:
    """Lambda's 413 for a request payload over :data:`MAX_REQUEST_BYTES` for ``operation``."""
    message = f"Request must be smaller than {_WORDED_LIMIT} bytes for the {operation} operation"
    return aws_error(413, "RequestTooLargeException", message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


def json_problem(body: bytes) -> str | None:
    """Why ``body`` is not a JSON document (UTF-8, no NaN/Infinity), or None if it is."""
    try:
        json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        return f"Invalid UTF-8 byte 0x{body[exc.start]:02x} at offset {exc.start}"
    except ValueError as exc:
        return str(exc)
    return None


def invalid_payload(body: bytes) -> web.Response | None:
    """Lambda's 400 for an Invoke payload that is not JSON, or None when it is JSON.

    Lambda parses the payload before it picks an environment, so the function never
    sees it (RIE, unlike Lambda, passes it on to the runtime).
    """
    problem = json_problem(body)
    if problem is None:
        return None
    return aws_error(
        400,
        "InvalidRequestContentException",
        f"Could not parse request body into json: Could not parse payload into json: {problem}",
    )


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is over ``limit``.

    An oversized body is still read to the end (up to a sanity cap): answering while
    the client is mid-upload makes it see a reset instead of our 413, and retry.
    """
    data = bytearray()
    seen = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        seen += len(chunk)
        if seen <= limit:
            data += chunk
        elif seen > DISCARD_CAP:
            break
    return bytes(data) if seen <= limit else None


def log_tail(result: InvokeResult) -> str:
    """``LogType=Tail``'s answer: the last 4 KB of the invocation's log, base64."""
    return base64.b64encode(result.logs.encode()[-LOG_TAIL_BYTES:]).decode()


def known_name(name: str, function_name: str) -> bool:
    """Whether ``name`` in an invoke URL names this function.

    Accepts ``function`` (RIE's fixed name), the plain name, ``name:qualifier`` and full
    or partial ARNs.
    """
    if name in ("function", function_name):
        return True
    parts = name.split(":")
    if "function" in parts:
        after = parts[parts.index("function") + 1 :]
        return bool(after) and after[0] == function_name
    return parts[0] == function_name


async def read_invocation(
    request: web.Request,
    engine: Engine,
    new_request_id: Callable[[], str],
    *,
    operation: str,
    invocation_types: tuple[str, ...],
) -> Invocation | web.Response:
    """An invoke request's checks, in Lambda's order: the invocation to run, or the answer.

    The answer is Lambda's error for a bad request, or DryRun's 204.
    """
    name = unquote(request.match_info["name"])
    if not known_name(name, engine.cfg.function_name):
        return function_not_found(engine.cfg.function_arn, name)
    invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type not in invocation_types:
        return aws_error(
            400, "InvalidParameterValueException", f"bad InvocationType {invocation_type!r}"
        )
    body = await read_limited(request, MAX_REQUEST_BYTES)
    if body is None:
        return request_too_large(operation)
    # An invoke without a payload (boto3 with no Payload, a bare curl -XPOST)
    # reaches the function as an empty JSON object, not as undecodable b"".
    body = body or b"{}"
    if (rejected := invalid_payload(body)) is not None:
        return rejected
    if invocation_type == "DryRun":
        return web.Response(status=204)
    client_context = None
    encoded = request.headers.get("X-Amz-Client-Context")
    if encoded:
        try:
            client_context = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return aws_error(
                400, "InvalidRequestContentException", "Client context must be base64 JSON"
            )
    return Invocation(
        new_request_id(),
        body,
        # The Invoke API's payload is JSON by contract, whatever the client labelled
        # it (curl -d says form-urlencoded); runtimes decode only application/json.
        content_type=p.CT_JSON,
        client_context=client_context,
        tenant_id=request.headers.get("X-Amz-Tenant-Id"),
        trace_id=request.headers.get("X-Amzn-Trace-Id"),
        event=invocation_type == "Event",
    )
