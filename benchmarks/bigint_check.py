"""What exact big integers cost the event decoder: ``decode_event`` beside plain orjson.

    python benchmarks/bigint_check.py [--reps 15]

In-process, per event: ``orjson.loads`` alone (the floor), ``decode_event`` (the
runtime's decoder: the big-integer check, then orjson or, for a body that may hold an
integer beyond 64 bits, the standard library), and the check this one replaced
(``before``: a sampled scan that sent any body with a run of 19 digits anywhere,
strings included, to the standard library). Events: the tiny one, the 1 MB synthetic
one (no long digit runs) and the realistic batches of ``_events.py``.

Every repetition times each contender once, in an order rotated per repetition, and
ratios are taken within a repetition (median of the per-repetition ratios), so a
machine whose load changes during the run still compares like with like. The last
lines give the issue's measure: what a Kinesis event costs over the tiny one, as a
multiple of what it costs ``orjson.loads``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _events
import _harness as h
import orjson

from aiolambda._core import protocol as p
from aiolambda._core.codec import decode_event

_OLD_RUN = re.compile(rb"[0-9]{19}")
_OLD_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E for b in range(256))


def before(body: bytes) -> Any:
    """The decoder as it was before the check looked at token ends (for comparison)."""
    samples = body[::9].translate(_OLD_MAP)
    at = samples.find(b"00")
    while at >= 0:
        pos = at * 9
        if _OLD_RUN.search(body, max(0, pos - 18), pos + 19):
            return json.loads(body)
        at = samples.find(b"00", at + 1)
    return orjson.loads(body)


CONTENDERS: dict[str, Callable[[bytes], Any]] = {
    "orjson.loads": orjson.loads,
    "decode_event": lambda body: decode_event(body, p.CT_JSON),
    "before": before,
}


def events() -> dict[str, tuple[str, bytes]]:
    out = {"tiny": ("tiny (~30 B)", h.TINY_EVENT), "1m": ("1 MB synthetic", h.make_event(2**20))}
    out.update({key: (label, build()) for key, (label, build) in _events.REALISTIC.items()})
    return out


def per_call_us(func: Callable[[bytes], Any], body: bytes, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        func(body)
    return (time.perf_counter() - start) / n * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args(argv)
    bodies = events()
    names = list(CONTENDERS)
    times: dict[str, dict[str, list[float]]] = {k: {c: [] for c in names} for k in bodies}
    for key, (_, body) in bodies.items():
        reference = orjson.loads(body)
        assert decode_event(body, p.CT_JSON) == reference == before(body), key
    for rep in range(args.reps):
        for key, (_, body) in bodies.items():
            n = max(3, int(20_000 / (1 + len(body) / 1500)))  # ~10-20 ms per timing
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                times[key][name].append(per_call_us(CONTENDERS[name], body, n))
    print(f"in-process, {args.reps} alternating repetitions; medians; ratios within a repetition")
    print("| event | bytes | orjson.loads µs | decode_event µs | ratio | before µs | ratio |")
    print("|---|---|---|---|---|---|---|")
    for key, (label, body) in bodies.items():
        t = times[key]
        floor = t["orjson.loads"]
        cells = [label, f"{len(body):,}", f"{statistics.median(floor):.1f}"]
        for name in ("decode_event", "before"):
            ratios = [a / b for a, b in zip(t[name], floor, strict=True)]
            cells += [f"{statistics.median(t[name]):.1f}", f"{statistics.median(ratios):.2f}x"]
        print("| " + " | ".join(cells) + " |")
    print()
    print("Over the tiny event, as a multiple of what orjson.loads pays for it (target ≤ 1.3):")
    for key in ("kinesis100", "kinesis100-18", "ddb100", "sqs10"):
        for name in ("decode_event", "before"):
            extra = [
                (t - tt) / (f - ft)
                for t, tt, f, ft in zip(
                    times[key][name],
                    times["tiny"][name],
                    times[key]["orjson.loads"],
                    times["tiny"]["orjson.loads"],
                    strict=True,
                )
            ]
            print(f"  {bodies[key][0]}: {name} {statistics.median(extra):.2f}x")


if __name__ == "__main__":
    main()
