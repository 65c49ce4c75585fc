"""AWS's Runtime Interface Emulator as an outside oracle for the emulator's fidelity items.

The same function, run by awslambdaric under RIE and under aiolambda's emulator, must
give the same oversized-response error word for word, the same REPORT fields (RIE's
figures for memory are placeholders; the fields are what is compared) and an END
line at the start of a line. Where RIE and Lambda's Invoke API differ (non-JSON
payloads, X-Amz-Function-Error, 502 for init errors), the emulator follows Lambda:
see docs/emulator.md and tests/emulator/test_fidelity.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from aiolambda.emulator import Emulator

from ._support import HERE, ric

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

REPO = HERE.parent.parent
RIE = Path(os.environ.get("AIOLAMBDA_RIE") or REPO.parent / "shared" / "tools" / "aws-lambda-rie")
pytestmark = pytest.mark.skipif(
    not (RIE.is_file() and os.access(RIE, os.X_OK) and sys.platform == "linux"),
    reason=f"AWS's aws-lambda-rie not found at {RIE} (set AIOLAMBDA_RIE to its path)",
)
FIELDS = re.compile(r"\t([A-Za-z ]+): ")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RieRun:
    """RIE running awslambdaric with one handler; its merged output is collected."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url
        self.lines: list[str] = []

    async def line_starting(self, prefix: str) -> str:
        """The next output line starting with ``prefix`` (RIE prints it after answering)."""
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), 30)
            assert raw, f"RIE ended before printing {prefix!r}: {self.lines[-20:]}"
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if line.startswith(prefix):
                return line


@contextlib.asynccontextmanager
async def rie(handler: str) -> AsyncIterator[RieRun]:
    port = _free_port()
    # Lambda's environment, as the emulator gives it: none of the developer's PYTHON*.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        {"_HANDLER": handler, "LAMBDA_TASK_ROOT": str(HERE), "AWS_LAMBDA_FUNCTION_TIMEOUT": "10"}
    )
    proc = await asyncio.create_subprocess_exec(
        str(RIE),
        "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
        "--runtime-api-address", f"127.0.0.1:{_free_port()}",
        *ric(handler),
        cwd=HERE, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        # RIE says nothing when its port is open: connect until it is (bounded).
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break
        else:
            pytest.fail("RIE did not open its port within 10 s")
        yield RieRun(proc, f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations")
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def _post(url: str, event: Any) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.post(url, json=event) as response:
        return response.status, await response.read()


async def test_oversized_response_error_is_word_for_word_rie_s() -> None:
    handler = "fn.sync_app.huge"
    async with rie(handler) as run:
        status, body = await _post(run.url, {})
    async with Emulator(handler, task_root=HERE, bootstrap=ric(handler)) as emu:
        result = await emu.invoke({})
    assert status == 502  # RIE's status for a failed invoke; Lambda's Invoke API says 200
    assert result.json() == json.loads(body)
    assert result.function_error == "Unhandled"


async def test_report_fields_and_end_line_match_rie() -> None:
    handler = "fn.fidelity_app.no_newline"
    async with rie(handler) as run:
        first = await _post(run.url, {})
        first_end = await run.line_starting("END RequestId: ")
        first_report = await run.line_starting("REPORT RequestId: ")
        second = await _post(run.url, {})
        await run.line_starting("END RequestId: ")
        second_report = await run.line_starting("REPORT RequestId: ")
    assert first == second == (200, b'"ok"')
    assert "printed without a newline" in "\n".join(run.lines)
    rie_fields = [set(FIELDS.findall(line)) for line in (first_report, second_report)]
    async with Emulator(handler, task_root=HERE, bootstrap=ric(handler)) as emu:
        results = [await emu.invoke({}), await emu.invoke({})]
    ours = [set(FIELDS.findall(r.logs.splitlines()[-1])) for r in results]
    assert ours == rie_fields  # Init Duration on the first only; Max Memory Used on both
    assert "Init Duration" in ours[0] and "Max Memory Used" in ours[1]
    assert first_end.split(":", 1)[0] == results[0].logs.splitlines()[-2].split(":", 1)[0]
