"""The lean transport's import footprint: no aiohttp, no emulator, no CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.lambda_env import scrubbed

# (ssl is not listed: asyncio itself imports it.)
HEAVY = ("aiohttp", "aiolambda.emulator", "aiolambda.cli", "multidict", "yarl")

_PROBE = """
import json, sys
import aiolambda._core.transport_lean
from aiolambda._core.transport import connect
connect("lean", "127.0.0.1", 9001)
print(json.dumps(sorted(sys.modules)))
"""


def _run(code: str) -> tuple[list[str], str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=scrubbed(),  # as Lambda starts it: no PYTHONDONTWRITEBYTECODE and the like
    )
    return json.loads(done.stdout), done.stderr


def _heavy(names: list[str]) -> list[str]:
    return [n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY)]


def test_lean_transport_imports_nothing_heavy() -> None:
    modules, importtime = _run(_PROBE)
    assert "aiolambda._core.transport_lean" in modules
    assert "aiolambda._core.http" in modules
    assert _heavy(modules) == []
    # -X importtime lists every module imported, one per line: "import time: ... | name".
    imported = [line.rsplit("|", 1)[-1].strip() for line in importtime.splitlines()]
    assert "aiolambda._core.transport_lean" in imported
    assert _heavy(imported) == []


def test_the_probe_would_see_aiohttp() -> None:
    modules, _ = _run(_PROBE.replace('"lean"', '"aiohttp"'))
    assert "aiohttp" in _heavy(modules)
