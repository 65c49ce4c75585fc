"""Sans-I/O HTTP/1.1 for the Runtime API client: a request encoder and a response parser.

No sockets here: :class:`RequestEncoder` turns a request into bytes and
:class:`ResponseParser` turns bytes (split anywhere) into one :class:`HttpResponse`.
Both transports share the encoder's header checks; the lean transport uses both.

The parser is strict where leniency would let a confused peer desynchronise the
connection: CRLF line endings only, no obs-fold, one unambiguous body length, bounded
head sizes. Anything else raises :class:`HttpParseError` and the caller drops the
connection.

See: https://www.rfc-editor.org/rfc/rfc9112
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

MAX_HEAD_BYTES: Final = 64 * 1024
"""Longest accepted status line + header section (Lambda's largest header, the client
context, is a few KiB)."""
MAX_STATUS_LINE_BYTES: Final = 8 * 1024
MAX_HEADERS: Final = 100
MAX_CHUNK_LINE_BYTES: Final = 4 * 1024
"""Longest accepted chunk-size line, extensions included."""
MAX_TRAILER_BYTES: Final = 64 * 1024

# Requests with a body at most this long go out as one bytes object (one write); longer
# bodies are handed over beside the head so the transport never copies megabytes.
COALESCE_MAX_BYTES: Final = 64 * 1024

# Control characters but HTAB (CR and LF included): a header line holds none but its CRLF.
_CTL_CR_LF: Final = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
_STATUS_LINE_RE: Final = re.compile(
    rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: [^\x00-\x08\x0a-\x1f\x7f]*)?"
)
# Only chunked responses use it (the Runtime API sends none): a pattern re compiles on
# first use, not at every cold start.
_CHUNK_SIZE_PATTERN: Final = rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?\r\n"
# RFC 9110 token characters: header names and methods. A set, not a regex: compiling
# one costs every cold start ~0.1 ms, and a subset test is as fast per name.
_TOKEN_CHARS: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
_MANAGED_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding"})
_METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"})
_NO_BODY_STATUSES: Final = frozenset({204, 304})

# Header names already validated (response: name -> lower-case; request: the set). A
# Runtime API conversation uses the same dozen names on every exchange; caching them skips
# a regex match and a lower() per field. Bounded, so a peer inventing names cannot grow them.
_NAMES: dict[str, str] = {}
_CHECKED_NAMES: set[str] = set()
_NAMES_MAX: Final = 512

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS, _EOF, _DONE = range(8)


class HttpResponse:
    """One complete HTTP response; read-only once built.

    ``headers`` has lower-cased names; a repeated header's values are joined with ``", "``.
    Values are decoded as UTF-8 with ``surrogateescape`` (as aiohttp does), so both
    transports return identical strings for any bytes. A plain class: a dataclass
    generates its methods with ``exec`` at every cold start.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HttpResponse):
            return NotImplemented
        return (self.status, self.headers, self.body) == (other.status, other.headers, other.body)

    __hash__ = None  # type: ignore[assignment]  # equal by value, and the headers can change

    def __repr__(self) -> str:
        return f"HttpResponse(status={self.status}, headers={self.headers!r}, body={self.body!r})"


class HttpParseError(Exception):
    """The peer sent bytes that are not a valid HTTP/1.1 response (or broke a limit)."""


def _is_token(text: str) -> bool:
    return bool(text) and _TOKEN_CHARS.issuperset(text)


def check_request(method: str, path: str, headers: Sequence[tuple[str, str]]) -> None:
    """Raise ``ValueError`` unless the request line and headers are safe to put on the wire.

    Guards against header injection (CR/LF in a value built from an error message) and
    against headers the transport owns (``Host``, ``Content-Length``, ``Transfer-Encoding``).
    """
    if method not in _METHODS and not _is_token(method):
        raise ValueError(f"invalid HTTP method {method!r}")
    # origin-form: "/" then visible ASCII (no space, no control character)
    if not (path[:1] == "/" and path.isascii() and path.isprintable() and " " not in path):
        raise ValueError(f"invalid request target {path!r}")
    for name, value in headers:
        if name not in _CHECKED_NAMES:
            if not _is_token(name):
                raise ValueError(f"invalid header name {name!r}")
            if name.lower() in _MANAGED_HEADERS:
                raise ValueError(f"header {name} is set by the transport")
            if len(_CHECKED_NAMES) < _NAMES_MAX:
                _CHECKED_NAMES.add(name)
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"header {name} has a CR, LF or NUL in its value")


class RequestEncoder:
    """Serialises requests for one origin; the fixed headers are built once."""

    __slots__ = ("_fixed", "_get_heads")

    def __init__(self, host: str, port: int, user_agent: str) -> None:
        self._fixed = f"Host: {host}:{port}\r\nUser-Agent: {user_agent}\r\n"
        # Complete bodiless GET requests by path: ``GET /next`` never changes.
        self._get_heads: dict[str, bytes] = {}

    def head(
        self,
        method: str,
        path: str,
        headers: Sequence[tuple[str, str]],
        content_length: int | None,
        *,
        chunked: bool = False,
    ) -> bytes:
        """Request line + headers + blank line; ``content_length`` None sends no length."""
        check_request(method, path, headers)
        parts = [method, " ", path, " HTTP/1.1\r\n", self._fixed]
        for name, value in headers:
            parts += (name, ": ", value, "\r\n")
        if chunked:
            parts.append("Transfer-Encoding: chunked\r\n\r\n")
        elif content_length is None:
            parts.append("\r\n")
        else:
            parts += ("Content-Length: ", str(content_length), "\r\n\r\n")
        return "".join(parts).encode("utf-8", "surrogateescape")

    def encode(
        self, method: str, path: str, body: bytes, headers: Sequence[tuple[str, str]]
    ) -> tuple[bytes, bytes]:
        """Return ``(first, rest)``: small requests are all in ``first``, ``rest`` is empty.

        ``Content-Length`` is always sent when there is a body or the method is not GET,
        because some servers (RAPID among them) want an explicit length even for 0 bytes.
        """
        if method == "GET" and not body:
            if headers:
                return self.head(method, path, headers, None), b""
            cached = self._get_heads.get(path)
            if cached is None:
                cached = self.head(method, path, (), None)
                if len(self._get_heads) < 16:
                    self._get_heads[path] = cached
            return cached, b""
        head = self.head(method, path, headers, len(body))
        if len(body) <= COALESCE_MAX_BYTES:
            return head + body, b""
        return head, body


def _parse_fields(block: bytes, limit: int) -> dict[str, str]:
    """Parse ``name: value\\r\\n`` lines (``block`` ends with CRLF) into a joined dict.

    Rejects the whole block for a bare CR or LF, a control character, a line without a
    colon or whose name is not a token (which covers obs-fold and space before the colon).
    """
    lines = block.decode("utf-8", "surrogateescape").split("\r\n")
    lines.pop()  # the empty string after the final CRLF
    if len(lines) > limit:
        raise HttpParseError(f"more than {limit} header fields")
    # Exactly the CRLFs that ended the lines may be control characters: one C-level pass
    # rules out bare CR, bare LF, NUL and the rest.
    if len(block) - len(block.translate(None, _CTL_CR_LF)) != 2 * len(lines):
        raise HttpParseError("malformed header line (bare CR or LF, or a control character)")
    fields: dict[str, str] = {}
    names = _NAMES
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise HttpParseError(f"malformed header line {line[:40]!r}")
        key = names.get(name)
        if key is None:
            if not _is_token(name):
                raise HttpParseError(f"malformed header line {line[:40]!r}")
            key = name.lower()
            if len(names) < _NAMES_MAX:
                names[name] = key
        value = value.strip(" \t")
        previous = fields.get(key)
        fields[key] = value if previous is None else f"{previous}, {value}"
    return fields


class ResponseParser:
    """Incremental parser for exactly one HTTP/1.1 response (interim 1xx ones skipped).

    Feed bytes with :meth:`feed` until it returns the :class:`HttpResponse`; call
    :meth:`feed_eof` when the peer closes. After completion, :attr:`trailing` holds any
    bytes that followed the response (a well-behaved server sends none) and
    :attr:`keep_alive` tells whether the connection may carry another request.
    """

    __slots__ = (
        "_buf",
        "_chunks",
        "_headers",
        "_remaining",
        "_state",
        "_status",
        "_trailer_bytes",
        "keep_alive",
        "trailing",
    )

    def __init__(self) -> None:
        self._state = _HEAD
        self._buf = bytearray()
        self._chunks: list[bytes] = []
        self._remaining = 0
        self._status = 0
        self._headers: dict[str, str] = {}
        self._trailer_bytes = 0
        self.keep_alive = True
        self.trailing = b""

    @property
    def started(self) -> bool:
        """True once any byte of the response has been received."""
        return self._state != _HEAD or bool(self._buf)

    def feed(self, data: bytes) -> HttpResponse | None:
        """Consume ``data``; return the response when it is complete, else None."""
        state = self._state
        if state == _HEAD and not self._buf:
            response = self._feed_whole(data)
            if response is not None:
                return response
        if state == _DONE:
            self.trailing += data
            return None
        pos = 0
        if state == _HEAD:
            data, pos = self._feed_head(data)
            if self._state == _HEAD:
                return None
            state = self._state
        if state == _LENGTH:
            remaining = self._remaining
            available = len(data) - pos
            if available >= remaining:
                self._chunks.append(data[pos : pos + remaining])
                return self._finish(data[pos + remaining :])
            if available:
                self._chunks.append(data[pos:] if pos else data)
                self._remaining = remaining - available
            return None
        if state == _EOF:
            if pos < len(data):
                self._chunks.append(data[pos:] if pos else data)
            return None
        return self._feed_chunked(data, pos)

    def _feed_whole(self, data: bytes) -> HttpResponse | None:
        """The common case in one pass: a whole, plain response in ``data``.

        A Runtime API response (``/next`` or a 202) almost always arrives in one read,
        with header names seen before. Anything less plain (partial data, 1xx, chunked,
        ``Connection``, repeated or new header names) returns None without
        touching the parser's state, and the general path decides, so this path accepts
        nothing the general one would refuse.
        """
        end = data.find(b"\r\n\r\n")
        if end < 0 or end > MAX_HEAD_BYTES or not data.startswith(b"HTTP/1.1 "):
            return None
        eol = data.find(b"\r\n")
        if eol > MAX_STATUS_LINE_BYTES:
            return None
        code = data[9:12]
        if not code.isdigit() or (eol != 12 and data[12:13] != b" "):
            return None
        status = int(code)
        if status < 200 or status in _NO_BODY_STATUSES or eol == end:
            return None
        head = data[: end + 2]
        # Exactly the CRLFs may be control characters (HTAB aside): one C-level pass.
        if len(head) - len(head.translate(None, _CTL_CR_LF)) != 2 * head.count(b"\r\n"):
            return None
        fields: dict[str, str] = {}
        names = _NAMES
        for line in data[eol + 2 : end].decode("utf-8", "surrogateescape").split("\r\n"):
            name, colon, value = line.partition(":")
            key = names.get(name)
            if key is None or not colon or key in fields:
                return None
            fields[key] = value.strip(" \t")
        if "transfer-encoding" in fields or "connection" in fields or len(fields) > MAX_HEADERS:
            return None
        length = fields.get("content-length")
        if length is None or not (length.isdigit() and length.isascii()) or len(length) > 18:
            return None
        start = end + 4
        size = int(length)
        if len(data) - start < size:
            return None
        self._state = _DONE
        self._status = status
        self._headers = fields
        if len(data) - start > size:
            # The start of the next response (pipelined requests), kept for it.
            self.trailing = data[start + size :]
            return HttpResponse(status, fields, data[start : start + size])
        return HttpResponse(status, fields, data[start:])

    def feed_eof(self) -> HttpResponse:
        """The peer closed: return the response if it was delimited by EOF, else raise."""
        if self._state == _EOF:
            self.keep_alive = False
            return self._finish(b"")
        if self._state == _HEAD and not self._buf:
            raise HttpParseError("connection closed before any response byte")
        raise HttpParseError("connection closed before the response was complete")

    # -- head ---------------------------------------------------------------------------

    def _feed_head(self, data: bytes) -> tuple[bytes, int]:
        """Consume head bytes; return the unconsumed input as ``(data, pos)``."""
        pos = 0
        while True:
            buf = self._buf
            if buf:
                start = max(0, len(buf) - 3)
                buf += data[pos:]
                end = buf.find(b"\r\n\r\n", start)
                if end < 0:
                    self._check_partial_head(buf)
                    return b"", 0
                head = bytes(buf[: end + 2])
                data, pos = bytes(buf[end + 4 :]), 0
                buf.clear()
            else:
                end = data.find(b"\r\n\r\n", pos)
                if end < 0:
                    buf += data[pos:]
                    self._check_partial_head(buf)
                    return b"", 0
                head = data[pos : end + 2]
                pos = end + 4
            if self._start_body(head):
                return data, pos
            # An interim 1xx response: parse the next head from what is left.

    def _check_partial_head(self, buf: bytearray) -> None:
        prefix = bytes(buf[:5])
        if not b"HTTP/".startswith(prefix):
            raise HttpParseError(f"response does not start with HTTP/: {prefix!r}")
        if len(buf) > MAX_HEAD_BYTES:
            raise HttpParseError(f"response head exceeds {MAX_HEAD_BYTES} bytes")
        if len(buf) > MAX_STATUS_LINE_BYTES and buf.find(b"\r\n", 0, MAX_STATUS_LINE_BYTES) < 0:
            raise HttpParseError(f"status line exceeds {MAX_STATUS_LINE_BYTES} bytes")

    def _start_body(self, head: bytes) -> bool:
        """Parse a head (ending in one CRLF); False when it was an interim 1xx response."""
        if len(head) > MAX_HEAD_BYTES:
            raise HttpParseError(f"response head exceeds {MAX_HEAD_BYTES} bytes")
        eol = head.find(b"\r\n")
        if eol > MAX_STATUS_LINE_BYTES:
            raise HttpParseError(f"status line exceeds {MAX_STATUS_LINE_BYTES} bytes")
        match = _STATUS_LINE_RE.fullmatch(head, 0, eol)
        if match is None:
            raise HttpParseError(f"invalid status line {head[: min(eol, 80)]!r}")
        status = int(match[2])
        headers = _parse_fields(head[eol + 2 :], MAX_HEADERS)
        if status < 200:
            if status == 101:
                raise HttpParseError("unexpected 101 Switching Protocols")
            return False
        self._status = status
        self._headers = headers
        http10 = match[1] == b"0"
        connection = headers.get("connection")
        if connection is None:
            self.keep_alive = not http10
        else:
            tokens = {token.strip().lower() for token in connection.split(",")}
            self.keep_alive = "close" not in tokens and (not http10 or "keep-alive" in tokens)
        transfer_encoding = headers.get("transfer-encoding")
        content_length = headers.get("content-length")
        if status in _NO_BODY_STATUSES:
            self._state = _LENGTH
            self._remaining = 0
        elif transfer_encoding is not None:
            if content_length is not None:
                raise HttpParseError("both Transfer-Encoding and Content-Length")
            if http10 or transfer_encoding.strip().lower() != "chunked":
                raise HttpParseError(f"unsupported Transfer-Encoding {transfer_encoding!r}")
            self._state = _CHUNK_SIZE
        elif content_length is not None:
            self._state = _LENGTH
            self._remaining = _parse_content_length(content_length)
        else:
            self._state = _EOF
            self.keep_alive = False
        return True

    # -- chunked body ---------------------------------------------------------------------

    def _read_line(self, data: bytes, pos: int, limit: int) -> tuple[bytes | None, int]:
        """Return ``(line with its CRLF, new pos)``, or ``(None, len(data))`` if incomplete."""
        buf = self._buf
        nl = data.find(b"\n", pos)
        if nl < 0:
            buf += data[pos:]
            if len(buf) > limit:
                raise HttpParseError(f"line in chunked body exceeds {limit} bytes")
            return None, len(data)
        if buf:
            buf += data[pos : nl + 1]
            line = bytes(buf)
            buf.clear()
        else:
            line = data[pos : nl + 1]
        if len(line) > limit:
            raise HttpParseError(f"line in chunked body exceeds {limit} bytes")
        if not line.endswith(b"\r\n"):
            raise HttpParseError("bare LF in chunked body")
        return line, nl + 1

    def _feed_chunked(self, data: bytes, pos: int) -> HttpResponse | None:
        end = len(data)
        while True:
            state = self._state
            if state == _CHUNK_DATA:
                take = min(self._remaining, end - pos)
                if take:
                    self._chunks.append(data[pos : pos + take])
                    pos += take
                    self._remaining -= take
                if self._remaining:
                    return None
                self._state = _CHUNK_CRLF
                continue
            if pos >= end:
                return None
            if state == _CHUNK_SIZE:
                line, pos = self._read_line(data, pos, MAX_CHUNK_LINE_BYTES)
                if line is None:
                    return None
                match = re.fullmatch(_CHUNK_SIZE_PATTERN, line)
                if match is None:
                    raise HttpParseError(f"invalid chunk size line {line[:40]!r}")
                size = int(match[1], 16)
                if size:
                    self._remaining = size
                    self._state = _CHUNK_DATA
                else:
                    self._state = _TRAILERS
            elif state == _CHUNK_CRLF:
                line, pos = self._read_line(data, pos, 2)
                if line is None:
                    return None
                self._state = _CHUNK_SIZE
            else:  # _TRAILERS: validated, counted against a limit, then discarded
                line, pos = self._read_line(data, pos, MAX_TRAILER_BYTES)
                if line is None:
                    return None
                if line == b"\r\n":
                    return self._finish(data[pos:])
                self._trailer_bytes += len(line)
                if self._trailer_bytes > MAX_TRAILER_BYTES:
                    raise HttpParseError(f"trailers exceed {MAX_TRAILER_BYTES} bytes")
                _parse_fields(line, 1)

    def _finish(self, rest: bytes) -> HttpResponse:
        self._state = _DONE
        self.trailing = rest
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        return HttpResponse(self._status, self._headers, body)


def _parse_content_length(value: str) -> int:
    if value.isdigit() and value.isascii() and len(value) <= 18:
        return int(value)
    # Identical repeated values ("5, 5") are allowed by RFC 9110 §8.6; different ones
    # mean the peer cannot be trusted to delimit the body.
    values = {item.strip() for item in value.split(",")}
    if len(values) != 1:
        raise HttpParseError(f"conflicting Content-Length values {value!r}")
    (text,) = values
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise HttpParseError(f"invalid Content-Length {value!r}")
    return int(text)


def encode_last_chunk(trailers: Sequence[tuple[str, str]]) -> bytes:
    """The end of a chunked body: the zero-size chunk, the trailer fields, a blank line."""
    check_request("POST", "/", trailers)
    lines = "".join(f"{name}: {value}\r\n" for name, value in trailers)
    return b"0\r\n" + lines.encode("utf-8", "surrogateescape") + b"\r\n"
