"""Streamed HTTP responses for Function URLs, API Gateway and ``InvokeWithResponseStream``.

A handler that returns a :class:`StreamingResponse` has its body streamed to the caller
as the body produces it, after a JSON prelude that carries the status code, headers
and cookies (Lambda's ``application/vnd.awslambda.http-integration-response`` format).
A handler that is itself an async generator streams its chunks with no prelude.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping, Sequence

__all__ = ["StreamingResponse"]


class StreamingResponse:
    """An HTTP response whose body is streamed chunk by chunk.

    ``body`` is an async iterable of ``bytes`` or ``str`` chunks (``str`` is encoded
    as UTF-8); each chunk is sent as soon as it is produced, with back-pressure.
    ``headers`` are sent once each (a header Lambda should repeat goes in once, its
    values joined with ``,``); ``cookies`` are ``Set-Cookie`` values.
    """

    __slots__ = ("body", "cookies", "headers", "status_code")

    def __init__(
        self,
        body: AsyncIterable[bytes | str],
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        cookies: Sequence[str] | None = None,
    ) -> None:
        self.body = body
        self.status_code = status_code
        self.headers: dict[str, str] = dict(headers or {})
        self.cookies: list[str] = list(cookies or ())

    def __repr__(self) -> str:
        return f"StreamingResponse(status_code={self.status_code}, headers={self.headers!r})"
