"""The selectable transport (``AIOLAMBDA_TRANSPORT=aiohttp``): one ``aiohttp.ClientSession``.

Imported only when chosen: ``import aiohttp`` costs ~0.2 s at cold start. The session
keeps one pooled connection, never times out (``/next`` may span a freeze) and sends no
headers of its own beyond ``Host``, ``User-Agent`` and ``Content-Length``. Every aiohttp
exception is translated to :class:`aiolambda._core.transport.TransportError` here.

aiohttp cannot send request trailers, so :meth:`AiohttpConnection.request_streaming`
sends a streamed response over a lean connection of its own.
"""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import aiohttp

from aiolambda import __version__
from aiolambda._core.http import MAX_HEAD_BYTES, MAX_STATUS_LINE_BYTES, HttpResponse, check_request
from aiolambda._core.transport import TransportError

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable, Sequence

_USER_AGENT = f"aiolambda/{__version__}"
# aiohttp would otherwise add Accept, Accept-Encoding and a Content-Type guess.
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "Content-Type", "User-Agent")
_LARGE_BODY_BYTES = 1 << 20


class AiohttpConnection:
    """A :class:`aiolambda._core.transport.Connection` on ``aiohttp.ClientSession``."""

    __slots__ = ("_base", "_busy", "_host", "_port", "_session")

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._base = f"http://{host}:{port}"
        self._session: aiohttp.ClientSession | None = None
        self._busy = False

    def _open_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=1, force_close=False, ssl=False)
        return aiohttp.ClientSession(
            connector=connector,
            # aiohttp's default total timeout is 300 s; /next may block far longer.
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_read=None, sock_connect=None
            ),
            auto_decompress=False,
            # The lean parser's limits, so both transports accept the same heads (aiohttp's
            # default of 8190 bytes per header line is below a large client context).
            max_line_size=MAX_STATUS_LINE_BYTES,
            max_field_size=MAX_HEAD_BYTES,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            headers={"User-Agent": _USER_AGENT},
        )

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
        check_request(method, path, headers)
        self._busy = True
        try:
            session = self._session
            if session is None or session.closed:
                session = self._session = self._open_session()
            data: bytes | io.BytesIO | None = None if method == "GET" and not body else body
            if len(body) > _LARGE_BODY_BYTES:
                # aiohttp warns (ResourceWarning) about raw bytes above 1 MiB and asks for
                # BytesIO, which it sends in 64 KiB pieces without copying the whole.
                data = io.BytesIO(body)
            try:
                async with session.request(
                    method, self._base + path, data=data, headers=list(headers)
                ) as response:
                    payload = await response.read()
                    joined: dict[str, str] = {}
                    for name, value in response.headers.items():
                        key = name.lower()
                        previous = joined.get(key)
                        joined[key] = value if previous is None else f"{previous}, {value}"
                    return HttpResponse(response.status, joined, payload)
            except aiohttp.ClientConnectorError as exc:
                await self._reset()
                raise TransportError(
                    f"cannot connect to the Runtime API at {self._base}: {exc.strerror or exc}",
                    sent=False,
                ) from exc
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                await self._reset()
                raise TransportError(
                    f"Runtime API request failed: {type(exc).__name__}: {exc}", sent=True
                ) from exc
            except asyncio.CancelledError:
                await asyncio.shield(self._reset())
                raise
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
        """Send the stream over a lean connection of its own, closed afterwards.

        aiohttp always ends a chunked body without trailers, so it cannot report an
        error that happens mid-stream; the lean transport's chunked writer can.
        """
        from aiolambda._core.transport_lean import LeanConnection

        lean = LeanConnection(self._host, self._port)
        try:
            return await lean.request_streaming(method, path, headers, chunks, trailers)
        finally:
            await lean.close()

    async def close(self) -> None:
        """Close the session and its connection."""
        await self._reset()

    async def _reset(self) -> None:
        # A failed exchange may leave a half-read connection in the pool: start afresh.
        session = self._session
        self._session = None
        if session is not None and not session.closed:
            await session.close()
