"""One invocation: event in, :class:`Response` or :class:`~aiolambda._core.errors.ErrorReport` out.

The handler runs under the invocation's deadline. ``margin`` before Lambda's
deadline (``AIOLAMBDA_TIMEOUT_MARGIN_MS``, at most a quarter of the time the
invocation has when it starts) an async handler is cancelled: its ``finally`` blocks
and ``async with`` exits run. It may clean up until ``margin / 2`` before the
deadline; the other half of the margin is kept to post the ``Function.Timeout``
error while Lambda still listens. A sync handler runs in a worker thread, which
cannot be interrupted: its timeout error is posted at the same moment and the
runtime then retires (see :attr:`Invoker.unreclaimable`).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from types import AsyncGeneratorType
from typing import Any, Final

from aiolambda._core import protocol as p
from aiolambda._core.codec import decode_event, encode_result
from aiolambda._core.config import RuntimeConfig
from aiolambda._core.context import Context
from aiolambda._core.errors import (
    ErrorReport,
    Redactor,
    RuntimeFault,
    from_exception,
    from_fault,
)
from aiolambda._core.exchange import Invocation
from aiolambda._core.executors import ExecutorGuard
from aiolambda._core.handler import Handler
from aiolambda._core.outcomes import (
    HandlerTimeout,
    ProcessExit,
    Response,
    build_context,
    enter,
    exit_status,
    margin_s,
    timeout_report,
)
from aiolambda._core.stream import Stream, encode_prelude
from aiolambda.streaming import StreamingResponse

__all__ = [
    "HandlerTimeout", "Invoker", "Outcome", "ProcessExit", "Response", "SyncExecutor",
    "Watchdog", "exit_status",
]  # fmt: skip

_MAX_SYNC_THREADS: Final = 64
_SYNC_THREAD_PREFIX: Final = "aiolambda-sync"
_STREAMED: Final = (StreamingResponse, AsyncGeneratorType)  # results that are streamed
_NOTHING: Final = object()


Outcome = Response | ErrorReport | Stream


class _HandlerRaised(Exception):
    """Carries a ``CancelledError`` the handler raised, past the runtime's own handling."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class Invoker:
    """Runs invocations of one handler; shared by all pollers of a runtime."""

    __slots__ = (
        "_config",
        "_decode",
        "_executor",
        "_func",
        "_handler",
        "_log_writer",
        "_margin_s",
        "_redact",
        "_set_trace_env",
        "_streams",
        "closing",
        "executor_guard",
        "unreclaimable",
        "watchdog",
    )

    def __init__(
        self,
        config: RuntimeConfig,
        handler: Handler,
        *,
        executor: Executor | None,
        redact: Redactor,
        log_writer: Callable[[str], None],
    ) -> None:
        self._config = config
        self._handler = handler
        self._func = handler.func
        # An async generator function is called on the loop; its body runs as it streams.
        self._streams = inspect.isasyncgenfunction(inspect.unwrap(handler.func))
        self._decode = handler.decode or decode_event  # typed events: resolved at load
        self._executor = executor
        self._redact = redact
        self._log_writer = log_writer
        self._margin_s = config.timeout_margin_ms / 1000
        # The environment is process-wide: set it when one invocation runs at a time,
        # else os.environ gets a per-task view of the trace header (see _core.environ).
        self._set_trace_env = config.max_concurrency == 1
        if not self._set_trace_env:
            from aiolambda._core.environ import install_trace_view

            install_trace_view()
        self.unreclaimable = False
        """True once a handler outlived its timeout and still holds a thread or task."""
        self.closing = False
        """Set by the runtime before it cancels its pollers for good."""
        self.watchdog = Watchdog()
        self.executor_guard: ExecutorGuard | None = None
        """The loop's default executor, replaced when a timeout leaves threads blocked in it."""

    def install_default_executor(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give ``loop`` a default executor that timed-out invocations cannot starve."""
        if self.executor_guard is None:
            self.executor_guard = ExecutorGuard(loop, self._config.max_concurrency)

    async def run(
        self, inv: Invocation, task: asyncio.Task[Any] | None = None, *, pending: Any = _NOTHING
    ) -> Outcome | ProcessExit:
        """Run the handler for ``inv`` in ``task`` (the current one); never raises.

        Only cancellation of the caller propagates. Passing ``task`` saves looking it up
        (``asyncio.current_task`` costs a ``getpid`` system call on Python 3.11).
        ``pending``: what the handler already returned to the sync driver (an awaitable
        or a stream), finished here instead of calling the handler.
        """
        enter(inv, set_trace_env=self._set_trace_env)
        try:
            context = build_context(self._config, inv, self._log_writer)
            event = self._decode(inv.body, inv.content_type) if pending is _NOTHING else None
            result = await self._call(event, context, inv, task, pending)
            if isinstance(result, _STREAMED):
                return await self._stream(result, inv, task)
            body, content_type = encode_result(result)
        except RuntimeFault as fault:
            return from_fault(fault, inv.request_id, self._redact)
        except HandlerTimeout:
            return self.timeout_report(inv)
        except _HandlerRaised as carrier:
            return from_exception(carrier.error, inv.request_id, self._redact)
        except asyncio.CancelledError:
            raise
        except SystemExit as exc:
            return ProcessExit(exit_status(exc))
        except BaseException as exc:  # KeyboardInterrupt from user code too
            return from_exception(exc, inv.request_id, self._redact)
        return Response(body, content_type)

    async def _call(
        self,
        event: Any,
        context: Context,
        inv: Invocation,
        task: asyncio.Task[Any] | None,
        pending: Any = _NOTHING,
    ) -> Any:
        # The handler is awaited in the poller's own task: a task per invocation would
        # cost more than the rest of the runtime's work on a small event.
        if task is None:
            task = asyncio.current_task()
            assert task is not None
        watch = None
        if inv.deadline_ms is not None and self._margin_s > 0:
            deadline_s = inv.deadline_ms / 1000
            if deadline_s <= time.time():
                raise HandlerTimeout  # Lambda has already given up: don't start the handler
            margin = margin_s(self._config, deadline_s)
            watch = self.watchdog.watch(task, inv, deadline_s - margin, margin / 2)
        try:
            if pending is not _NOTHING:
                result = await pending if _is_awaitable(pending) else pending
            elif self._handler.is_async:
                result = await self._func(event, context)
            elif self._streams:
                result = self._func(event, context)
            else:
                result = await self._call_in_thread(event, context)
        except asyncio.CancelledError as exc:
            if watch is not None and watch.fired:
                task.uncancel()
                raise HandlerTimeout from None
            if self.closing:
                raise
            # The handler raised CancelledError itself or cancelled its own task: that is
            # its failure, reported like any exception, not a reason to stop polling.
            if task.cancelling():
                task.uncancel()
            raise _HandlerRaised(exc) from None
        finally:
            if watch is not None:
                self.watchdog.unwatch(watch)
        if watch is not None and watch.fired:  # it swallowed the cancellation
            task.uncancel()
            raise HandlerTimeout
        return result

    async def _call_in_thread(self, event: Any, context: Context) -> Any:
        loop = asyncio.get_running_loop()
        call = functools.partial(_call_sync, self._func, event, context)
        try:
            ok, value = await loop.run_in_executor(
                self._executor, contextvars.copy_context().run, call
            )
        except asyncio.CancelledError:
            # A thread cannot be interrupted: it keeps its worker until it returns.
            self.unreclaimable = True
            raise
        if not ok:
            raise value
        if _is_awaitable(value):  # a sync-looking wrapper returned a coroutine
            return await value
        return value

    async def _stream(
        self,
        result: StreamingResponse | AsyncGeneratorType[Any, Any],
        inv: Invocation,
        task: asyncio.Task[Any] | None,
    ) -> Outcome:
        """Start a streamed result under the invocation's deadline (see ``_core.stream``)."""
        if task is None:
            task = asyncio.current_task()
            assert task is not None
        if isinstance(result, StreamingResponse):
            source: AsyncIterator[Any] = aiter(result.body)
            prelude: bytes | None = encode_prelude(result)
            content_type = p.CT_HTTP_INTEGRATION
        else:
            source, prelude, content_type = result, None, p.CT_OCTET_STREAM
        watch = None
        if inv.deadline_ms is not None and self._margin_s > 0:
            deadline_s = inv.deadline_ms / 1000
            margin = margin_s(self._config, deadline_s)
            watch = self.watchdog.watch(task, inv, deadline_s - margin, margin / 2)
            watch.exposed = False  # cancelled only while user code runs (see Stream)
        stream = Stream(
            self,
            inv,
            task,
            source,
            content_type=content_type,
            prelude=prelude,
            watch=watch,
            redact=self._redact,
        )
        error = await stream.start()
        if error is None:
            return stream
        await stream.aclose()
        return error

    def timeout_report(self, inv: Invocation) -> ErrorReport:
        """The ``Function.Timeout`` error of ``inv``, which was cancelled at its deadline.

        Threads it left blocked in the default executor must not starve the next
        invocations: the guard gives the loop a fresh pool (or asks to retire)."""
        guard = self.executor_guard
        if guard is not None and not guard.after_timeout(inv.request_id):
            self.unreclaimable = True  # too many threads left blocked: retire
        return timeout_report(self._config, inv, retiring=self.unreclaimable)


class SyncExecutor(ThreadPoolExecutor):
    """The worker threads of sync handlers: one per concurrent invocation, at most 64.

    Each thread gets an event loop of its own that is never running, so a sync
    handler may drive one (Mangum and Powertools' batch helper call
    ``run_until_complete``), which it could not do on the runtime's running loop.
    """

    def __init__(self, concurrency: int) -> None:
        self._loops: list[asyncio.AbstractEventLoop] = []
        _hide_selector_notice()
        super().__init__(
            max_workers=min(concurrency, _MAX_SYNC_THREADS),
            thread_name_prefix=_SYNC_THREAD_PREFIX,
            initializer=self._give_thread_an_event_loop,
        )

    def _give_thread_an_event_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loops.append(loop)
        asyncio.set_event_loop(loop)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the threads and close their idle event loops."""
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        for loop in self._loops:
            if not loop.is_running() and not loop.is_closed():
                loop.close()


def _is_not_our_selector_notice(record: logging.LogRecord) -> bool:
    return not (
        record.msg == "Using selector: %s"
        and (record.threadName or "").startswith(_SYNC_THREAD_PREFIX)
    )


def _hide_selector_notice() -> None:
    """Keep asyncio's DEBUG "Using selector: …" for our threads' loops out of the function's
    log: awslambdaric creates no loops, so the line would only be noise at DEBUG."""
    logger = logging.getLogger("asyncio")
    if _is_not_our_selector_notice not in logger.filters:
        logger.addFilter(_is_not_our_selector_notice)


class _Watch:
    """One invocation under watch: its task, when to cancel it, whether that happened."""

    __slots__ = ("cancel_at", "cleanup_s", "exposed", "fired", "invocation", "task")

    def __init__(
        self, task: asyncio.Task[Any], invocation: Invocation, cancel_at: float, cleanup_s: float
    ) -> None:
        self.task = task
        self.invocation = invocation
        self.cancel_at = cancel_at
        self.cleanup_s = cleanup_s
        self.fired = False
        # False while the task runs the runtime's own code (a stream being sent): the
        # cancellation is then left to the stream, which stops before user code resumes.
        self.exposed = True


class Watchdog:
    """Cancels handlers at their cancellation points with one shared timer.

    A timer per invocation would cost a few microseconds each; one timer, re-armed
    only when it fires or an earlier point arrives, costs nothing per invocation.
    Times are epoch seconds (``time.time()``), the clock Lambda's deadlines use.
    A handler still running ``cleanup_s`` after its cancellation is reported to
    ``on_stuck`` (which posts its timeout error on its behalf).
    """

    __slots__ = ("_armed_at", "_loop", "_timer", "_watches", "on_stuck")

    def __init__(self) -> None:
        self._watches: set[_Watch] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_stuck: Callable[[asyncio.Task[Any], Invocation], None] | None = None

    def watch(
        self, task: asyncio.Task[Any], invocation: Invocation, cancel_at: float, cleanup_s: float
    ) -> _Watch:
        """Cancel ``task`` at ``cancel_at``; call ``on_stuck`` if it runs ``cleanup_s`` more."""
        watch = _Watch(task, invocation, cancel_at, cleanup_s)
        self._watches.add(watch)
        if self._timer is None or cancel_at < self._armed_at:
            self._arm(cancel_at)
        return watch

    def unwatch(self, watch: _Watch) -> None:
        self._watches.discard(watch)

    def expose(self, watch: _Watch) -> None:
        """User code of ``watch`` runs from now on; past its cancellation point it has
        ``cleanup_s`` to finish before ``on_stuck`` is told."""
        watch.exposed = True
        if watch.fired:
            assert self._loop is not None
            self._loop.call_later(watch.cleanup_s, self._check_stuck, watch)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        self._armed_at = when
        self._timer = loop.call_later(max(0.0, when - time.time()), self._tick)

    def _tick(self) -> None:
        self._timer = None
        now = time.time()
        upcoming = None
        for watch in list(self._watches):
            if watch.fired:
                continue
            if watch.cancel_at <= now:
                watch.fired = True
                if watch.exposed:
                    watch.task.cancel("aiolambda: invocation deadline")
                    assert self._loop is not None
                    self._loop.call_later(watch.cleanup_s, self._check_stuck, watch)
            elif upcoming is None or watch.cancel_at < upcoming:
                upcoming = watch.cancel_at
        if upcoming is not None:
            self._arm(upcoming)

    def _check_stuck(self, watch: _Watch) -> None:
        if watch in self._watches and watch.exposed and self.on_stuck is not None:
            self.on_stuck(watch.task, watch.invocation)


def _call_sync(func: Callable[[Any, Any], Any], event: Any, context: Context) -> tuple[bool, Any]:
    try:
        return True, func(event, context)
    except BaseException as exc:
        return False, exc


def _is_awaitable(value: object) -> bool:
    return asyncio.iscoroutine(value) or isinstance(value, Awaitable)
