"""``aiolambda check`` through the real CLI: it flags racy handlers and passes clean ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FNS = Path(__file__).parent / "fns"


@pytest.fixture
def events(tmp_path: Path) -> list[str]:
    paths = []
    for name in ("ada", "bob", "cy"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"name": name}))
        paths.append(str(path))
    return paths


def check(handler: str, events: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    args = [sys.executable, "-m", "aiolambda.cli", "check", handler, "--task-root", str(FNS)]
    for path in events:
        args += ["--event", path]
    return subprocess.run(
        [*args, *extra], capture_output=True, text=True, env=env, timeout=100, check=False
    )


def test_flags_a_module_variable_overwritten_across_an_await(events: list[str]) -> None:
    done = check("app.racy_result", events, "--seed", "7")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout.splitlines()
    assert out[-1].startswith("aiolambda check: "), out
    assert "differ" in out[-1] and "(seed 7)" in out[-1]
    flagged = [line for line in out if "result differs at hello" in line]
    assert flagged, out
    assert any(events[0] in line or events[1] in line or events[2] in line for line in flagged)


def test_flags_log_lines_with_another_invocations_data(events: list[str]) -> None:
    done = check("app.racy_log", events, "--concurrency", "4")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "log line 1 differs at word 5" in done.stdout, done.stdout  # the name
    assert "result differs" not in done.stdout


@pytest.mark.parametrize("handler", ["app.clean", "app.clean_powertools", "app.clean_sync"])
def test_passes_a_clean_handler(events: list[str], handler: str) -> None:
    done = check(handler, events)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith(
        "aiolambda check: ok, results and logs agree: 3 event(s), each alone (twice)"
    ), last
    assert "at concurrency 8 (seed " in last


def test_bad_event_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    done = check("app.clean", [str(bad)])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not valid JSON" in done.stderr
