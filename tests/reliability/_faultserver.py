"""A Runtime API on raw asyncio streams that misbehaves on cue and records every request.

It serves queued :class:`Event` s on ``GET …/invocation/next`` and takes answers on
``POST …/{id}/response`` and ``…/{id}/error`` like Lambda does: 202 for the first answer
of a delivered invocation, 400 for an unknown or already-answered id. A :class:`Fault`
can be attached to the n-th request of a kind (or to all of them): reset the
connection before, during or after the exchange, cut the response, dribble it in
single bytes, answer with another status, or send arbitrary bytes instead.

Delivery is tracked the way a careful server would: an event counts as delivered
only once its whole ``/next`` response has been written without a fault; a ``/next``
that was cut or reset puts its event back at the head of the queue. The records let
a test prove that every delivered invocation was answered exactly once.

Pipelining: a request whose bytes were already buffered when the server finished
reading the one before it (the client wrote it without waiting for that answer) is
counted in :attr:`FaultServer.pipelined`; ``refuse_pipelining`` plays a server that
will not have it: ``"close"`` hangs up after answering the first of the two (as a
server without keep-alive or pipelining does), ``"status"`` answers a pipelined
``/next`` with ``refuse_status`` instead of an event.

SnapStart: ``GET …/restore/next`` (kind ``restore_next``) is held until the test calls
:meth:`FaultServer.restore` (``hold_restore=True``) or answered at once; ``POST
…/restore/error`` (kind ``restore_error``) is taken with 202.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from aiolambda._core import protocol as p

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

FUNCTION_ARN: Final = "arn:aws:lambda:us-east-1:123456789012:function:reliability"
_STREAM_LIMIT: Final = 16 * 1024 * 1024
_INVOCATION_PREFIX: Final = f"{p.RUNTIME_PREFIX}/invocation/"

HeaderValue = str | bytes
AUTO_DEADLINE: Final = "auto"
"""A deadline header value the server replaces with "60 s from now" when it sends it."""


def default_headers(
    request_id: str | bytes,
    *,
    content_type: str | None = p.CT_JSON,
    deadline_ms: int | str | None = None,
) -> tuple[tuple[str, HeaderValue], ...]:
    """The headers Lambda puts on a ``/next`` response (deadline: 60 s after sending)."""
    if deadline_ms is None:
        deadline_ms = AUTO_DEADLINE
    headers: list[tuple[str, HeaderValue]] = [
        ("Lambda-Runtime-Aws-Request-Id", request_id),
        ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
        ("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN),
        ("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
    ]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return tuple(headers)


@dataclass(frozen=True, slots=True)
class Event:
    """One invocation to hand out. ``headers`` None means :func:`default_headers`."""

    request_id: str
    body: bytes = b"{}"
    headers: tuple[tuple[str, HeaderValue], ...] | None = None

    def head_fields(self) -> tuple[tuple[str, HeaderValue], ...]:
        return default_headers(self.request_id) if self.headers is None else self.headers


@dataclass(frozen=True, slots=True)
class Fault:
    """What goes wrong with one exchange.

    Actions (``/next`` events are put back unless the response got through whole):

    * ``reset_before``: RST as soon as the request head is read; nothing is acted on.
    * ``reset_upload``: read half the request body, then RST (posts).
    * ``reset_unanswered``: act on the request (accept the answer), RST without replying.
    * ``cut_head`` / ``cut_body``: act, send half the head / the head and half the body,
      then RST (``cut_head``) or close (``cut_body``).
    * ``reset_after``: act, send the whole response, then RST (posts: the client may or
      may not read the 202 first; either way the answer was taken once).
    * ``close_after``: act, send the whole response, then close (FIN) the keep-alive
      connection without saying so; ``close_header``: the same with ``Connection: close``.
    * ``one_byte``: the whole response, one byte per write.
    * ``slow``: wait ``delay`` seconds, then dribble the response in 7-byte pieces.
    * ``status``: answer ``status`` (nothing acted on; a post counts as refused).
    * ``early_status``: answer ``status`` as soon as the head is read, without reading the
      body, then close (as a server refusing a large upload does; a post counts as refused).
    * ``raw``: act, then send ``raw`` instead of the response and close.
    """

    action: str
    status: int = 0
    raw: bytes = b""
    delay: float = 0.02


ACTIONS: Final = frozenset(
    {
        "reset_before",
        "reset_upload",
        "reset_unanswered",
        "cut_head",
        "cut_body",
        "reset_after",
        "close_after",
        "close_header",
        "one_byte",
        "slow",
        "status",
        "early_status",
        "raw",
    }
)
# Faults after which the reply to a taken answer may not have reached the runtime.
_LOST_REPLY: Final = frozenset({"reset_unanswered", "cut_head", "cut_body", "raw", "reset_after"})
# Faults after which a /next response did not reach the runtime whole.
_UNDELIVERED: Final = frozenset(
    {"reset_before", "reset_unanswered", "cut_head", "cut_body", "status", "raw"}
)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the server saw it, and what became of it."""

    conn: int
    kind: str  # next, response, error, init_error, other
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str | None  # the id in the path of a post
    outcome: str  # delivered, requeued, accepted, duplicate, unknown, refused, dropped
    fault: str | None


@dataclass
class FaultServer:
    """The server; ``async with FaultServer(faults={("next", 1): Fault("reset_before")})``.

    ``faults`` keys are ``(kind, n)`` for the n-th request of that kind (1-based) or
    ``(kind, 0)`` for every request of it. ``port`` 0 picks a free port.
    """

    faults: Mapping[tuple[str, int], Fault] = field(default_factory=dict)
    record_bodies: bool = True
    requests: list[Recorded] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    accepted: collections.Counter[str] = field(default_factory=collections.Counter)
    port: int = 0
    connections: int = 0
    hold_restore: bool = False
    refuse_pipelining: str = ""  # "", "close" or "status"
    refuse_status: int = 400
    pipelined: list[str] = field(default_factory=list)  # kinds of pipelined requests
    restore_arrived: asyncio.Event | None = None
    _restored: asyncio.Event | None = None
    _queue: collections.deque[Event] = field(default_factory=collections.deque)
    _counts: collections.Counter[str] = field(default_factory=collections.Counter)
    _events: dict[str, Event] = field(default_factory=dict)
    _settled: dict[str, asyncio.Future[str]] = field(default_factory=dict)
    _arrived: asyncio.Event | None = None
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for (kind, _), fault in self.faults.items():
            assert fault.action in ACTIONS, fault
            assert kind in {"next", "response", "error", "init_error", "restore_next"}, kind

    async def __aenter__(self) -> FaultServer:
        self._arrived = asyncio.Event()
        self.restore_arrived = asyncio.Event()
        self._restored = asyncio.Event()
        if not self.hold_restore:
            self._restored.set()
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, limit=_STREAM_LIMIT
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        # Closing a connection ends its handler (EOF); cancelling one instead makes
        # asyncio's start_server log a spurious error on Python 3.11.
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5.0)
        for task in list(self._handlers):
            task.cancel()
        await self._server.wait_closed()

    @property
    def runtime_api(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- the test's side ------------------------------------------------------------------

    def queue(self, *events: Event) -> None:
        """Queue events for ``/next`` (FIFO)."""
        loop = asyncio.get_running_loop()
        for event in events:
            self._queue.append(event)
            self._events[event.request_id] = event
            self._settled.setdefault(event.request_id, loop.create_future())
        assert self._arrived is not None
        self._arrived.set()

    async def settled(self, request_id: str) -> str:
        """Wait until an answer for ``request_id`` was accepted or refused; the outcome."""
        return await asyncio.shield(self._settled[request_id])

    def posts(self, request_id: str | None = None) -> list[Recorded]:
        """Every response/error post (for one id, when given), in arrival order."""
        return [
            r
            for r in self.requests
            if r.kind in {"response", "error"}
            and (request_id is None or r.request_id == request_id)
        ]

    def restore(self) -> None:
        """Answer the held ``/restore/next`` (the snapshot has been "restored")."""
        assert self._restored is not None
        self._restored.set()

    def count(self, kind: str) -> int:
        return sum(1 for r in self.requests if r.kind == kind)

    def assert_exactly_once(self, *, refused: frozenset[str] = frozenset()) -> None:
        """Every delivered invocation was answered exactly once; nothing else was answered.

        ``refused`` names invocations whose one answer the server refused on purpose: they
        must have been posted exactly once and then left alone.
        """
        assert len(self.delivered) == len(set(self.delivered)), self.delivered
        for request_id in self.delivered:
            if request_id in refused:
                attempts = [r for r in self.posts(request_id) if r.outcome != "dropped"]
                assert len(attempts) == 1, (request_id, attempts)
                assert self.accepted[request_id] == 0
            else:
                assert self.accepted[request_id] == 1, (request_id, self.accepted)
        assert set(self.accepted) <= set(self.delivered), self.accepted
        for post in self.posts():
            assert post.request_id in self.delivered, post
        # A second post is only a retry: the taken one must have been faulted on its way
        # back (so the runtime could not know), and the retry must say the same thing.
        for request_id in self.delivered:
            taken: Recorded | None = None
            for post in self.posts(request_id):
                if post.outcome == "accepted":
                    taken = post
                elif post.outcome == "duplicate":
                    assert taken is not None and taken.fault in _LOST_REPLY, (taken, post)
                    assert (post.kind, post.body) == (taken.kind, taken.body), post

    # -- the server's side ----------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        conn = self.connections
        try:
            behind = [False]  # whether the next request was buffered before this answer
            while await self._exchange(conn, reader, writer, behind):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def _exchange(
        self,
        conn: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        behind: list[bool],
    ) -> bool:
        """Serve one request; False when the connection is finished."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        pipelined, behind[0] = behind[0], False
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        kind, request_id = _classify(method, path)
        if pipelined:
            self.pipelined.append(kind)
        self._counts[kind] += 1
        fault = self.faults.get((kind, self._counts[kind])) or self.faults.get((kind, 0))
        action = fault.action if fault is not None else None

        def record(outcome: str, body: bytes = b"") -> None:
            self.requests.append(
                Recorded(
                    conn,
                    kind,
                    method,
                    path,
                    headers,
                    body if self.record_bodies else b"",
                    request_id,
                    outcome,
                    action,
                )
            )

        length = int(headers.get("content-length", "0") or "0")
        if action == "early_status" and fault is not None:
            record("refused")
            if request_id is not None:
                self._settle(request_id, f"refused:{fault.status}")
            writer.write(_simple(fault.status, b"{}", close=True))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
            return False
        if action == "reset_upload" and length:
            await reader.readexactly(length // 2)
            record("dropped")
            _reset(writer)
            return False
        body = await _read_body(reader, headers, length)
        # Read before answering: a client that waits for the answer cannot have sent more.
        behind[0] = bool(reader._buffer)  # type: ignore[attr-defined]  # no public peek
        if behind[0] and self.refuse_pipelining == "close":
            fault = Fault("close_after")
            action = fault.action
        if pipelined and kind == "next" and self.refuse_pipelining == "status":
            fault = Fault("status", status=self.refuse_status)
            action = fault.action
        if action == "reset_before":
            record("dropped", body)
            _reset(writer)
            return False
        assert fault is None or action is not None

        event: Event | None = None
        if kind == "next":
            if action == "status":
                record("refused", body)
                status = fault.status if fault is not None else 500
                response = _simple(status, b'{"errorMessage":"injected","errorType":"X"}')
            else:
                event = await self._take(reader)
                if event is None:
                    return False
                response = _next_response(event, close=action == "close_header")
        elif kind == "restore_next" and action != "status":
            assert self.restore_arrived is not None and self._restored is not None
            self.restore_arrived.set()
            await self._restored.wait()
            record("delivered", body)
            response = _simple(200, b"")
        else:
            status, outcome = self._answer(kind, request_id, fault)
            record(outcome, body)
            response = _simple(status, b'{"status":"OK"}' if status == 202 else b"{}")
            if action == "close_header":
                response = _simple(status, b'{"status":"OK"}', close=True)

        delivered = await self._send(writer, response, fault)
        if event is not None:
            if delivered:
                record("delivered", body)
                self.delivered.append(event.request_id)
            else:
                record("requeued", body)
                self._queue.appendleft(event)
                assert self._arrived is not None
                self._arrived.set()
        return delivered and action not in {"close_after", "close_header", "reset_after"}

    async def _send(self, writer: asyncio.StreamWriter, data: bytes, fault: Fault | None) -> bool:
        """Write ``data`` as ``fault`` says; True when it went out whole and unharmed."""
        action = fault.action if fault is not None else None
        if action is None or action in {"close_after", "close_header", "status"}:
            writer.write(data)
            await writer.drain()
            if action in {"close_after", "close_header"}:
                writer.close()
            return True
        assert fault is not None
        if action == "reset_unanswered":
            _reset(writer)
            return False
        if action == "cut_head":
            end = data.index(b"\r\n\r\n")
            writer.write(data[: end // 2])
            await writer.drain()
            _reset(writer)
            return False
        if action == "cut_body":
            end = data.index(b"\r\n\r\n") + 4
            body_len = len(data) - end
            writer.write(data[: end + max(body_len // 2, 0)] if body_len > 1 else data[: end - 1])
            await writer.drain()
            writer.close()
            return False
        if action == "reset_after":
            writer.write(data)
            await writer.drain()
            _reset(writer)
            return True
        if action in {"one_byte", "slow"}:
            if action == "slow":
                await asyncio.sleep(fault.delay)  # the fault is slowness itself
            step = 1 if action == "one_byte" else 7
            for i in range(0, len(data), step):
                writer.write(data[i : i + step])
                await writer.drain()
                # Yield (one_byte) or pause (slow) so the client reads piece by piece.
                await asyncio.sleep(0 if action == "one_byte" else 0.001)
            return True
        if action == "raw":
            writer.write(fault.raw)
            await writer.drain()
            writer.close()
            return False
        raise AssertionError(action)

    def _answer(self, kind: str, request_id: str | None, fault: Fault | None) -> tuple[int, str]:
        if kind == "restore_next":  # a "status" fault
            return (fault.status if fault is not None else 500), "refused"
        if kind not in {"response", "error"} or request_id is None:
            return 202 if kind in {"init_error", "restore_error"} else 404, "other"
        if fault is not None and fault.action == "status":
            self._settle(request_id, f"refused:{fault.status}")
            return fault.status, "refused"
        if request_id not in self.delivered:
            return 400, "unknown"
        if self.accepted[request_id]:
            return 400, "duplicate"
        self.accepted[request_id] += 1
        self._settle(request_id, kind)
        return 202, "accepted"

    def _settle(self, request_id: str, outcome: str) -> None:
        future = self._settled.get(request_id)
        if future is not None and not future.done():
            future.set_result(outcome)

    async def _take(self, reader: asyncio.StreamReader) -> Event | None:
        """The next event; None when the client went away while waiting for one."""
        arrived = self._arrived
        assert arrived is not None
        gone = asyncio.ensure_future(reader.read(1))
        try:
            while not self._queue:
                arrived.clear()
                waiter = asyncio.ensure_future(arrived.wait())
                done, _ = await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    waiter.cancel()
                    return None  # EOF (or unexpected bytes) from an idle client
            return self._queue.popleft()
        finally:
            gone.cancel()


def _classify(method: str, path: str) -> tuple[str, str | None]:
    if method == "GET" and path == p.NEXT_PATH:
        return "next", None
    if method == "POST" and path == p.INIT_ERROR_PATH:
        return "init_error", None
    if method == "GET" and path == p.RESTORE_NEXT_PATH:
        return "restore_next", None
    if method == "POST" and path == p.RESTORE_ERROR_PATH:
        return "restore_error", None
    if method == "POST" and path.startswith(_INVOCATION_PREFIX):
        request_id, _, tail = path[len(_INVOCATION_PREFIX) :].rpartition("/")
        if tail in {"response", "error"}:
            return tail, request_id
    return "other", None


async def _read_body(
    reader: asyncio.StreamReader, headers: Mapping[str, str], length: int
) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            if size == 0:
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass
        return b"".join(parts)
    return await reader.readexactly(length) if length else b""


def _encode_value(value: HeaderValue) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def _next_response(event: Event, *, close: bool) -> bytes:
    head = [b"HTTP/1.1 200 OK"]
    now_ms = int(time.time() * 1000)
    for name, value in event.head_fields():
        wire = value
        if value == AUTO_DEADLINE:
            wire = str(now_ms + 60_000)
        elif isinstance(value, str) and value[:1] == "+" and value[1:].isdigit():
            wire = str(now_ms + int(value[1:]))  # a deadline relative to sending time
        head.append(name.encode() + b": " + _encode_value(wire))
    head.append(b"Content-Length: %d" % len(event.body))
    if close:
        head.append(b"Connection: close")
    return b"\r\n".join(head) + b"\r\n\r\n" + event.body


def _simple(status: int, body: bytes, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s" % (
        status,
        extra,
        len(body),
        body,
    )


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0), not a polite FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
