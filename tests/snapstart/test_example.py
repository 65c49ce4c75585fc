"""examples/snapstart runs through ``aiolambda serve --snapstart`` and ``invoke --snapstart``."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import aiohttp
import pytest

from ._support import REPO

pytestmark = pytest.mark.usefixtures("driver")  # over both drivers (tests/conftest.py)

APP = "examples/snapstart/app.handler"


async def test_the_example_through_serve_snapstart() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aiolambda.cli", "serve", APP,
        "--port", "0", "--snapstart", "--snapshot-pause-ms", "50",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await proc.stdout.readline()).decode().rsplit(" ", 1)[1].strip()
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            bodies = []
            for _ in range(2):
                async with client.post(url, data=b"{}") as resp:
                    assert resp.status == 200
                    bodies.append(json.loads(await resp.read()))
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = await proc.communicate()
    assert proc.returncode == 0
    first, second = bodies
    assert first["restores"] == 1 and first["session_open"] is True
    assert second["environment_id"] == first["environment_id"]  # one restored environment
    reports = [line for line in stderr.decode().splitlines() if line.startswith("REPORT ")]
    assert len(reports) == 2
    assert "\tRestore Duration: " in reports[0] and "Init Duration" not in reports[0]
    assert "Restore Duration" not in reports[1]


def test_the_example_through_invoke_snapstart_and_without() -> None:
    cmd = [sys.executable, "-m", "aiolambda.cli", "invoke", APP]
    snap = subprocess.run(
        [*cmd, "--snapstart"], cwd=REPO, capture_output=True, timeout=60, check=False
    )
    assert snap.returncode == 0, snap.stderr
    assert json.loads(snap.stdout)["restores"] == 1
    assert b"Restore Duration: " in snap.stderr
    plain = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=60, check=False)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["restores"] == 0
    assert b"Restore Duration" not in plain.stderr


def test_snapshot_pause_needs_snapstart() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "aiolambda.cli", "invoke", APP, "--snapshot-pause-ms", "10"],
        cwd=REPO, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert b"--snapshot-pause-ms needs --snapstart" in proc.stderr
