"""Smoke run of benchmarks/streaming.py: tiny sizes, correctness only, no timing threshold.

The script checks every response's mode and byte count itself and exits non-zero on a
mismatch, so this run fails if streaming or the buffered path breaks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "streaming.py"


def test_streaming_benchmark_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--reps", "1", "--big-mb", "1", "--sizes-mb", "0.2"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert "| 0.2 MB, buffered |" in out
    assert "| 0.2 MB, streamed |" in out
    assert "| 1 MB, streamed (alone" in out
    assert "runtime peak RSS" in out
