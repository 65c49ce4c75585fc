"""The sync driver of two checkouts side by side, tiny event, against the orjson floor.

For a change to the sync driver's hot path: this checkout and ``--baseline`` (another
checkout, e.g. ``git worktree add /tmp/base main`` or ``git archive main | tar -x``)
each serve ``-n`` invocations of a plain ``def`` echo handler from the mock Runtime
API, beside the floor with orjson; the order of the contenders is rotated every
repetition. Reported: the mock's wall time per invocation and the contender's CPU time
(user + system, from /proc) per invocation, medians, and their ratios to the floor.

    python benchmarks/ab_checkouts.py --baseline /tmp/base [-n 10000] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def contenders(baseline: Path) -> list[tuple[str, Path, list[str], dict[str, str]]]:
    py = sys.executable
    return [
        ("floor + orjson", ROOT, [py, str(HERE / "floor_client.py"), "--orjson"], {}),
        ("baseline sync driver", baseline, [py, "-m", "aiolambda"], {}),
        ("this sync driver", ROOT, [py, "-m", "aiolambda"], {}),
        ("this, AIOLAMBDA_PIPELINE=0", ROOT, [py, "-m", "aiolambda"], {"AIOLAMBDA_PIPELINE": "0"}),
    ]


def run_one(
    event: Path, n: int, tree: Path, argv: list[str], extra: dict[str, str]
) -> tuple[float, float]:
    """(wall µs, CPU µs) per invocation of one fresh process serving ``n`` invocations."""
    mock = subprocess.Popen(
        [sys.executable, str(HERE / "_mock_api.py"), "--n", str(n), "--event-file", str(event)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert mock.stdin is not None and mock.stdout is not None
    try:
        port = json.loads(mock.stdout.readline())["port"]
        env = h.lambda_environ(port, "echo.sync_handler", extra)
        env["PYTHONPATH"] = str(tree)  # that checkout's aiolambda, whatever is installed
        proc = subprocess.Popen(argv, cwd=tree, env=env, stdout=subprocess.DEVNULL)
        mock.stdin.write(f"pid {proc.pid}\n".encode())
        mock.stdin.flush()
        result = json.loads(mock.stdout.readline())["result"]
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        mock.stdin.close()
        mock.wait(30)
    if not result["ok"]:
        raise SystemExit(f"{argv} in {tree}: {result['error']}")
    return result["elapsed_ns"] / n / 1000, result["client_cpu_ns"] / n / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    rows = contenders(args.baseline.resolve())
    wall: dict[str, list[float]] = {name: [] for name, *_ in rows}
    cpu: dict[str, list[float]] = {name: [] for name, *_ in rows}
    with h.EventFile(h.TINY_EVENT) as event:
        for rep in range(args.reps):
            for name, tree, command, extra in rows[rep % len(rows) :] + rows[: rep % len(rows)]:
                w, c = run_one(Path(event.path), args.n, tree, command, extra)
                wall[name].append(w)
                cpu[name].append(c)
    floor_wall, floor_cpu = statistics.median(wall[rows[0][0]]), statistics.median(cpu[rows[0][0]])
    print(f"Tiny event, {args.n} invocations x {args.reps} repetitions (medians)\n")
    print("| contender | wall µs | x floor | CPU µs | x floor |")
    print("|---|---|---|---|---|")
    for name, *_ in rows:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"| {name} | {w:.1f} | {w / floor_wall:.2f} | {c:.1f} | {c / floor_cpu:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
