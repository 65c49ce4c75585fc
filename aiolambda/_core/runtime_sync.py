"""The sync driver: serves a plain ``def`` handler at concurrency 1 on blocking sockets.

No event loop, so no asyncio: the handler runs on the main thread, as under AWS's own
runtime, between a blocking ``GET /next`` and a blocking ``POST``. Everything else is
shared with the asyncio driver: config, context, codec, errors, logs, handler loading,
typed events, the HTTP codec and the exchange rules.

Deadline: ``margin`` before Lambda's deadline (as in :mod:`aiolambda._core.invocation`)
a watchdog thread, with a connection of its own, posts the ``Function.Timeout`` error
while Lambda still listens and retires the process: a thread cannot be interrupted.

SIGTERM: while waiting on ``/next`` the runtime stops at once; during an invocation it
stops once that invocation is answered.

A handler that returns something only a loop can finish (an awaitable, a streamed
response) hands that invocation and the rest of the process's life to the asyncio
driver (:class:`Handoff`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import AsyncGeneratorType, CoroutineType
from typing import Any, Final

from aiolambda._core import protocol as p
from aiolambda._core.client_sync import Abandoned, Interruption, SyncRuntimeAPIClient
from aiolambda._core.codec import decode_event, encode_result
from aiolambda._core.config import RuntimeConfig
from aiolambda._core.errors import (
    ErrorReport,
    Redactor,
    RuntimeAPIError,
    RuntimeFault,
    from_exception,
    from_fault,
)
from aiolambda._core.exchange import InvalidInvocation, Invocation, Pipelining, parse_invocation
from aiolambda._core.handler import Handler
from aiolambda._core.logs import LogSink
from aiolambda._core.outcomes import (
    ProcessExit,
    Response,
    build_context,
    enter,
    exit_status,
    leave,
    log_error,
    margin_s,
    timeout_report,
    too_large,
)
from aiolambda.streaming import StreamingResponse

log = logging.getLogger("aiolambda")

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
SIGTERM_EXTENSION_NAME: Final = "aiolambda-sigterm"
# SIGTERM while waiting on /next: how long an event the Runtime API has just handed out
# may take to arrive before the wait is given up (it is then taken and answered).
_HANDED_OUT_GRACE_S: Final = 0.1


class Handoff:
    """The handler's result needs an event loop: the asyncio driver finishes ``invocation``
    with ``result`` and serves the process from then on."""

    __slots__ = ("invocation", "result")

    def __init__(self, invocation: Invocation, result: Any) -> None:
        self.invocation = invocation
        self.result = result


# Results no loop is needed for, known by their exact type: no attribute lookup that
# fails (and raises inside) on every invocation.
_PLAIN_RESULTS: Final = frozenset({dict, list, str, bytes, int, float, bool, type(None)})


def needs_loop_to_finish(result: object) -> bool:
    """An awaitable or a streamed response: only the asyncio driver can finish it."""
    if type(result) in _PLAIN_RESULTS:
        return False
    return isinstance(result, (CoroutineType, AsyncGeneratorType, StreamingResponse)) or hasattr(
        type(result), "__await__"
    )


class SyncInvoker:
    """Runs invocations of a sync handler on the calling thread, under the watchdog."""

    __slots__ = ("_config", "_decode", "_func", "_log_writer", "_redact", "watchdog")

    def __init__(
        self,
        config: RuntimeConfig,
        handler: Handler,
        *,
        redact: Redactor,
        log_writer: Callable[[str], None],
        on_expiry: Callable[[Invocation], None],
    ) -> None:
        self._config = config
        self._func = handler.func
        self._decode = handler.decode or decode_event
        self._redact = redact
        self._log_writer = log_writer
        self.watchdog = Watchdog(on_expiry)

    def run(self, inv: Invocation) -> Response | ErrorReport | ProcessExit | Handoff:
        """Run the handler for ``inv``; never raises (but a SIGTERM's ``_Stop``)."""
        enter(inv, set_trace_env=True)
        watching = False
        try:
            context = build_context(self._config, inv, self._log_writer)
            event = self._decode(inv.body, inv.content_type)
            if inv.deadline_ms is not None and self._config.timeout_margin_ms > 0:
                deadline_s = inv.deadline_ms / 1000
                if deadline_s <= time.time():  # Lambda has already given up: don't start
                    return timeout_report(self._config, inv, retiring=False)
                self.watchdog.arm(inv, deadline_s - margin_s(self._config, deadline_s))
                watching = True
            try:
                result = self._func(event, context)
            finally:
                if watching:
                    self.watchdog.disarm()
            if needs_loop_to_finish(result):
                return Handoff(inv, result)
            body, content_type = encode_result(result)
        except RuntimeFault as fault:
            return from_fault(fault, inv.request_id, self._redact)
        except SystemExit as exc:
            return ProcessExit(exit_status(exc))
        except BaseException as exc:  # KeyboardInterrupt from user code too
            return from_exception(exc, inv.request_id, self._redact)
        return Response(body, content_type)


class Watchdog:
    """One thread that calls ``on_expiry(invocation)`` when the armed one runs past its
    point; the call retires the process, so it fires at most once.

    Arming costs a lock round trip: the thread is woken only when it sleeps past the
    new point (deadlines usually grow from one invocation to the next).
    """

    __slots__ = (
        "_at",
        "_claimed",
        "_cond",
        "_inv",
        "_lock",
        "_on_expiry",
        "_sleeping_until",
        "_thread",
    )

    def __init__(self, on_expiry: Callable[[Invocation], None]) -> None:
        self._on_expiry = on_expiry
        # arm() and disarm() take the lock itself: a C-level ``with``, where the
        # condition's is two Python calls.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._inv: Invocation | None = None
        self._at = 0.0
        self._claimed = False
        self._sleeping_until: float | None = None
        self._thread: threading.Thread | None = None

    def arm(self, inv: Invocation, at: float) -> None:
        with self._lock:
            self._inv, self._at = inv, at
            if self._thread is None:
                self._thread = start_thread(self._watch, "aiolambda-watchdog")
            elif self._sleeping_until is None or at < self._sleeping_until:
                self._cond.notify()

    def disarm(self) -> None:
        with self._lock:
            while self._claimed:
                # Too late: the watchdog answers for this invocation and retires the
                # process; the handler's result must not be posted as well.
                self._cond.wait()
            self._inv = None

    def _watch(self) -> None:
        with self._cond:
            while True:
                inv, now = self._inv, time.time()
                if inv is not None and now >= self._at:
                    self._claimed = True  # disarm() now waits for the process to end
                    break
                # Disarmed, it still sleeps until the last point armed: the next
                # invocation's point is later, so arming it need not wake this thread.
                self._sleeping_until = self._at if now < self._at else None
                self._cond.wait(None if self._sleeping_until is None else self._at - now)
        self._on_expiry(inv)


class SyncRuntime:
    """Serves invocations until SIGTERM, a fatal Runtime API error or a handoff."""

    def __init__(
        self,
        config: RuntimeConfig,
        handler: Handler,
        sink: LogSink,
        redact: Redactor,
        *,
        retire: Callable[[int], None],
    ) -> None:
        self._config = config
        self._sink = sink
        self._redact = redact
        self._json_logs = config.log_format == "JSON"
        self._retire = retire
        self._stopping = False
        self._exit_code = EXIT_OK
        # Off for good once the Runtime API refuses a GET /next sent with an answer.
        self._pipeline = Pipelining(config.pipeline)
        self.invoker = SyncInvoker(
            config, handler, redact=redact, log_writer=sink.write_raw, on_expiry=self._expired
        )

    def _client(self, pipeline: Pipelining | None = None) -> SyncRuntimeAPIClient:
        return SyncRuntimeAPIClient(
            self._config.runtime_api_host, self._config.runtime_api_port, self._redact, pipeline
        )

    def serve(self, *, on_init_complete: Callable[[], int] | None = None) -> int | Handoff:
        """The invoke loop; returns the exit code, or the :class:`Handoff` to the loop.

        ``on_init_complete`` runs once the SIGTERM extension is registered, before the
        first ``/next`` (SnapStart's restore flow, forking workers); non-zero: exit.
        """
        previous = _install(signal.SIGTERM, self._on_sigterm)
        wake, waker = socket.socketpair()
        wake.setblocking(False)
        waker.setblocking(False)
        previous_fd = _set_wakeup_fd(waker.fileno())
        give_up = Interruption(wake, lambda: self._stopping, _HANDED_OUT_GRACE_S)
        client = self._client(self._pipeline)
        try:
            if self._config.enable_sigterm and not self._register_sigterm_extension():
                return self._exit_code
            if on_init_complete is not None and (code := on_init_complete()):
                return code
            # A GET /next sent ahead is read even when stopping: an event may be in it.
            while not self._stopping or client.ahead:
                response = client.next_invocation(give_up)
                try:
                    inv = parse_invocation(response)
                except InvalidInvocation as exc:  # see Runtime._poll
                    log.error("%s; stopping the runtime", exc)
                    return EXIT_FAILURE
                outcome = self.invoker.run(inv)
                if isinstance(outcome, Handoff):
                    return outcome
                if isinstance(outcome, ProcessExit):
                    return outcome.status  # unanswered: Lambda says Runtime.ExitError
                self._answer(client, inv, outcome, then_next=not self._stopping)
                leave()
        except Abandoned:
            pass  # SIGTERM while waiting on /next
        except RuntimeAPIError as exc:
            log.error("Runtime API failure: %s", exc)
            self.stop(EXIT_FAILURE)
        except Exception:
            log.exception("aiolambda internal error; stopping the runtime")
            self.stop(EXIT_FAILURE)
        finally:
            client.close()
            _set_wakeup_fd(previous_fd)
            _install(signal.SIGTERM, previous)
            wake.close()
            waker.close()
        return self._exit_code

    def stop(self, exit_code: int = EXIT_OK) -> None:
        """Stop polling (from any thread); an invocation in flight is still answered."""
        self._exit_code = max(self._exit_code, exit_code)
        self._stopping = True
        if threading.current_thread() is not threading.main_thread():
            main = threading.main_thread().ident
            if main is not None:
                signal.pthread_kill(main, signal.SIGTERM)  # wakes a blocked /next

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self._stopping = True  # a wait on /next wakes up through the wake-up fd

    def _answer(
        self,
        client: SyncRuntimeAPIClient,
        inv: Invocation,
        outcome: Response | ErrorReport,
        *,
        then_next: bool,
    ) -> None:
        """Post ``outcome``; ``then_next``: with ``GET /next`` in the same write."""
        try:
            if isinstance(outcome, Response):
                if len(outcome.body) <= p.MAX_PAYLOAD_BYTES:
                    status = client.post_response(
                        inv, outcome.body, outcome.content_type, then_next=then_next
                    )
                    if status != p.STATUS_PAYLOAD_TOO_LARGE:
                        return
                outcome = too_large(inv, len(outcome.body))
            log_error(self._sink, outcome, json=self._json_logs)
            client.post_error(inv, outcome, then_next=then_next)
        except RuntimeAPIError:
            raise
        except Exception:
            # A bug of ours must not leave the caller without an answer.
            log.exception("aiolambda could not post the outcome of %s", inv.request_id)
            fault = RuntimeFault(p.RUNTIME_UNKNOWN, "aiolambda failed to report this invocation")
            client.post_error(inv, from_fault(fault, inv.request_id))

    def _expired(self, inv: Invocation) -> None:
        """On the watchdog's thread: answer for the stuck handler, then retire."""
        report = timeout_report(self._config, inv, retiring=True)
        log_error(self._sink, report, json=self._json_logs)
        client = self._client()
        try:
            client.post_error(inv, report)
        except RuntimeAPIError as exc:
            log.error("could not post the timeout error of %s: %s", inv.request_id, exc)
        finally:
            client.close()
        log.error("a handler outlived its timeout and cannot be stopped; restarting")
        self._retire(EXIT_FAILURE)

    def _register_sigterm_extension(self) -> bool:
        """Register the no-op internal extension before init completes (see ``Runtime``);
        a thread keeps its ``/event/next`` long-poll pending."""
        client = self._client()
        try:
            extension_id = client.register_extension(SIGTERM_EXTENSION_NAME)
        except RuntimeAPIError as exc:
            log.error("could not register the SIGTERM extension: %s", exc)
            client.close()
            self._exit_code = EXIT_FAILURE
            return False

        def idle() -> None:
            try:
                while client.next_extension_event(extension_id).status == p.STATUS_OK:
                    pass
            except RuntimeAPIError as exc:
                if not self._stopping:
                    log.warning("the SIGTERM extension lost the Extensions API: %s", exc)
            finally:
                client.close()

        start_thread(idle, "aiolambda-sigterm")
        return True


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread that never takes SIGTERM: the kernel may deliver a process signal
    to any thread that does not block it, and then the main thread, blocked on ``/next``,
    would not wake up to run the handler."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()  # inherits the mask
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return thread


def _set_wakeup_fd(fd: int) -> int:
    try:
        return signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        return -1


def _install(signum: int, handler: Any) -> Any:
    try:
        return signal.signal(signum, handler)
    except ValueError:  # not the main thread
        return None


def retire(code: int) -> None:
    """End the process now: a handler thread that cannot be stopped holds the main one."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
