"""Warm per-invocation cost in instructions (callgrind), stable on a loaded machine.

Each contender serves ``--small`` and then ``--large`` invocations of one event from
the mock Runtime API (``_mock_api.py``) under ``valgrind --tool=callgrind``; the
difference of the two totals over the difference of the counts is what one more
warm invocation costs it, start-up cancelled out. Ratios are to the floor with orjson
(``floor_client.py --orjson``: receive, decode, call, encode, send and nothing else).

    python benchmarks/warm_instructions.py [--small 100] [--large 1100] [--size tiny|kinesis100|...]
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

CONTENDERS = (
    "floor_orjson",
    "aiolambda_sync",
    "aiolambda_sync_on_loop",
    "aiolambda",
    "awslambdaric_312",
)
BASE = "floor_orjson"


def instructions(key: str, event: h.EventFile, n: int, scratch: Path) -> int:
    """Instructions a fresh ``key`` process executes serving ``n`` invocations."""
    out = scratch / f"{key}-{n}"
    valgrind = (
        "valgrind", "--tool=callgrind", "--trace-children=yes",
        f"--callgrind-out-file={out}.%p", "--dump-line=no", "--dump-instr=no",
    )  # fmt: skip
    contender = h.CONTENDER_BY_KEY[key]
    traced = replace(contender, argv=(*valgrind, *contender.argv))
    where = h.placement(split=False, pin=False)
    result = h.run_once(
        traced, event, n, where, timeout_s=600.0, stop_signals=(signal.SIGTERM, signal.SIGINT)
    )
    if not result.ok:
        raise SystemExit(f"{key} failed serving {n}: {result.error}")
    total = 0
    for dump in scratch.glob(out.name + ".*"):
        match = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)
        total += int(match.group(1)) if match else 0
        dump.unlink()
    if not total:
        raise SystemExit(f"{key}: callgrind wrote no counts")
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=1100)
    parser.add_argument("--size", default="tiny", choices=list(h.SIZE_BY_KEY))
    parser.add_argument("--contenders", nargs="*", default=list(CONTENDERS))
    args = parser.parse_args(argv)
    size = h.SIZE_BY_KEY[args.size]
    per_inv: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="aiolambda-warm-") as scratch,
        h.EventFile(size.event()) as event,
    ):
        for key in args.contenders:
            if reason := h.CONTENDER_BY_KEY[key].available():
                h.log(f"{key}: skipped ({reason})")
                continue
            h.log(f"callgrind: {key}")
            small = instructions(key, event, args.small, Path(scratch))
            large = instructions(key, event, args.large, Path(scratch))
            per_inv[key] = (large - small) / (args.large - args.small)
    base = per_inv.get(BASE)
    print(f"Warm instructions per invocation, {args.size} event, Python {sys.version.split()[0]}")
    print(f"({args.large} - {args.small} invocations, callgrind)\n")
    print("| contender | instructions / invocation | x floor + orjson |")
    print("|---|---|---|")
    for key, count in per_inv.items():
        ratio = f"{count / base:.2f}" if base else ""
        print(f"| {h.CONTENDER_BY_KEY[key].label} | {count:,.0f} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
