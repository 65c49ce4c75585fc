"""What exact big integers cost the event decoder: ``decode_event`` next to plain orjson.

    python benchmarks/bigint_check.py

Both decode the benchmark events (``_harness.make_event``: ~30 B and 1 MB, with no
long digit run, so the exact decoder never runs: what is measured is the check that
decides it). Alternating repetitions, medians, ratio per repetition pair.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h
import orjson

from aiolambda._core import protocol as p
from aiolambda._core.codec import decode_event, is_json

REPS = 9


def plain(body: bytes, content_type: str | None) -> object:
    """``decode_event`` as it was before the big-integer check."""
    if not is_json(content_type):
        return body
    return orjson.loads(body)


def per_call_us(func: object, body: bytes, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        func(body, p.CT_JSON)  # type: ignore[operator]
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    print("| event | orjson only µs | with the check µs | ratio (median of pairs) |")
    print("|---|---|---|---|")
    for key, n in (("tiny", 20000), ("1m", 20)):
        body = h.make_event(h.SIZE_BY_KEY[key].nbytes)
        assert decode_event(body, p.CT_JSON) == plain(body, p.CT_JSON)
        before, after, ratios = [], [], []
        for _ in range(REPS):
            b = per_call_us(plain, body, n)
            a = per_call_us(decode_event, body, n)
            before.append(b)
            after.append(a)
            ratios.append(a / b)
        label = h.SIZE_BY_KEY[key].label
        print(
            f"| {label} | {statistics.median(before):.2f} | {statistics.median(after):.2f} "
            f"| {statistics.median(ratios):.3f} |"
        )


if __name__ == "__main__":
    main()
