"""A fast mock Lambda Runtime API: the yardstick of the benchmarks.

The full emulator is built for fidelity, not speed; a benchmark needs a server
that costs as little as possible per request so the contender's own cost shows.
This one is a raw ``asyncio.Protocol`` on 127.0.0.1 that

* serves exactly ``n`` invocations (pre-built response heads, one fresh request
  id each), then parks any further ``/next`` forever;
* accepts any number of keep-alive connections at once (one per poller) and
  parses robustly: pipelined and partial data, Content-Length bodies of any size,
  chunked bodies, ``Expect: 100-continue`` (curl sends it for large bodies);
* checks every posted answer against the event it handed out: byte-for-byte
  against the usual JSON renderings, else parsed-JSON-equal. A wrong answer, an
  unknown or already-answered request id, or an ``/error`` post fails the run;
* times from the first ``/next`` to the ``n``-th answer.

Run as a script it is the server process of ``run.py`` and ``concurrency.py``:
it prints ``{"port": P}`` once listening, ``{"result": {...}}`` once done, and
exits when its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

# Make `aiolambda._core.protocol` importable when run as a script from a fresh checkout.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from typing import TYPE_CHECKING

from aiolambda._core import protocol as proto

if TYPE_CHECKING:
    from collections.abc import Sequence

MAX_HEAD_BYTES = 64 * 1024
LISTEN_BACKLOG = 4096
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bench"

_ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
    b'Content-Length: 16\r\n\r\n{"status":"OK"}\n'
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
_NEXT = proto.NEXT_PATH.encode()
_INVOCATION_PREFIX = f"{proto.RUNTIME_PREFIX}/invocation/".encode()


def wire_name(lower: str) -> str:
    """``lambda-runtime-aws-request-id`` -> ``Lambda-Runtime-Aws-Request-Id`` (AWS's casing)."""
    return "-".join(part.capitalize() for part in lower.split("-"))


def accepted_renderings(event: bytes) -> tuple[bytes, ...]:
    """The byte strings an echo handler may legitimately post for ``event``.

    The event itself (orjson and raw echoes), ``json.dumps`` default separators
    (awslambdaric's simplejson) and compact separators. Anything else falls back
    to a parsed-JSON comparison, which is slower but still exact.
    """
    forms = [event]
    try:
        obj = json.loads(event)
    except ValueError:
        return tuple(forms)
    for rendered in (json.dumps(obj), json.dumps(obj, separators=(",", ":"))):
        data = rendered.encode()
        if data not in forms:
            forms.append(data)
    return tuple(forms)


@dataclass(frozen=True, slots=True)
class MockResult:
    """What one mock run saw: correctness first, then timing (perf_counter ns)."""

    ok: bool
    error: str
    n: int
    answered: int
    first_next_ns: int
    last_answer_ns: int
    json_equal_answers: int
    connections: int
    max_in_flight: int
    client_cpu_ns: int = 0  # the contender's CPU time (user + system) over the timed span
    mock_cpu_ns: int = 0  # this server's own CPU time over the timed span
    # When the warm part of the run began (0: never/unset): ``full`` invocations first in
    # flight at once, or the ``warm_after``-th answer received.
    full_ns: int = 0
    answered_at_full: int = 0  # answers received by then

    @property
    def elapsed_ns(self) -> int:
        return self.last_answer_ns - self.first_next_ns


class MockRuntimeAPI:
    """Serves ``n`` copies of ``event`` and verifies the echoes (see module docstring)."""

    def __init__(
        self,
        n: int,
        event: bytes,
        *,
        content_type: str = proto.CT_JSON,
        timeout_s: float = 120.0,
        request_ids: Sequence[str] | None = None,
        full: int = 0,
        warm_after: int = 0,
        expect: dict[str, object] | None = None,
    ) -> None:
        self.n = n
        self._full = full  # record when this many are in flight: the contender is warm
        self._warm_after = warm_after  # ... or when this many answers have come back
        self.event = event
        # Answers that are not echoes (an HTTP handler's): the keys every answer must have.
        self._expect = expect
        self._accepted = accepted_renderings(event)
        self._event_obj: object = None
        self.timeout_s = timeout_s
        ids = (
            list(request_ids) if request_ids is not None else [str(uuid.uuid4()) for _ in range(n)]
        )
        if len(ids) != n or len(set(ids)) != n:
            raise ValueError("need n distinct request ids")
        self.request_ids = ids
        self._index_of = {rid.encode(): i for i, rid in enumerate(ids)}
        deadline_ms = int(time.time() * 1000) + 15 * 60 * 1000
        common = (
            f"{wire_name(proto.H_CONTENT_TYPE)}: {content_type}\r\n"
            f"{wire_name(proto.H_DEADLINE_MS)}: {deadline_ms}\r\n"
            f"{wire_name(proto.H_FUNCTION_ARN)}: {FUNCTION_ARN}\r\n"
            f"Content-Length: {len(event)}\r\n\r\n"
        )
        self._heads = [
            (
                "HTTP/1.1 200 OK\r\n"
                f"{wire_name(proto.H_REQUEST_ID)}: {rid}\r\n"
                f"{wire_name(proto.H_TRACE_ID)}: Root=1-{i:08x}-{rid.replace('-', '')[:24]};"
                f"Parent={i:016x};Sampled=0\r\n" + common
            ).encode()
            for i, rid in enumerate(ids)
        ]
        self._answered = bytearray(n)
        self._handed = 0
        self._count = 0
        self._json_equal = 0
        self._connections = 0
        self._max_in_flight = 0
        self._first_next_ns = 0
        self._last_answer_ns = 0
        self._full_ns = 0
        self._answered_at_full = 0
        self.client_pid: int | None = None  # set by the harness to measure the contender's CPU
        self._cpu_at_first = (0, 0)
        self._cpu_at_last = (0, 0)
        self._server: asyncio.Server | None = None
        self._done: asyncio.Future[MockResult] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._conns: set[_Connection] = set()

    # -- lifecycle --------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen and return the port; the run's timeout starts now."""
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        # Every poller connects at once when the contender starts; asyncio's default
        # backlog (100) would drop the handshakes of N = 256 pollers past it and hold
        # them back by a TCP retransmission timeout. The kernel caps it at somaxconn.
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, backlog=LISTEN_BACKLOG
        )
        self._timer = loop.call_later(self.timeout_s, self._on_timeout)
        return int(self._server.sockets[0].getsockname()[1])

    async def result(self) -> MockResult:
        """Wait for the run to finish (success, failure or timeout)."""
        assert self._done is not None, "start() first"
        return await asyncio.shield(self._done)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            self._server.close()
            if hasattr(self._server, "close_clients"):  # 3.13+: drop parked /next requests
                self._server.close_clients()
        for conn in list(self._conns):
            conn.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> MockRuntimeAPI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def finished(self) -> bool:
        return self._done is not None and self._done.done()

    def _finish(self, error: str = "") -> None:
        if self._done is None or self._done.done():
            return
        if self._timer is not None:
            self._timer.cancel()
        self._done.set_result(
            MockResult(
                ok=not error,
                error=error,
                n=self.n,
                answered=self._count,
                first_next_ns=self._first_next_ns,
                last_answer_ns=self._last_answer_ns,
                json_equal_answers=self._json_equal,
                connections=self._connections,
                max_in_flight=self._max_in_flight,
                client_cpu_ns=self._cpu_at_last[0] - self._cpu_at_first[0],
                mock_cpu_ns=self._cpu_at_last[1] - self._cpu_at_first[1],
                full_ns=self._full_ns,
                answered_at_full=self._answered_at_full,
            )
        )

    def _on_timeout(self) -> None:
        self._finish(f"timeout after {self.timeout_s:g} s: {self._count} of {self.n} answered")

    # -- requests ---------------------------------------------------------------------
    def on_next(self, conn: _Connection) -> None:
        i = self._handed
        if i >= self.n:
            return  # park: the contender waits here until the harness kills it
        if i == 0:
            self._first_next_ns = time.perf_counter_ns()
            self._cpu_at_first = self._cpu_now()
        self._handed = i + 1
        in_flight = self._handed - self._count
        if in_flight > self._max_in_flight:
            self._max_in_flight = in_flight
            if self._full and in_flight >= self._full and not self._full_ns:
                self._full_ns = time.perf_counter_ns()
                self._answered_at_full = self._count
        conn.transport.writelines((self._heads[i], self.event))

    def on_response(self, conn: _Connection, request_id: bytes, body: bytes) -> None:
        i = self._index_of.get(request_id)
        if i is None or i >= self._handed:
            self._finish(f"answer for unknown request id {request_id[:80]!r}")
        elif self._answered[i]:
            self._finish(f"request {request_id.decode()} answered twice")
        elif not self._matches(body):
            self._finish(f"wrong answer for request {i}: {_describe_mismatch(body, self.event)}")
        else:
            self._answered[i] = 1
            self._count += 1
            if self._count == self._warm_after and not self._full_ns:
                self._full_ns = time.perf_counter_ns()
                self._answered_at_full = self._count
            if self._count == self.n:
                self._last_answer_ns = time.perf_counter_ns()
                self._cpu_at_last = self._cpu_now()
                conn.transport.write(_ACCEPTED)
                self._finish()
                return
        conn.transport.write(_ACCEPTED)

    def on_other(self, conn: _Connection, method: bytes, target: bytes, body: bytes) -> None:
        if (
            method == b"POST"
            and target.startswith(_INVOCATION_PREFIX)
            and target.endswith(b"/error")
        ):
            conn.transport.write(_ACCEPTED)
            self._finish(f"contender posted an error: {body[:300]!r}")
            return
        conn.transport.write(_NOT_FOUND)
        self._finish(f"unexpected request {method.decode()} {target[:120]!r}")

    def _cpu_now(self) -> tuple[int, int]:
        """(contender CPU ns, own CPU ns); the contender's is 0 when unknown."""
        return (_process_cpu_ns(self.client_pid) if self.client_pid else 0), time.process_time_ns()

    def _matches(self, body: bytes) -> bool:
        if self._expect is not None:
            try:
                answer = json.loads(body)
            except ValueError:
                return False
            return isinstance(answer, dict) and all(
                answer.get(key) == value for key, value in self._expect.items()
            )
        for form in self._accepted:
            if body == form:
                return True
        if self._event_obj is None:
            self._event_obj = json.loads(self.event)
        try:
            equal = bool(json.loads(body) == self._event_obj)
        except ValueError:
            return False
        self._json_equal += equal
        return equal


_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _process_cpu_ns(pid: int) -> int:
    """User + system CPU of a process and all its threads, live or exited (clock ticks)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_NS  # utime, stime


def _describe_mismatch(got: bytes, want: bytes) -> str:
    first = next((k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
    where = f"first difference at byte {first}" if first is not None else "one is a prefix"
    return f"{len(got)} B posted, {len(want)} B expected, {where}: {got[:60]!r}"


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: an incremental request parser."""

    def __init__(self, api: MockRuntimeAPI) -> None:
        self.api = api
        self.buf = bytearray()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._method = b""
        self._target = b""
        self._body_len = -1  # -1: reading a head; >= 0: Content-Length body pending
        self._chunked: bytearray | None = None  # body so far of a chunked request
        self._close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.api._connections += 1
        self.api._conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.api._conns.discard(self)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            if self._chunked is not None:
                if not self._read_chunks():
                    return
                body = bytes(self._chunked)
                self._chunked = None
                self._dispatch(body)
            elif self._body_len >= 0:
                if len(buf) < self._body_len:
                    return
                body = bytes(buf[: self._body_len])
                del buf[: self._body_len]
                self._body_len = -1
                self._dispatch(body)
            else:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        self.api._finish("request head too large")
                        self.transport.abort()
                    return
                self._parse_head(bytes(buf[:end]))
                del buf[: end + 4]
            if self.transport.is_closing():
                return

    def _parse_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        self._method, self._target = parts[0], parts[1] if len(parts) > 1 else b""
        length = 0
        chunked = expect = False
        self._close_after = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"expect":
                expect = value.strip().lower() == b"100-continue"
            elif name == b"connection":
                self._close_after = value.strip().lower() == b"close"
        if expect:
            self.transport.write(_CONTINUE)
        if chunked:
            self._chunked = bytearray()
        elif self._method == b"GET" and length == 0:
            self._dispatch(b"")
        else:
            self._body_len = length

    def _read_chunks(self) -> bool:
        """Consume complete chunks from the buffer; True once the last one arrived."""
        buf, body = self.buf, self._chunked
        assert body is not None
        while True:
            eol = buf.find(b"\r\n")
            if eol < 0:
                return False
            size = int(bytes(buf[:eol]).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                rest = eol + 2
                if buf[rest : rest + 2] == b"\r\n":
                    del buf[: rest + 2]
                    return True
                end = buf.find(b"\r\n\r\n", rest)
                if end < 0:
                    return False
                del buf[: end + 4]  # trailers are read and ignored
                return True
            if len(buf) < eol + 2 + size + 2:
                return False
            body += buf[eol + 2 : eol + 2 + size]
            del buf[: eol + 2 + size + 2]

    def _dispatch(self, body: bytes) -> None:
        method, target = self._method, self._target
        if method == b"GET" and target == _NEXT:
            self.api.on_next(self)
        elif (
            method == b"POST"
            and target.startswith(_INVOCATION_PREFIX)
            and target.endswith(b"/response")
        ):
            self.api.on_response(self, target[len(_INVOCATION_PREFIX) : -len(b"/response")], body)
        else:
            self.api.on_other(self, method, target, body)
        if self._close_after:
            self.transport.close()


# -- process entry point ---------------------------------------------------------------
async def _serve(args: argparse.Namespace) -> None:
    event = Path(args.event_file).read_bytes()
    expect = json.loads(Path(args.expect_file).read_bytes()) if args.expect_file else None
    api = MockRuntimeAPI(
        args.n,
        event,
        timeout_s=args.timeout,
        full=args.full,
        warm_after=args.warm_after,
        expect=expect,
    )
    port = await api.start("127.0.0.1", args.port)
    print(json.dumps({"port": port}), flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    class _Stdin(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            # "pid N": the contender to measure the CPU time of.
            for line in data.split(b"\n"):
                if line.startswith(b"pid "):
                    api.client_pid = int(line[4:])

        def connection_lost(self, exc: Exception | None) -> None:
            if not stdin_closed.done():
                stdin_closed.set_result(None)

    await loop.connect_read_pipe(_Stdin, sys.stdin)
    result_task = asyncio.ensure_future(api.result())
    await asyncio.wait({result_task, stdin_closed}, return_when=asyncio.FIRST_COMPLETED)
    if result_task.done():
        result = result_task.result()
        print(
            json.dumps({"result": {**asdict(result), "elapsed_ns": result.elapsed_ns}}), flush=True
        )
        await stdin_closed
    else:
        result_task.cancel()
    await api.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="invocations to serve")
    parser.add_argument("--event-file", required=True, help="file holding the event bytes")
    parser.add_argument("--timeout", type=float, default=120.0, help="fail the run after this")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--full", type=int, default=0, help="record when this many are first in flight"
    )
    parser.add_argument(
        "--warm-after", type=int, default=0, help="... or when this many answers came back"
    )
    parser.add_argument(
        "--expect-file", help="JSON object whose keys every answer must have (not an echo)"
    )
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    factory = asyncio.new_event_loop
    if args.loop == "uvloop":
        try:
            import uvloop

            factory = uvloop.new_event_loop
        except ImportError:
            pass
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
