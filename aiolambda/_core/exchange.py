"""What both drivers share of the Runtime API exchange, with no I/O and no asyncio.

:class:`Invocation` and :func:`parse_invocation` turn a ``/next`` response into a value;
:func:`settle` turns the status of a posted answer into a decision; the retry policy
(:data:`MAX_ATTEMPTS`, :func:`backoff`) is the one both clients follow. The asyncio
client (:mod:`aiolambda._core.client`) and the blocking one
(:mod:`aiolambda._core.client_sync`) add only the waiting.
"""

from __future__ import annotations

import logging
from typing import Final

from aiolambda._core import protocol as p
from aiolambda._core.errors import Redactor, RuntimeAPIError
from aiolambda._core.http import HttpResponse

log = logging.getLogger("aiolambda")

MAX_ATTEMPTS: Final = 10
_FIRST_BACKOFF_S: Final = 0.01
_MAX_BACKOFF_S: Final = 1.0
_SHOWN_ID_CHARS: Final = 80
_SNIPPET_SCAN_BYTES: Final = 64 * 1024


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): the first retry is immediate,
    since a dropped keep-alive connection is routine; then 10 ms doubling up to 1 s."""
    if attempt <= 1:
        return 0.0
    return min(_FIRST_BACKOFF_S * (1 << (attempt - 2)), _MAX_BACKOFF_S)


class Pipelining:
    """Whether to send ``GET /next`` in the same write as an answer (HTTP/1.1 pipelining).

    One per process, shared by every poller: the first sign that the Runtime API refuses
    pipelining (it closes the connection after the answer without answering the ``GET``,
    or answers a ``GET`` sent ahead with anything but 200) turns it off for good; the
    ``GET`` is then sent again on its own. That retry never takes an event twice: a
    ``GET`` that got no 200 carried no event.
    """

    __slots__ = ("on",)

    def __init__(self, on: bool) -> None:
        self.on = on

    def refuse(self, why: str) -> None:
        if self.on:
            self.on = False
            log.debug("the Runtime API refused a pipelined /next (%s); not pipelining", why)


def unreachable(method: str, path: str, last: Exception) -> RuntimeAPIError:
    """The error once every attempt at ``method path`` failed (``raise … from last``)."""
    return RuntimeAPIError(
        f"{method} {path}: Runtime API unreachable after {MAX_ATTEMPTS} attempts: {last}"
    )


def snippet(body: bytes, redact: Redactor) -> str:
    """The start of an error body for a log line, credentials redacted before the cut."""
    return redact(body[:_SNIPPET_SCAN_BYTES].decode("utf-8", "replace"))[:200]


def settle(request_id: str, kind: str, response: HttpResponse, redact: Redactor) -> int:
    """The status Lambda gave a posted ``kind`` (response, error); raises on 5xx.

    Log and go on where Lambda has already settled the invocation (400/403/410); a
    5xx says the environment is broken.
    """
    status = response.status
    if status in (p.STATUS_ACCEPTED, p.STATUS_PAYLOAD_TOO_LARGE):
        return status
    if status >= p.STATUS_SERVER_ERROR:
        raise RuntimeAPIError(
            f"posting the {kind} of {request_id} got {status}: {snippet(response.body, redact)}"
        )
    if status == p.STATUS_GONE:
        log.warning("late %s for %s: Lambda had already timed it out (410)", kind, request_id)
    else:
        log.warning(
            "the %s for %s was refused (%d): %s",
            kind,
            request_id,
            status,
            snippet(response.body, redact),
        )
    return status


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
