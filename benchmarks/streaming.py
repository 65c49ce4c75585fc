"""Response streaming against the buffered path: time to first byte and throughput.

The runtime runs as a child process (``python -m aiolambda``, uvloop, lean transport)
under the local emulator, which timestamps what it reads from the Runtime API: the
first byte of the response (TTFB) and its end, measured from the moment the invocation
is queued. The handler (``handlers/stream.py``) sends the same bytes either streamed
(an async generator, ``--chunk-kib`` per chunk) or buffered (one ``bytes`` result).

An honest comparison has to respect Lambda's limits: a buffered response is capped at
6 MB and a streamed one at 200 MB. So the two paths are compared at sizes both allow
(1 MB and 5 MB, with the data free to produce and with a producer that needs time per
chunk), and the 100 MB stream is measured alone, as MB/s (a rate is per-MB, so it
compares with the buffered rows' MB/s) and as the runtime's peak RSS, which shows the
body is never held whole. Repetitions alternate the modes; figures are medians;
ratios are streamed / buffered, per repetition, then the median.

    python benchmarks/streaming.py [--reps 5] [--big-mb 100] [--chunk-kib 64] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from aiolambda.emulator import Emulator  # noqa: E402

MB = 1_000_000


@dataclass
class Sample:
    ttfb_ms: float
    total_ms: float
    size: int
    cpu_s: float  # CPU time of the runtime's main thread (its event loop)

    @property
    def mb_per_s(self) -> float:
        return self.size / MB / (self.total_ms / 1000)


async def one(emu: Emulator, mode: str, size: int, chunk: int, pause_ms: float) -> Sample:
    first: list[float] = []
    received = 0

    def on_chunk(data: bytes) -> None:
        nonlocal received
        if not first:
            first.append(time.perf_counter())
        received += len(data)

    event = {"mode": mode, "size": size, "chunk": chunk, "pause_ms": pause_ms}
    cpu_before = cpu_seconds(emu.pid)
    start = time.perf_counter()
    result = await emu.invoke(event, on_chunk=on_chunk)
    end = time.perf_counter()
    cpu = cpu_seconds(emu.pid) - cpu_before
    if not result.ok:
        raise SystemExit(f"{mode} {size} B failed: {result.error_type} {result.payload[:200]!r}")
    got = received if result.streamed else len(result.payload)
    if result.streamed != (mode == "streamed") or got != size:
        raise SystemExit(f"{mode} {size} B: got {got} B (streamed={result.streamed})")
    ttfb = (first[0] if first else end) - start  # buffered: nothing arrives before the end
    return Sample(ttfb * 1000, (end - start) * 1000, size, cpu)


def cpu_seconds(pid: int | None) -> float:
    """CPU time of the process's main thread (ns resolution: the runtime's event loop)."""
    if pid is None:
        return 0.0
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def peak_rss_mb(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def row(name: str, samples: list[Sample]) -> str:
    ttfb = statistics.median(s.ttfb_ms for s in samples)
    total = statistics.median(s.total_ms for s in samples)
    rate = statistics.median(s.mb_per_s for s in samples)
    cpu_per_mb = sum(s.cpu_s for s in samples) * 1000 / (sum(s.size for s in samples) / MB)
    return f"| {name} | {ttfb:.2f} | {total:.1f} | {rate:.0f} | {cpu_per_mb:.2f} |"


async def main(
    reps: int, big_mb: float, chunk_kib: int, sizes_mb: list[float]
) -> tuple[list[str], dict[str, object]]:
    chunk = chunk_kib * 1024
    # (label, size, pause per chunk in ms)
    cases = [(f"{mb:g} MB", int(mb * MB), 0.0) for mb in sizes_mb]
    slow_size = int(sizes_mb[-1] * MB)
    slow_chunk = 512 * 1024
    cases.append((f"{sizes_mb[-1]:g} MB, 5 ms per 512 KiB chunk", slow_size, 5.0))
    big = int(big_mb * MB)
    async with Emulator(
        "stream.handler", task_root=HERE / "handlers", timeout=120, record=False
    ) as emu:
        # Warm-up: imports, the first connection, page faults of the block.
        await one(emu, "streamed", chunk * 4, chunk, 0)
        await one(emu, "buffered", chunk * 4, chunk, 0)
        rss_before_big = peak_rss_mb(emu.pid)
        table: dict[tuple[str, str], list[Sample]] = {}
        for _ in range(reps):
            for label, size, pause in cases:
                c = slow_chunk if pause else chunk
                for mode in ("buffered", "streamed") if _ % 2 == 0 else ("streamed", "buffered"):
                    table.setdefault((label, mode), []).append(await one(emu, mode, size, c, pause))
        rss_after_small = peak_rss_mb(emu.pid)
        big_samples = [await one(emu, "streamed", big, chunk, 0) for _ in range(max(1, reps // 2))]
        rss_after_big = peak_rss_mb(emu.pid)

    lines = [
        f"runtime child: python -m aiolambda (uvloop, lean); {chunk_kib} KiB chunks; "
        f"{reps} alternating repetitions; medians",
        "",
        "| response | TTFB ms | total ms | MB/s | runtime CPU ms/MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, _size, _pause in cases:
        lines.append(row(f"{label}, buffered", table[(label, "buffered")]))
        lines.append(row(f"{label}, streamed", table[(label, "streamed")]))
    lines += [row(f"{big_mb:g} MB, streamed (alone: over the 6 MB buffered cap)", big_samples), ""]
    ratios = {}
    for label, _size, _pause in cases:
        pairs = zip(table[(label, "streamed")], table[(label, "buffered")], strict=True)
        ttfb_ratio = statistics.median(s.ttfb_ms / b.ttfb_ms for s, b in pairs)
        pairs = zip(table[(label, "streamed")], table[(label, "buffered")], strict=True)
        rate_ratio = statistics.median(s.mb_per_s / b.mb_per_s for s, b in pairs)
        ratios[label] = {"ttfb": ttfb_ratio, "throughput": rate_ratio}
        lines.append(
            f"{label}: streamed/buffered TTFB {ttfb_ratio:.3f}x, throughput {rate_ratio:.2f}x"
        )
    rss = {"warm": rss_before_big, "after_small": rss_after_small, "after_big": rss_after_big}
    lines += [
        "",
        f"runtime peak RSS (VmHWM): {rss_before_big:.0f} MB after warm-up, "
        f"{rss_after_small:.0f} MB after the {sizes_mb[-1]:g} MB buffered/streamed rows, "
        f"{rss_after_big:.0f} MB after the {big_mb:g} MB streams",
    ]
    print("\n".join(lines))
    samples = {
        f"{label}, {mode}": [dataclasses.asdict(s) for s in values]
        for (label, mode), values in table.items()
    }
    samples[f"{big_mb:g} MB, streamed"] = [dataclasses.asdict(s) for s in big_samples]
    return lines, {"samples": samples, "ratios": ratios, "peak_rss_mb": rss}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--big-mb", type=float, default=100.0)
    parser.add_argument("--chunk-kib", type=int, default=64)
    parser.add_argument(
        "--sizes-mb", type=float, nargs="+", default=[1.0, 5.0],
        help="sizes both paths allow (at most 6 MB)",
    )  # fmt: skip
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/streaming.{md,json}"
    )
    args = parser.parse_args()
    if max(args.sizes_mb) > 6:
        parser.error("buffered responses are capped at 6 MB")
    import _harness as h

    meta = h.start_meta()
    lines, data = asyncio.run(main(args.reps, args.big_mb, args.chunk_kib, args.sizes_mb))
    if args.write:
        h.write_results("streaming", "Response streaming against buffered", meta, lines, data)
