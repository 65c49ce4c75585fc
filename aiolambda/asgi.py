"""Run an ASGI 3 application (FastAPI, Starlette, Quart, ...) as a Lambda function.

::

    from fastapi import FastAPI
    from aiolambda.asgi import ASGIHandler

    app = FastAPI()
    handler = ASGIHandler(app)          # _HANDLER=app.handler

The app runs on aiolambda's own event loop, which lives as long as the execution
environment: connection pools and other state made in the app's lifespan survive
warm invocations, and the lifespan's startup runs once per environment (during
init) instead of once per request as with Mangum.

Events in: API Gateway REST APIs (payload 1.0, also HTTP APIs set to 1.0), HTTP APIs
(payload 2.0), Lambda Function URLs and Application Load Balancers (with or without
multi-value headers). Answers out in each source's own shape. With
``streaming=True`` the answer is an :class:`aiolambda.StreamingResponse`: the status,
headers and cookies go out first, then each body chunk as the app sends it (Function
URLs and API Gateway REST APIs in response-streaming mode).

This module imports no framework; the runtime never imports this module unless the
handler does.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any, Final, Literal
from urllib.parse import quote, unquote, urlencode

from aiolambda._core import hooks
from aiolambda.streaming import StreamingResponse

__all__ = ["ASGIHandler", "ClientDisconnected", "LifespanError", "UnsupportedEvent"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("aiolambda.asgi")

# Which event shape a request came in, and so which shape its answer takes.
_REST: Final = 1  # API Gateway REST API, or HTTP API with payload format 1.0
_HTTP: Final = 2  # API Gateway HTTP API with payload format 2.0, or a Function URL
_ALB: Final = 3  # Application Load Balancer, single-value headers
_ALB_MULTI: Final = 4  # Application Load Balancer with multi-value headers turned on

# "2.4": send() raises an OSError once the client is gone, so Starlette streams without
# a task that listens for http.disconnect (one task group less per streamed response).
_ASGI: Final = {"version": "3.0", "spec_version": "2.4"}
_LIFESPAN_ASGI: Final = {"version": "3.0", "spec_version": "2.0"}

# Media types sent as text (all others, and any Content-Encoding, are base64-encoded).
_TEXT_TYPES: Final = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/ecmascript",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
        "application/x-ndjson",
        "application/x-www-form-urlencoded",
        "application/graphql",
        "application/vnd.oai.openapi",
    }
)
_INTERNAL_ERROR: Final = b"Internal Server Error"
_INTERNAL_ERROR_HEADERS: Final = [(b"content-type", b"text/plain; charset=utf-8")]
_DONE: Final = object()


class UnsupportedEvent(Exception):
    """The event is not an HTTP request from API Gateway, an ALB or a Function URL."""


class LifespanError(Exception):
    """The app's ASGI lifespan startup failed (reported as the init error)."""


class ClientDisconnected(OSError):
    """Raised by ``send`` once a streamed response's reader is gone (ASGI HTTP 2.4)."""


class ASGIHandler:
    """A Lambda handler that serves HTTP events with an ASGI 3 app.

    ``lifespan``: ``"auto"`` (default) runs the app's lifespan if it supports it,
    ``"on"`` requires it, ``"off"`` skips it. Startup runs once per execution
    environment, at init (under ``python -m aiolambda``: a failure is an init error,
    ``LifespanError``); when the handler is called outside that runtime it runs on
    the first call instead. Shutdown runs when the runtime stops on SIGTERM
    (``AIOLAMBDA_ENABLE_SIGTERM=1``).

    ``base_path``: a prefix of the URL path to move into ``root_path`` (an API
    Gateway custom domain's base path mapping, for instance); the stage of an
    ``execute-api`` URL is moved there without it.

    ``streaming=True`` returns an :class:`aiolambda.StreamingResponse` for every
    request, for functions whose invoke mode is ``RESPONSE_STREAM``.

    An exception from the app before its response is complete becomes a 500
    ``Internal Server Error`` answer (logged with its traceback), as with Mangum;
    one raised after that is logged and the app's answer stands.
    """

    __slots__ = ("_app", "_base_path", "_lifespan", "_ready", "_starting", "_streaming")

    def __init__(
        self,
        app: ASGIApp,
        *,
        lifespan: Literal["auto", "on", "off"] = "auto",
        base_path: str = "",
        streaming: bool = False,
    ) -> None:
        if lifespan not in ("auto", "on", "off"):
            raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {lifespan!r}")
        self._app = app
        self._base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self._streaming = streaming
        self._lifespan = None if lifespan == "off" else _Lifespan(app, required=lifespan == "on")
        self._ready = self._lifespan is None
        self._starting: asyncio.Task[None] | None = None
        if self._lifespan is not None:
            hooks.on_init(self.startup)

    @property
    def app(self) -> ASGIApp:
        """The ASGI application."""
        return self._app

    async def startup(self) -> None:
        """Run the app's lifespan startup unless it has run (safe to call concurrently)."""
        if self._ready or self._lifespan is None:
            return
        if self._starting is None:
            # A task of its own, in a context of its own: the lifespan outlives the
            # invocation that may start it and must not carry its request id.
            self._starting = asyncio.get_running_loop().create_task(
                self._lifespan.startup(), context=contextvars.Context()
            )
        starting = self._starting
        try:
            await asyncio.shield(starting)
        except BaseException:
            if starting.done() and self._starting is starting:
                self._starting = None  # a failed startup is tried again on the next call
            raise
        if not self._ready:
            self._ready = True
            if self._lifespan.running:
                hooks.on_shutdown(self._lifespan.shutdown)

    async def __call__(self, event: Any, context: Any) -> Any:
        """Serve one event; returns the answer for its source (or a StreamingResponse)."""
        if not self._ready:
            await self.startup()
        kind, scope, body = _request(event, self._base_path)
        scope["aws.event"] = event
        scope["aws.context"] = context
        if self._lifespan is not None and self._lifespan.running:
            scope["state"] = self._lifespan.state.copy()
        if self._streaming:
            return await self._stream(scope, body)
        exchange = _Exchange(body)
        try:
            await self._app(scope, exchange.receive, exchange.send)
        except Exception:
            if not exchange.complete:
                log.exception("the ASGI app raised an exception; answering 500")
                return _answer(kind, 500, _INTERNAL_ERROR_HEADERS, _INTERNAL_ERROR)
            log.exception("the ASGI app raised an exception after its response")
        else:
            if not exchange.complete:
                log.error("the ASGI app returned without completing its response; answering 500")
                return _answer(kind, 500, _INTERNAL_ERROR_HEADERS, _INTERNAL_ERROR)
        return _answer(kind, exchange.status, exchange.headers, b"".join(exchange.chunks))

    async def _stream(self, scope: Scope, body: bytes) -> StreamingResponse:
        exchange = _StreamExchange(body)
        task = asyncio.get_running_loop().create_task(self._drive(scope, exchange))
        try:
            await asyncio.wait((exchange.started, task), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not exchange.started.done() or exchange.started.exception() is not None:
            exchange.close()
            task.cancel()
            return StreamingResponse(
                _once(_INTERNAL_ERROR),
                status_code=500,
                headers={"content-type": "text/plain; charset=utf-8"},
            )
        status, raw_headers = exchange.started.result()
        headers, cookies = _joined_headers(raw_headers)
        return StreamingResponse(
            _stream_body(exchange, task), status_code=status, headers=headers, cookies=cookies
        )

    async def _drive(self, scope: Scope, exchange: _StreamExchange) -> None:
        try:
            await self._app(scope, exchange.receive, exchange.send)
        except Exception as exc:
            if exchange.complete:
                log.exception("the ASGI app raised an exception after its response")
            elif not exchange.started.done():
                log.exception("the ASGI app raised an exception; answering 500")
                exchange.started.set_exception(exc)
            else:
                exchange.queue.put_nowait(exc)  # the stream ends with this error
        else:
            if not exchange.complete:
                error = RuntimeError("the ASGI app returned without completing its response")
                if exchange.started.done():
                    exchange.queue.put_nowait(error)
                else:
                    log.error("%s; answering 500", error)
                    exchange.started.set_exception(error)


class _Exchange:
    """One request's ``receive`` and ``send``, with the response collected in memory."""

    __slots__ = ("_disconnected", "_request", "chunks", "complete", "headers", "status")

    def __init__(self, body: bytes) -> None:
        self._request: Message | None = {"type": "http.request", "body": body, "more_body": False}
        self._disconnected: asyncio.Event | None = None
        self.status = 0
        self.headers: Any = None
        self.chunks: list[bytes] = []
        self.complete = False

    async def receive(self) -> Message:
        request = self._request
        if request is not None:
            self._request = None
            return request
        # After the body: wait until the exchange is over, as a server waits for the
        # client to go away (frameworks poll receive() to notice a disconnect).
        if not self.complete:
            if self._disconnected is None:
                self._disconnected = asyncio.Event()
            await self._disconnected.wait()
        return {"type": "http.disconnect"}

    def _finish(self) -> None:
        self.complete = True
        if self._disconnected is not None:
            self._disconnected.set()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            if self.headers is None or self.complete:
                raise RuntimeError(
                    "http.response.body sent before http.response.start or after the end"
                )
            chunk = message.get("body", b"")
            if chunk:
                self.chunks.append(bytes(chunk))
            if not message.get("more_body", False):
                self._finish()
        elif kind == "http.response.start":
            if self.headers is not None:
                raise RuntimeError("http.response.start sent twice")
            self.status = int(message["status"])
            self.headers = message.get("headers") or ()
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")


class _StreamExchange(_Exchange):
    """Like :class:`_Exchange`, but hands each body chunk to the stream as it comes.

    ``send`` returns once the stream has taken the chunk (the runtime wrote it), so an
    app that produces faster than the client reads is held back.
    """

    __slots__ = ("closed", "queue", "started")

    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[tuple[int, Any]] = loop.create_future()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        if self._disconnected is not None:
            self._disconnected.set()

    async def send(self, message: Message) -> None:
        if self.closed:
            raise ClientDisconnected("the response stream is closed")
        kind = message["type"]
        if kind == "http.response.start":
            await super().send(message)
            self.started.set_result((self.status, self.headers))
            return
        if kind != "http.response.body" or self.headers is None or self.complete:
            await super().send(message)  # raises the right error
            return
        chunk = message.get("body", b"")
        if chunk:
            self.queue.put_nowait(bytes(chunk))
        if not message.get("more_body", False):
            self._finish()
            self.queue.put_nowait(_DONE)
        await self.queue.join()


async def _stream_body(exchange: _StreamExchange, task: asyncio.Task[None]) -> AsyncIterator[bytes]:
    queue = exchange.queue
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                queue.task_done()
                # Background tasks the app runs after its response (Starlette's) finish
                # inside the invocation, as they do when the response is buffered.
                await task
                return
            if isinstance(item, BaseException):
                raise item
            try:
                yield item
            finally:
                queue.task_done()
    finally:
        exchange.close()
        if not task.done():
            task.cancel()


async def _once(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


class _Lifespan:
    """The app's ``lifespan`` scope: startup once, shutdown on SIGTERM."""

    __slots__ = ("_app", "_inbox", "_received", "_required", "_task", "_waiter", "running", "state")

    def __init__(self, app: ASGIApp, *, required: bool) -> None:
        self._app = app
        self._required = required
        self.state: dict[str, Any] = {}
        self.running = False
        self._inbox: asyncio.Queue[Message] | None = None
        self._waiter: asyncio.Future[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._received = False

    async def _receive(self) -> Message:
        assert self._inbox is not None
        self._received = True
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(message)

    async def _exchange(self, message: Message) -> Message | None:
        """Send ``message`` to the app; its answer, or ``None`` if the app returned."""
        assert self._inbox is not None and self._task is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait(message)
        await asyncio.wait((self._waiter, self._task), return_when=asyncio.FIRST_COMPLETED)
        return self._waiter.result() if self._waiter.done() else None

    async def _run(self, scope: Scope) -> None:
        await self._app(scope, self._receive, self._send)

    async def startup(self) -> None:
        self.state = {}
        self._received = False
        self._inbox = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": _LIFESPAN_ASGI, "state": self.state}
        self._task = asyncio.get_running_loop().create_task(self._run(scope))
        answer = await self._exchange({"type": "lifespan.startup"})
        task = self._task
        if answer is not None and answer["type"] == "lifespan.startup.complete":
            self.running = True
            return
        # Starlette sends startup.failed (its message: a whole traceback) and then
        # raises, in the same step: report that exception when there is one.
        error = task.exception() if task.done() and not task.cancelled() else None
        if answer is not None or (error is not None and self._received):
            if not task.done():
                task.cancel()
            if error is None:
                message = str(answer.get("message", "")) if answer else ""
                raise LifespanError(f"ASGI lifespan startup failed: {message}")
            failure = LifespanError(
                f"ASGI lifespan startup failed: {type(error).__name__}: {error}"
            )
            # The app's own frames are the stack trace Lambda reports.
            raise failure.with_traceback(error.__traceback__) from error
        if self._required:
            raise LifespanError(
                f"the ASGI app does not support lifespan (lifespan='on'): {error!r}"
            )
        log.debug("the ASGI app does not support lifespan: %r", error)

    async def shutdown(self) -> None:
        if not self.running or self._task is None or self._task.done():
            return
        self.running = False
        answer = await self._exchange({"type": "lifespan.shutdown"})
        assert self._task is not None
        if answer is not None and answer["type"] == "lifespan.shutdown.failed":
            log.error("ASGI lifespan shutdown failed: %s", answer.get("message", ""))
        elif answer is None and not self._task.cancelled() and self._task.exception():
            log.error("ASGI lifespan shutdown failed: %r", self._task.exception())


# --- events in ---------------------------------------------------------------------


def _request(event: Any, base_path: str) -> tuple[int, Scope, bytes]:
    """The event's kind, its ASGI scope and its body."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    if not isinstance(context, dict):
        raise UnsupportedEvent(_describe(event))
    if "elb" in context:
        return _alb_request(event, base_path)
    if event.get("version") == "2.0":
        return _http_api_request(event, context, base_path)
    if "httpMethod" in event:
        return _rest_request(event, context, base_path)
    raise UnsupportedEvent(_describe(event))


def _describe(event: Any) -> str:
    shape = f"keys {sorted(event)[:8]}" if isinstance(event, dict) else type(event).__name__
    return (
        "ASGIHandler serves API Gateway (REST, HTTP API), Function URL and ALB events; "
        f"got an event with {shape}"
    )


def _body(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if not body:
        return b""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


def _latin1(text: str) -> bytes:
    # ASGI frameworks decode header bytes as latin-1; text outside it keeps its UTF-8.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def _encoded(pairs: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    try:  # one pass for the usual all-latin-1 headers
        return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]
    except UnicodeEncodeError:
        return [(_latin1(name), _latin1(value)) for name, value in pairs]


def _single_headers(headers: Any, cookies: list[str]) -> list[tuple[bytes, bytes]]:
    pairs: list[tuple[str, str]] = []
    if headers:
        for name, value in headers.items():
            if value is None:
                continue
            key = name.lower()
            if key == "cookie":
                cookies.append(value)
            else:
                pairs.append((key, value))
    return _encoded(pairs)


def _multi_headers(headers: Any, cookies: list[str]) -> list[tuple[bytes, bytes]]:
    pairs: list[tuple[str, str]] = []
    for name, values in headers.items():
        key = name.lower()
        for value in values or ():
            if key == "cookie":
                cookies.append(value)
            else:
                pairs.append((key, value))
    return _encoded(pairs)


def _scope(
    method: str,
    headers: list[tuple[bytes, bytes]],
    cookies: list[str],
    *,
    full_path: str,
    root_path: str,
    query: bytes,
    client_ip: Any,
    protocol: Any,
) -> Scope:
    if cookies:
        headers.append((b"cookie", _latin1("; ".join(cookies))))
    host = port = None
    scheme = "https"
    for name, value in headers:
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"x-forwarded-proto":
            scheme = value.decode("latin-1").split(",")[0].strip() or "https"
        elif name == b"x-forwarded-port":
            port = value.decode("latin-1")
    server = None
    if host:
        host_name, sep, host_port = host.rpartition(":")
        if sep and host_port.isdigit():
            host, port = host_name, host_port
        server = (host, int(port) if port and port.isdigit() else 443 if scheme == "https" else 80)
    http_version = "1.1"
    if isinstance(protocol, str):
        http_version = {"HTTP/1.0": "1.0", "HTTP/2.0": "2", "HTTP/2": "2"}.get(protocol, "1.1")
    return {
        "type": "http",
        "asgi": _ASGI,
        "http_version": http_version,
        "method": method.upper(),
        "scheme": scheme,
        "path": unquote(full_path),
        "root_path": unquote(root_path),
        "query_string": query,
        "headers": headers,
        "client": (client_ip, 0) if isinstance(client_ip, str) and client_ip else None,
        "server": server,
    }


def _with_base_path(full: str, root: str, base_path: str) -> str:
    """Extend ``root`` with ``base_path`` when the rest of the path starts with it."""
    if base_path:
        rest = full[len(root) :]
        if rest.startswith(base_path) and rest[len(base_path) : len(base_path) + 1] in ("", "/"):
            return root + base_path
    return root


def _rest_request(
    event: dict[str, Any], context: dict[str, Any], base_path: str
) -> tuple[int, Scope, bytes]:
    cookies: list[str] = []
    multi = event.get("multiValueHeaders")
    if multi:
        headers = _multi_headers(multi, cookies)
    else:
        headers = _single_headers(event.get("headers"), cookies)
    path = event.get("path") or "/"
    # requestContext.path is the path the client asked for; on an execute-api URL it
    # starts with the stage, which `path` lacks: that prefix becomes the root path.
    client_path = context.get("path")
    root = ""
    full = path
    if isinstance(client_path, str) and client_path != path and client_path.startswith("/"):
        if client_path.endswith(path) and path != "/":
            root = client_path[: -len(path)]
        elif path == "/":
            root = client_path.rstrip("/")
        if root:
            full = root + path
    root = _with_base_path(full, root, base_path)
    params = event.get("multiValueQueryStringParameters") or event.get("queryStringParameters")
    query = urlencode(params, doseq=True).encode() if params else b""
    identity = context.get("identity")
    client_ip = identity.get("sourceIp") if isinstance(identity, dict) else None
    scope = _scope(
        event["httpMethod"],
        headers,
        cookies,
        full_path=full,
        root_path=root,
        query=query,
        client_ip=client_ip,
        protocol=context.get("protocol"),
    )
    return _REST, scope, _body(event)


def _http_api_request(
    event: dict[str, Any], context: dict[str, Any], base_path: str
) -> tuple[int, Scope, bytes]:
    http = context.get("http")
    if not isinstance(http, dict) or "method" not in http:
        raise UnsupportedEvent(_describe(event))
    cookies = list(event.get("cookies") or ())
    headers = _single_headers(event.get("headers"), cookies)
    full = event.get("rawPath") or http.get("path") or "/"
    # A named stage (not $default) is the first segment of rawPath.
    stage = context.get("stage")
    root = ""
    if isinstance(stage, str) and stage and stage != "$default":
        prefix = "/" + stage
        if full == prefix or full.startswith(prefix + "/"):
            root = prefix
    root = _with_base_path(full, root, base_path)
    query = (event.get("rawQueryString") or "").encode()
    scope = _scope(
        http["method"],
        headers,
        cookies,
        full_path=full,
        root_path=root,
        query=query,
        client_ip=http.get("sourceIp"),
        protocol=http.get("protocol"),
    )
    return _HTTP, scope, _body(event)


# Characters an ALB query string may hold as they are: the ALB passes the query
# parameters as the client sent them, percent-escapes included.
_QUERY_SAFE: Final = "/?:@!$'()*+,;=-._~%[]"


def _alb_request(event: dict[str, Any], base_path: str) -> tuple[int, Scope, bytes]:
    cookies: list[str] = []
    multi = event.get("multiValueHeaders")
    if multi is not None:
        kind = _ALB_MULTI
        headers = _multi_headers(multi, cookies)
        params = event.get("multiValueQueryStringParameters") or {}
        pairs = [(k, v) for k, values in params.items() for v in values or ()]
    else:
        kind = _ALB
        headers = _single_headers(event.get("headers"), cookies)
        pairs = list((event.get("queryStringParameters") or {}).items())
    query = "&".join(f"{quote(k, _QUERY_SAFE)}={quote(v, _QUERY_SAFE)}" for k, v in pairs)
    full = event.get("path") or "/"
    root = _with_base_path(full, "", base_path)
    client_ip = None
    for name, value in headers:
        if name == b"x-forwarded-for":
            # The ALB appends the address it saw; earlier entries come from the client.
            client_ip = value.decode("latin-1").rsplit(",", 1)[-1].strip()
    scope = _scope(
        event["httpMethod"],
        headers,
        cookies,
        full_path=full,
        root_path=root,
        query=query.encode(),
        client_ip=client_ip,
        protocol=None,
    )
    return kind, scope, _body(event)


# --- answers out -------------------------------------------------------------------


def _is_text(content_type: str | None, content_encoding: str | None) -> bool:
    """Whether a body of this type goes out as text (else base64), as documented."""
    if content_encoding and content_encoding.strip().lower() not in ("", "identity"):
        return False
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media.startswith("text/")
        or media in _TEXT_TYPES
        or media.endswith(("+json", "+xml", "+yaml"))
    )


def _encode_body(
    body: bytes, content_type: str | None, content_encoding: str | None
) -> tuple[str, bool]:
    if not body:
        return "", False
    if _is_text(content_type, content_encoding):
        try:
            return body.decode(), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _answer(kind: int, status: int, raw_headers: Any, body: bytes) -> dict[str, Any]:
    """The event source's response document."""
    multi: dict[str, list[str]] = {}
    for name, value in raw_headers:
        key = bytes(name).decode("latin-1").lower()
        text = bytes(value).decode("latin-1")
        values = multi.get(key)
        if values is None:
            multi[key] = [text]
        else:
            values.append(text)
    content_type = multi.get("content-type", (None,))[0]
    content_encoding = multi.get("content-encoding", (None,))[0]
    text, is_base64 = _encode_body(body, content_type, content_encoding)
    answer: dict[str, Any] = {"statusCode": status}
    if kind == _HTTP:
        cookies = multi.pop("set-cookie", None)
        answer["headers"] = {key: ",".join(values) for key, values in multi.items()}
        if cookies:
            answer["cookies"] = cookies
    elif kind == _REST:
        answer["headers"] = {key: values[0] for key, values in multi.items() if len(values) == 1}
        answer["multiValueHeaders"] = {
            key: values for key, values in multi.items() if len(values) > 1
        }
    else:
        answer["statusDescription"] = _status_line(status)
        if kind == _ALB_MULTI:
            answer["multiValueHeaders"] = multi
        else:
            answer["headers"] = _alb_single_headers(multi)
    answer["body"] = text
    answer["isBase64Encoded"] = is_base64
    return answer


_warned: set[str] = set()  # warnings given once per process


def _alb_single_headers(multi: dict[str, list[str]]) -> dict[str, str]:
    """Headers for an ALB without multi-value headers: one value per name."""
    headers = {}
    for key, values in multi.items():
        if key == "set-cookie":
            # Cookies cannot be joined into one header; the last one is kept.
            if len(values) > 1 and "alb-cookies" not in _warned:
                _warned.add("alb-cookies")
                log.warning(
                    "several Set-Cookie headers for an ALB without multi-value headers: "
                    "only the last is sent; turn on multi-value headers on the target group"
                )
            headers[key] = values[-1]
        else:
            headers[key] = ", ".join(values)
    return headers


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


_FRAMING_HEADERS: Final = frozenset({"content-length", "transfer-encoding"})


def _joined_headers(raw_headers: Any) -> tuple[dict[str, str], list[str]]:
    """A streamed response's prelude headers (repeats joined with ``,``) and cookies.

    ``Content-Length`` and ``Transfer-Encoding`` are left out: the body is streamed.
    """
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in raw_headers:
        key = bytes(name).decode("latin-1").lower()
        text = bytes(value).decode("latin-1")
        if key == "set-cookie":
            cookies.append(text)
        elif key in _FRAMING_HEADERS:
            continue  # the stream is sent chunked: its framing is not the app's to set
        elif key in headers:
            headers[key] = f"{headers[key]},{text}"
        else:
            headers[key] = text
    return headers, cookies
