"""Helpers for the SnapStart tests: the handlers' root and the two runtimes as bootstraps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aiolambda.emulator import Emulator

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RUNTIMES = ("aiolambda", "awslambdaric")
SYNC_HOOKS = ["before-2", "before-1!", "after-1!", "after-2"]


def bootstrap(runtime: str, handler: str) -> list[str]:
    """``python -m aiolambda HANDLER`` or ``python -m awslambdaric HANDLER``."""
    return [sys.executable, "-m", runtime, handler]


def snap_emulator(runtime: str, handler: str, **kwargs: Any) -> Emulator:
    """An emulator running ``handler`` from tests/snapstart/fn with SnapStart on."""
    kwargs.setdefault("snapstart", True)
    return Emulator(handler, task_root=HERE, bootstrap=bootstrap(runtime, handler), **kwargs)


def report_line(logs: str) -> str:
    lines = [line for line in logs.splitlines() if line.startswith("REPORT ")]
    assert len(lines) == 1, logs
    return lines[0]


def report_field(line: str, name: str) -> float:
    for part in line.split("\t"):
        if part.startswith(name + ": "):
            return float(part[len(name) + 2 :].split()[0])
    raise AssertionError(f"{name} missing from {line!r}")
