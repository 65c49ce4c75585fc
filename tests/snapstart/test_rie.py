"""What AWS's Runtime Interface Emulator (v1.30) does with SnapStart, for both runtimes.

RIE registers ``/runtime/restore/next`` only with ``--enable-init-caching``; without
it the route is a 404, so a SnapStart runtime reports a before-snapshot failure and
exits 64. With it, RIE never restores anything: the pending ``/restore/next`` is
answered with the first invocation's event, the runtime takes that as the restore,
runs its after-restore hooks and polls ``/next``, and the invocation it swallowed
times out. aiolambda and awslambdaric behave alike in both cases.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.lambda_env import lambda_environ

from ._support import HERE, REPO, RUNTIMES

INVOKE_PATH = "/2015-03-31/functions/function/invocations"


def _rie() -> Path | None:
    candidate = os.environ.get("AIOLAMBDA_RIE") or str(REPO.parent / "shared/tools/aws-lambda-rie")
    path = Path(candidate)
    return path if path.is_file() and os.access(path, os.X_OK) else None


RIE = _rie()
pytestmark = pytest.mark.skipif(
    RIE is None,
    reason="AWS's aws-lambda-rie not found (set AIOLAMBDA_RIE or put it in ../shared/tools)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def rie(
    runtime: str, handler: str, *flags: str, snapstart: bool = True
) -> AsyncIterator[tuple[str, list[bytes]]]:
    """Run RIE with ``python -m RUNTIME HANDLER``; yields the invoke URL and RIE's output."""
    assert RIE is not None
    invoke_port, api_port = _free_port(), _free_port()
    env = lambda_environ(
        handler=handler,
        task_root=str(HERE),
        AWS_LAMBDA_FUNCTION_TIMEOUT="1",
        PYTHONPATH=str(REPO),
    )
    if snapstart:
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
    proc = await asyncio.create_subprocess_exec(
        str(RIE),
        *flags,
        "--runtime-interface-emulator-address",
        f"127.0.0.1:{invoke_port}",
        "--runtime-api-address",
        f"127.0.0.1:{api_port}",
        sys.executable,
        "-m",
        runtime,
        handler,
        cwd=HERE,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[bytes] = []

    async def collect() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            output.append(chunk)

    reader = asyncio.ensure_future(collect())
    try:
        for _ in range(500):  # RIE gives no readiness signal: wait for its port, bounded
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", invoke_port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            break
        yield f"http://127.0.0.1:{invoke_port}{INVOKE_PATH}", output
    finally:
        proc.terminate()
        await proc.wait()
        await reader


async def _invoke(url: str) -> tuple[int, bytes]:
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=b'{"n": 1}') as resp,
    ):
        return resp.status, await resp.read()


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_rie_without_init_caching_has_no_restore_route(runtime: str) -> None:
    async with rie(runtime, "fn.snap_hooks.handler") as (url, output):
        status, body = await _invoke(url)
    log = b"".join(output).decode("utf-8", "replace")
    assert status == 502, body
    assert b"restore/next" in body and b"404" in body
    assert "hook before-2" in log and "hook after-1!" not in log
    assert "exited: exit status 64" in log


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_rie_with_init_caching_hands_the_event_to_restore_next(runtime: str) -> None:
    async with rie(runtime, "fn.snap_hooks.handler", "--enable-init-caching") as (url, output):
        status, body = await _invoke(url)
    log = b"".join(output).decode("utf-8", "replace")
    # The after-restore hooks ran, then the invocation (eaten by /restore/next) timed out.
    assert "hook after-2" in log
    assert (status, body) == (200, b"Task timed out after 1.00 seconds")


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_rie_without_snapstart_serves_the_function(runtime: str) -> None:
    async with rie(runtime, "fn.plain.handler", snapstart=False) as (url, _):
        status, body = await _invoke(url)
    assert status == 200, body
    assert b'"init_type":null' in body.replace(b" ", b"")
