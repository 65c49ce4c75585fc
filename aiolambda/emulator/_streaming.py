"""The emulator's streaming endpoints: ``InvokeWithResponseStream`` and a Function URL.

* ``POST /2021-11-15/functions/{name}/response-streaming-invocations`` answers in AWS
  event-stream framing, as the Lambda service does: a ``PayloadChunk`` event per piece
  of the function's response as it arrives, then one ``InvokeComplete`` event whose
  ``ErrorCode``/``ErrorDetails`` carry a mid-stream error (the runtime's trailers) and
  ``LogResult`` the log tail. boto3's ``invoke_with_response_stream`` reads it.
* ``/lambda-url/{path}`` (any method) turns the HTTP request into a Function URL event
  (payload format 2.0) and the function's answer into a real HTTP response: a streamed
  HTTP integration response's prelude gives the status, headers and cookies and its
  body is relayed as it arrives; a buffered answer is read the way Function URLs read
  it (``statusCode``/``headers``/``cookies``/``body``/``isBase64Encoded``).

See: https://docs.aws.amazon.com/lambda/latest/api/API_InvokeWithResponseStream.html,
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import struct
import time
import zlib
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from aiolambda._core import protocol as p
from aiolambda.emulator._caller_api import (
    MAX_REQUEST_BYTES,
    STREAM_INVOKE_OPERATION,
    aws_error,
    log_tail,
    read_invocation,
    read_limited,
)
from aiolambda.emulator._engine import FUNCTION_VERSION, Engine, Invocation
from aiolambda.emulator._types import InvokeResult

if TYPE_CHECKING:
    from collections.abc import Callable

STREAM_INVOKE_ROUTE: Final = (
    f"/{p.STREAMING_INVOKE_API_VERSION}/functions/{{name}}/response-streaming-invocations"
)
FUNCTION_URL_PREFIX: Final = "/lambda-url"
# API Gateway wants the prelude within the first 16 KB; be a little more forgiving.
_MAX_PRELUDE_BYTES: Final = 64 * 1024
# Framing and hop-by-hop headers (RFC 9110 §7.6.1) that a function's answer cannot set.
_REMAPPED: Final = frozenset(
    (
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-connection",
    )
)
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TEXT_TYPES: Final = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded", "yaml")
_STRING_HEADER: Final = 7  # event-stream header value type: string
_URL_ID: Final = "aiolambdaemulatorurlid"


# -- AWS event-stream framing ---------------------------------------------------------
def encode_event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """One event-stream message: prelude (lengths + CRC), headers, payload, message CRC.

    See: https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html
    """
    headers = b"".join(
        _string_header(name, value)
        for name, value in (
            (":event-type", event_type),
            (":content-type", content_type),
            (":message-type", "event"),
        )
    )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _string_header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING_HEADER, len(raw_value))
        + raw_value
    )


def payload_chunk(data: bytes) -> bytes:
    """A ``PayloadChunk`` event carrying ``data``."""
    return encode_event("PayloadChunk", data, p.CT_OCTET_STREAM)


def invoke_complete(
    error_code: str | None = None, error_details: str | None = None, log_result: str | None = None
) -> bytes:
    """The ``InvokeComplete`` event that ends a response stream."""
    doc: dict[str, str] = {}
    if error_code is not None:
        doc["ErrorCode"] = error_code
    if error_details is not None:
        doc["ErrorDetails"] = error_details
    if log_result is not None:
        doc["LogResult"] = log_result
    return encode_event("InvokeComplete", json.dumps(doc).encode(), p.CT_JSON)


class _Relay:
    """A submitted invocation whose response pieces are queued as they arrive.

    Items: the content type (a stream started), chunks, then None (finished).
    """

    def __init__(self, engine: Engine, inv: Invocation) -> None:
        self.queue: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        inv.on_stream_start = self.queue.put_nowait
        inv.on_chunk = self.queue.put_nowait
        self.future = engine.submit(inv)
        self.future.add_done_callback(lambda _: self.queue.put_nowait(None))
        self._ended = False

    async def get(self) -> str | bytes | None:
        """The next item; None once the invocation has finished (and ever after)."""
        if self._ended:
            return None
        item = await self.queue.get()
        self._ended = item is None
        return item


def _error_details(result: InvokeResult) -> str:
    """The error document of a failed invocation, as text."""
    encoded = result.trailers.get(p.H_ERROR_BODY.lower())
    if encoded is not None:
        try:
            return base64.b64decode(encoded, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return encoded
    if result.streamed:
        return json.dumps({"errorType": result.error_type, "errorMessage": ""})
    return result.payload.decode("utf-8", "replace")


# -- InvokeWithResponseStream ---------------------------------------------------------
def make_stream_invoke(
    engine: Engine, new_request_id: Callable[[], str]
) -> Callable[[web.Request], Any]:
    """The ``InvokeWithResponseStream`` route handler for ``engine``."""

    async def invoke_stream(request: web.Request) -> web.StreamResponse:
        inv = await read_invocation(
            request,
            engine,
            new_request_id,
            operation=STREAM_INVOKE_OPERATION,
            invocation_types=("RequestResponse", "DryRun"),
        )
        if not isinstance(inv, Invocation):
            return inv
        try:
            relay = _Relay(engine, inv)
        except RuntimeError:
            return aws_error(503, "ServiceException", "the emulator is shutting down")
        first = await relay.get()
        result = None if isinstance(first, str) else relay.future.result()
        content_type = result.content_type if result is not None else str(first)
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": content_type,
                "X-Amz-Executed-Version": FUNCTION_VERSION,
                "x-amzn-RequestId": inv.request_id,
            },
        )
        # No Content-Length: aiohttp sends the body chunked (close-delimited to HTTP/1.0).
        await response.prepare(request)
        if isinstance(first, str):
            while (item := await relay.get()) is not None:
                if isinstance(item, bytes) and item:
                    await response.write(payload_chunk(item))
        result = relay.future.result()
        if not result.streamed and result.ok and result.payload:
            await response.write(payload_chunk(result.payload))
        tail = log_tail(result) if request.headers.get("X-Amz-Log-Type") == "Tail" else None
        if result.ok:
            await response.write(invoke_complete(log_result=tail))
        else:
            error_code = result.error_type or "Unhandled"
            await response.write(invoke_complete(error_code, _error_details(result), tail))
        await response.write_eof()
        return response

    return invoke_stream


# -- Function URL -----------------------------------------------------------------------
def _is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return any(marker in lowered for marker in _TEXT_TYPES)


def function_url_event(request: web.Request, body: bytes, request_id: str) -> dict[str, Any]:
    """A Function URL event (payload format 2.0) for an HTTP request."""
    path = "/" + request.match_info.get("tail", "")
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        lower = key.lower()
        if lower == "cookie":
            continue
        headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    cookies = [
        c.strip() for value in request.headers.getall("Cookie", []) for c in value.split(";")
    ]
    raw_query = request.query_string
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": _URL_ID,
            "domainName": f"{_URL_ID}.lambda-url.{request.host}",
            "domainPrefix": _URL_ID,
            "http": {
                "method": request.method,
                "path": path,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "sourceIp": request.remote or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = [c for c in cookies if c]
    if query:
        event["queryStringParameters"] = query
    if body:
        if _is_text(request.headers.get("Content-Type", "")):
            try:
                event["body"] = body.decode()
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def _bad_gateway() -> web.Response:
    return web.Response(
        status=502, text='{"Message":"Internal Server Error"}', content_type=p.CT_JSON
    )


def _http_head(status: Any, headers: Any, cookies: Any) -> tuple[int, list[tuple[str, str]]] | None:
    """The status and headers a Function URL answers with, or None for a 502.

    A status outside 200-599 (no final response has one), a header name that is not
    an HTTP token, or a control character (CR, LF, NUL...) in a header or cookie
    cannot be put on the wire. Framing and hop-by-hop headers are passed on renamed
    ``x-amzn-Remapped-*``, as a real Function URL does with ``Content-Length``: the
    emulator frames the response to its own client (chunked, or close-delimited for
    HTTP/1.0), so the function's framing would contradict it.
    """
    try:
        code = int(status)
        items = [(str(key), str(value)) for key, value in (headers or {}).items()]
        items += [("Set-Cookie", str(cookie)) for cookie in cookies or ()]
    except (AttributeError, TypeError, ValueError):
        return None
    if not 200 <= code <= 599:
        return None
    head = []
    for name, value in items:
        if not _TOKEN.fullmatch(name) or _CONTROL.search(value):
            return None
        head.append((f"x-amzn-Remapped-{name}" if name.lower() in _REMAPPED else name, value))
    return code, head


def _buffered_http_response(result: InvokeResult) -> web.Response:
    """A buffered function answer read the way Function URLs read it."""
    if not result.ok:
        return _bad_gateway()
    try:
        doc = json.loads(result.payload) if result.payload else None
    except ValueError:
        doc = None
    if not (isinstance(doc, dict) and "statusCode" in doc):
        # Anything else is the body of a 200 JSON response.
        return web.Response(status=200, body=result.payload, content_type=p.CT_JSON)
    head = _http_head(doc["statusCode"], doc.get("headers"), doc.get("cookies"))
    try:
        raw_body = str(doc.get("body") or "")
        body = base64.b64decode(raw_body) if doc.get("isBase64Encoded") else raw_body.encode()
    except (ValueError, binascii.Error):
        return _bad_gateway()
    if head is None:
        return _bad_gateway()
    response = web.Response(status=head[0], body=body, headers=head[1])
    response.headers.setdefault("Content-Type", p.CT_JSON)
    return response


def _prelude_response(prelude: bytes) -> web.StreamResponse | None:
    try:
        doc = json.loads(prelude) if prelude.strip() else {}
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    head = _http_head(doc.get("statusCode", 200), doc.get("headers"), doc.get("cookies"))
    if head is None:
        return None
    response = web.StreamResponse(status=head[0], headers=head[1])
    response.headers.setdefault("Content-Type", p.CT_OCTET_STREAM)
    return response


def _bodiless(method: str, status: int) -> bool:
    """Whether an HTTP response must not carry a body (RFC 9110 §6.4.1)."""
    return method == "HEAD" or status in (204, 304) or (method == "CONNECT" and status < 300)


def _scalar_values(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD.

    aiohttp decodes request-header bytes that are not UTF-8 to lone surrogates
    (surrogateescape); an event holding one is not Unicode text, and strict JSON
    parsers (orjson, hence aiolambda's runtime) refuse the whole event.
    """
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def make_function_url(
    engine: Engine, new_request_id: Callable[[], str]
) -> Callable[[web.Request], Any]:
    """The Function URL route handler for ``engine``."""

    async def function_url(request: web.Request) -> web.StreamResponse:
        body = await read_limited(request, MAX_REQUEST_BYTES)
        if body is None:
            return web.Response(status=413, text='{"Message":"Request Entity Too Large"}')
        request_id = new_request_id()
        event = function_url_event(request, body, request_id)
        payload = _scalar_values(json.dumps(event, ensure_ascii=False)).encode()
        inv = Invocation(request_id, payload, content_type=p.CT_JSON)
        try:
            relay = _Relay(engine, inv)
        except RuntimeError:
            return web.Response(status=503, text='{"Message":"Service Unavailable"}')
        first = await relay.get()
        if not isinstance(first, str):
            return _buffered_http_response(relay.future.result())
        response: web.StreamResponse | None
        pending = b""
        if first == p.CT_HTTP_INTEGRATION:
            # Everything before the eight NUL bytes is the JSON prelude.
            buffered = bytearray()
            while (item := await relay.get()) is not None:
                if isinstance(item, bytes):
                    buffered += item
                    cut = buffered.find(p.HTTP_INTEGRATION_SEPARATOR)
                    if cut >= 0 or len(buffered) > _MAX_PRELUDE_BYTES:
                        break
            cut = buffered.find(p.HTTP_INTEGRATION_SEPARATOR)
            if cut < 0:
                await relay.future
                return _bad_gateway()
            response = _prelude_response(bytes(buffered[:cut]))
            if response is None:
                await relay.future
                return _bad_gateway()
            pending = bytes(buffered[cut + len(p.HTTP_INTEGRATION_SEPARATOR) :])
        else:
            response = web.StreamResponse(status=200, headers={"Content-Type": first})
        response.headers["x-amzn-RequestId"] = request_id
        # No Content-Length: aiohttp sends the body chunked (close-delimited to HTTP/1.0).
        await response.prepare(request)
        # A HEAD, 204 or 304 answer has no body: the function's is read and dropped.
        send = not _bodiless(request.method, response.status)
        if pending and send:
            await response.write(pending)
        while (item := await relay.get()) is not None:
            if isinstance(item, bytes) and item and send:
                await response.write(item)
        if not relay.future.result().ok and request.transport is not None:
            # A mid-stream error: cut the response short, as a server does when its
            # handler fails after the headers went out; the client sees it incomplete.
            request.transport.abort()
            return response
        await response.write_eof()
        return response

    return function_url
