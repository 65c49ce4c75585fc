"""The Runtime API client: typed calls over one persistent HTTP connection.

It turns HTTP exchanges into values (:class:`Invocation`) and status codes into
decisions: retry with bounded backoff where that is safe, log and go on where
Lambda has already settled the invocation (400/403/410), exit where the API says
the environment is broken (500).

See: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiolambda._core import protocol as p
from aiolambda._core.errors import NO_REDACTION, ErrorReport, Redactor, RuntimeAPIError
from aiolambda._core.exchange import (
    MAX_ATTEMPTS,
    InvalidInvocation,
    Invocation,
    Pipelining,
    backoff,
    parse_invocation,
    settle,
    snippet,
    unreachable,
)
from aiolambda._core.transport import Connection, HttpResponse, TransportError
from aiolambda._core.transport_lean import LeanConnection

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable, Sequence

__all__ = ["InvalidInvocation", "Invocation", "RuntimeAPIClient", "parse_invocation"]

log = logging.getLogger("aiolambda")


class RuntimeAPIClient:
    """``/next``, ``/response``, ``/error`` and ``/init/error`` over one connection.

    Use one client per poller: a connection carries one request at a time. With
    ``pipeline`` on and a lean connection, an answer posted with ``then_next`` carries
    ``GET /next`` in the same write, and :meth:`next_invocation` takes its response.
    """

    __slots__ = ("_ahead", "_conn", "_lean", "_pipeline", "_redact")

    def __init__(
        self,
        conn: Connection,
        redact: Redactor = NO_REDACTION,
        pipeline: Pipelining | None = None,
    ) -> None:
        self._conn = conn
        self._redact = redact
        self._lean = conn if isinstance(conn, LeanConnection) else None
        self._pipeline = pipeline or Pipelining(False)
        self._ahead = False  # a GET /next went out with the last answer

    def _snippet(self, body: bytes) -> str:
        return snippet(body, self._redact)

    async def next_invocation(self) -> HttpResponse:
        """Long-poll for the next event; never times out (the process may be frozen)."""
        if self._ahead and self._lean is not None:
            self._ahead = False
            try:
                response = await self._lean.response_ahead()
            except TransportError as exc:
                self._pipeline.refuse(str(exc))
            else:
                if response.status == p.STATUS_OK:
                    return response
                # No event came with it, so asking again takes nothing twice.
                self._pipeline.refuse(f"/next sent ahead answered {response.status}")
        response = await self._request("GET", p.NEXT_PATH, b"", ())
        if response.status == p.STATUS_OK:
            return response
        raise RuntimeAPIError(
            f"/next answered {response.status}: {self._snippet(response.body)}; "
            "the environment cannot serve invocations"
        )

    async def post_response(
        self, inv: Invocation, body: bytes, content_type: str, *, then_next: bool = False
    ) -> int:
        """Post a handler's result; returns the status Lambda gave.

        ``then_next``: the caller's next call is :meth:`next_invocation`, so ``GET /next``
        may go out with this answer.
        """
        headers = [("Content-Type", content_type)]
        if inv.invocation_id is not None:
            headers.append((p.H_INVOCATION_ID, inv.invocation_id))
        path = p.response_path(inv.request_id)
        response = await self._request("POST", path, body, headers, then_next)
        return self._settle(inv.request_id, "response", response)

    async def post_stream(
        self,
        inv: Invocation,
        content_type: str,
        chunks: AsyncIterable[bytes],
        trailers: Callable[[], Sequence[tuple[str, str]]],
    ) -> int:
        """Stream a handler's result (chunked, error trailers); returns Lambda's status.

        A connection that cannot be opened is retried as other requests are (nothing of
        the body was taken yet). Once sending started the body cannot be replayed: a
        connection lost mid-stream is logged and the invocation left to Lambda (0 is
        returned). The connection is closed afterwards, as Lambda's custom runtime guide
        asks after a streamed response.
        """
        headers = [
            ("Content-Type", content_type),
            (p.H_RESPONSE_MODE, p.RESPONSE_MODE_STREAMING),
            ("Trailer", f"{p.H_ERROR_TYPE}, {p.H_ERROR_BODY}"),
        ]
        if inv.invocation_id is not None:
            headers.append((p.H_INVOCATION_ID, inv.invocation_id))
        path = p.response_path(inv.request_id)
        try:
            for attempt in range(MAX_ATTEMPTS):
                try:
                    response = await self._conn.request_streaming(
                        "POST", path, headers, chunks, trailers
                    )
                    return self._settle(inv.request_id, "response", response)
                except TransportError as exc:
                    if exc.sent:
                        log.error("streaming the response of %s failed: %s", inv.request_id, exc)
                        return 0
                    if attempt + 1 == MAX_ATTEMPTS:
                        raise unreachable("POST", path, exc) from exc
                    if delay := backoff(attempt + 1):
                        await asyncio.sleep(delay)
            raise AssertionError("unreachable")
        finally:
            await self._conn.close()

    async def post_error(
        self, inv: Invocation, report: ErrorReport, *, then_next: bool = False
    ) -> int:
        """Post a structured error for an invocation; returns the status Lambda gave.

        ``then_next`` as for :meth:`post_response`.
        """
        headers = [("Content-Type", p.CT_JSON), (p.H_ERROR_TYPE, report.header_type)]
        if report.xray_cause is not None:
            headers.append((p.H_XRAY_ERROR_CAUSE, report.xray_cause.decode("ascii")))
        if inv.invocation_id is not None:
            headers.append((p.H_INVOCATION_ID, inv.invocation_id))
        path = p.error_path(inv.request_id)
        response = await self._request("POST", path, report.body(), headers, then_next)
        return self._settle(inv.request_id, "error", response)

    async def post_init_error(self, report: ErrorReport) -> int:
        """Report a failed initialisation; the caller exits afterwards."""
        headers = [("Content-Type", p.CT_JSON), (p.H_ERROR_TYPE, report.header_type)]
        response = await self._request("POST", p.INIT_ERROR_PATH, report.body(), headers)
        if response.status not in (p.STATUS_ACCEPTED, p.STATUS_FORBIDDEN):
            log.warning("/runtime/init/error answered %d", response.status)
        return response.status

    async def restore_next(self) -> None:
        """SnapStart: wait while Lambda snapshots the environment and later restores it.

        Like ``/next`` it never times out: the process is frozen while it is pending.
        """
        response = await self._request("GET", p.RESTORE_NEXT_PATH, b"", ())
        if response.status != p.STATUS_OK:
            raise RuntimeAPIError(
                f"/restore/next answered {response.status}: {self._snippet(response.body)}"
            )

    async def post_restore_error(self, report: ErrorReport) -> int:
        """Report a failed after-restore hook; the caller exits afterwards."""
        headers = [("Content-Type", p.CT_JSON), (p.H_ERROR_TYPE, report.header_type)]
        response = await self._request("POST", p.RESTORE_ERROR_PATH, report.body(), headers)
        if response.status != p.STATUS_ACCEPTED:
            log.warning("/runtime/restore/error answered %d", response.status)
        return response.status

    async def register_extension(self, name: str) -> str:
        """Register an internal extension that subscribes to no events; returns its id.

        Lambda sends SIGTERM to the runtime at shutdown only when an extension is
        registered, so this is how a runtime gets a graceful shutdown at all.
        """
        headers = [(p.H_EXTENSION_NAME, name), ("Content-Type", p.CT_JSON)]
        response = await self._request("POST", p.EXTENSION_REGISTER_PATH, b'{"events":[]}', headers)
        extension_id = response.headers.get(p.H_EXTENSION_ID.lower(), "")
        if response.status != p.STATUS_OK or not extension_id:
            raise RuntimeAPIError(
                f"extension registration answered {response.status}: {self._snippet(response.body)}"
            )
        return extension_id

    async def next_extension_event(self, extension_id: str) -> HttpResponse:
        """Long-poll the Extensions API (an internal extension must, or init never ends)."""
        headers = [(p.H_EXTENSION_ID, extension_id)]
        return await self._request("GET", p.EXTENSION_NEXT_PATH, b"", headers)

    async def close(self) -> None:
        """Close the connection."""
        await self._conn.close()

    def _settle(self, request_id: str, kind: str, response: HttpResponse) -> int:
        return settle(request_id, kind, response, self._redact)

    async def _request(
        self,
        method: str,
        path: str,
        body: bytes,
        headers: list[tuple[str, str]] | tuple[()],
        then_next: bool = False,
    ) -> HttpResponse:
        # A POST that may have reached Lambda is retried too: if it had been taken,
        # the retry gets 400 (already answered) and nothing is answered twice.
        for attempt in range(MAX_ATTEMPTS):
            # Not while a GET sent ahead is unanswered: that one is the next /next.
            lean = self._lean if then_next and self._pipeline.on and not self._ahead else None
            try:
                if lean is not None:
                    response = await lean.request(method, path, body, headers, ahead=p.NEXT_PATH)
                    self._ahead = True
                    return response
                return await self._conn.request(method, path, body, headers)
            except TransportError as exc:
                if lean is not None and exc.sent:
                    # Perhaps a server that hangs up on a second request in one write.
                    self._pipeline.refuse(str(exc))
                if attempt + 1 == MAX_ATTEMPTS:
                    raise unreachable(method, path, exc) from exc
                if delay := backoff(attempt + 1):
                    await asyncio.sleep(delay)
                log.debug("retrying %s %s after: %s", method, path, exc)
        raise AssertionError("unreachable")
