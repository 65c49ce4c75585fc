"""Per-phase cost of one invocation, measured from outside the runtime.

aiolambda has no profiling hook, so its phases are estimated three ways:

* **decode / encode / handler**: timed in this process on the same events, with
  the codec the runtime uses (orjson) and, for comparison, awslambdaric's
  (simplejson); the handler is the async echo awaited as a task, as the runtime
  runs it;
* **receive + send** (transport and loop overhead) = the runtime's measured
  µs/inv minus the floor's (which already pays the mock, the kernel and the
  minimal socket I/O) minus decode, encode and handler;
* **where the Python time goes**: a cProfile of the runtime process serving tiny
  events, stopped with SIGINT (``_profile_wrapper.py``), and ``-X importtime``
  for the cold start.
"""

from __future__ import annotations

import asyncio
import gc
import pstats
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True, slots=True)
class CodecTimes:
    """Median µs per call for one event size."""

    size: str
    orjson_loads_us: float
    orjson_dumps_us: float
    simplejson_loads_us: float
    simplejson_dumps_us: float
    handler_task_us: float


def _median_us(fn: Callable[[], object], budget_s: float, max_rounds: int = 200) -> float:
    """Median of rounds; each round times enough calls to last >= ~1 ms."""
    fn()
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-7)
    per_round = max(1, int(1e-3 / one))
    rounds: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(rounds) < max_rounds and (len(rounds) < 5 or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        for _ in range(per_round):
            fn()
        rounds.append((time.perf_counter() - t0) / per_round * 1e6)
    rounds.sort()
    return rounds[len(rounds) // 2]


def _handler_task_us(event_obj: Any, budget_s: float) -> float:
    """µs to create, run and await one task of the async echo handler (uvloop if present)."""

    async def handler(event: Any, context: Any) -> Any:
        return event

    async def batch(k: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(k):
            await loop.create_task(handler(event_obj, None))

    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    except ImportError:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return _median_us(lambda: runner.run(batch(100)), budget_s) / 100


def codec_times(size: str, event: bytes, budget_s: float = 0.5) -> CodecTimes:
    """Time decode, encode and the handler call for one event."""
    import orjson
    import simplejson

    obj = orjson.loads(event)
    # As the runtime does after init: what lives on is frozen, so the collector only
    # scans what each call allocates (else it would rescan ``obj`` again and again).
    gc.collect()
    gc.freeze()
    return CodecTimes(
        size=size,
        orjson_loads_us=_median_us(lambda: orjson.loads(event), budget_s),
        orjson_dumps_us=_median_us(lambda: orjson.dumps(obj), budget_s),
        simplejson_loads_us=_median_us(lambda: simplejson.loads(event), budget_s),
        simplejson_dumps_us=_median_us(lambda: simplejson.dumps(obj), budget_s),
        handler_task_us=_handler_task_us(obj, budget_s),
    )


def top_functions(
    prof_path: str, baseline_path: str, n: int, limit: int = 12
) -> list[tuple[str, float, float, float]]:
    """Per-invocation (function, calls, own µs, cumulative µs), by own time.

    ``prof_path`` profiles a process that served ``n`` invocations, ``baseline_path``
    one that served a single one: the difference divided by ``n - 1`` leaves out
    start-up (imports, handler loading) and keeps the steady state.
    """

    def load(path: str) -> dict[tuple[str, int, str], tuple[int, float, float]]:
        raw = pstats.Stats(path).stats  # type: ignore[attr-defined]
        return {key: (v[1], v[2], v[3]) for key, v in raw.items()}

    full, base = load(prof_path), load(baseline_path)
    rows = []
    for key, (calls, tottime, cumtime) in full.items():
        b_calls, b_tot, b_cum = base.get(key, (0, 0.0, 0.0))
        filename, line, name = key
        short = re.sub(r".*/(site-packages|lib/python3\.\d+)/", "", filename)
        short = re.sub(r".*/main/", "", short)
        per = n - 1
        rows.append(
            (
                f"{short}:{line}({name})",
                (calls - b_calls) / per,
                (tottime - b_tot) / per * 1e6,
                (cumtime - b_cum) / per * 1e6,
            )
        )
    rows.sort(key=lambda r: r[2], reverse=True)
    return rows[:limit]


def importtime_top(stderr: str, limit: int = 10) -> tuple[float, list[tuple[str, float]]]:
    """Total ms of top-level imports and the biggest ones, from ``-X importtime`` output."""
    top: list[tuple[str, float]] = []
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and not m.group(3):  # not indented: a top-level import (startup or entry point)
            top.append((m.group(4), int(m.group(2)) / 1000))
    total = sum(ms for _, ms in top)
    top.sort(key=lambda r: r[1], reverse=True)
    return total, top[:limit]


def main() -> None:
    """``python _phases.py SIZE_KEY BUDGET_S``: codec timings as one JSON line.

    Run in a fresh process pinned like the contenders, so that neither the
    harness's heap (which slows the collector) nor its CPU placement skews them.
    """
    import json
    import sys
    from dataclasses import asdict

    import _harness as h

    size_key, budget = sys.argv[1], float(sys.argv[2])
    event = h.SIZE_BY_KEY[size_key].event()
    print(json.dumps(asdict(codec_times(size_key, event, budget))))


if __name__ == "__main__":
    main()
