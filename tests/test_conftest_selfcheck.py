"""The conftest's async hook itself: both loops are used, and a failing or wedged
coroutine test is reported as failed (a hook that swallowed either would turn every
async test in the suite into one that cannot fail)."""

import asyncio
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

seen: list[str] = []


async def test_runs_on_requested_loop(loop_kind: str) -> None:
    loop = asyncio.get_running_loop()
    is_uv = type(loop).__module__.startswith("uvloop")
    assert is_uv == (loop_kind == "uvloop")
    seen.append(loop_kind)


def test_both_loops_were_used() -> None:
    assert sorted(seen) == ["asyncio", "uvloop"]


# The inner session uses this repository's hooks, with a short timeout so that the
# wedged test ends quickly (the hook reads the timeout when it runs a test).
_INNER_CONFTEST = """
import tests.conftest as real
from tests.conftest import loop_kind, pytest_generate_tests, pytest_pyfunc_call

real.ASYNC_TEST_TIMEOUT_S = 0.5
"""

_INNER_TESTS = """
import asyncio


async def test_raises():
    await asyncio.sleep(0)
    1 / 0


async def test_fails_an_assertion():
    await asyncio.sleep(0)
    assert 1 == 2


async def test_passes(loop_kind):
    await asyncio.sleep(0)
    assert loop_kind in ("asyncio", "uvloop")


async def test_wedged():
    await asyncio.Event().wait()


def test_sync_is_left_to_pytest():
    pass
"""


def _inner_outcomes(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(_INNER_CONFTEST)
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(_INNER_TESTS))
    report = tmp_path / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # 1: some tests failed
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        detail = "".join(child.get("message", "") for child in case)
        outcomes[case.get("name", "")] = (kinds[0] + ": " + detail) if kinds else "passed"
    return outcomes


def test_async_hook_reports_failures_and_timeouts_on_both_loops(tmp_path: Path) -> None:
    outcomes = _inner_outcomes(tmp_path)
    assert sorted(outcomes) == sorted(
        [
            *(f"{name}[{kind}]" for name in ("test_raises", "test_fails_an_assertion",
                                              "test_passes", "test_wedged")
              for kind in ("asyncio", "uvloop")),
            "test_sync_is_left_to_pytest",
        ]
    ), outcomes  # fmt: skip
    for kind in ("asyncio", "uvloop"):
        assert outcomes[f"test_raises[{kind}]"].startswith("failure: ZeroDivisionError"), outcomes
        assert outcomes[f"test_fails_an_assertion[{kind}]"].startswith("failure: assert"), outcomes
        assert outcomes[f"test_wedged[{kind}]"].startswith("failure: TimeoutError"), outcomes
        assert outcomes[f"test_passes[{kind}]"] == "passed", outcomes
    assert outcomes["test_sync_is_left_to_pytest"] == "passed"
