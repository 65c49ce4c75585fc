"""Soak: a million invocations through one ``python -m aiolambda`` process, nothing leaked.

Usage::

    python benchmarks/soak.py                      # 1 000 000 invocations, lean transport
    python benchmarks/soak.py -n 200000 --transport aiohttp --json out.json
    python benchmarks/soak.py -n 200000 --sync     # a sync handler in a worker thread
    python benchmarks/soak.py --write              # also benchmarks/results/soak.{md,json}

A minimal Runtime API in this process (a raw ``asyncio.Protocol`` on 127.0.0.1) hands
out ``n`` invocations with fresh request ids and checks every answer: the right body,
for an id it delivered, exactly once. The runtime under test is a child process
serving this module's :func:`handler`, which echoes the event and, every ``--every``
invocations, appends a sample of its own process to a stats file: RSS, open file
descriptors, asyncio tasks, threads and GC-tracked objects.

The verdict compares the last sample with the one taken after ``--warmup`` invocations:
RSS growth under ``--max-rss-growth-mb`` (2 MB), GC-tracked objects grown by at most
``--max-object-growth`` (20: the count sits still after warm-up, so a leak of one
container per thousand invocations shows in a million-invocation run), the same number
of descriptors, tasks and threads, and every invocation answered exactly once.
Exit code 0 when it holds.

This module doubles as the handler module (``soak.handler``), so the top level imports
only what the handler needs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import time
from typing import Any

# -- the handler (runs in the child) --------------------------------------------------

_STATS_PATH = os.environ.get("AIOLAMBDA_SOAK_STATS", "")
_EVERY = int(os.environ.get("AIOLAMBDA_SOAK_EVERY", "0") or 0)
_PAGE = os.sysconf("SC_PAGE_SIZE")
_counter = itertools.count(1)


def _sample(served: int) -> dict[str, Any]:
    import gc

    with open("/proc/self/statm", "rb") as f:
        resident_pages = int(f.read().split()[1])
    fds = len(os.listdir("/proc/self/fd")) - 1  # minus the descriptor listdir itself holds
    return {
        "n": served,
        "t": time.monotonic(),
        "rss": resident_pages * _PAGE,
        "fds": fds,
        "tasks": _tasks(),
        "threads": threading.active_count(),
        "objects": len(gc.get_objects()),
    }


def _tasks() -> int:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # a worker thread (sync handler): count the runtime's loop's tasks
        return len(asyncio.all_tasks(_runtime_loop)) if _runtime_loop is not None else -1


def _loading_loop() -> asyncio.AbstractEventLoop | None:
    # aiolambda imports the handler module inside its running loop.
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_runtime_loop = _loading_loop()


async def handler(event: Any, context: Any) -> Any:
    """Echo the event; every ``_EVERY`` invocations, record a sample of the process."""
    served = next(_counter)
    if _EVERY and served % _EVERY == 0:
        line = json.dumps(_sample(served)) + "\n"
        with open(_STATS_PATH, "a") as f:
            f.write(line)
    return event


def sync_handler(event: Any, context: Any) -> Any:
    """The same, as a sync handler (runs in the runtime's worker thread)."""
    served = next(_counter)
    if _EVERY and served % _EVERY == 0:
        line = json.dumps(_sample(served)) + "\n"
        with open(_STATS_PATH, "a") as f:
            f.write(line)
    return event


# -- the driver (runs in the benchmark process) ---------------------------------------

EVENT = b'{"soak":true,"payload":"0123456789abcdef"}'
DEFAULT_N = 1_000_000


class _Api:
    """Hands out ``n`` invocations and checks that each is answered once, correctly."""

    def __init__(self, n: int, done: asyncio.Future[None]) -> None:
        from aiolambda._core import protocol as p

        self.n = n
        self.done = done
        self.handed = 0
        self.answered = 0
        self.errors: list[str] = []
        self.state = bytearray(n)  # 0 new, 1 delivered, 2 answered
        self.parked: list[_Conn] = []
        self.connections = 0
        deadline = int(time.time() * 1000) + 6 * 3600 * 1000  # outlives the longest soak
        self._head_tail = (
            f"\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n"
            "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:"
            "function:soak\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(EVENT)}\r\n\r\n"
        ).encode() + EVENT
        self._next = p.NEXT_PATH.encode()
        self._prefix = f"{p.RUNTIME_PREFIX}/invocation/soak-".encode()

    def on_request(self, conn: _Conn, method: bytes, target: bytes, body: bytes) -> None:
        if method == b"GET" and target == self._next:
            if self.handed >= self.n:
                self.parked.append(conn)  # never answered: the run is over
                return
            i = self.handed
            self.handed += 1
            self.state[i] = 1
            conn.write(
                b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: soak-%010d" % i
                + self._head_tail
            )
            return
        if method == b"POST" and target.startswith(self._prefix):
            request_id, _, kind = target[len(self._prefix) :].partition(b"/")
            i = int(request_id) if request_id.isdigit() else -1
            if not 0 <= i < self.n or self.state[i] != 1:
                self._fail(f"answer for an id not awaiting one: {target!r}")
                conn.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            self.state[i] = 2
            if kind != b"response" or body != EVENT:
                self._fail(f"wrong answer for {i}: {kind!r} {body[:200]!r}")
            self.answered += 1
            conn.write(b'HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n')
            if self.answered == self.n and not self.done.done():
                self.done.set_result(None)
            return
        self._fail(f"unexpected request {method!r} {target!r}")
        conn.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    def _fail(self, message: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(message)


class _Conn(asyncio.Protocol):
    def __init__(self, api: _Api) -> None:
        self.api = api
        self.buf = bytearray()
        self.head: tuple[bytes, bytes] | None = None
        self.length = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.api.connections += 1

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            if self.head is None:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end])
                del buf[: end + 4]
                line, _, fields = head.partition(b"\r\n")
                method, target, _ = line.split(b" ", 2)
                self.length = 0
                for field in fields.split(b"\r\n"):
                    name, _, value = field.partition(b":")
                    if name.strip().lower() == b"content-length":
                        self.length = int(value)
                self.head = (method, target)
            if len(buf) < self.length:
                return
            body = bytes(buf[: self.length])
            del buf[: self.length]
            method, target = self.head
            self.head = None
            self.api.on_request(self, method, target, body)


def _read_samples(path: str) -> list[dict[str, Any]]:
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


async def soak(
    n: int,
    *,
    transport: str = "lean",
    loop: str = "auto",
    sync: bool = False,
    every: int = 10_000,
    warmup: int = 100_000,
    timeout_s: float = 1800.0,
) -> dict[str, Any]:
    """Run the soak; returns the report (see :func:`verdict`)."""
    import sys
    import tempfile
    from pathlib import Path

    here = Path(__file__).resolve().parent
    loop_ = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop_.create_future()
    api = _Api(n, done)
    server = await loop_.create_server(lambda: _Conn(api), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fd, stats_path = tempfile.mkstemp(prefix="aiolambda-soak-", suffix=".jsonl")
    os.close(fd)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "_LAMBDA", "AIOLAMBDA_")) and k != "_HANDLER"
    }
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "_HANDLER": "soak.sync_handler" if sync else "soak.handler",
            "LAMBDA_TASK_ROOT": str(here),
            "AWS_LAMBDA_FUNCTION_NAME": "soak",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AIOLAMBDA_TRANSPORT": transport,
            "AIOLAMBDA_LOOP": loop,
            "AIOLAMBDA_SOAK_STATS": stats_path,
            "AIOLAMBDA_SOAK_EVERY": str(every),
            "PYTHONPATH": str(here.parent),
        }
    )
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiolambda",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output_task = asyncio.ensure_future(proc.stdout.read())
    exited = asyncio.ensure_future(proc.wait())
    try:
        await asyncio.wait({done, exited}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        elapsed = time.monotonic() - started
        if proc.returncode is None:
            proc.terminate()
        exit_code = await exited
        output = (await output_task).decode("utf-8", "replace")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for conn in api.parked:
            if conn.transport is not None:
                conn.transport.close()
        server.close()
        await server.wait_closed()
        samples = _read_samples(stats_path)
        os.unlink(stats_path)
    return {
        "n": n,
        "transport": transport,
        "loop": loop,
        "handler": "sync" if sync else "async",
        "every": every,
        "warmup": warmup,
        "answered": api.answered,
        "handed": api.handed,
        "connections": api.connections,
        "errors": api.errors,
        "seconds": round(elapsed, 2),
        "per_second": round(api.answered / elapsed) if elapsed else 0,
        "exit_code": exit_code,
        "output_tail": output[-2000:],
        "samples": samples,
    }


def verdict(
    report: dict[str, Any], *, max_rss_growth_mb: float = 2.0, max_object_growth: int = 20
) -> list[str]:
    """The soak's failures (empty when it held): answers, then leaks after warm-up."""
    problems = list(report["errors"])
    if report["answered"] != report["n"]:
        problems.append(f"answered {report['answered']} of {report['n']} invocations")
    if report["exit_code"] != 0:
        problems.append(f"the runtime exited with {report['exit_code']} on SIGTERM")
    samples = report["samples"]
    base = next((s for s in samples if s["n"] >= report["warmup"]), None)
    if base is None or base is samples[-1]:
        problems.append("not enough samples after warm-up to judge leaks")
        return problems
    last = samples[-1]
    growth_mb = (last["rss"] - base["rss"]) / 1e6
    if growth_mb >= max_rss_growth_mb:
        problems.append(f"RSS grew {growth_mb:.2f} MB after warm-up (limit {max_rss_growth_mb})")
    objects = last["objects"] - base["objects"]
    if objects > max_object_growth:
        problems.append(
            f"GC-tracked objects grew by {objects} after warm-up "
            f"({base['objects']} -> {last['objects']}, limit {max_object_growth})"
        )
    for key in ("fds", "tasks", "threads"):
        if last[key] != base[key]:
            problems.append(f"{key}: {base[key]} after warm-up, {last[key]} at the end")
    return problems


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of a report (for humans and RELIABILITY.md)."""
    samples = report["samples"]
    base = next((s for s in samples if s["n"] >= report["warmup"]), samples[0] if samples else None)
    last = samples[-1] if samples else None
    out: dict[str, Any] = {
        key: report[key]
        for key in (
            "n",
            "answered",
            "transport",
            "loop",
            "handler",
            "seconds",
            "per_second",
            "exit_code",
        )
    }
    if base is not None and last is not None:
        out.update(
            warmup_at=base["n"],
            rss_mb_after_warmup=round(base["rss"] / 1e6, 2),
            rss_mb_end=round(last["rss"] / 1e6, 2),
            rss_growth_mb=round((last["rss"] - base["rss"]) / 1e6, 3),
            rss_max_mb=round(max(s["rss"] for s in samples) / 1e6, 2),
            fds=(base["fds"], last["fds"]),
            tasks=(base["tasks"], last["tasks"]),
            threads=(base["threads"], last["threads"]),
            gc_objects=(base["objects"], last["objects"]),
        )
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=DEFAULT_N, help="invocations (default 1e6)")
    parser.add_argument("--transport", default="lean", choices=("lean", "aiohttp"))
    parser.add_argument("--loop", default="auto", choices=("auto", "uvloop", "asyncio"))
    parser.add_argument("--sync", action="store_true", help="a sync handler (worker thread)")
    parser.add_argument("--every", type=int, default=10_000, help="sample every N invocations")
    parser.add_argument("--warmup", type=int, default=None, help="default: n/10")
    parser.add_argument("--max-rss-growth-mb", type=float, default=2.0)
    parser.add_argument("--max-object-growth", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds")
    parser.add_argument("--json", help="write the full report (with every sample) here")
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/soak.{md,json}"
    )
    args = parser.parse_args(argv)
    import sys

    sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))
    import _harness as h  # here, not at the top: the child imports this module as its handler

    meta = h.start_meta(h.command_line(["soak.py", *(sys.argv[1:] if argv is None else argv)]))
    warmup = args.warmup if args.warmup is not None else max(args.n // 10, args.every)
    try:
        import uvloop

        runner_factory = uvloop.new_event_loop
    except ImportError:
        runner_factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=runner_factory) as runner:
        report = runner.run(
            soak(
                args.n,
                transport=args.transport,
                loop=args.loop,
                sync=args.sync,
                every=args.every,
                warmup=warmup,
                timeout_s=args.timeout,
            )
        )
    problems = verdict(
        report,
        max_rss_growth_mb=args.max_rss_growth_mb,
        max_object_growth=args.max_object_growth,
    )
    report["problems"] = problems
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    headline = summary(report)
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in headline.items()]
    lines += ["", *(f"FAIL {problem}" for problem in problems)]
    if not problems:
        lines.append("PASS every invocation answered exactly once; no growth after warm-up")
    print(json.dumps(headline, indent=1))
    print("\n".join(lines[len(headline) + 3 :]))
    if args.write:
        h.write_results("soak", "Soak: one runtime process, nothing leaked", meta, lines, report)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
