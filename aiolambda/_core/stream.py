"""A streamed result: user code produces chunks while the runtime sends them.

A handler that is an async generator, or that returns one or an
:class:`aiolambda.StreamingResponse`, has its result posted with
``Lambda-Runtime-Function-Response-Mode: streaming``. Its code runs while the body is
being sent, so the invocation's deadline and error handling cover the iteration:

* an exception (or the deadline cancellation) before the first byte is an ordinary
  error, posted to ``/error`` by the runtime;
* after the first byte it ends the body, and :meth:`Stream.trailers` reports it in the
  ``Lambda-Runtime-Function-Error-Type`` / ``-Error-Body`` trailers.

The first byte of a :class:`~aiolambda.StreamingResponse` is its prelude (sent at once,
so the caller gets the status and headers before the body starts); of a plain
generator, its first chunk.

See: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from aiolambda._core import protocol as p
from aiolambda._core.errors import (
    ErrorReport,
    Redactor,
    RuntimeFault,
    from_exception,
    from_fault,
)

if TYPE_CHECKING:
    from aiolambda._core.client import Invocation
    from aiolambda._core.invocation import Invoker, _Watch
    from aiolambda.streaming import StreamingResponse


def encode_prelude(response: StreamingResponse) -> bytes:
    """The JSON prelude of an HTTP integration response, separator included."""
    prelude = {
        "statusCode": response.status_code,
        "headers": response.headers,
        "cookies": response.cookies,
    }
    return orjson.dumps(prelude) + p.HTTP_INTEGRATION_SEPARATOR


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode()
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise RuntimeFault(
        p.MARSHAL_ERROR,
        f"Unable to marshal response: a streamed chunk must be bytes or str, "
        f"not {type(chunk).__name__}",
    )


class Stream:
    """One streamed result, iterated in the invocation's task under its deadline.

    Use: ``await start()`` (None: send it; an :class:`ErrorReport`: post that instead),
    then send :meth:`chunks` with :meth:`trailers` after them, then ``await aclose()``.
    """

    __slots__ = (
        "_ended",
        "_exhausted",
        "_invoker",
        "_pending",
        "_redact",
        "_source",
        "_task",
        "_watch",
        "content_type",
        "error",
        "invocation",
    )

    def __init__(
        self,
        invoker: Invoker,
        inv: Invocation,
        task: asyncio.Task[Any],
        source: AsyncIterator[Any],
        *,
        content_type: str,
        prelude: bytes | None,
        watch: _Watch | None,
        redact: Redactor,
    ) -> None:
        self._invoker = invoker
        self._redact = redact
        self.invocation = inv
        self._task = task
        self._source = source
        self._watch = watch
        self.content_type = content_type
        self._pending = prelude
        self._ended = False  # no more chunks will be asked for
        self._exhausted = False  # the source finished by itself (nothing to close)
        self.error: ErrorReport | None = None
        """The error that ended the stream (reported in the trailers), if any."""

    async def start(self) -> ErrorReport | None:
        """Produce the first byte; an error report means nothing was sent (use ``/error``)."""
        if self._pending is not None:
            return None
        self._pending = await self._next()
        return self.error
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body: what :meth:`start` produced, then each chunk as user code yields it.

        Never raises but for the runtime's own cancellation: an error ends the iteration
        and is kept in :attr:`error`.
        """
        first = self._pending
        self._pending = None
        if first is not None:
            yield first
        while not self._ended:
            chunk = await self._next()
            if chunk is not None:
                yield chunk

    def trailers(self) -> list[tuple[str, str]]:
        """The error trailers (none when the stream ended well)."""
        error = self.error
        if error is None:
            return []
        return [
            (p.H_ERROR_TYPE, error.header_type),
            (p.H_ERROR_BODY, base64.b64encode(error.body()).decode("ascii")),
        ]

    async def aclose(self) -> None:
        """Close user code that did not run to its end (its ``finally`` blocks run)."""
        try:
            self._ended = True
            if not self._exhausted:
                self._exhausted = True
                close = getattr(self._source, "aclose", None)
                if close is not None:
                    self._enter()
                    try:
                        await close()
                    except asyncio.CancelledError:
                        if self._invoker.closing:
                            raise
                        self._uncancel()
                    except Exception:
                        pass  # the outcome is already decided
        finally:
            if self._watch is not None:
                self._invoker.watchdog.unwatch(self._watch)
                self._watch = None

    # -- internals ----------------------------------------------------------------------

    async def _next(self) -> bytes | None:
        """The next chunk, or None when the source ended or failed (``error`` set)."""
        if self._ended:
            return None
        watch = self._watch
        if watch is not None and watch.fired:
            # The deadline passed while the runtime was sending: stop before user code.
            self._ended = True
            self.error = self._invoker.timeout_report(self.invocation)
            return None
        self._enter()
        try:
            chunk = await anext(self._source)
        except StopAsyncIteration:
            self._ended = self._exhausted = True
            return None
        except asyncio.CancelledError as exc:
            self._ended = self._exhausted = True
            if watch is not None and watch.fired:
                self._uncancel()
                self.error = self._invoker.timeout_report(self.invocation)
                return None
            if self._invoker.closing:
                raise
            # User code cancelled itself: its failure, not a reason to stop serving.
            self._uncancel()
            self.error = from_exception(exc, self.invocation.request_id, self._redact)
            return None
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from user code too
            self._ended = self._exhausted = True
            if watch is not None and watch.fired:
                self._uncancel()
            self.error = from_exception(exc, self.invocation.request_id, self._redact)
            return None
        finally:
            if watch is not None:
                watch.exposed = False  # the runtime's own awaits are never cancelled
        if watch is not None and watch.fired:  # it swallowed the cancellation
            self._ended = True
            self._uncancel()
            self.error = self._invoker.timeout_report(self.invocation)
            return None
        try:
            return _as_bytes(chunk)
        except RuntimeFault as fault:
            self._ended = True
            self.error = from_fault(fault, self.invocation.request_id)
            return None

    def _enter(self) -> None:
        """User code runs now: the deadline may cancel it (and a late one does at once)."""
        if self._watch is not None:
            self._invoker.watchdog.expose(self._watch)

    def _uncancel(self) -> None:
        if self._task.cancelling():
            self._task.uncancel()
