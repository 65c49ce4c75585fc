"""Does ``AIOLAMBDA_WORKERS`` pay? Throughput of a CPU-bound handler, 1 vs 2 processes.

Runs the function under the local emulator with ``AWS_LAMBDA_MAX_CONCURRENCY=8``
(Managed Instances mode), keeps 8 invocations in flight, and times 64 of them after a
warm-up, alternating ``AIOLAMBDA_WORKERS=1`` and ``=2`` (order swapped every repetition).
The handler hashes for a few milliseconds (``handlers/cpu_bound.py``). The emulator
runs on the same machine and takes CPU too, so the ratio is a lower bound of what a
second worker brings on a machine with the cores to spare.

    python benchmarks/workers.py [--reps 3] [--invocations 64] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from aiolambda.emulator import Emulator  # noqa: E402

CONCURRENCY = 8


async def throughput(workers: int, invocations: int) -> float:
    env = {"AIOLAMBDA_WORKERS": str(workers)}
    async with Emulator(
        "cpu_bound.handler",
        task_root=HERE / "handlers",
        concurrency=CONCURRENCY,
        env=env,
        timeout=60,
    ) as emu:
        await emu.wait_for_next_calls(CONCURRENCY)
        await asyncio.gather(*(emu.submit({}) for _ in range(CONCURRENCY)))  # warm-up
        start = time.perf_counter()
        results = await asyncio.gather(*(emu.submit({}) for _ in range(invocations)))
        elapsed = time.perf_counter() - start
    if not all(result.ok for result in results):
        raise SystemExit("a CPU-bound invocation failed")
    return invocations / elapsed


async def main(reps: int, invocations: int) -> tuple[list[str], dict[str, object]]:
    figures: dict[int, list[float]] = {1: [], 2: []}
    for rep in range(reps):
        for workers in (1, 2) if rep % 2 == 0 else (2, 1):  # order alternated
            figures[workers].append(await throughput(workers, invocations))
    lines = [
        f"CPU-bound handler (`handlers/cpu_bound.py`), AWS_LAMBDA_MAX_CONCURRENCY={CONCURRENCY}, "
        f"{invocations} invocations timed per run after a warm-up, {reps} repetitions, order "
        "alternated; the emulator shares the machine's CPUs",
        "",
        "| AIOLAMBDA_WORKERS | inv/s median | runs |",
        "|---|---:|---|",
    ]
    for workers, values in figures.items():
        runs = ", ".join(f"{v:.1f}" for v in values)
        lines.append(f"| {workers} | {statistics.median(values):.1f} | {runs} |")
    ratios = [two / one for one, two in zip(figures[1], figures[2], strict=True)]
    lines += [
        "",
        f"2 workers / 1 worker, median of per-repetition ratios: {statistics.median(ratios):.2f}",
    ]
    print("\n".join(lines))
    return lines, {"inv_per_s": {str(k): v for k, v in figures.items()}, "ratios": ratios}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--invocations", type=int, default=64)
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/workers.{md,json}"
    )
    args = parser.parse_args()
    import _harness as h

    meta = h.start_meta()
    lines, data = asyncio.run(main(args.reps, args.invocations))
    if args.write:
        h.write_results("workers", "AIOLAMBDA_WORKERS: 1 vs 2 processes", meta, lines, data)
