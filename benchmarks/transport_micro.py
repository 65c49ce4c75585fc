"""Micro-benchmark of the HTTP transports: µs per Runtime API round-trip pair.

One "pair" is what a runtime does per invocation on the wire: ``GET …/next`` (a 200
with the eight headers RAPID sends and an event body), then ``POST …/{id}/response``
echoing the event, answered ``202 {"status":"OK"}``. Contenders:

* ``lean``    - ``aiolambda._core.transport`` kind "lean" (asyncio.Protocol + pure-Python parser)
* ``aiohttp`` - ``aiolambda._core.transport`` kind "aiohttp" (one ClientSession)
* ``floor``   - a blocking socket sending pre-built requests and reading with the least
  parsing that works (the least Python can do per pair; the 1.00 of the ratios)

Method:

* The server is a raw ``asyncio.Protocol`` mock Runtime API (on uvloop when installed) in
  a child process. It pins itself with ``os.sched_setaffinity`` to the same single CPU
  as the client process: on these VMs a wake-up across vCPUs costs ~80 µs per round
  trip against ~17 µs on one CPU, which would drown the differences.
* Each repetition runs every contender for ``--pairs`` pairs after ``--warmup`` pairs,
  over a fresh connection and (for the async ones) a fresh event loop. The contender
  order rotates between repetitions (A B C, B C A, …) so drifts of the host's speed
  hit all of them alike.
* Reported: the median µs/pair over repetitions (min-max), and the median of
  per-repetition ratios to the floor (the host drifts between speed phases; ratios
  measured within one repetition are what to trust).

``--parsers`` instead times the response parsers alone (pure-Python
``aiolambda._core.http.ResponseParser`` vs ``httptools`` when importable) on a /next
response with a 30 B … 6 MB body delivered in 256 KiB reads, and on a tiny 202.

Usage::

    python benchmarks/transport_micro.py                    # 30 B events, uvloop
    python benchmarks/transport_micro.py --body 1048576 --pairs 300
    python benchmarks/transport_micro.py --loop asyncio --reps 7
    python benchmarks/transport_micro.py --parsers
    python benchmarks/transport_micro.py --write            # the sizes of docs/transport.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from aiolambda._core import protocol as proto
from aiolambda._core.http import ResponseParser
from aiolambda._core.transport import connect

if TYPE_CHECKING:
    from collections.abc import Callable

_CL_RE = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)", re.IGNORECASE)
ACCEPTED = b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n'  # noqa: E501


def make_event(size: int) -> bytes:
    """A JSON document of exactly ``size`` bytes (at least 9)."""
    size = max(size, 9)
    return b'{"k":"' + b"x" * (size - 8) + b'"}'


def next_head(request_id: int, body_len: int) -> bytes:
    """A /next response head shaped like RAPID's: eight headers."""
    return (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: application/json\r\n"
        b"Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-%012d\r\n"
        b"Lambda-Runtime-Deadline-Ms: 1542409706888\r\n"
        b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:f\r\n"
        b"Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n"  # noqa: E501
        b"Date: Sat, 17 Nov 2018 00:58:26 GMT\r\n"
        b"Connection: keep-alive\r\n"
        b"Content-Length: %d\r\n\r\n" % (request_id, body_len)
    )


# -- server (child process) ------------------------------------------------------------


class _MockApi(asyncio.Protocol):
    def __init__(self, event: bytes) -> None:
        self.event = event
        self.buf = bytearray()
        self.counter = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            match = _CL_RE.search(buf, 0, end + 2)
            total = end + 4 + (int(match[1]) if match else 0)
            if len(buf) < total:
                return
            is_get = buf.startswith(b"GET")
            del buf[:total]
            assert self.transport is not None
            if is_get:
                self.counter += 1
                head = next_head(self.counter, len(self.event))
                self.transport.writelines((head, self.event))
            else:
                self.transport.write(ACCEPTED)


def serve(cpu: int, body: int) -> None:
    os.sched_setaffinity(0, {cpu})
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    event = make_event(body)
    server = loop.run_until_complete(
        loop.create_server(lambda: _MockApi(event), "127.0.0.1", 0, backlog=16)
    )
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    # Exit when the parent closes our stdin.
    loop.run_until_complete(loop.run_in_executor(None, sys.stdin.read))


# -- contenders ------------------------------------------------------------------------


def _request_id(headers: dict[str, str] | object) -> str:
    return headers[proto.H_REQUEST_ID]  # type: ignore[index,no-any-return]


def run_async(kind: str, loop_kind: str, port: int, warmup: int, pairs: int) -> tuple[float, float]:
    """(wall µs, client CPU µs) per pair."""

    async def body() -> tuple[float, float]:
        conn = connect(kind, "127.0.0.1", port)
        headers = [("Content-Type", proto.CT_JSON)]
        try:
            start = cpu_start = 0.0
            for i in range(warmup + pairs):
                if i == warmup:
                    start, cpu_start = time.perf_counter(), time.process_time()
                event = await conn.request("GET", proto.NEXT_PATH)
                rid = _request_id(event.headers)
                answer = await conn.request("POST", proto.response_path(rid), event.body, headers)
                if answer.status != 202:
                    raise SystemExit(f"{kind}: unexpected status {answer.status}")
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            return wall / pairs * 1e6, cpu / pairs * 1e6
        finally:
            await conn.close()

    if loop_kind == "uvloop":
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(body())


_NEXT_REQ = b"GET " + proto.NEXT_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
_RID_RE = re.compile(rb"\r\nlambda-runtime-aws-request-id:[ \t]*([^\r]+)", re.IGNORECASE)


def run_floor(port: int, warmup: int, pairs: int) -> tuple[float, float]:
    """(wall µs, client CPU µs) per pair."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    # recv_into one reused buffer: recv(256 KiB) would allocate (mmap) a buffer per call.
    chunk = memoryview(bytearray(262144))

    def receive() -> None:
        n = sock.recv_into(chunk)
        if not n:
            raise SystemExit("floor: server closed the connection")
        buf.extend(chunk[:n])

    def read_response() -> tuple[bytes, bytes]:
        while (end := buf.find(b"\r\n\r\n")) < 0:
            receive()
        head = bytes(buf[: end + 2])
        match = _CL_RE.search(head)
        total = end + 4 + (int(match[1]) if match else 0)
        while len(buf) < total:
            receive()
        body = bytes(buf[end + 4 : total])
        del buf[:total]
        return head, body

    try:
        start = cpu_start = 0.0
        for i in range(warmup + pairs):
            if i == warmup:
                start, cpu_start = time.perf_counter(), time.process_time()
            sock.sendall(_NEXT_REQ)
            head, event = read_response()
            rid_match = _RID_RE.search(head)
            assert rid_match is not None
            post = (
                b"POST " + proto.response_path(rid_match[1].decode()).encode() + b" HTTP/1.1\r\n"
                b"Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % len(event)
            )
            if len(event) <= 65536:
                sock.sendall(post + event)
            else:
                sent = sock.sendmsg([post, event])  # head + body without a copy
                # sendmsg may send only part: finish with sendall.
                if sent < len(post):
                    sock.sendall(post[sent:])
                    sock.sendall(event)
                else:
                    sock.sendall(memoryview(event)[sent - len(post) :])
            head, _ = read_response()
            if not head.startswith(b"HTTP/1.1 202"):
                raise SystemExit("floor: unexpected status")
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        return wall / pairs * 1e6, cpu / pairs * 1e6
    finally:
        sock.close()


def bench_transports(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--cpu", str(cpu), "--body", str(args.body)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = json.loads(server.stdout.readline())["port"]
        contenders: dict[str, Callable[[], tuple[float, float]]] = {
            "floor": lambda: run_floor(port, args.warmup, args.pairs),
            "lean": lambda: run_async("lean", args.loop, port, args.warmup, args.pairs),
            "aiohttp": lambda: run_async("aiohttp", args.loop, port, args.warmup, args.pairs),
        }
        names = [n for n in contenders if n in args.only] if args.only else list(contenders)
        walls: dict[str, list[float]] = {n: [] for n in names}
        cpus: dict[str, list[float]] = {n: [] for n in names}
        wall_ratios: dict[str, list[float]] = {n: [] for n in names}
        cpu_ratios: dict[str, list[float]] = {n: [] for n in names}
        for rep in range(args.reps):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            this_rep = {name: contenders[name]() for name in order}
            for name, (wall_us, cpu_us) in this_rep.items():
                walls[name].append(wall_us)
                cpus[name].append(cpu_us)
                if "floor" in this_rep:
                    wall_ratios[name].append(wall_us / this_rep["floor"][0])
                    cpu_ratios[name].append(cpu_us / this_rep["floor"][1])
        print(
            f"# {args.pairs} pairs x {args.reps} reps, event {len(make_event(args.body))} B, "
            f"loop {args.loop}, CPU {cpu}, Python {sys.version.split()[0]}"
        )
        print(
            "| transport | wall µs/pair median (min-max) | x floor "
            "| client CPU µs/pair median | x floor |"
        )
        print("|---|---|---|---|---|")

        def ratio(values: list[float]) -> str:
            return f"{statistics.median(values):.2f}" if values else "n/a"

        results = {}
        for name in names:
            w, c = walls[name], cpus[name]
            results[name] = {
                "wall_us_per_pair": w,
                "cpu_us_per_pair": c,
                "wall_ratio_to_floor": wall_ratios[name],
                "cpu_ratio_to_floor": cpu_ratios[name],
            }
            print(
                f"| {name} | {statistics.median(w):.1f} ({min(w):.1f}-{max(w):.1f}) "
                f"| {ratio(wall_ratios[name])} | {statistics.median(c):.1f} "
                f"| {ratio(cpu_ratios[name])} |"
            )
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        return results
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)


# -- parsers alone ---------------------------------------------------------------------


def _pieces(body_size: int) -> list[bytes]:
    event = make_event(body_size)
    wire = next_head(1, len(event)) + event
    step = 262144  # what asyncio and uvloop hand to data_received at most
    return [wire[i : i + step] for i in range(0, len(wire), step)]


def parse_pure(pieces: list[bytes]) -> tuple[int, dict[str, str], bytes]:
    parser = ResponseParser()
    for piece in pieces:
        response = parser.feed(piece)
        if response is not None:
            return response.status, dict(response.headers), response.body
    raise AssertionError("incomplete")


def make_parse_httptools() -> Callable[[list[bytes]], tuple[int, dict[str, str], bytes]] | None:
    """httptools doing the same work: status, a joined lower-case header dict, the body."""
    try:
        import httptools
    except ImportError:
        return None

    class Sink:
        __slots__ = ("body", "done", "headers")

        def __init__(self) -> None:
            self.headers: dict[str, str] = {}
            self.body: list[bytes] = []
            self.done = False

        def on_header(self, name: bytes, value: bytes) -> None:
            key = name.decode("ascii").lower()
            val = value.decode("utf-8", "surrogateescape")
            old = self.headers.get(key)
            self.headers[key] = val if old is None else f"{old}, {val}"

        def on_body(self, body: bytes) -> None:
            self.body.append(body)

        def on_message_complete(self) -> None:
            self.done = True

    def parse(pieces: list[bytes]) -> tuple[int, dict[str, str], bytes]:
        sink = Sink()
        parser = httptools.HttpResponseParser(sink)
        for piece in pieces:
            parser.feed_data(piece)
            if sink.done:
                body = sink.body[0] if len(sink.body) == 1 else b"".join(sink.body)
                return parser.get_status_code(), sink.headers, body
        raise AssertionError("incomplete")

    return parse


def bench_parsers(args: argparse.Namespace) -> None:
    contenders = {"pure-python": parse_pure}
    httptools_parse = make_parse_httptools()
    if httptools_parse is not None:
        contenders["httptools"] = httptools_parse
    else:
        print("# httptools is not importable: timing the pure-Python parser only")
    cases = [("202 Accepted", [ACCEPTED])] + [
        (f"/next, {size} B event", _pieces(size)) for size in (30, 102_400, 1_048_576, 6_291_456)
    ]
    print("| response | " + " | ".join(f"{n} µs" for n in contenders) + " |")
    print("|---|" + "---|" * len(contenders))
    for label, pieces in cases:
        results = {name: parse(pieces) for name, parse in contenders.items()}
        assert len({repr(r) for r in results.values()}) == 1, "parsers disagree"
        number = max(5, min(20000, 20_000_000 // sum(map(len, pieces))))
        per_rep: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.reps):  # interleaved, so a slow phase of the host hits all
            for name, parse in contenders.items():
                start = time.perf_counter()
                for _ in range(number):
                    parse(pieces)
                per_rep[name].append((time.perf_counter() - start) / number * 1e6)
        # min: the least disturbed repetition
        row = [f"{min(times):.2f}" for times in per_rep.values()]
        print(f"| {label} | " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin both processes to")
    parser.add_argument("--body", type=int, default=30, help="event size in bytes (default 30)")
    parser.add_argument("--pairs", type=int, default=3000, help="timed pairs per repetition")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--only", nargs="*", help="subset of: floor lean aiohttp")
    parser.add_argument("--json", help="also write raw per-repetition figures here")
    parser.add_argument("--parsers", action="store_true", help="time the parsers alone")
    parser.add_argument(
        "--write",
        action="store_true",
        help="sweep the event sizes of docs/transport.md; write benchmarks/results/transport.*",
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.cpu, args.body)
    elif args.parsers:
        bench_parsers(args)
    elif args.write:
        sweep(args)
    else:
        bench_transports(args)


# Event size -> timed pairs per repetition (fewer for the large ones: same order of time).
SWEEP = {30: 3000, 100 * 1024: 1000, 1024 * 1024: 200, 6 * 1024 * 1024: 30}


def sweep(args: argparse.Namespace) -> None:
    """Every size of SWEEP, then benchmarks/results/transport.{md,json} with the header."""
    sys.path.insert(1, str(Path(__file__).resolve().parent))
    import _harness as h

    meta = h.start_meta()
    found = {}
    for body, pairs in SWEEP.items():
        args.body, args.pairs = body, pairs
        found[str(body)] = bench_transports(args)
    lines = [
        f"Wall µs per round-trip pair (GET /next + POST /response), median of {args.reps} "
        f"repetitions in rotated order (x the floor: median of per-repetition ratios); "
        f"loop {args.loop}, client and mock pinned to one CPU",
        "",
        "| event size | pairs per repetition | blocking-socket floor | `lean` | `aiohttp` |",
        "|---|---|---|---|---|",
    ]
    for body, pairs in SWEEP.items():
        r = found[str(body)]

        def cell(name: str, r: dict[str, dict[str, list[float]]] = r) -> str:
            wall = statistics.median(r[name]["wall_us_per_pair"])
            if name == "floor":
                return f"{wall:.1f}"
            return f"{wall:.1f} ({statistics.median(r[name]['wall_ratio_to_floor']):.2f}x)"

        lines.append(
            f"| {len(make_event(body))} B | {pairs} | {cell('floor')} | {cell('lean')} "
            f"| {cell('aiohttp')} |"
        )
    print("\n".join(lines))
    h.write_results("transport", "Transports: µs per Runtime API round trip", meta, lines, found)


if __name__ == "__main__":
    main()
