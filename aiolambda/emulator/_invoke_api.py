"""The caller's side: RIE's invoke path and the Lambda Invoke API, on aiohttp.web.

``POST /2015-03-31/functions/{name}/invocations`` serves both RIE's fixed name
``function`` and real function names, so curl scripts written for RIE,
``boto3.client("lambda", endpoint_url=…).invoke(…)`` and ``aws lambda invoke
--endpoint-url …`` all work against the same port.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote

from aiohttp import web

from aiolambda._core import protocol as p
from aiolambda.emulator._caller_api import (
    DISCARD_CAP,
    INVOKE_OPERATION,
    MAX_REQUEST_BYTES,
    aws_error,
    function_not_found,
    invalid_payload,
    log_tail,
    read_limited,
    request_too_large,
)
from aiolambda.emulator._engine import FUNCTION_VERSION, Engine, Invocation
from aiolambda.emulator._types import InvokeResult

if TYPE_CHECKING:
    from collections.abc import Callable

_INVOKE_ROUTE: Final = f"/{p.INVOKE_API_VERSION}/functions/{{name}}/invocations"
RIE_INVOKE_PATH: Final = f"/{p.INVOKE_API_VERSION}/functions/function/invocations"


def _known_name(name: str, function_name: str) -> bool:
    # Accept "function" (RIE), the plain name, "name:qualifier" and full or partial ARNs.
    if name in ("function", function_name):
        return True
    parts = name.split(":")
    if "function" in parts:
        after = parts[parts.index("function") + 1 :]
        return bool(after) and after[0] == function_name
    return parts[0] == function_name


async def _relay_stream(
    request: web.Request,
    request_id: str,
    content_type: str,
    stream: asyncio.Queue[str | bytes | None],
    future: asyncio.Future[InvokeResult],
) -> web.StreamResponse:
    """Send a streamed function response chunk by chunk.

    Headers go out before the function has finished, so an error reported in the
    stream's trailers cannot become ``X-Amz-Function-Error`` here (and aiohttp cannot
    send trailers): the response is cut short instead, so the caller sees an incomplete
    body rather than a success (``InvokeResult.error_type`` and ``trailers`` record the
    error; ``InvokeWithResponseStream`` reports it in its ``InvokeComplete`` event).
    """
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": content_type,
            "X-Amz-Executed-Version": FUNCTION_VERSION,
            "x-amzn-RequestId": request_id,
        },
    )
    # No Content-Length: aiohttp sends the body chunked (close-delimited to HTTP/1.0).
    await response.prepare(request)
    while (item := await stream.get()) is not None:
        if isinstance(item, bytes):
            await response.write(item)
    if not future.result().ok and request.transport is not None:
        request.transport.abort()
        return response
    await response.write_eof()
    return response


def make_app(engine: Engine, new_request_id: Callable[[], str]) -> web.Application:
    """The aiohttp application serving the invoke endpoints for ``engine``."""

    async def invoke(request: web.Request) -> web.StreamResponse:
        name = unquote(request.match_info["name"])
        if not _known_name(name, engine.cfg.function_name):
            return function_not_found(engine.cfg.function_arn, name)
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            return aws_error(
                400, "InvalidParameterValueException", f"bad InvocationType {invocation_type!r}"
            )
        body = await read_limited(request, MAX_REQUEST_BYTES)
        if body is None:
            return request_too_large(INVOKE_OPERATION)
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
        inv = Invocation(
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
        # A streamed response is passed on as it arrives: items are the content type
        # (the stream started), chunks, then None once the invocation has finished.
        stream: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        if not inv.event:
            inv.on_stream_start = stream.put_nowait
            inv.on_chunk = stream.put_nowait
        try:
            future = engine.submit(inv)
        except RuntimeError:
            return aws_error(503, "ServiceException", "the emulator is shutting down")
        if inv.event:
            return web.Response(status=202, headers={"x-amzn-RequestId": inv.request_id})
        future.add_done_callback(lambda _: stream.put_nowait(None))
        first = await stream.get()
        if isinstance(first, str):
            return await _relay_stream(request, inv.request_id, first, stream, future)
        result = future.result()
        headers = dict(result.headers)
        if request.headers.get("X-Amz-Log-Type", "None") == "Tail":
            headers["X-Amz-Log-Result"] = log_tail(result)
        return web.Response(status=200, body=result.payload, headers=headers)

    app = web.Application(client_max_size=DISCARD_CAP)
    app.router.add_post(_INVOKE_ROUTE, invoke)
    _add_streaming_routes(app, engine, new_request_id)
    return app


def _add_streaming_routes(
    app: web.Application, engine: Engine, new_request_id: Callable[[], str]
) -> None:
    """``InvokeWithResponseStream`` and the Function URL endpoint (see ``_streaming``)."""
    from aiolambda.emulator._streaming import (
        FUNCTION_URL_PREFIX,
        STREAM_INVOKE_ROUTE,
        make_function_url,
        make_stream_invoke,
    )

    app.router.add_post(
        STREAM_INVOKE_ROUTE, make_stream_invoke(engine, new_request_id, _known_name)
    )
    url = make_function_url(engine, new_request_id)
    app.router.add_route("*", FUNCTION_URL_PREFIX, url)
    app.router.add_route("*", FUNCTION_URL_PREFIX + "/{tail:.*}", url)
