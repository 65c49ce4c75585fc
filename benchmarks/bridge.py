"""What the sync-wrapper bridge costs per invocation: µs against a plain async handler.

A sync decorator around an ``async def`` handler runs in a bridge thread and its inner
call waits for the coroutine on the loop (``aiolambda._core.bridge``). Contenders, each
awaited the way the runtime awaits a handler, one invocation at a time, in process
(no Runtime API: only the handler call differs):

* ``plain``     - the ``async def`` handler itself (what a plain async handler costs:
  the runtime passes it through unchanged, so this is also its cost with the bridge)
* ``unbridged`` - a ``functools.wraps`` decorator around it, called on the loop and its
  coroutine awaited (the runtime before the bridge; the decorator's "after" step then
  runs before the handler's body)
* ``bridged``   - the same decorator through the bridge (the runtime now)

Each repetition runs every contender for ``--calls`` calls after ``--warmup`` calls on
a fresh event loop; the order rotates between repetitions so drifts of the host's speed
hit all alike. Reported: the median µs/call over repetitions (min-max), the median
per-repetition ratio to ``plain`` and the bridge's added µs (bridged - plain).

Usage::

    python benchmarks/bridge.py                 # uvloop, 9 repetitions
    python benchmarks/bridge.py --loop asyncio --reps 15 --cpu 0
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from aiolambda._core.bridge import Bridge, intercept


async def handler(event: Any, context: Any) -> Any:
    await asyncio.sleep(0)  # one suspension, as a handler awaiting I/O has
    return event


def decorator(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(event: Any, context: Any) -> Any:
        return func(event, context)

    return wrapper


def contenders() -> dict[str, Callable[[Any, Any], Any]]:
    unbridged = decorator(handler)
    bridged_outer = decorator(handler)
    assert intercept(bridged_outer)
    return {
        "plain": handler,
        "unbridged": unbridged,
        "bridged": Bridge(bridged_outer, 1).handler(),
    }


async def _time(func: Callable[[Any, Any], Any], calls: int, warmup: int) -> float:
    event = {"i": 1}
    for _ in range(warmup):
        await func(event, None)
    start = time.perf_counter()
    for _ in range(calls):
        await func(event, None)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--cpu", type=int, help="pin to this CPU (loop and bridge thread)")
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/bridge.{md,json}"
    )
    args = parser.parse_args()
    import _harness as h

    meta = h.start_meta()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.loop == "uvloop":
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    funcs = contenders()
    names = list(funcs)
    times: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(args.reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        this: dict[str, float] = {}
        for name in order:
            with asyncio.Runner(loop_factory=factory) as runner:
                this[name] = runner.run(_time(funcs[name], args.calls, args.warmup))
        for name in names:
            times[name].append(this[name])
            ratios[name].append(this[name] / this["plain"])
    lines = [
        f"{args.loop}, {args.reps} repetitions x {args.calls} calls, order rotated, "
        f"{'pinned to CPU ' + str(args.cpu) if args.cpu is not None else 'unpinned'}",
        "",
        "| handler | µs/call median (min-max) | x plain |",
        "|---|---:|---:|",
    ]
    for name in names:
        series = times[name]
        lines.append(
            f"| {name} | {statistics.median(series):.2f} ({min(series):.2f}-{max(series):.2f}) "
            f"| {statistics.median(ratios[name]):.2f} |"
        )
    added = [b - p for b, p in zip(times["bridged"], times["plain"], strict=True)]
    lines += [
        "",
        f"The bridge adds {statistics.median(added):.1f} µs per invocation (median of reps).",
    ]
    print("\n".join(lines))
    if args.write:
        data = {"us_per_call": times, "added_us": added}
        h.write_results("bridge", "The sync-wrapper bridge: µs per invocation", meta, lines, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
