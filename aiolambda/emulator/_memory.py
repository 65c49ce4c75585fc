"""Peak memory of the runtime's process tree, for the REPORT line's ``Max Memory Used``.

Lambda reports the most memory the execution environment has used since it started.
The closest a local process can get: the sum of the peak resident set (``VmHWM`` in
``/proc/PID/status``) of the runtime and of every live process it started, sampled
when an invocation ends, and the largest sample kept for the runtime's lifetime. A
child that came and went between two samples is not counted. Without ``/proc``
(macOS) there is no figure, and REPORT leaves the field out.
"""

from __future__ import annotations

import math
import os
from typing import Final

_MAX_PROCESSES: Final = 4096  # a fork bomb must not turn a REPORT line into a crawl


def _peak_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None  # a zombie: no memory left


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(child) for child in fh.read().split())
        except (OSError, ValueError):
            continue
    return found


def tree_peak_kb(pid: int) -> int | None:
    """Sum of ``VmHWM`` over ``pid`` and its live descendants, in kB; None without /proc."""
    total = 0
    measured = False
    seen: set[int] = set()
    pending = [pid]
    while pending and len(seen) < _MAX_PROCESSES:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        peak = _peak_rss_kb(current)
        if peak is None:
            continue
        measured = True
        total += peak
        pending.extend(_children(current))
    return total if measured else None


class PeakMemory:
    """The largest tree sample since the runtime process started, in whole MB."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._peak_kb = 0

    def restart(self, pid: int) -> None:
        """A new runtime process: its environment starts from nothing."""
        self._pid = pid
        self._peak_kb = 0

    def stopped(self) -> None:
        """The runtime process ended: keep its peak, stop sampling its (reusable) pid."""
        self._pid = None

    def sample_mb(self) -> int | None:
        """Sample now (if the runtime is alive) and return the peak so far, rounded up."""
        if self._pid is not None:
            sample = tree_peak_kb(self._pid)
            if sample is not None:
                self._peak_kb = max(self._peak_kb, sample)
        return math.ceil(self._peak_kb / 1024) if self._peak_kb else None
