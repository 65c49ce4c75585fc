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
    """One TCP connection; carries one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = ResponseParser()
        self._waiter: asyncio.Future[HttpResponse] | None = None
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
        waiter = self._waiter
        if waiter is None or waiter.done():
            # Bytes nobody asked for: the stream is out of step with our requests.
            self.drop()
            return
        try:
            response = self._parser.feed(data)
        except HttpParseError as exc:
            self.drop()
            _fail(waiter, f"invalid HTTP response from the Runtime API: {exc}", exc)
            return
        if response is None:
            return
        parser = self._parser
        transport = self.transport
        if (
            parser.trailing
            or not parser.keep_alive
            or (transport is not None and transport.get_write_buffer_size())
        ):
            # Trailing bytes are unsolicited (we never pipeline); an unsent request body
            # after the answer (e.g. an early 413) leaves the stream mid-request.
            self.drop()
        waiter.set_result(response)

    def eof_received(self) -> bool:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            try:
                waiter.set_result(self._parser.feed_eof())
            except HttpParseError as exc:
                _fail(waiter, f"Runtime API closed the connection: {exc}", exc)
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            reason = f": {exc}" if exc is not None else ""
            _fail(waiter, f"connection to the Runtime API lost{reason}", exc)
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)
        if not self._lost.done():
            self._lost.set_result(None)

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

    def begin(self) -> asyncio.Future[HttpResponse]:
        self._parser = ResponseParser()
        waiter: asyncio.Future[HttpResponse] = self._loop.create_future()
        self._waiter = waiter
        return waiter

    def end(self) -> None:
        self._waiter = None

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

    Opened lazily by the first request; reopened by the request after a failure.
    """

    __slots__ = ("_busy", "_encoder", "_host", "_port", "_proto")

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._encoder = RequestEncoder(host, port, _USER_AGENT)
        self._proto: _ClientProtocol | None = None
        self._busy = False

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
    ) -> HttpResponse:
        """Send one request and return the complete response (see ``Connection``)."""
        if self._busy:
            raise RuntimeError("concurrent request() calls on one Connection")
        first, rest = self._encoder.encode(method, path, body, headers)
        self._busy = True
        try:
            proto = await self._ready()
            waiter = proto.begin()
            try:
                transport = proto.transport
                assert transport is not None
                if rest:
                    transport.writelines((first, rest))
                else:
                    transport.write(first)
                return await waiter
            except BaseException:
                # Cancelled or failed mid-exchange: the stream position is unknown.
                proto.drop()
                raise
            finally:
                proto.end()
        finally:
            self._busy = False

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
                proto.end()
        finally:
            self._busy = False

    async def close(self) -> None:
        """Close the socket (and wait until it is closed)."""
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
