"""A small HTTP/1.1 server on asyncio streams, for the emulator's Runtime API side.

aiohttp's server parses chunked request trailers and then throws them away, and it
refuses to send a header value with a CR or LF in it. The Runtime API needs both: a
streamed ``/response`` reports a mid-stream error in trailers, and tests inject
hostile headers on purpose. So this side speaks HTTP itself: requests are parsed from
a private buffer (which also lets a long-poll notice that its client went away), and
responses are written byte for byte as the application built them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

_log = logging.getLogger("aiolambda.emulator")
_CRLF = b"\r\n"
_MAX_HEAD_BYTES = 64 * 1024
_MAX_LINE_BYTES = 8 * 1024
_READ_SIZE = 256 * 1024
# Past this many body bytes an oversized request is answered and the connection
# dropped instead of reading the rest, so a runaway client cannot tie us up.
_DISCARD_LIMIT = 256 * 1024 * 1024

_REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}


class BadRequest(Exception):
    """The bytes on the connection are not a request we can parse; answer 400 and close."""


class Disconnected(Exception):
    """The client closed the connection."""


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed request; header and trailer names are lower-case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    trailers: dict[str, str]
    time: float
    too_large: bool = False
    chunked: bool = False
    must_close: bool = False  # the body was left unread, so the connection cannot be reused
    size: int = 0  # the body's length in bytes, also when it was too large to keep


@dataclass(slots=True)
class Response:
    """What a route answers. ``headers`` are written exactly as given."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


class Connection:
    """One client connection: a read buffer over the stream and the writer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._buf = bytearray()
        self._eof = False

    async def _fill(self) -> None:
        if self._eof:
            raise Disconnected
        data = await self._reader.read(_READ_SIZE)
        if not data:
            self._eof = True
            raise Disconnected
        self._buf += data

    async def read_until(self, sep: bytes, limit: int) -> bytes:
        """Bytes up to and including ``sep``; BadRequest past ``limit``."""
        start = 0
        while True:
            pos = self._buf.find(sep, start)
            if pos >= 0:
                end = pos + len(sep)
                chunk = bytes(self._buf[:end])
                del self._buf[:end]
                return chunk
            if len(self._buf) > limit:
                raise BadRequest("header section or line too long")
            start = max(0, len(self._buf) - len(sep) + 1)
            await self._fill()

    async def read_exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            await self._fill()
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        return chunk

    async def discard(self, n: int) -> None:
        while n > 0:
            if not self._buf:
                await self._fill()
            taken = min(n, len(self._buf))
            del self._buf[:taken]
            n -= taken

    async def wait_disconnect(self) -> None:
        """Return once the client hangs up; bytes it sends meanwhile stay buffered."""
        with contextlib.suppress(Disconnected):
            while True:
                await self._fill()

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        self._writer.close()


Handler = Callable[[Request, Connection], Awaitable[Response]]
BodyLimit = Callable[[str, str, dict[str, str]], int]
# Called with the head of a chunked request; a returned callable gets each chunk as it
# arrives (so a streamed response can be forwarded before it has ended).
StreamOpener = Callable[[str, str, dict[str, str]], Callable[[bytes], None] | None]


def render(response: Response, *, keep_alive: bool) -> bytes:
    """Serialise a response; header values are not sanitised, by design (see module doc)."""
    reason = _REASONS.get(response.status, "Unknown")
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    lines.append(f"Content-Length: {len(response.body)}")
    if not keep_alive or response.close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    return head + response.body


def _parse_header_lines(lines: Iterable[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw in lines:
        if not raw:
            continue
        name, sep, value = raw.partition(b":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"malformed header line {raw[:60]!r}")
        key = name.decode("latin-1").lower()
        text = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


async def _read_chunked(
    conn: Connection, limit: int, on_chunk: Callable[[bytes], None] | None
) -> tuple[bytes, dict[str, str], bool, int]:
    body = bytearray()
    total = 0
    too_large = False
    while True:
        line = (await conn.read_until(_CRLF, _MAX_LINE_BYTES))[:-2]
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadRequest(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0 or not size_text.isalnum():
            raise BadRequest("bad chunk size")
        if size == 0:
            break
        total += size
        if total > _DISCARD_LIMIT:
            raise BadRequest("chunked body too large")
        if total > limit:
            too_large = True
            await conn.discard(size)
        else:
            data = await conn.read_exactly(size)
            body += data
            if on_chunk is not None:
                on_chunk(data)
        if await conn.read_exactly(2) != _CRLF:
            raise BadRequest("chunk not followed by CRLF")
    trailer_lines = []
    while True:
        line = (await conn.read_until(_CRLF, _MAX_LINE_BYTES))[:-2]
        if not line:
            break
        trailer_lines.append(line)
        if len(trailer_lines) > 64:
            raise BadRequest("too many trailers")
    trailers = _parse_header_lines(trailer_lines)
    return (b"" if too_large else bytes(body)), trailers, too_large, total


async def _read_request(
    conn: Connection, body_limit: BodyLimit, open_stream: StreamOpener | None
) -> Request:
    head = await conn.read_until(b"\r\n\r\n", _MAX_HEAD_BYTES)
    arrived = time.time()
    lines = head[:-4].split(_CRLF)
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise BadRequest("malformed request line")
    method = parts[0].decode("latin-1")
    target = parts[1].decode("latin-1")
    raw_path, _, query = target.partition("?")
    path = unquote(raw_path, errors="surrogateescape")
    headers = _parse_header_lines(lines[1:])
    limit = body_limit(method, path, headers)
    expect_continue = headers.get("expect", "").lower() == "100-continue"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        if expect_continue:
            conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        on_chunk = open_stream(method, path, headers) if open_stream is not None else None
        body, trailers, too_large, size = await _read_chunked(conn, limit, on_chunk)
        return Request(
            method, path, query, headers, body, trailers, arrived, too_large, True, size=size
        )
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit():
        raise BadRequest("bad Content-Length")
    length = int(length_text)
    if length > limit:
        if expect_continue or length > _DISCARD_LIMIT:
            # The client has not sent (or should not send) the body: answer and hang up.
            return Request(
                method, path, query, headers, b"", {}, arrived, True, must_close=True, size=length
            )
        await conn.discard(length)
        return Request(method, path, query, headers, b"", {}, arrived, True, size=length)
    if expect_continue and length:
        conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await conn.read_exactly(length) if length else b""
    return Request(method, path, query, headers, body, {}, arrived, size=length)


async def _last_words(conn: Connection, status: int, error_type: str, message: str) -> None:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    response = Response(status, body, [("Content-Type", "application/json")], close=True)
    with contextlib.suppress(ConnectionError, RuntimeError):
        conn.write(render(response, keep_alive=False))
        await conn.drain()


class HTTPServer:
    """Serves ``handler`` on a loopback port; every request goes through it in order."""

    def __init__(
        self, handler: Handler, body_limit: BodyLimit, open_stream: StreamOpener | None = None
    ) -> None:
        self._handler = handler
        self._body_limit = body_limit
        self._open_stream = open_stream
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for conn in list(self._connections):
            conn.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5.0)
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(reader, writer)
        self._connections.add(conn)
        try:
            await self._serve_requests(conn)
        except (Disconnected, ConnectionError):
            pass
        except BadRequest as exc:
            await _last_words(conn, 400, "BadRequest", str(exc))
        except Exception as exc:
            # A bug of ours must not look like a network failure to the runtime under test.
            _log.exception("emulator error while serving the Runtime API")
            await _last_words(conn, 500, "EmulatorError", repr(exc))
        finally:
            self._connections.discard(conn)
            conn.close()

    async def _serve_requests(self, conn: Connection) -> None:
        while True:
            try:
                parsed = await _read_request(conn, self._body_limit, self._open_stream)
            except Disconnected:
                return
            response = await self._handler(parsed, conn)
            keep_alive = parsed.headers.get("connection", "").lower() != "close"
            keep_alive = keep_alive and not parsed.must_close
            conn.write(render(response, keep_alive=keep_alive))
            await conn.drain()
            if not keep_alive or response.close:
                return
