"""The invoke loop: ``/next`` → handler → ``/response`` or ``/error`` → ``/next``.

With ``AWS_LAMBDA_MAX_CONCURRENCY=N`` (Lambda Managed Instances) N pollers share one
event loop, each with its own keep-alive connection, so N invocations are in flight
at once. On SIGTERM the runtime stops polling, lets in-flight invocations finish and
answers them, then returns.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from aiolambda._core import protocol as p
from aiolambda._core.client import RuntimeAPIClient
from aiolambda._core.config import RuntimeConfig
from aiolambda._core.errors import ErrorReport, RuntimeAPIError, RuntimeFault, from_fault
from aiolambda._core.exchange import InvalidInvocation, Invocation, Pipelining, parse_invocation
from aiolambda._core.hooks import run_shutdown_hooks
from aiolambda._core.invocation import Invoker, Outcome
from aiolambda._core.logs import LogSink
from aiolambda._core.outcomes import ProcessExit, Response, leave, log_error, too_large
from aiolambda._core.stream import Stream
from aiolambda._core.transport import Connection, connect

if TYPE_CHECKING:
    from aiolambda._core.runtime_sync import Handoff

log = logging.getLogger("aiolambda")

SIGTERM_EXTENSION_NAME: Final = "aiolambda-sigterm"
EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1


class Runtime:
    """Serves invocations until SIGTERM, a fatal Runtime API error or a stuck handler."""

    def __init__(
        self,
        config: RuntimeConfig,
        invoker: Invoker,
        sink: LogSink,
        *,
        connection_factory: Callable[[], Connection] | None = None,
        on_init_complete: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self._config = config
        self._invoker = invoker
        self._sink = sink
        self._json_logs = config.log_format == "JSON"
        self._connect = connection_factory or (
            lambda: connect(config.transport, config.runtime_api_host, config.runtime_api_port)
        )
        self._stopping = asyncio.Event()
        self._idle: set[asyncio.Task[None]] = set()
        self._stuck: set[asyncio.Task[Any]] = set()
        self._stuck_changed = asyncio.Event()
        self._rescued: set[str] = set()
        self._rescues: set[asyncio.Task[None]] = set()
        self._exit_code = EXIT_OK
        # One switch for every poller: a Runtime API that refuses pipelining once is
        # spoken to one request at a time from then on.
        self._pipeline = Pipelining(config.pipeline)
        # SnapStart's restore flow: after extensions register, before the first /next;
        # it returns an exit code, 0 to go on polling.
        self._on_init_complete = on_init_complete
        invoker.watchdog.on_stuck = self._rescue

    async def serve(self, handoff: Handoff | None = None) -> int:
        """Run the pollers; returns the process exit code.

        ``handoff``: the invocation the sync driver could not finish, answered first.
        """
        loop = asyncio.get_running_loop()
        self._invoker.install_default_executor(loop)
        self._install_signal_handlers(loop)
        extension = None
        if self._config.enable_sigterm:
            extension = await self._register_sigterm_extension(loop)
            if extension is None:
                self._remove_signal_handlers(loop)
                return self._exit_code
        if self._on_init_complete is not None and (code := await self._on_init_complete()):
            self.stop(code)  # the pollers see it at once; the extension is cancelled below
        if handoff is not None:
            await self._finish(handoff)
        pollers = [
            loop.create_task(self._poll(), name=f"aiolambda-poller-{i}")
            for i in range(self._config.max_concurrency)
        ]
        try:
            await self._stopping.wait()
            # Pollers waiting on /next hold no invocation (Lambda sends SIGTERM only once
            # it has stopped routing events here); the others finish and answer theirs.
            for task in list(self._idle):
                task.cancel()
            await self._wait_for_pollers(pollers)
            await asyncio.gather(*self._rescues, return_exceptions=True)
            await run_shutdown_hooks()  # e.g. an ASGI app's lifespan shutdown
        except asyncio.CancelledError:
            self._invoker.closing = True
            for task in pollers:
                task.cancel()
            await asyncio.gather(*pollers, return_exceptions=True)
            raise
        finally:
            self._remove_signal_handlers(loop)
            if extension is not None:
                extension.cancel()
                await asyncio.gather(extension, return_exceptions=True)
        return self._exit_code

    async def _finish(self, handoff: Handoff) -> None:
        inv = handoff.invocation
        client = RuntimeAPIClient(self._connect(), self._sink.redact)
        try:
            outcome = await self._invoker.run(inv, pending=handoff.result)
            if isinstance(outcome, ProcessExit):
                self.stop(outcome.status)
            elif inv.request_id not in self._rescued:
                await self._answer(client, inv, outcome)
            leave()
        except RuntimeAPIError as exc:
            log.error("Runtime API failure: %s", exc)
            self.stop(EXIT_FAILURE)
        finally:
            await client.close()

    async def _wait_for_pollers(self, pollers: list[asyncio.Task[None]]) -> None:
        """Wait for every poller but those stuck in a handler that ignores cancellation."""
        loop = asyncio.get_running_loop()
        while live := {t for t in pollers if not t.done()} - self._stuck:
            self._stuck_changed.clear()
            waker = loop.create_task(self._stuck_changed.wait())
            await asyncio.wait({*live, waker}, return_when=asyncio.FIRST_COMPLETED)
            waker.cancel()

    def _rescue(self, task: asyncio.Task[Any], inv: Invocation) -> None:
        """A handler ignored its cancellation: answer for it, then retire the runtime."""
        self._invoker.unreclaimable = True
        self._stuck.add(task)
        self._rescued.add(inv.request_id)
        self._stuck_changed.set()
        rescue = asyncio.get_running_loop().create_task(self._post_rescue(inv))
        self._rescues.add(rescue)

    async def _post_rescue(self, inv: Invocation) -> None:
        report = self._invoker.timeout_report(inv)
        self._log_error(report)
        client = RuntimeAPIClient(self._connect(), self._sink.redact)
        try:
            await client.post_error(inv, report)
        except RuntimeAPIError as exc:
            log.error("could not post the timeout error of %s: %s", inv.request_id, exc)
        finally:
            await client.close()
        log.error("a handler outlived its timeout and cannot be stopped; restarting")
        self.stop(EXIT_FAILURE)

    def stop(self, exit_code: int = EXIT_OK) -> None:
        """Stop polling; in-flight invocations are still answered."""
        self._exit_code = max(self._exit_code, exit_code)
        self._stopping.set()

    async def _register_sigterm_extension(
        self, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Task[None] | None:
        """Register the no-op internal extension before init completes (first ``/next``)."""
        client = RuntimeAPIClient(self._connect(), self._sink.redact)
        try:
            extension_id = await client.register_extension(SIGTERM_EXTENSION_NAME)
        except RuntimeAPIError as exc:
            log.error("could not register the SIGTERM extension: %s", exc)
            await client.close()
            self.stop(EXIT_FAILURE)
            return None
        return loop.create_task(self._idle_extension(client, extension_id))

    async def _idle_extension(self, client: RuntimeAPIClient, extension_id: str) -> None:
        # Subscribed to no events: this poll only returns if Lambda has something to say.
        try:
            while not self._stopping.is_set():
                response = await client.next_extension_event(extension_id)
                if response.status != p.STATUS_OK:
                    break
        except RuntimeAPIError as exc:
            log.warning("the SIGTERM extension lost the Extensions API: %s", exc)
        finally:
            await client.close()

    async def _poll(self) -> None:
        client = RuntimeAPIClient(self._connect(), self._sink.redact, self._pipeline)
        task = asyncio.current_task()
        assert task is not None
        try:
            while not self._stopping.is_set():
                self._idle.add(task)
                try:
                    response = await client.next_invocation()
                finally:
                    self._idle.discard(task)
                try:
                    invocation = parse_invocation(response)
                except InvalidInvocation as exc:
                    # Lambda keeps an invocation it cannot be answered about open, so the
                    # next /next would be refused: stop, and Lambda reports the exit to
                    # the caller (Runtime.ExitError) at once instead of a timeout.
                    log.error("%s; stopping the runtime", exc)
                    self.stop(EXIT_FAILURE)
                    break
                outcome = await self._invoker.run(invocation, task)
                if invocation.request_id in self._rescued:
                    break  # answered on its behalf when it would not stop; retiring
                if isinstance(outcome, ProcessExit):
                    # Left unanswered, as the process exits: Lambda tells the caller
                    # Runtime.ExitError. Others in flight finish first.
                    self.stop(outcome.status)
                    break
                # GET /next goes out with the answer unless this poller retires after it.
                then_next = not self._invoker.unreclaimable and not self._stopping.is_set()
                await self._answer(client, invocation, outcome, then_next=then_next)
                leave()
                if self._invoker.unreclaimable:
                    log.error("a handler outlived its timeout and cannot be stopped; restarting")
                    self.stop(EXIT_FAILURE)
        except RuntimeAPIError as exc:
            log.error("Runtime API failure: %s", exc)
            self.stop(EXIT_FAILURE)
        except Exception:
            log.exception("aiolambda internal error; stopping the runtime")
            self.stop(EXIT_FAILURE)
        finally:
            await client.close()

    async def _answer(
        self,
        client: RuntimeAPIClient,
        inv: Invocation,
        outcome: Outcome,
        *,
        then_next: bool = False,
    ) -> None:
        try:
            await self._post_outcome(client, inv, outcome, then_next)
        except (RuntimeAPIError, asyncio.CancelledError):
            raise
        except Exception:
            # A bug of ours must not leave the caller without an answer.
            log.exception("aiolambda could not post the outcome of %s", inv.request_id)
            fault = RuntimeFault(p.RUNTIME_UNKNOWN, "aiolambda failed to report this invocation")
            await client.post_error(inv, from_fault(fault, inv.request_id))

    async def _post_outcome(
        self, client: RuntimeAPIClient, inv: Invocation, outcome: Outcome, then_next: bool
    ) -> None:
        if isinstance(outcome, Stream):
            await self._post_stream(client, inv, outcome)
            return
        if isinstance(outcome, Response):
            if len(outcome.body) <= p.MAX_PAYLOAD_BYTES:
                status = await client.post_response(
                    inv, outcome.body, outcome.content_type, then_next=then_next
                )
                if status != p.STATUS_PAYLOAD_TOO_LARGE:
                    return
            outcome = too_large(inv, len(outcome.body))
        self._log_error(outcome)
        await client.post_error(inv, outcome, then_next=then_next)

    async def _post_stream(self, client: RuntimeAPIClient, inv: Invocation, stream: Stream) -> None:
        def trailers() -> list[tuple[str, str]]:
            # Logged before the body ends, as an error is before it is posted.
            if stream.error is not None:
                self._log_error(stream.error)
            return stream.trailers()

        try:
            status = await client.post_stream(inv, stream.content_type, stream.chunks(), trailers)
        finally:
            await stream.aclose()
        if status == p.STATUS_PAYLOAD_TOO_LARGE:
            log.error("the streamed response of %s was over Lambda's limit", inv.request_id)

    def _log_error(self, report: ErrorReport) -> None:
        log_error(self._sink, report, json=self._json_logs)

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.add_signal_handler(signal.SIGTERM, self.stop)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests) or not a Unix loop

    def _remove_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.remove_signal_handler(signal.SIGTERM)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
