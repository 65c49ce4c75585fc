"""A tiny scripted HTTP/1.1 server on 127.0.0.1 for transport tests (asyncio streams).

It parses each request (Content-Length or chunked with trailers), records it, and sends
whatever bytes the test's ``reply`` function returns, so tests can serve both valid
responses and deliberately broken ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    trailers: list[tuple[str, str]]
    connection: int  # 1-based index of the TCP connection it arrived on

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server does for one request.

    After ``wait`` (if given) is done, ``data`` is written in order, one write per piece,
    yielding to the loop between pieces (so a list of single bytes reaches the client in
    many reads); then the connection is closed when ``close`` is set.
    """

    data: list[bytes]
    close: bool = False
    wait: asyncio.Future[None] | None = None  # awaited before writing anything
    written: asyncio.Future[None] | None = None  # set once every piece has been written


def ok(body: bytes = b"", status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers)
    return Reply([head.encode() + b"\r\n" + body])


ReplyFn = Callable[[Request], Reply]


def _parse_headers(lines: list[bytes]) -> list[tuple[str, str]]:
    out = []
    for line in lines:
        name, _, value = line.partition(b":")
        out.append((name.decode(), value.strip().decode("utf-8", "surrogateescape")))
    return out


@dataclass
class Server:
    reply: ReplyFn
    accepts: int = 0
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _closed: list[asyncio.Future[None]] = field(default_factory=list)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for writer in self._writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await self._server.wait_closed()

    def closed(self, n: int) -> asyncio.Future[None]:
        """A future done when the server has closed its ``n``-th connection (1-based)."""
        while len(self._closed) < n:
            self._closed.append(asyncio.get_running_loop().create_future())
        return self._closed[n - 1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepts += 1
        index = self.accepts
        self._writers.append(writer)
        try:
            while True:
                request = await _read_request(reader, index)
                if request is None:
                    break
                self.requests.append(request)
                reply = self.reply(request)
                if reply.wait is not None:
                    await reply.wait
                for i, piece in enumerate(reply.data):
                    if i:
                        await asyncio.sleep(0)  # let the client read each piece apart
                    writer.write(piece)
                    await writer.drain()
                if reply.written is not None:
                    reply.written.set_result(None)
                if reply.close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self.closed(index).set_result(None)


async def _read_request(reader: asyncio.StreamReader, index: int) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head[:-4].split(b"\r\n")
    method, path, _ = lines[0].decode().split(" ")
    headers = _parse_headers(lines[1:])
    names = {k.lower(): v for k, v in headers}
    trailers: list[tuple[str, str]] = []
    if names.get("transfer-encoding") == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            if size == 0:
                break
            parts.append(await reader.readexactly(size))
            assert await reader.readexactly(2) == b"\r\n"
        body = b"".join(parts)
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            trailers += _parse_headers([line[:-2]])
    else:
        body = await reader.readexactly(int(names.get("content-length", "0")))
    return Request(method, path, headers, body, trailers, index)
