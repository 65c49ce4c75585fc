"""The emulator with the project's own runtime (``python -m aiolambda``) as bootstrap."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import pytest

from aiolambda.emulator import Emulator

from ._support import HERE

pytestmark = [pytest.mark.aiolambda_runtime, pytest.mark.usefixtures("driver")]  # both drivers

REPO = HERE.parent.parent


async def test_hello_example_from_the_repository_root() -> None:
    async with Emulator("examples/hello/app.handler", task_root=REPO) as emu:
        result = await emu.invoke({"name": "Ada"})
        assert result.ok, result.payload
        body = result.json()
        assert body["message"] == "Hello, Ada!"
        assert body["request_id"] == result.request_id
        assert 0 < body["remaining_ms"] <= 3000


async def test_async_handler_error_and_logs() -> None:
    # No PYTHONUNBUFFERED (the emulator gives Lambda's environment): print() output must
    # still land in its own invocation's log.
    async with Emulator("fn.async_app.hello", task_root=HERE) as emu:
        result = await emu.invoke({"name": "Grace"})
        assert result.json()["message"] == "Hello, Grace!"
        assert "greeting Grace" in result.logs
    async with Emulator("fn.async_app.fail", task_root=HERE) as emu:
        result = await emu.invoke({})
        assert result.function_error == "Unhandled"
        assert result.json()["errorType"] == "KeyError"


async def test_blocked_loop_is_killed_at_the_timeout_and_restarted() -> None:
    # 1 s: the runtime cancels handlers a margin before the deadline, so leave room.
    async with Emulator("fn.async_app.blocker", task_root=HERE, timeout=1.0) as emu:
        result = await emu.invoke({"seconds": 30})
        assert result.error_type == "Sandbox.Timedout"
        again = await emu.invoke({"seconds": 0})
        assert again.payload.strip(b'"') == b"woke up"
        assert emu.exit_codes == [-signal.SIGKILL]


async def test_concurrency_runs_invocations_side_by_side() -> None:
    async with Emulator("fn.async_app.rendezvous", task_root=HERE, concurrency=3) as emu:
        results = await asyncio.gather(*(emu.invoke({"n": 3}) for _ in range(3)))
        assert [r.json() for r in results] == [3, 3, 3]
        assert emu.environment()["AWS_LAMBDA_MAX_CONCURRENCY"] == "3"


async def test_missing_module_is_an_init_error() -> None:
    async with Emulator("fn.nope.handler", task_root=HERE) as emu:
        result = await emu.invoke({})
        assert result.error_type == "Runtime.ImportModuleError"
        assert emu.init_error["errorType"] == "Runtime.ImportModuleError"
        assert await emu.wait_exit() == 1


def test_readme_invoke_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "aiolambda.cli", "invoke", "examples/hello/app.handler",
         "--event", '{"name": "Ada"}'],
        cwd=REPO, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["message"] == "Hello, Ada!"
    assert b"START RequestId: " in proc.stderr


async def test_readme_serve_and_curl() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aiolambda.cli", "serve", "examples/hello/app.handler",
        "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await proc.stdout.readline()).decode().rsplit(" ", 1)[1].strip()
        curl = await asyncio.create_subprocess_exec(
            "curl", "-sS", "-XPOST", url, "-d", '{"name": "Ada"}', stdout=asyncio.subprocess.PIPE
        )
        out, _ = await curl.communicate()
        assert curl.returncode == 0
        assert json.loads(out)["message"] == "Hello, Ada!"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        await proc.communicate()
    assert proc.returncode == 0
