"""benchmarks/snapstart.py runs every contender correctly (one repetition, no timing checks)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from ._support import REPO

spec = importlib.util.spec_from_file_location("snapstart_bench", REPO / "benchmarks/snapstart.py")
assert spec is not None and spec.loader is not None
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench  # dataclasses look their module up there
spec.loader.exec_module(bench)


@pytest.mark.parametrize("name", list(bench.CONTENDERS))
async def test_each_contender_restores_and_answers(name: str) -> None:
    # measure() checks the answer and that both hooks ran exactly once.
    seconds = await bench.measure(bench.CONTENDERS[name], 0.0)
    assert seconds > 0
