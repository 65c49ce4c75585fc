"""The default transport: a plain ``asyncio.Protocol`` speaking HTTP/1.1 to the Runtime API.

Per request it does one ``write`` (head and small body together), one zero-timeout
``poll`` to notice a connection the server closed while idle, and parses the response
in ``data_received`` with :class:`aiolambda._core.http.ResponseParser`. That is the whole
hot path; it imports only the standard library.
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections import deque
from typing import TYPE_CHECKING, cast

from aiolambda import __version__
from aiolambda._core.http import (
    HttpParseError,
    HttpResponse,
    RequestEncoder,
    ResponseParser,
    encode_last_chunk,
)
from aiolambda._core.transport import TransportError

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable, Sequence

_USER_AGENT = f"aiolambda/{__version__}"
_HAS_POLL = hasattr(select, "poll")


class _ClientProtocol(asyncio.Protocol):
    """One TCP connection; carries one request at a time, or two when pipelined.

    Responses are matched to requests in order (a FIFO of waiters); bytes after one
    response feed the parser of the next. ``_behind`` counts the bytes written after the
    oldest outstanding request (a ``GET`` sent ahead): unsent bytes beyond those when its
    response arrives mean the server answered before reading the whole request.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = ResponseParser()
        self._waiters: deque[asyncio.Future[HttpResponse]] = deque()
        self._behind = 0
        self._lost: asyncio.Future[None] = loop.create_future()
        self._drain: asyncio.Future[None] | None = None
        self._paused = False
        self._poller = select.poll() if _HAS_POLL else None

    # -- asyncio callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport: no isinstance check.
        self.transport = cast("asyncio.Transport", transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # asyncio and uvloop both set it already; the Runtime API exchange is
            # latency-bound, so make sure rather than rely on a loop's default.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._poller is not None:
                self._poller.register(sock.fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        waiters = self._waiters
        while True:
            if not waiters:
                # Bytes nobody asked for: the stream is out of step with our requests.
                self.drop()
                return
            try:
                response = self._parser.feed(data)
            except HttpParseError as exc:
                self.drop()
                self._fail_all(f"invalid HTTP response from the Runtime API: {exc}", exc)
                return
            if response is None:
                return
            parser = self._parser
            waiter = waiters.popleft()
            transport = self.transport
            if not parser.keep_alive or (
                transport is not None and transport.get_write_buffer_size() > self._behind
            ):
                # Connection: close, or an answer before the request was all sent (e.g.
                # an early 413): the stream is done or mid-request. A request queued
                # behind was never read by the server (see LeanConnection.request).
                self.drop()
                data = b""
            else:
                data = parser.trailing
                self._parser = ResponseParser()
            self._behind = 0
            if not waiter.done():
                waiter.set_result(response)
            if not data:
                return

    def eof_received(self) -> bool:
        waiters = self._waiters
        if waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                try:
                    waiter.set_result(self._parser.feed_eof())
                except HttpParseError as exc:
                    _fail(waiter, f"Runtime API closed the connection: {exc}", exc)
            self._fail_all("Runtime API closed the connection before answering", None)
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = f": {exc}" if exc is not None else ""
        self._fail_all(f"connection to the Runtime API lost{reason}", exc)
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)
        if not self._lost.done():
            self._lost.set_result(None)

    def _fail_all(self, message: str, cause: BaseException | None) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                _fail(waiter, message, cause)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    # -- used by LeanConnection -------------------------------------------------------------

    def usable(self) -> bool:
        """False when closed or when the idle socket is readable (peer closed, or junk)."""
        if self.closed:
            return False
        # The loop may not have run since the peer's FIN arrived; writing into that
        # socket would turn a clean reconnect into a lost request.
        if self._poller is not None and self._poller.poll(0):
            self.drop()
            return False
        return True

    def drop(self) -> None:
        """Close now, discarding anything unsent; waiters fail via connection_lost."""
        self.closed = True
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if transport.get_write_buffer_size():
                transport.abort()
            else:
                transport.close()

    async def wait_lost(self) -> None:
        await self._lost

    def begin(self, behind: int = 0) -> asyncio.Future[HttpResponse]:
        """A waiter for the next request's response; ``behind``: bytes of a request
        written after it in the same write (it gets its own waiter next)."""
        waiter: asyncio.Future[HttpResponse] = self._loop.create_future()
        if not self._waiters:
            self._behind = behind
        self._waiters.append(waiter)
        return waiter

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        if not self._paused or self.closed:
            return
        drain: asyncio.Future[None] = self._loop.create_future()
        self._drain = drain
        try:
            await drain
        finally:
            self._drain = None


def _fail(waiter: asyncio.Future[HttpResponse], message: str, cause: BaseException | None) -> None:
    error = TransportError(message, sent=True)
    error.__cause__ = cause
    waiter.set_exception(error)


class LeanConnection:
    """A :class:`aiolambda._core.transport.Connection` on a raw ``asyncio.Protocol``.

    Opened lazily by the first request; reopened by the request after a failure. It can
    also pipeline: ``request(..., ahead=path)`` sends ``GET path`` in the same write,
    and :meth:`response_ahead` returns that ``GET``'s response later.
    """

    __slots__ = ("_ahead", "_busy", "_encoder", "_host", "_port", "_proto")

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._encoder = RequestEncoder(host, port, _USER_AGENT)
        self._proto: _ClientProtocol | None = None
        self._busy = False
        self._ahead: asyncio.Future[HttpResponse] | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        *,
        ahead: str | None = None,
    ) -> HttpResponse:
        """Send one request and return the complete response (see ``Connection``).

        With ``ahead``, ``GET ahead`` follows in the same write (HTTP/1.1 pipelining);
        await its response with :meth:`response_ahead`. If the connection fails or
        closes before that ``GET`` is answered, :meth:`response_ahead` raises
        ``TransportError`` and the ``GET`` is to be sent again: the server did not hand
        it anything. An HTTP/1.1 server reads and handles one request at a time; one that
        answers with ``Connection: close`` must not handle a request behind it (RFC 9112,
        9.6), one that answered before reading all of the first request never parsed the
        second, and one that closes after the first answer (as a server without
        keep-alive does) never read the second. A server that read the ``GET`` and then
        lost the connection before answering is the case of any ``GET /next`` whose
        connection drops, which the client already sends again.
        """
        if self._busy:
            raise RuntimeError("concurrent request() calls on one Connection")
        if self._ahead is not None:
            # A request while a GET sent ahead is unanswered (an answer refused with 413,
            # re-posted as an error): behind that long poll it would wait forever, and
            # dropping the GET could drop an event handed to it. So it goes on a
            # connection of its own, and the GET keeps its place.
            aside = LeanConnection(self._host, self._port)
            try:
                return await aside.request(method, path, body, headers)
            finally:
                await aside.close()
        first, rest = self._encoder.encode(method, path, body, headers)
        follow = self._encoder.encode("GET", ahead, b"", ())[0] if ahead is not None else b""
        self._busy = True
        try:
            proto = await self._ready()
            waiter = proto.begin(len(follow))
            if follow:
                self._ahead = proto.begin()
            try:
                transport = proto.transport
                assert transport is not None
                if rest:
                    transport.writelines((first, rest, follow) if follow else (first, rest))
                else:
                    transport.write(first + follow if follow else first)
                return await waiter
            except BaseException:
                # Cancelled or failed mid-exchange: the stream position is unknown.
                self._abandon_ahead()
                proto.drop()
                raise
        finally:
            self._busy = False

    async def response_ahead(self) -> HttpResponse:
        """The response to the ``GET`` sent by the last ``request(..., ahead=...)``.

        Like any request it raises ``TransportError`` when the connection fails first;
        cancelled, it closes the connection.
        """
        waiter = self._ahead
        if waiter is None:
            raise RuntimeError("no request was sent ahead")
        if self._busy:
            raise RuntimeError("concurrent request() calls on one Connection")
        self._busy = True
        try:
            return await waiter
        except BaseException:
            proto = self._proto
            if proto is not None:
                proto.drop()
            raise
        finally:
            self._ahead = None
            self._busy = False

    def _abandon_ahead(self) -> None:
        waiter = self._ahead
        if waiter is not None:
            self._ahead = None
            # Nobody will await it: no "exception was never retrieved" warning either.
            if not waiter.cancel() and not waiter.cancelled():
                waiter.exception()
            proto = self._proto
            if proto is not None:
                proto.drop()

    async def request_streaming(
        self,
        method: str,
        path: str,
        headers: Sequence[tuple[str, str]],
        chunks: AsyncIterable[bytes],
        trailers: Callable[[], Sequence[tuple[str, str]]],
    ) -> HttpResponse:
        """Send a chunked body from ``chunks``, then ``0\\r\\n``, ``trailers()`` and CRLF.

        Empty chunks are skipped (a zero-size chunk would end the body). If the server
        answers before the body is complete, sending stops, the response is returned and
        the connection is closed.
        """
        if self._busy:
            raise RuntimeError("concurrent request() calls on one Connection")
        head = self._encoder.head(method, path, headers, None, chunked=True)
        self._abandon_ahead()
        self._busy = True
        try:
            proto = await self._ready()
            waiter = proto.begin()
            try:
                transport = proto.transport
                assert transport is not None
                transport.write(head)
                complete = False
                async for chunk in chunks:
                    if waiter.done():
                        break
                    if chunk:
                        transport.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
                        await proto.drain()
                        if proto.closed:
                            break
                else:
                    if not waiter.done() and not proto.closed:
                        transport.write(encode_last_chunk(trailers()))
                        complete = True
                response = await waiter
                if not complete:
                    proto.drop()
                return response
            except BaseException:
                proto.drop()
                raise
        finally:
            self._busy = False

    async def close(self) -> None:
        """Close the socket (and wait until it is closed); a ``GET`` sent ahead is dropped."""
        self._abandon_ahead()
        proto = self._proto
        self._proto = None
        if proto is not None:
            proto.drop()
            await proto.wait_lost()

    async def _ready(self) -> _ClientProtocol:
        proto = self._proto
        if proto is not None and proto.usable():
            return proto
        self._proto = None
        loop = asyncio.get_running_loop()
        try:
            _, proto = await loop.create_connection(
                lambda: _ClientProtocol(loop), self._host, self._port
            )
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise TransportError(
                f"cannot connect to the Runtime API at {self._host}:{self._port}: {reason}",
                sent=False,
            ) from exc
        self._proto = proto
        return proto
