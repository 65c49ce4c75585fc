"""The caller's side: RIE's invoke path and the Lambda Invoke API, on aiohttp.web.

``POST /2015-03-31/functions/{name}/invocations`` serves both RIE's fixed name
``function`` and real function names, so curl scripts written for RIE,
``boto3.client("lambda", endpoint_url=…).invoke(…)`` and ``aws lambda invoke
--endpoint-url …`` all work against the same port.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from aiohttp import web

from aiolambda._core import protocol as p
from aiolambda.emulator._caller_api import (
    DISCARD_CAP,
    INVOKE_OPERATION,
    aws_error,
    log_tail,
    read_invocation,
)
from aiolambda.emulator._engine import FUNCTION_VERSION, Engine, Invocation
from aiolambda.emulator._types import InvokeResult

if TYPE_CHECKING:
    from collections.abc import Callable

_INVOKE_ROUTE: Final = f"/{p.INVOKE_API_VERSION}/functions/{{name}}/invocations"
RIE_INVOKE_PATH: Final = f"/{p.INVOKE_API_VERSION}/functions/function/invocations"


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
        inv = await read_invocation(
            request,
            engine,
            new_request_id,
            operation=INVOKE_OPERATION,
            invocation_types=("RequestResponse", "Event", "DryRun"),
        )
        if not isinstance(inv, Invocation):
            return inv
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

    app.router.add_post(STREAM_INVOKE_ROUTE, make_stream_invoke(engine, new_request_id))
    url = make_function_url(engine, new_request_id)
    app.router.add_route("*", FUNCTION_URL_PREFIX, url)
    app.router.add_route("*", FUNCTION_URL_PREFIX + "/{tail:.*}", url)
