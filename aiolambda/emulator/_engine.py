"""The emulator's state machine: the invocation queue and the Runtime API routes.

Everything here runs on one event loop and never blocks, so the state changes of a
route handler are atomic: there are no locks. An invocation moves
``queued -> running -> done`` (or ``timedout``); every path out of ``queued`` and
``running`` resolves the caller's future, so a caller always gets an answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import math
import os
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final

from aiolambda._core import protocol as p
from aiolambda.emulator._http import Connection, Request, Response
from aiolambda.emulator._types import InvokeResult, RecordedRequest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

ACCOUNT_ID: Final = "012345678912"  # RIE's placeholder account
FUNCTION_VERSION: Final = "$LATEST"
_PING_PATH: Final = f"/{p.API_VERSION}/ping"
_INVOCATION_PREFIX: Final = f"{p.RUNTIME_PREFIX}/invocation/"
_EXTENSION_INIT_ERROR_PATH: Final = f"{p.EXTENSION_PREFIX}/init/error"
_EXTENSION_EXIT_ERROR_PATH: Final = f"{p.EXTENSION_PREFIX}/exit/error"
_H_EXTENSION_EVENT_ID: Final = "Lambda-Extension-Event-Identifier"
_EXTENSION_EVENTS: Final = frozenset({"INVOKE", "SHUTDOWN"})
_MAX_KNOWN_IDS: Final = 100_000
_MAX_EXTENSION_BACKLOG: Final = 1_000
_LOG_BUFFER_BYTES: Final = 8 * 1024 * 1024
_JSON_HEADERS: Final = [("Content-Type", p.CT_JSON)]


def wire_name(name: str) -> str:
    """``lambda-runtime-aws-request-id`` -> ``Lambda-Runtime-Aws-Request-Id`` (Go's form)."""
    return "-".join(part.capitalize() for part in name.split("-"))


def new_trace_id() -> str:
    """A fresh X-Ray trace header value, ``Root=1-<time>-<96 bits>;Parent=…;Sampled=0``."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled=0"


def error_document(error_type: str, message: str) -> bytes:
    """An error document in the shape the platform itself produces."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _error_response(status: int, error_type: str, message: str) -> Response:
    return Response(status, error_document(error_type, message), list(_JSON_HEADERS))


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Function settings the Runtime API reflects."""

    timeout: float
    init_timeout: float
    concurrency: int | None
    function_name: str
    memory: int
    region: str
    handler: str | None
    record: bool = True
    snapstart: bool = False
    snapshot_pause: float = 0.0  # seconds /restore/next is held once work arrives

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def slots(self) -> int:
        return self.concurrency or 1


class LogBuffer:
    """The runtime's output (plus START/END/REPORT lines), kept for per-invoke slices.

    ``drain`` is set by the process supervisor: it pulls whatever the child has
    already written into the pipe, so output printed before an answer was posted is
    always part of that invocation's logs.
    """

    def __init__(self, echo: IO[str] | None) -> None:
        self._data = bytearray()
        self._base = 0  # absolute offset of _data[0]; old output is trimmed away
        self.echo = echo
        self.drain: Callable[[], None] | None = None

    def feed(self, data: bytes) -> None:
        self._data += data
        if len(self._data) > _LOG_BUFFER_BYTES:
            cut = len(self._data) - _LOG_BUFFER_BYTES // 2
            del self._data[:cut]
            self._base += cut
        if self.echo is not None:
            # Runtimes join a multi-line record with bare CRs (one CloudWatch event);
            # a terminal would overprint them, so show them as line breaks.
            text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
            with contextlib.suppress(Exception):
                self.echo.write(text)
                self.echo.flush()

    def feed_line(self, line: str) -> None:
        """Add a platform line (START/END/REPORT), on a line of its own as Lambda shows it."""
        if self._data and not self._data.endswith(b"\n"):
            self.feed(b"\n")  # the runtime's last output lacked its newline
        self.feed(line.encode())

    def line_mark(self) -> int:
        """Like :meth:`mark`, at the start of a line (ending the runtime's unfinished one)."""
        self.mark()  # pull in what the runtime has printed so far
        self.feed_line("")
        return self.mark()

    def mark(self) -> int:
        if self.drain is not None:
            self.drain()
        return self._base + len(self._data)

    def text(self) -> str:
        """Everything still buffered (the oldest output is dropped past a few MB)."""
        if self.drain is not None:
            self.drain()
        return self._data.decode("utf-8", "replace")

    def since(self, mark: int) -> str:
        start = max(0, mark - self._base)
        return self._data[start:].decode("utf-8", "replace")


class Invocation:
    """One invocation's mutable state inside the engine."""

    __slots__ = (
        "body",
        "client_context",
        "content_type",
        "deadline_ms",
        "event",
        "extra_headers",
        "future",
        "identity",
        "invocation_id",
        "log_mark",
        "omit",
        "on_chunk",
        "on_stream_start",
        "request_id",
        "restore",
        "started",
        "state",
        "tenant_id",
        "timer",
        "trace_id",
    )

    def __init__(
        self,
        request_id: str,
        body: bytes,
        *,
        content_type: str = p.CT_JSON,
        extra_headers: Iterable[tuple[str, str]] = (),
        omit: Iterable[str] = (),
        client_context: str | None = None,
        identity: str | None = None,
        tenant_id: str | None = None,
        trace_id: str | None = None,
        event: bool = False,
    ) -> None:
        self.request_id = request_id
        self.invocation_id = str(uuid.uuid4())
        self.body = body
        self.content_type = content_type
        self.extra_headers = list(extra_headers)
        self.omit = frozenset(name.lower() for name in omit)
        self.client_context = client_context
        self.identity = identity
        self.tenant_id = tenant_id
        self.trace_id = trace_id if trace_id is not None else new_trace_id()
        self.event = event
        self.future: asyncio.Future[InvokeResult] = asyncio.get_running_loop().create_future()
        self.state = "queued"
        self.started = 0.0
        self.deadline_ms = 0
        self.timer: asyncio.TimerHandle | None = None
        self.log_mark: int | None = None
        # Set by callers that want a streamed response as it arrives (see open_stream).
        self.on_stream_start: Callable[[str], None] | None = None
        self.on_chunk: Callable[[bytes], None] | None = None
        # SnapStart: (restore ms, billed restore ms) on the first invocation after a restore.
        self.restore: tuple[float, float] | None = None


class _Extension:
    __slots__ = ("backlog", "events", "name", "polled", "waiter")

    def __init__(self, name: str, events: frozenset[str]) -> None:
        self.name = name
        self.polled = False  # has asked for its next event: its init is done
        self.events = events
        self.backlog: deque[bytes] = deque(maxlen=_MAX_EXTENSION_BACKLOG)
        self.waiter: asyncio.Future[None] | None = None

    def push(self, event: Mapping[str, Any]) -> None:
        if event["eventType"] not in self.events:
            return
        self.backlog.append(json.dumps(event).encode())
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class Engine:
    """Invocation queue, Runtime API routes and the record of every request."""

    def __init__(self, config: EngineConfig, logs: LogBuffer) -> None:
        self.cfg = config
        self.logs = logs
        self.requests: list[RecordedRequest] = []
        self.results: list[InvokeResult] = []
        self.init_error: Any = None
        self.initialised = False
        self.extensions: dict[str, _Extension] = {}
        # External extensions (started before the runtime, from a layer): ids of those
        # that registered; invocations wait until each has asked for its next event.
        self._external: set[str] = set()
        self._register_watchers: list[tuple[int, asyncio.Future[None]]] = []
        # Called with a reason when Lambda would reset the environment (spawn mode
        # kills and restarts the runtime), and whenever work arrives (spawn mode
        # starts a runtime if none is running).
        self.on_reset: Callable[[str], None] | None = None
        self.on_demand: Callable[[], None] | None = None
        # Set while the runtime is being replaced (``serve --reload``): what is in flight
        # finishes, nothing new is handed out, and ``on_drained`` runs once all is done.
        self.draining = False
        self.on_drained: Callable[[], None] | None = None
        # Where to write one line per Runtime/Extensions API request (``invoke -v``).
        self.api_trace: IO[str] | None = None
        # Set by the process supervisor: peak memory of the runtime's process tree (MB).
        self.memory_probe: Callable[[], int | None] | None = None
        # Init Duration: from the runtime's start to its first /next; reported once, on
        # the first invocation the new environment runs.
        self._spawned_at: float | None = None
        self._init_ms: float | None = None
        self._init_reports: dict[str, float] = {}
        self._queue: deque[Invocation] = deque()
        self._waiters: deque[asyncio.Future[Invocation]] = deque()
        self._running: dict[str, Invocation] = {}
        # Final state of finished invocations, to tell a late answer (410) from a
        # second one (400); bounded, and without the results, so serving for days is fine.
        self._finished: OrderedDict[str, str] = OrderedDict()
        self._answers: dict[str, list[RecordedRequest]] = {}
        self._next_calls = 0
        self._next_watchers: list[tuple[int, asyncio.Future[None]]] = []
        self._record_watchers: list[tuple[int, asyncio.Future[None]]] = []
        self._init_error_event = asyncio.Event()
        self._init_error_posted = False
        self._unserved_init_error: tuple[bytes, str] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._runtime_mark = 0  # log offset where the current runtime process started
        self._closed = False
        self._released = False  # closed and the runtime gone: long-polls end at once
        self._snap = _SnapStartState()

    # -- caller side ------------------------------------------------------------------
    def submit(self, inv: Invocation) -> asyncio.Future[InvokeResult]:
        """Queue an invocation (FIFO); its future resolves with the result."""
        if self._closed:
            raise RuntimeError("the emulator is closed")
        rid = inv.request_id
        if rid in self._running or any(q.request_id == rid for q in self._queue):
            raise ValueError(f"request id {rid!r} is already queued or in flight")
        if self._unserved_init_error is not None:
            body, error_type = self._unserved_init_error
            self._unserved_init_error = None
            self._finish(inv, body, p.CT_JSON, error_type=error_type)
            return inv.future
        self._queue.append(inv)
        self._snap.work.set()
        self._dispatch()
        if self.on_demand is not None:
            self.on_demand()
        return inv.future

    @property
    def next_calls(self) -> int:
        return self._next_calls

    async def wait_for_next_calls(self, n: int) -> None:
        if self._next_calls >= n:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._next_watchers.append((n, fut))
        await fut

    async def wait_for_requests(self, n: int) -> None:
        if len(self.requests) >= n:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._record_watchers.append((n, fut))
        await fut

    async def wait_init_error(self) -> Any:
        await self._init_error_event.wait()
        return self.init_error

    def answers(self, request_id: str) -> list[RecordedRequest]:
        return list(self._answers.get(request_id, ()))

    async def wait_for_snapshot(self) -> None:
        await self._snap.snapshot.wait()

    @property
    def has_work(self) -> bool:
        return bool(self._queue) or bool(self._running)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    # -- runtime lifecycle (called by the process supervisor) ---------------------------
    def runtime_started(self) -> None:
        self._spawned_at = time.monotonic()
        self._init_ms = None
        self._runtime_mark = self.logs.mark()
        self.initialised = False
        self._init_error_posted = False
        self.draining = False
        # The runtime's own (internal) extensions go with it; external ones stay.
        self.extensions = {k: v for k, v in self.extensions.items() if k in self._external}
        self._snap = _SnapStartState()
        self._update_watchdog(rearm=True)  # a new process gets the init budget afresh

    def begin_environment(self) -> None:
        """A new execution environment: no extension is registered yet."""
        self.extensions.clear()
        self._external = set()

    def expect_extensions(self, ids: Iterable[str]) -> None:
        """The external extensions of this environment, registered before the runtime starts."""
        self._external = set(ids)

    async def wait_for_registrations(self, n: int) -> None:
        if len(self.extensions) >= n:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._register_watchers.append((n, fut))
        await fut

    def _externals_ready(self) -> bool:
        return all(ext.polled for key, ext in self.extensions.items() if key in self._external)

    def runtime_exited(self, how: str, *, blame_init: bool = True) -> None:
        """The runtime process ended: fail what it held, drop its long-polls."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.cancel()
        for inv in list(self._running.values()):
            self._exit_error(inv, how)
        if blame_init and not self.initialised and not self._init_error_posted and self._queue:
            # It died during init without saying why: that invocation gets the exit.
            self._exit_error(self._queue.popleft(), how)
        self.initialised = False  # whatever comes next has to initialise first
        self._update_watchdog(rearm=True)

    def shutdown_event(self, reason: str, grace_ms: int) -> None:
        event = {
            "eventType": "SHUTDOWN",
            "shutdownReason": reason.upper(),  # SPINDOWN, TIMEOUT or FAILURE
            "deadlineMs": int(time.time() * 1000) + grace_ms,
        }
        for ext in self.extensions.values():
            ext.push(event)

    def close(self, reason: str) -> None:
        """Answer everything still pending; the emulator is going away."""
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for inv in [*self._running.values(), *self._queue]:
            self._exit_error(inv, reason)
        self._queue.clear()
        self._snap.work.set()  # a pending /restore/next gets its 500 now
        for _, fut in [*self._next_watchers, *self._record_watchers]:
            if not fut.done():
                fut.cancel()
        # The runtime's long-polls stay pending (release_polls ends them): Lambda never
        # answers /next while it shuts a runtime down, and a runtime told "500" at the
        # moment SIGTERM lands could take it for a Runtime API failure.

    def release_polls(self) -> None:
        """End the runtime's pending ``/next`` and ``/event/next``; after the runtime exited."""
        self._released = True
        for waiter in self._waiters:
            waiter.cancel()
        for ext in self.extensions.values():
            if ext.waiter is not None and not ext.waiter.done():
                ext.waiter.cancel()

    # -- internals --------------------------------------------------------------------
    def _exit_error(self, inv: Invocation, how: str) -> None:
        message = f"RequestId: {inv.request_id} Error: {how}"
        body = error_document(p.RUNTIME_EXIT_ERROR, message)
        self._finish(inv, body, p.CT_JSON, error_type=p.RUNTIME_EXIT_ERROR)

    def _dispatch(self) -> None:
        while self._queue and self._waiters and not self.draining and self._externals_ready():
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            inv = self._queue.popleft()
            self._start(inv)
            waiter.set_result(inv)
        self._update_watchdog()

    def _start(self, inv: Invocation) -> None:
        loop = asyncio.get_running_loop()
        inv.restore, self._snap.report = self._snap.report, None
        inv.state = "running"
        inv.started = time.monotonic()
        inv.deadline_ms = int((time.time() + self.cfg.timeout) * 1000)
        inv.timer = loop.call_later(self.cfg.timeout, self._on_timeout, inv)
        self._running[inv.request_id] = inv
        inv.log_mark = self.logs.line_mark()
        if self._init_ms is not None:
            self._init_reports[inv.request_id] = self._init_ms
            self._init_ms = None
        self.logs.feed_line(f"START RequestId: {inv.request_id} Version: {FUNCTION_VERSION}\n")
        event = {
            "eventType": "INVOKE",
            "deadlineMs": inv.deadline_ms,
            "requestId": inv.request_id,
            "invokedFunctionArn": self.cfg.function_arn,
            "tracing": {"type": "X-Amzn-Trace-Id", "value": inv.trace_id},
        }
        for ext in self.extensions.values():
            ext.push(event)

    def _finish(
        self,
        inv: Invocation,
        payload: bytes,
        content_type: str,
        *,
        error_type: str | None = None,
        state: str = "done",
        trailers: Mapping[str, str] | None = None,
        streamed: bool = False,
    ) -> None:
        if inv.state in ("done", "timedout"):
            return
        was_started = inv.state == "running"
        inv.state = state
        if inv.timer is not None:
            inv.timer.cancel()
            inv.timer = None
        self._running.pop(inv.request_id, None)
        if was_started:
            self._finished[inv.request_id] = state
            if len(self._finished) > _MAX_KNOWN_IDS:
                self._finished.popitem(last=False)
        inv.body = b""  # the event is no longer needed; don't keep it for the whole session
        duration_ms = (time.monotonic() - inv.started) * 1000 if was_started else 0.0
        logs = ""
        if was_started and inv.log_mark is not None:
            self.logs.mark()  # pull in what the runtime printed before answering
            rid = inv.request_id
            self.logs.feed_line(f"END RequestId: {rid}\n")
            self.logs.feed_line(self._report_line(rid, duration_ms, inv.restore))
            logs = self.logs.since(inv.log_mark)
        elif error_type is not None:
            # Never handed out (init error, a runtime that died or stalled during init):
            # what the runtime printed since it started explains it.
            self.logs.mark()
            logs = self.logs.since(self._runtime_mark)
        function_error = "Unhandled" if error_type is not None else None
        headers = {
            "content-type": content_type,
            "x-amz-executed-version": FUNCTION_VERSION,
            "x-amzn-requestid": inv.request_id,
        }
        if function_error is not None:
            headers["x-amz-function-error"] = function_error
        result = InvokeResult(
            status=202 if inv.event else 200,
            payload=payload,
            request_id=inv.request_id,
            content_type=content_type,
            function_error=function_error,
            error_type=error_type,
            headers=headers,
            logs=logs,
            trailers=dict(trailers or {}),
            streamed=streamed,
            duration_ms=duration_ms,
        )
        if self.cfg.record:
            self.results.append(result)
        if not inv.future.done():
            inv.future.set_result(result)
        if self.draining and not self._running and self.on_drained is not None:
            # After the answer is sent: the runtime is not stopped mid-request.
            asyncio.get_running_loop().call_soon(self.on_drained)
        if not self._closed:
            self._dispatch()

    def _report_line(
        self, request_id: str, duration_ms: float, restore: tuple[float, float] | None = None
    ) -> str:
        # Lambda's field order. Since August 2025 Lambda bills the init phase of
        # on-demand functions too, so the first invocation's Billed Duration includes it.
        init_ms = self._init_reports.pop(request_id, None)
        billed = math.ceil(duration_ms + (init_ms or 0.0))
        line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
            f"\tBilled Duration: {billed} ms\tMemory Size: {self.cfg.memory} MB"
        )
        max_mb = self.memory_probe() if self.memory_probe is not None else None
        if max_mb is not None:
            line += f"\tMax Memory Used: {max_mb} MB"
        if init_ms is not None:
            line += f"\tInit Duration: {init_ms:.2f} ms"
        return line + _restore_fields(restore) + "\n"

    def _timed_out_document(self, inv: Invocation, seconds: float) -> bytes:
        message = f"RequestId: {inv.request_id} Error: Task timed out after {seconds:.2f} seconds"
        return error_document(p.SANDBOX_TIMEDOUT, message)

    def _on_timeout(self, inv: Invocation) -> None:
        inv.timer = None
        if inv.state != "running":
            return
        body = self._timed_out_document(inv, self.cfg.timeout)
        self._finish(inv, body, p.CT_JSON, error_type=p.SANDBOX_TIMEDOUT, state="timedout")
        # Lambda Managed Instances let a timed-out invoke run on; classic Lambda resets.
        if self.cfg.concurrency is None and self.on_reset is not None:
            self.initialised = False
            self.on_reset("timeout")
            self._update_watchdog(rearm=True)

    def _update_watchdog(self, *, rearm: bool = False) -> None:
        """Arm a timer while work waits and a free runtime slot is not asking for it."""
        if rearm and self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        live_waiters = any(not w.done() for w in self._waiters)
        stalled = (
            not self._closed
            and bool(self._queue)
            and (not live_waiters or not self._externals_ready())
            and len(self._running) < self.cfg.slots
        )
        if stalled and self._watchdog is None:
            budget = self.cfg.timeout if self.initialised else self.cfg.init_timeout
            loop = asyncio.get_running_loop()
            self._watchdog = loop.call_later(budget, self._on_stall, budget)
        elif not stalled and self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _on_stall(self, budget: float) -> None:
        """The runtime never came for queued work: time that invocation out and reset."""
        self._watchdog = None
        if not self._queue:
            return
        inv = self._queue.popleft()
        body = self._timed_out_document(inv, budget)
        self._finish(inv, body, p.CT_JSON, error_type=p.SANDBOX_TIMEDOUT, state="timedout")
        if self.on_reset is not None:
            self.initialised = False
            self.on_reset("timeout")
        self._update_watchdog(rearm=True)

    # -- Runtime API ------------------------------------------------------------------
    def body_limit(self, method: str, path: str, headers: dict[str, str]) -> int:
        mode = headers.get(p.H_RESPONSE_MODE.lower())
        if path.endswith("/response") and mode == p.RESPONSE_MODE_STREAMING:
            return p.MAX_STREAMED_RESPONSE_BYTES
        return p.MAX_PAYLOAD_BYTES

    def open_stream(
        self, method: str, path: str, headers: dict[str, str]
    ) -> Callable[[bytes], None] | None:
        """Forward a streamed ``/response`` chunk by chunk to a caller that asked for it."""
        if method != "POST" or headers.get(p.H_RESPONSE_MODE.lower()) != p.RESPONSE_MODE_STREAMING:
            return None
        if not path.startswith(_INVOCATION_PREFIX) or not path.endswith("/response"):
            return None
        inv = self._running.get(path[len(_INVOCATION_PREFIX) :].partition("/")[0])
        if inv is None or inv.on_chunk is None:
            return None
        echoed = headers.get(p.H_INVOCATION_ID)
        if echoed is not None and echoed != inv.invocation_id:
            return None  # the route will reject it; nothing reaches the caller
        if inv.on_stream_start is not None:
            inv.on_stream_start(headers.get("content-type", p.CT_OCTET_STREAM))
        return inv.on_chunk

    async def handle(self, req: Request, conn: Connection) -> Response:
        """Route one Runtime/Extensions API request and record it."""
        request_id: str | None = None
        path = req.path
        if self.api_trace is not None:
            self._trace(f"{req.method} {path}")
        if path == p.NEXT_PATH:
            response, request_id = await self._route_next(req, conn)
        elif path.startswith(_INVOCATION_PREFIX) and path.count("/") == 5:
            request_id, _, kind = path[len(_INVOCATION_PREFIX) :].partition("/")
            if kind not in ("response", "error"):
                response = _error_response(404, "NotFound", "unknown path")
            elif req.method != "POST":
                response = _error_response(405, "MethodNotAllowed", "use POST")
            else:
                response = self._route_answer(kind, request_id, req)
        elif path == p.INIT_ERROR_PATH:
            response = self._route_init_error(req)
        elif path == p.RESTORE_NEXT_PATH:
            response = await self._route_restore_next(req, conn)
        elif path == p.RESTORE_ERROR_PATH:
            response = self._route_restore_error(req)
        elif path == p.EXTENSION_REGISTER_PATH:
            response = self._route_register(req)
        elif path == p.EXTENSION_NEXT_PATH:
            response = await self._route_extension_next(req, conn)
        elif path in (_EXTENSION_INIT_ERROR_PATH, _EXTENSION_EXIT_ERROR_PATH):
            response = self._route_extension_error(req)
        elif path == _PING_PATH:
            response = Response(200, b"pong", [("Content-Type", "text/plain")])
        else:
            response = _error_response(404, "NotFound", f"unknown path {path[:200]!r}")
        self._record(req, response.status, request_id)
        if self.api_trace is not None and response.status >= 300 and not self._closed:
            self._trace(f"{req.method} {path} answered {response.status}")
        return response

    def _trace(self, what: str) -> None:
        self.logs.mark()  # the runtime's own output first, in the order it happened
        with contextlib.suppress(Exception):
            assert self.api_trace is not None
            self.api_trace.write(f"aiolambda: runtime API: {what}\n")
            self.api_trace.flush()

    def _record(self, req: Request, status: int, request_id: str | None) -> None:
        if not self.cfg.record:
            return
        rec = RecordedRequest(
            method=req.method,
            path=req.path,
            headers=req.headers,
            body=req.body,
            status=status,
            time=req.time,
            trailers=req.trailers,
            request_id=request_id,
        )
        self.requests.append(rec)
        if request_id is not None and req.method == "POST":
            self._answers.setdefault(request_id, []).append(rec)
        if self._record_watchers:
            count = len(self.requests)
            for n, fut in self._record_watchers:
                if count >= n and not fut.done():
                    fut.set_result(None)
            self._record_watchers = [(n, f) for n, f in self._record_watchers if not f.done()]

    async def _route_next(self, req: Request, conn: Connection) -> tuple[Response, str | None]:
        if req.method != "GET":
            return _error_response(405, "MethodNotAllowed", "use GET"), None
        self._next_calls += 1
        watchers = self._next_watchers
        self._next_watchers = [(n, f) for n, f in watchers if self._next_calls < n]
        for n, fut in watchers:
            if self._next_calls >= n and not fut.done():
                fut.set_result(None)
        if self._released:
            return _error_response(500, "ServiceUnavailable", "the emulator is closing"), None
        if self._snap.state == "snapshot":
            # RAPID refuses /next while /restore/next is pending (RestoreReady -> Ready).
            return _snap_refusal("Ready"), None
        busy = sum(1 for w in self._waiters if not w.done()) + len(self._running)
        if busy >= self.cfg.slots:
            return (
                _error_response(
                    403, "InvalidStateTransition", "State transition from Running to Ready failed"
                ),
                None,
            )
        if self._spawned_at is not None:  # this runtime's first /next: its init is done
            self._init_ms = (time.monotonic() - self._spawned_at) * 1000
            self._spawned_at = None
        self.initialised = True
        self._snap.restored()
        if self._queue and not self.draining and self._externals_ready():
            inv = self._queue.popleft()
            self._start(inv)
            self._update_watchdog()
            return self._next_response(inv), inv.request_id
        waiter: asyncio.Future[Invocation] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._update_watchdog()
        hangup = asyncio.ensure_future(conn.wait_disconnect())
        try:
            await asyncio.wait((waiter, hangup), return_when=asyncio.FIRST_COMPLETED)
            gone = hangup.done()
        finally:
            await _stop(hangup)
        if waiter.done() and not waiter.cancelled():
            inv = waiter.result()
            if not gone:
                return self._next_response(inv), inv.request_id
            self._requeue(inv)  # handed to a runtime that had just gone away
        waiter.cancel()
        self._update_watchdog()
        return Response(500, b"", close=True), None

    def _requeue(self, inv: Invocation) -> None:
        if inv.timer is not None:
            inv.timer.cancel()
            inv.timer = None
        self._running.pop(inv.request_id, None)
        inv.state = "queued"
        self._queue.appendleft(inv)
        self._dispatch()

    def _next_response(self, inv: Invocation) -> Response:
        headers = [
            (wire_name(p.H_REQUEST_ID), inv.request_id),
            (wire_name(p.H_DEADLINE_MS), str(inv.deadline_ms)),
            (wire_name(p.H_FUNCTION_ARN), self.cfg.function_arn),
            (wire_name(p.H_TRACE_ID), inv.trace_id),
        ]
        if inv.client_context is not None:
            headers.append((wire_name(p.H_CLIENT_CONTEXT), inv.client_context))
        if inv.identity is not None:
            headers.append((wire_name(p.H_COGNITO_IDENTITY), inv.identity))
        if inv.tenant_id is not None:
            headers.append((wire_name(p.H_TENANT_ID), inv.tenant_id))
        headers.append((wire_name(p.H_INVOCATION_ID), inv.invocation_id))
        headers.append(("Content-Type", inv.content_type))
        for name, value in inv.extra_headers:
            lower = name.lower()
            headers = [(n, v) for n, v in headers if n.lower() != lower]
            headers.append((name, value))
        if inv.omit:
            headers = [(n, v) for n, v in headers if n.lower() not in inv.omit]
        return Response(200, inv.body, headers)

    def _route_answer(self, kind: str, request_id: str, req: Request) -> Response:
        inv = self._running.get(request_id)
        if inv is None:
            if self._finished.get(request_id) == "timedout":
                return _error_response(410, "InvokeTimeout", "Invoke timed out")
            return _error_response(400, "InvalidRequestID", "Invalid request ID")
        echoed = req.headers.get(p.H_INVOCATION_ID)
        if echoed is not None and echoed != inv.invocation_id:
            return _error_response(400, "InvalidInvocationID", "Invalid invocation ID")
        if kind == "response":
            return self._accept_response(inv, req)
        return self._accept_error(inv, req)

    def _accept_response(self, inv: Invocation, req: Request) -> Response:
        mode = req.headers.get(p.H_RESPONSE_MODE.lower())
        if mode is not None and mode != p.RESPONSE_MODE_STREAMING:
            message = f"Invalid function response mode {mode[:100]!r}"
            self._finish(
                inv,
                error_document("Runtime.InvalidResponseModeHeader", message),
                p.CT_JSON,
                error_type="Runtime.InvalidResponseModeHeader",
            )
            return _error_response(400, "InvalidFunctionResponseMode", message)
        if req.too_large:
            limit = self.body_limit("POST", req.path, req.headers)
            message = (
                f"Response payload size ({req.size} bytes) exceeded maximum allowed payload "
                f"size ({limit} bytes)."
            )
            self._finish(
                inv,
                error_document(p.FUNCTION_RESPONSE_TOO_LARGE, message),
                p.CT_JSON,
                error_type=p.FUNCTION_RESPONSE_TOO_LARGE,
            )
            return _error_response(
                413,
                "RequestEntityTooLarge",
                f"Exceeded maximum allowed payload size ({limit} bytes).",
            )
        streamed = mode == p.RESPONSE_MODE_STREAMING
        default_type = p.CT_OCTET_STREAM if streamed else p.CT_JSON
        content_type = req.headers.get("content-type", default_type)
        error_type = req.trailers.get(p.H_ERROR_TYPE.lower())
        self._finish(
            inv,
            req.body,
            content_type,
            error_type=error_type,
            trailers=req.trailers,
            streamed=streamed,
        )
        return Response(202, b'{"status":"OK"}', list(_JSON_HEADERS))

    def _accept_error(self, inv: Invocation, req: Request) -> Response:
        header_type = req.headers.get(p.H_ERROR_TYPE.lower())
        if req.too_large:
            error_type = header_type or p.RUNTIME_UNKNOWN
            message = "the error document exceeded the maximum payload size"
            self._finish(inv, error_document(error_type, message), p.CT_JSON, error_type=error_type)
            return _error_response(413, "RequestEntityTooLarge", message)
        error_type = header_type or _error_type_of(req.body) or p.RUNTIME_UNKNOWN
        body = req.body or error_document(error_type, "")
        self._finish(inv, body, p.CT_JSON, error_type=error_type)
        return Response(202, b'{"status":"OK"}', list(_JSON_HEADERS))

    def _route_init_error(self, req: Request) -> Response:
        if req.method != "POST":
            return _error_response(405, "MethodNotAllowed", "use POST")
        if self.initialised or self._init_error_posted:
            return _error_response(
                403, "InvalidStateTransition", "State transition from Ready to InitError failed"
            )
        self._init_error_posted = True
        header_type = req.headers.get(p.H_ERROR_TYPE.lower())
        error_type = header_type or _error_type_of(req.body) or p.RUNTIME_UNKNOWN
        body = req.body or error_document(error_type, "")
        try:
            self.init_error = json.loads(body)
        except ValueError:
            self.init_error = body.decode("utf-8", "replace")
        self._init_error_event.set()
        if self._queue:
            inv = self._queue.popleft()
            self._finish(inv, body, p.CT_JSON, error_type=error_type)
        else:
            self._unserved_init_error = (body, error_type)
        self._update_watchdog()
        return Response(202, b'{"status":"OK"}', list(_JSON_HEADERS))

    # -- SnapStart ----------------------------------------------------------------------
    async def _route_restore_next(self, req: Request, conn: Connection) -> Response:
        """Take the "snapshot", then answer once an invocation arrives (a restore)."""
        if req.method != "GET":
            return _error_response(405, "MethodNotAllowed", "use GET")
        snap = self._snap
        if not self.cfg.snapstart:
            return _error_response(
                403,
                "InvalidStateTransition",
                "SnapStart is not enabled for this function (use --snapstart)",
            )
        if snap.state is not None or self.initialised or self._init_error_posted:
            return _snap_refusal("RestoreReady")
        snap.state = "snapshot"
        snap.snapshot.set()
        # Init ends at the snapshot; Lambda reports it at publication, never in REPORT.
        self._spawned_at = None
        self._update_watchdog()
        hangup = asyncio.ensure_future(conn.wait_disconnect())
        try:
            if not self._queue:
                snap.work.clear()
                work = asyncio.ensure_future(snap.work.wait())
                await asyncio.wait((work, hangup), return_when=asyncio.FIRST_COMPLETED)
                work.cancel()
            snap.restore_started = time.monotonic()
            if self.cfg.snapshot_pause > 0 and not hangup.done():
                await asyncio.wait((hangup,), timeout=self.cfg.snapshot_pause)
            gone = hangup.done()
        finally:
            await _stop(hangup)
        if gone or self._closed:
            return Response(500, b"", close=True)
        snap.state = "restoring"
        snap.answered = time.monotonic()
        return Response(200, b"", [])

    def _route_restore_error(self, req: Request) -> Response:
        if req.method != "POST":
            return _error_response(405, "MethodNotAllowed", "use POST")
        if self._snap.state != "restoring":
            return _snap_refusal("RestoreError")
        self._snap.state = "failed"
        self._init_error_posted = True  # the exit that follows is explained
        header_type = req.headers.get(p.H_ERROR_TYPE.lower())
        error_type = header_type or _error_type_of(req.body) or p.RUNTIME_UNKNOWN
        body = req.body or error_document(error_type, "")
        if self._queue:
            self._finish(self._queue.popleft(), body, p.CT_JSON, error_type=error_type)
        else:
            self._unserved_init_error = (body, error_type)
        self._update_watchdog()
        return Response(202, b'{"status":"OK"}', list(_JSON_HEADERS))

    # -- Extensions API ---------------------------------------------------------------
    def _route_register(self, req: Request) -> Response:
        if req.method != "POST":
            return _error_response(405, "MethodNotAllowed", "use POST")
        name = req.headers.get(p.H_EXTENSION_NAME.lower(), "")
        if not name:
            return _error_response(400, "InvalidRequest", "missing Lambda-Extension-Name")
        if self.initialised or self._snap.state is not None:  # SnapStart: before the snapshot
            return _error_response(
                403, "InvalidStateTransition", "extensions register before the runtime is ready"
            )
        try:
            doc = json.loads(req.body or b"{}")
            events = doc.get("events", [])
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                raise ValueError("events must be a list of strings")
        except (ValueError, AttributeError) as exc:
            return _error_response(400, "InvalidRequest", f"malformed register body: {exc}")
        unknown = set(events) - _EXTENSION_EVENTS
        if unknown:
            return _error_response(400, "InvalidEventType", f"unknown events {sorted(unknown)}")
        ext_id = str(uuid.uuid4())
        self.extensions[ext_id] = _Extension(name, frozenset(events))
        watchers, self._register_watchers = self._register_watchers, []
        for n, fut in watchers:
            if fut.done():
                continue
            if len(self.extensions) >= n:
                fut.set_result(None)
            else:
                self._register_watchers.append((n, fut))
        body = json.dumps(
            {
                "functionName": self.cfg.function_name,
                "functionVersion": FUNCTION_VERSION,
                "handler": self.cfg.handler or "",
            }
        ).encode()
        return Response(200, body, [("Content-Type", p.CT_JSON), (p.H_EXTENSION_ID, ext_id)])

    async def _route_extension_next(self, req: Request, conn: Connection) -> Response:
        if req.method != "GET":
            return _error_response(405, "MethodNotAllowed", "use GET")
        ext = self.extensions.get(req.headers.get(p.H_EXTENSION_ID.lower(), ""))
        if ext is None:
            return _error_response(403, "Extension.UnknownExtensionIdentifier", "unknown extension")
        if ext.waiter is not None and not ext.waiter.done():
            return _error_response(403, "InvalidStateTransition", "event/next already pending")
        if not ext.polled:
            ext.polled = True
            self._dispatch()  # the last extension to finish its init lets work through
        if not ext.backlog:
            ext.waiter = asyncio.get_running_loop().create_future()
            hangup = asyncio.ensure_future(conn.wait_disconnect())
            try:
                await asyncio.wait((ext.waiter, hangup), return_when=asyncio.FIRST_COMPLETED)
            finally:
                await _stop(hangup)
                ext.waiter.cancel()
                ext.waiter = None
            if not ext.backlog:
                return Response(500, b"", close=True)
        body = ext.backlog.popleft()
        headers = [("Content-Type", p.CT_JSON), (_H_EXTENSION_EVENT_ID, str(uuid.uuid4()))]
        return Response(200, body, headers)

    def _route_extension_error(self, req: Request) -> Response:
        if req.method != "POST":
            return _error_response(405, "MethodNotAllowed", "use POST")
        if req.headers.get(p.H_EXTENSION_ID.lower(), "") not in self.extensions:
            return _error_response(403, "Extension.UnknownExtensionIdentifier", "unknown extension")
        if not req.headers.get(p.H_EXTENSION_ERROR_TYPE.lower()):
            return _error_response(400, "InvalidRequest", "missing error type header")
        return Response(202, b'{"status":"OK"}', list(_JSON_HEADERS))


class _SnapStartState:
    """Where the current runtime process is in SnapStart's init -> snapshot -> restore."""

    __slots__ = ("answered", "report", "restore_started", "snapshot", "state", "work")

    def __init__(self) -> None:
        # None: no /restore/next yet; "snapshot": it is pending; "restoring": answered,
        # after-restore hooks running; "restored": /next came; "failed": /restore/error.
        self.state: str | None = None
        self.work = asyncio.Event()
        self.snapshot = asyncio.Event()  # set once /restore/next is pending
        self.restore_started = 0.0
        self.answered = 0.0
        self.report: tuple[float, float] | None = None

    def restored(self) -> None:
        """The runtime's first /next after a restore: time the restore for REPORT."""
        if self.state != "restoring":
            return
        now = time.monotonic()
        self.state = "restored"
        self.report = ((now - self.restore_started) * 1000, (now - self.answered) * 1000)


def _restore_fields(restore: tuple[float, float] | None) -> str:
    """REPORT's SnapStart fields; the snapshot pause is restore time that is not billed."""
    if restore is None:
        return ""
    restore_ms, billed_ms = restore
    return (
        f"\tRestore Duration: {restore_ms:.2f} ms"
        f"\tBilled Restore Duration: {math.ceil(billed_ms)} ms"
    )


def _snap_refusal(target: str) -> Response:
    return _error_response(
        403, "InvalidStateTransition", f"State transition to {target} failed (SnapStart)"
    )


async def _stop(task: asyncio.Future[None]) -> None:
    """Cancel a connection watcher and wait until it has let go of the stream reader."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _error_type_of(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    value = doc.get("errorType") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and value else None


def decode_error_trailer(value: str) -> Any:
    """Decode a streamed response's ``Lambda-Runtime-Function-Error-Body`` trailer."""
    try:
        return json.loads(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error):
        return None
