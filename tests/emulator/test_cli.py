"""``aiolambda invoke`` and ``aiolambda serve`` as a user runs them: in a subprocess."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import aiohttp
import pytest

from tests.lambda_env import lambda_environ

from ._support import CURL_BOOTSTRAP, HERE, ric

if TYPE_CHECKING:
    from pathlib import Path

CLI = [sys.executable, "-m", "aiolambda.cli"]


def run_cli(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    # Plain subprocess tests: the event loop under test does not matter here, so they
    # run once rather than once per loop.
    proc = subprocess.run(
        [*CLI, *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        cwd=HERE,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def test_invoke_prints_the_result_and_the_logs() -> None:
    code, out, err = run_cli(
        "invoke", "fn.sync_app.talk", "--event", '{"x": 1}', "--", *ric("fn.sync_app.talk")
    )
    assert code == 0, err
    assert json.loads(out) == "said it"
    assert "hello from " in err and "START RequestId: " in err and "REPORT RequestId: " in err


def test_invoke_exits_1_on_a_function_error() -> None:
    code, out, _err = run_cli("invoke", "fn.sync_app.fail", "--", *ric("fn.sync_app.fail"))
    assert code == 1
    assert json.loads(out)["errorMessage"] == "boom"


def test_invoke_with_event_file_stdin_and_options(tmp_path: Path) -> None:
    event_file = tmp_path / "event.json"
    event_file.write_text('{"from": "file"}')
    code, out, err = run_cli(
        "invoke", "fn.sync_app.echo", "--event-file", str(event_file),
        "--memory", "512", "--function-name", "cli_fn", "--env", "EXTRA=1",
        "--", *ric("fn.sync_app.echo"),
    )  # fmt: skip
    assert code == 0, err
    body = json.loads(out)
    assert body["event"] == {"from": "file"}
    assert (body["memory"], body["function_name"]) == ("512", "cli_fn")
    code, out, _ = run_cli(
        "invoke", "x", "--event-file", "-", "--", *CURL_BOOTSTRAP, stdin=b'{"piped": true}'
    )
    assert code == 0 and json.loads(out) == {"piped": True}


def test_invoke_rejects_bad_usage() -> None:
    code, _, err = run_cli("invoke", "fn.sync_app.echo", "--event", "{not json")
    assert code == 2 and "not valid JSON" in err
    code, _, err = run_cli("invoke", "fn.sync_app.echo", "--env", "NOEQUALS")
    assert code == 2 and "NAME=VALUE" in err
    code, _, err = run_cli("invoke", "x", "--", "/nonexistent/bootstrap")
    assert code == 2 and "cannot start the runtime" in err


async def test_serve_answers_curl_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "fn.sync_app.echo", "--port", "0", "--timeout", "5",
        "--", *ric("fn.sync_app.echo"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=HERE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = (await proc.stdout.readline()).decode()
        assert first.startswith("aiolambda: serving fn.sync_app.echo at http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        assert url.endswith("/2015-03-31/functions/function/invocations")
        curl = await asyncio.create_subprocess_exec(
            "curl", "-sS", "-XPOST", url, "-d", '{"via": "curl"}', stdout=asyncio.subprocess.PIPE
        )
        out, _ = await curl.communicate()
        assert curl.returncode == 0
        assert json.loads(out)["event"] == {"via": "curl"}
        async with aiohttp.ClientSession() as http, http.post(url) as response:
            assert (await response.json())["event"] == {}  # no payload arrives as {}
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert b"START RequestId: " in err


def test_serve_warns_before_binding_a_non_loopback_address() -> None:
    # 192.0.2.1 is TEST-NET-1: never a local address, so nothing is exposed and the
    # bind fails right after the warning.
    code, _, err = run_cli(
        "serve", "fn.sync_app.echo", "--host", "192.0.2.1", "--port", "0",
        "--", *ric("fn.sync_app.echo"),
    )  # fmt: skip
    assert "warning: binding 192.0.2.1" in err
    assert code == 2 and "cannot start" in err


def test_loopback_detection() -> None:
    from aiolambda.emulator._cli_common import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


@pytest.mark.aiolambda_runtime
async def test_serve_with_concurrency_runs_invocations_side_by_side() -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "fn.async_app.rendezvous", "--port", "0", "--concurrency", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=HERE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await proc.stdout.readline()).decode().rsplit(" ", 1)[1].strip()
        async with aiohttp.ClientSession() as http:

            async def call() -> object:
                async with http.post(url, json={"n": 3}) as response:
                    return await response.json()

            # Each call returns only once all three are inside the handler together.
            assert await asyncio.gather(call(), call(), call()) == [3, 3, 3]
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.communicate()
    assert proc.returncode == 0


async def test_serve_without_spawning_lets_you_bring_your_own_runtime() -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "fn.sync_app.echo", "--port", "0", "--no-spawn",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=HERE,
    )  # fmt: skip
    runtime = None
    try:
        assert proc.stdout is not None
        url = (await proc.stdout.readline()).decode().rsplit(" ", 1)[1].strip()
        api_line = (await proc.stdout.readline()).decode()
        runtime_api = api_line.split("Runtime API at ", 1)[1].split(";", 1)[0]
        hint = (await proc.stdout.readline()).decode()
        assert f"AWS_LAMBDA_RUNTIME_API={runtime_api}" in hint
        runtime = await asyncio.create_subprocess_exec(
            *ric("fn.sync_app.echo"),
            cwd=HERE,
            env=lambda_environ(runtime_api=runtime_api),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as http, http.post(url, json={"own": 1}) as response:
            assert (await response.json())["event"] == {"own": 1}
    finally:
        if runtime is not None:
            runtime.kill()
            await runtime.wait()
        proc.send_signal(signal.SIGTERM)
        await proc.communicate()
    assert proc.returncode == 0
