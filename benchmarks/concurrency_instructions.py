"""Instructions per invocation with N in flight (callgrind), the runtime's and the mock's.

Stable on a loaded machine, unlike ``concurrency.py``'s wall-clock figures. For each N
one aiolambda process (``AWS_LAMBDA_MAX_CONCURRENCY=N``, the ``sleep.handler`` of
``concurrency.py``) serves ``N x --small`` and then ``N x --large`` invocations under
``valgrind --tool=callgrind``, and so does the mock Runtime API; the difference of the
totals over the difference of the counts is what one more warm invocation costs each
(start-up, connections and the first ``/next`` cancelled out; the mock's set-up of each
invocation, before the timed run, is counted apart and taken off). Both share one CPU in
``concurrency.py``, so both count against its ideal throughput.

    python benchmarks/concurrency_instructions.py [--levels 1,64,256] [--small 2] [--large 6]
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

_VALGRIND = ("valgrind", "--tool=callgrind", "--dump-line=no", "--dump-instr=no")


def _total(dump: Path) -> int:
    match = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)
    if not match:
        raise SystemExit(f"{dump}: callgrind wrote no counts")
    return int(match.group(1))


def instructions(n_conc: int, rounds: int, scratch: Path, env: dict[str, str]) -> tuple[int, int]:
    """(runtime, mock) instructions for ``n_conc x rounds`` invocations."""
    runtime_out = scratch / f"runtime-{n_conc}-{rounds}"
    mock_out = scratch / f"mock-{n_conc}-{rounds}"
    subject = h.CONTENDER_BY_KEY["aiolambda"]
    traced = replace(
        subject, argv=(*_VALGRIND, f"--callgrind-out-file={runtime_out}", *subject.argv)
    )
    with h.EventFile(h.TINY_EVENT) as event:
        result = h.run_once(
            traced,
            event,
            n_conc * rounds,
            h.placement(split=False, pin=False),
            timeout_s=900.0,
            env_extra={"AWS_LAMBDA_MAX_CONCURRENCY": str(n_conc), **env},
            handler="sleep.handler",
            stop_signals=(signal.SIGTERM, signal.SIGINT),
            mock_wrap=(*_VALGRIND, f"--callgrind-out-file={mock_out}"),
        )
    if not result.ok:
        raise SystemExit(f"N={n_conc} x {rounds} failed: {result.error}")
    counts = _total(runtime_out), _total(mock_out) - _mock_alone(n_conc * rounds, mock_out)
    runtime_out.unlink()
    return counts


def _mock_alone(n: int, out: Path) -> int:
    """The mock's instructions for preparing ``n`` invocations and exiting, unserved: its
    per-invocation set-up (request ids, heads) is no part of the timed run."""
    with h.EventFile(h.TINY_EVENT) as event:
        mock = subprocess.Popen(
            [
                *(*_VALGRIND, f"--callgrind-out-file={out}", h.PYTHON, str(h.MOCK)),
                *("--n", str(n), "--event-file", event.path),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert mock.stdout is not None and mock.stdin is not None
        mock.stdout.readline()  # listening
        mock.stdin.close()
        mock.wait(300)
        mock.stdout.close()
    count = _total(out)
    out.unlink()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,64,256")
    parser.add_argument("--small", type=int, default=2, help="rounds of the short run")
    parser.add_argument("--large", type=int, default=6, help="rounds of the long run")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the runtime")
    parser.add_argument("--mock", type=Path, default=h.MOCK, help="another mock, to compare")
    args = parser.parse_args(argv)
    h.MOCK = args.mock
    env = dict(item.split("=", 1) for item in args.env)
    rows = []
    with tempfile.TemporaryDirectory(prefix="aiolambda-conc-") as tmp:
        for n_conc in (int(x) for x in args.levels.split(",")):
            h.log(f"callgrind: N={n_conc}")
            # At small N, more rounds: at least 200 invocations apart.
            small_rounds = max(args.small, -(-50 // n_conc))
            large_rounds = small_rounds + max(args.large - args.small, -(-200 // n_conc))
            small = instructions(n_conc, small_rounds, Path(tmp), env)
            large = instructions(n_conc, large_rounds, Path(tmp), env)
            extra = n_conc * (large_rounds - small_rounds)
            rows.append((n_conc, (large[0] - small[0]) / extra, (large[1] - small[1]) / extra))
    print(f"Warm instructions per invocation, Python {sys.version.split()[0]}")
    print("(the difference of two run lengths, callgrind)\n")
    print("| N in flight | runtime | mock Runtime API | both |")
    print("|---|---|---|---|")
    for n_conc, runtime, mock in rows:
        print(f"| {n_conc} | {runtime:,.0f} | {mock:,.0f} | {runtime + mock:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
