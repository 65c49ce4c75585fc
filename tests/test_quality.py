"""House rules the suite enforces: lint, types, the public API, lazy imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import aiolambda

REPO = Path(__file__).resolve().parents[1]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the dev extras")
def test_ruff_is_clean() -> None:
    paths = ["aiolambda", "tests", "benchmarks", "examples"]
    check = run("ruff", "check", *paths)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = run("ruff", "format", "--check", "aiolambda")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict_is_clean() -> None:
    result = run(sys.executable, "-m", "mypy", "aiolambda")
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api_is_sorted_and_complete() -> None:
    assert aiolambda.__all__ == sorted(aiolambda.__all__)
    public = {
        name
        for name, value in vars(aiolambda).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}
    assert set(aiolambda.__all__) - {"__version__"} == public


_RUNTIME_ENTRY = (
    "import sys, aiolambda.__main__, aiolambda._core.bootstrap, aiolambda._core.runtime, "
    "aiolambda._core.invocation, aiolambda._core.transport_lean\n"
)


def _loaded_after(code: str, wanted: str) -> str:
    """The sorted list of modules (``wanted``: an expression on ``m``) ``code`` leaves loaded."""
    result = run(sys.executable, "-c", f"{code}print(sorted(m for m in sys.modules if {wanted}))")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_runtime_entry_imports_nothing_heavy() -> None:
    heavy = (
        "m.split('.')[0] in ('aiohttp', 'yarl', 'multidict', 'http', 'matplotlib', 'boto3') "
        "or m.startswith(('aiolambda.emulator', 'aiolambda.cli', 'aiolambda._layer'))"
    )
    assert _loaded_after(_RUNTIME_ENTRY, heavy) == "[]"


def test_an_unannotated_sync_handler_loads_without_the_optional_runtime_modules() -> None:
    """What `def handler(event, context)` on on-demand Lambda does not use stays unimported:
    typed events, the async-decorator check, process isolation, SnapStart."""
    load = (
        "from aiolambda._core.handler import load_handler\n"
        "handler = load_handler('colorsys.rgb_to_hls')\n"
        "assert not handler.is_async and handler.decode is None\n"
    )
    load += (
        "from aiolambda._core import observe\n"
        "observe.before_import()\n"
        "assert observe.prepare(handler, 1)[0] is handler\n"
    )
    optional = (
        "m in ('aiolambda._core.typed', 'aiolambda._core.wrappers', "
        "'aiolambda._core.isolation', 'aiolambda._core.snapstart', "
        "'aiolambda._core.bridge', 'aiolambda._core.environ')"
    )
    assert _loaded_after(_RUNTIME_ENTRY + load, optional) == "[]"


def test_the_sync_driver_and_the_shared_core_import_no_event_loop() -> None:
    """One core, two drivers: everything the sync driver runs is asyncio-free, so a plain
    `def handler` never pays for asyncio (~226 M instructions) or uvloop."""
    sync_path = (
        "import sys, aiolambda.__main__, aiolambda._core.bootstrap, "
        "aiolambda._core.runtime_sync, aiolambda._core.client_sync, aiolambda._core.exchange, "
        "aiolambda._core.outcomes, aiolambda._core.snapstart, aiolambda._core.isolation\n"
    )
    loops = "m.split('.')[0] in ('asyncio', 'uvloop') or m == 'aiolambda._core.runtime'"
    assert _loaded_after(sync_path, loops) == "[]"


def _readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    block = readme.split("```console\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second_verbatim() -> None:
    setup, tests = _readme_commands()
    assert "pip install -e . " in setup, "the quick start installs only the runtime"
    assert "aiolambda invoke" in setup
    assert tests.endswith("python -m pytest -q")
    assert "-c constraints.txt" in tests, "the dev tools are pinned"
    ci = (REPO / ".ci" / "run").read_text()
    assert tests in ci.splitlines()
    assert "venv" in ci, "CI installs into a virtual environment of its own"
