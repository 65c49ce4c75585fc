"""HTTP transports to the Runtime API: one small interface, two implementations.

The runtime speaks plain HTTP/1.1 over one persistent loopback connection per poller:
``GET …/next`` (a long poll that may span a freeze of hours, so it never times out),
then ``POST …/response`` or ``…/error``, then ``/next`` again. :func:`connect` returns
a :class:`Connection` for that conversation:

* ``"lean"`` (default): an ``asyncio.Protocol`` with the sans-I/O parser of
  :mod:`aiolambda._core.http`; a few µs per request and nothing heavy to import.
* ``"aiohttp"``: an ``aiohttp.ClientSession``, for users who want aiohttp's battle-tested
  HTTP stack; it costs ~0.2 s of imports at cold start and more per request.

Every failure of the connection or of the peer surfaces as :class:`TransportError`; no
implementation's own exception type escapes. Nothing here times out: callers wrap a
request in ``asyncio.timeout`` where they want a limit (never around ``/next``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol

from aiolambda._core.http import HttpResponse

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable, Sequence

__all__ = [
    "DEFAULT_TRANSPORT",
    "TRANSPORT_KINDS",
    "Connection",
    "HttpResponse",
    "TransportError",
    "connect",
]

DEFAULT_TRANSPORT: Final = "lean"
TRANSPORT_KINDS: Final = ("lean", "aiohttp")


class TransportError(Exception):
    """The connection failed or the peer sent something that is not valid HTTP/1.1.

    The connection is closed; the next ``request()`` reconnects. ``sent`` tells whether
    the request may have reached the server: False means it certainly did not, so even
    a POST is safe to retry.
    """

    sent: bool

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class Connection(Protocol):
    """One keep-alive HTTP/1.1 connection to the Runtime API, opened on first use.

    One request at a time: a concurrent ``request()`` raises ``RuntimeError``. A request
    whose task is cancelled closes the connection (its state is unknown); the next
    request reconnects.
    """

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
    ) -> HttpResponse:
        """Send one request and return the complete response.

        Raises ``TransportError`` on connection or protocol failure and ``ValueError``
        (before any I/O) for a method, path or header that is unsafe to send.
        """
        ...

    async def request_streaming(
        self,
        method: str,
        path: str,
        headers: Sequence[tuple[str, str]],
        chunks: AsyncIterable[bytes],
        trailers: Callable[[], Sequence[tuple[str, str]]],
    ) -> HttpResponse:
        """Send a ``Transfer-Encoding: chunked`` request body, then the trailers.

        ``trailers`` is called once after ``chunks`` is exhausted (so it can report an
        error that happened mid-stream). aiohttp cannot send trailers: its connection
        sends streams over a lean connection of its own.
        """
        ...

    async def close(self) -> None:
        """Close the socket; a later ``request()`` would reconnect."""
        ...


def connect(kind: str, host: str, port: int) -> Connection:
    """Return an unconnected :class:`Connection` of the given kind to ``host:port``.

    ``kind`` is ``"lean"`` (the default) or ``"aiohttp"``; the implementation module is
    imported only here, so the lean path never loads aiohttp. The first ``request()``
    opens the socket; after a failure the next ``request()`` opens a new one (a single
    attempt: backoff is the caller's job). Connect errors raise
    ``TransportError(sent=False)``.
    """
    if kind == "lean":
        from aiolambda._core.transport_lean import LeanConnection

        return LeanConnection(host, port)
    if kind == "aiohttp":
        from aiolambda._core.transport_aiohttp import AiohttpConnection

        return AiohttpConnection(host, port)
    raise ValueError(f"unknown transport {kind!r}; expected one of {', '.join(TRANSPORT_KINDS)}")
