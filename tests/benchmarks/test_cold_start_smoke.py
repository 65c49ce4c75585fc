"""Smoke run of benchmarks/cold_start.py: one round, correctness only, never a timing threshold.

It builds the Python 3.12 layer, makes the awslambdaric and bare venvs (package index
needed) and checks every contender answers its one invocation correctly, from a
layer nothing was written into.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.append(str(BENCH))  # last: the scripts there must not shadow anything

import cold_start  # noqa: E402

from aiolambda._layer import LayerError, Target, find_compiler  # noqa: E402


def _need_python_3_12() -> None:
    try:
        find_compiler(Target("3.12", Target.host().arch))
    except LayerError:
        pytest.skip("no Python 3.12 interpreter on this machine")


def test_check_answer_rejects_wrong_answers() -> None:
    cold_start.check_answer("trivial.handler", b'{"got": {"cold": "start"}}')
    cold_start.check_answer("with_boto3.handler", b'{"got": {"cold": "start"}, "boto3": "1"}')
    for handler, answer in [
        ("trivial.handler", b'{"got": {}}'),
        ("with_boto3.handler", b'{"got": {"cold": "start"}}'),  # boto3 never imported
        ("trivial.handler", b'{"got": {"cold": "start"}, "boto3": "1"}'),
    ]:
        with pytest.raises(RuntimeError, match="wrong answer"):
            cold_start.check_answer(handler, answer)


@pytest.mark.timeout(900)
def test_one_round_of_every_contender_answers_correctly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_python_3_12()
    assert cold_start.main(["--rounds", "1", "--workdir", str(tmp_path)]) == 0
    report = capsys.readouterr().out
    rows = [
        line
        for line in report.splitlines()
        if line.startswith(("| trivial", "| with_boto3", "| async_trivial"))
    ]
    assert [row.split(" | ")[1] for row in rows] == [
        "awslambdaric",
        "aiolambda layer",
        cold_start.FLOOR,
    ] * 2 + ["aiolambda layer"]  # an async handler: only aiolambda serves it
    assert "MB zipped" in report
