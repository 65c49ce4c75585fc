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
from typing import TYPE_CHECKING, Final

from aiolambda._core import protocol as p
from aiolambda._core.errors import NO_REDACTION, ErrorReport, Redactor, RuntimeAPIError
from aiolambda._core.transport import Connection, HttpResponse, TransportError

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable, Sequence

log = logging.getLogger("aiolambda")

_MAX_ATTEMPTS: Final = 10
_FIRST_BACKOFF_S: Final = 0.01
_MAX_BACKOFF_S: Final = 1.0
_SHOWN_ID_CHARS: Final = 80
_SNIPPET_SCAN_BYTES: Final = 64 * 1024


class Invocation:
    """One event as ``/next`` delivered it (header values raw, body undecoded); read-only.

    A plain ``__slots__`` class: built for every invocation (a frozen dataclass is several
    times slower to build), and unlike a named tuple it generates no code at import.
    """

    __slots__ = (
        "body",
        "client_context",
        "cognito_identity",
        "content_type",
        "deadline_ms",
        "invocation_id",
        "invoked_function_arn",
        "request_id",
        "tenant_id",
        "trace_id",
    )

    def __init__(
        self,
        *,
        request_id: str,
        deadline_ms: int | None,
        invoked_function_arn: str,
        trace_id: str | None,
        client_context: str | None,
        cognito_identity: str | None,
        tenant_id: str | None,
        invocation_id: str | None,
        content_type: str | None,
        body: bytes,
    ) -> None:
        self.request_id = request_id
        self.deadline_ms = deadline_ms
        self.invoked_function_arn = invoked_function_arn
        self.trace_id = trace_id
        self.client_context = client_context
        self.cognito_identity = cognito_identity
        self.tenant_id = tenant_id
        self.invocation_id = invocation_id
        self.content_type = content_type
        self.body = body

    def __repr__(self) -> str:
        return (
            f"Invocation(request_id={self.request_id!r}, deadline_ms={self.deadline_ms}, "
            f"content_type={self.content_type!r}, body={len(self.body)} bytes)"
        )


class InvalidInvocation(Exception):
    """``/next`` delivered something that cannot be answered (no usable request id)."""


def parse_invocation(response: HttpResponse) -> Invocation:
    """Build an :class:`Invocation` from a ``/next`` response."""
    headers = response.headers
    request_id = headers.get(p.H_REQUEST_ID, "")
    if not p.is_valid_request_id(request_id):
        shown = request_id[:_SHOWN_ID_CHARS].encode("unicode_escape").decode("ascii")
        raise InvalidInvocation(f"/next gave an unusable request id '{shown}'; cannot answer it")
    get = headers.get
    return Invocation(
        request_id=request_id,
        deadline_ms=_parse_deadline(get(p.H_DEADLINE_MS, "")),
        invoked_function_arn=get(p.H_FUNCTION_ARN, ""),
        trace_id=get(p.H_TRACE_ID),
        client_context=get(p.H_CLIENT_CONTEXT),
        cognito_identity=get(p.H_COGNITO_IDENTITY),
        tenant_id=get(p.H_TENANT_ID),
        invocation_id=get(p.H_INVOCATION_ID),
        content_type=get(p.H_CONTENT_TYPE),
        body=response.body,
    )


def _parse_deadline(value: str) -> int | None:
    if value.isdigit() and value.isascii() and len(value) <= 16:
        return int(value)
    return None


class RuntimeAPIClient:
    """``/next``, ``/response``, ``/error`` and ``/init/error`` over one connection.

    Use one client per poller: a connection carries one request at a time.
    """

    __slots__ = ("_conn", "_redact")

    def __init__(self, conn: Connection, redact: Redactor = NO_REDACTION) -> None:
        self._conn = conn
        self._redact = redact

    def _snippet(self, body: bytes) -> str:
        """The start of an error body for a log line, credentials redacted before the cut."""
        return self._redact(body[:_SNIPPET_SCAN_BYTES].decode("utf-8", "replace"))[:200]

    async def next_invocation(self) -> HttpResponse:
        """Long-poll for the next event; never times out (the process may be frozen)."""
        response = await self._request("GET", p.NEXT_PATH, b"", ())
        if response.status == p.STATUS_OK:
            return response
        raise RuntimeAPIError(
            f"/next answered {response.status}: {self._snippet(response.body)}; "
            "the environment cannot serve invocations"
        )

    async def post_response(self, inv: Invocation, body: bytes, content_type: str) -> int:
        """Post a handler's result; returns the status Lambda gave."""
        headers = [("Content-Type", content_type)]
        if inv.invocation_id is not None:
            headers.append((p.H_INVOCATION_ID, inv.invocation_id))
        response = await self._request("POST", p.response_path(inv.request_id), body, headers)
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
        delay = _FIRST_BACKOFF_S
        try:
            for attempt in range(_MAX_ATTEMPTS):
                try:
                    response = await self._conn.request_streaming(
                        "POST", path, headers, chunks, trailers
                    )
                    return self._settle(inv.request_id, "response", response)
                except TransportError as exc:
                    if exc.sent:
                        log.error("streaming the response of %s failed: %s", inv.request_id, exc)
                        return 0
                    if attempt + 1 == _MAX_ATTEMPTS:
                        raise RuntimeAPIError(
                            f"POST {path}: Runtime API unreachable after {_MAX_ATTEMPTS} "
                            f"attempts: {exc}"
                        ) from exc
                    if attempt:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, _MAX_BACKOFF_S)
            raise AssertionError("unreachable")
        finally:
            await self._conn.close()

    async def post_error(self, inv: Invocation, report: ErrorReport) -> int:
        """Post a structured error for an invocation; returns the status Lambda gave."""
        headers = [("Content-Type", p.CT_JSON), (p.H_ERROR_TYPE, report.header_type)]
        if report.xray_cause is not None:
            headers.append((p.H_XRAY_ERROR_CAUSE, report.xray_cause.decode("ascii")))
        if inv.invocation_id is not None:
            headers.append((p.H_INVOCATION_ID, inv.invocation_id))
        response = await self._request("POST", p.error_path(inv.request_id), report.body(), headers)
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
        status = response.status
        if status in (p.STATUS_ACCEPTED, p.STATUS_PAYLOAD_TOO_LARGE):
            return status
        if status >= p.STATUS_SERVER_ERROR:
            raise RuntimeAPIError(
                f"posting the {kind} of {request_id} got {status}: {self._snippet(response.body)}"
            )
        if status == p.STATUS_GONE:
            log.warning("late %s for %s: Lambda had already timed it out (410)", kind, request_id)
        else:
            log.warning(
                "the %s for %s was refused (%d): %s",
                kind,
                request_id,
                status,
                self._snippet(response.body),
            )
        return status

    async def _request(
        self,
        method: str,
        path: str,
        body: bytes,
        headers: list[tuple[str, str]] | tuple[()],
    ) -> HttpResponse:
        # A POST that may have reached Lambda is retried too: if it had been taken,
        # the retry gets 400 (already answered) and nothing is answered twice.
        delay = _FIRST_BACKOFF_S
        for attempt in range(_MAX_ATTEMPTS):
            try:
                return await self._conn.request(method, path, body, headers)
            except TransportError as exc:
                if attempt + 1 == _MAX_ATTEMPTS:
                    raise RuntimeAPIError(
                        f"{method} {path}: Runtime API unreachable after {_MAX_ATTEMPTS} "
                        f"attempts: {exc}"
                    ) from exc
                if attempt:  # the first retry is immediate: a dropped keep-alive is routine
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _MAX_BACKOFF_S)
                log.debug("retrying %s %s after: %s", method, path, exc)
        raise AssertionError("unreachable")
