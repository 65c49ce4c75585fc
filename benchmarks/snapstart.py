"""SnapStart: time from ``/restore/next`` answered to the first ``/next``, per runtime.

That interval is the part of a SnapStart cold start the runtime controls: after the
restore it runs the after-restore hooks, drops or opens Runtime API connections and
asks for work. Each repetition starts a fresh runtime process with
``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`` against a minimal Runtime API written
here on raw asyncio streams, waits for its ``/restore/next`` (the snapshot point),
lets it settle for ``--settle-ms`` (a real restore comes much later), answers, and
times the gap to the first ``/next``; then it hands out one event and checks the
answer, so a runtime that skipped the hooks or answered wrongly fails the run.
Runtimes alternate, in an order rotated every repetition; medians and the ratios
(aiolambda over awslambdaric, per repetition) come from one run. awslambdaric runs with
``AWS_EXECUTION_ENV=AWS_Lambda_python3.12``, as on Lambda's SnapStart runtimes.

    python benchmarks/snapstart.py [--reps 15] [--settle-ms 50] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESTORE_NEXT = b"GET /2018-06-01/runtime/restore/next "
NEXT = b"GET /2018-06-01/runtime/invocation/next "
EVENT = b'{"k":"v"}'
REQUEST_ID = "5e3c0e4e-0000-4000-8000-000000000001"

RIC = "awslambdaric 4.2.2 (AWS_EXECUTION_ENV=AWS_Lambda_python3.12)"
CONTENDERS = {
    "aiolambda (sync handler)": ["-m", "aiolambda", "snap_echo.sync_handler"],
    "aiolambda (async handler)": ["-m", "aiolambda", "snap_echo.handler"],
    RIC: ["-m", "awslambdaric", "snap_echo.sync_handler"],
}


@dataclass
class Run:
    """What the mock Runtime API saw of one runtime process."""

    restore_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    answered_at: float = 0.0
    first_next_at: float = 0.0
    answer: asyncio.Future[bytes] | None = None
    nexts: int = 0


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _serve(run: Run, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            if head.startswith(RESTORE_NEXT):
                run.restore_arrived.set()
                await run.release.wait()
                writer.write(_response(200, b""))
                run.answered_at = time.perf_counter()
            elif head.startswith(NEXT):
                run.nexts += 1
                if run.nexts == 1:
                    run.first_next_at = time.perf_counter()
                    headers = {
                        "Lambda-Runtime-Aws-Request-Id": REQUEST_ID,
                        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
                        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:"
                        "123456789012:function:bench",
                        "Content-Type": "application/json",
                    }
                    writer.write(_response(200, EVENT, headers))
                else:
                    await reader.read()  # later polls get no work: wait for the kill
                    return
            else:
                assert run.answer is not None
                if not run.answer.done():
                    run.answer.set_result(head.split(b" ")[1] + b" " + body)
                writer.write(_response(202, b'{"status":"OK"}'))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def measure(argv: list[str], settle_s: float) -> float:
    """One fresh runtime process: seconds from /restore/next answered to the first /next."""
    run = Run()
    run.answer = asyncio.get_running_loop().create_future()
    server = await asyncio.start_server(lambda r, w: _serve(run, r, w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")
        and not k.startswith(("AWS_", "AIOLAMBDA_", "_LAMBDA"))
    }
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "_HANDLER": argv[-1],
            "LAMBDA_TASK_ROOT": str(HERE / "handlers"),
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
            "PYTHONPATH": str(REPO),
        }
    )
    if argv[1] == "awslambdaric":  # SnapStart is python3.12+: run it as Lambda runs it there
        env["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.12"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        cwd=HERE / "handlers",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            await run.restore_arrived.wait()
            await asyncio.sleep(settle_s)  # the snapshot: the process sits idle
            run.release.set()
            answer = await run.answer
    finally:
        proc.kill()
        _, stderr = await proc.communicate()
        server.close()
    path, _, body = answer.partition(b" ")
    if not path.endswith(b"/response"):
        raise SystemExit(f"{argv}: wrong answer {answer[:300]!r}\n{stderr.decode()[-2000:]}")
    doc = json.loads(body)
    if doc != {"event": {"k": "v"}, "snapshots": 1, "restores": 1}:
        raise SystemExit(f"{argv}: hooks did not run as expected: {doc}")
    return run.first_next_at - run.answered_at


async def main(reps: int, settle_ms: int) -> tuple[list[str], dict[str, list[float]]]:
    figures: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    names = list(CONTENDERS)
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:  # order rotated
            figures[name].append(await measure(CONTENDERS[name], settle_ms / 1000))
    lines = [
        f"/restore/next answered -> first /next, {reps} repetitions, order rotated (ms); "
        f"Python {sys.version.split()[0]}, settle {settle_ms} ms",
        "",
        "| runtime | median | min | max |",
        "|---|---:|---:|---:|",
    ]
    for name, values in figures.items():
        ms = [v * 1000 for v in values]
        lines.append(f"| {name} | {statistics.median(ms):.3f} | {min(ms):.3f} | {max(ms):.3f} |")
    lines.append("")
    for name in CONTENDERS:
        if name.startswith("aiolambda"):
            ratios = [a / r for a, r in zip(figures[name], figures[RIC], strict=True)]
            lines.append(
                f"{name} / awslambdaric: {statistics.median(ratios):.2f}x "
                "(median of per-repetition ratios)"
            )
    print("\n".join(lines))
    return lines, {name: [v * 1000 for v in values] for name, values in figures.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--settle-ms", type=int, default=50)
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/snapstart.{md,json}"
    )
    args = parser.parse_args()
    import _harness as h

    meta = h.start_meta()
    lines, ms = asyncio.run(main(args.reps, args.settle_ms))
    if args.write:
        h.write_results(
            "snapstart", "SnapStart: restore to the first /next", meta, lines, {"ms": ms}
        )
