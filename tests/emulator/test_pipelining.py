"""Pipelined ``/next`` under ``aiolambda serve``: the emulator's Runtime API takes it.

``tests.wire_proxy`` sits between the runtime and the emulator's Runtime API and shows
each answer and the next ``GET /next`` arriving in one write, on one connection.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import aiohttp

from aiolambda._core import protocol as p
from tests.rie import free_port
from tests.wire_proxy import WireProxy

from ._serve import CLI
from ._support import HERE

N = 20


async def _invoke_all(**env: str) -> WireProxy:
    api_port = free_port()
    with WireProxy(lambda: ("127.0.0.1", api_port)) as proxy:
        proc = await asyncio.create_subprocess_exec(
            *CLI, "serve", "fn.async_app.hello", "--port", "0",
            "--runtime-api-port", str(api_port),
            "--", "env", f"AWS_LAMBDA_RUNTIME_API={proxy.address}",
            *(f"{k}={v}" for k, v in env.items()),
            sys.executable, "-m", "aiolambda", "{handler}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=HERE,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            url = (await proc.stdout.readline()).decode().rsplit(" ", 1)[1].strip()
            ids = set()
            async with aiohttp.ClientSession() as http:
                for n in range(N):
                    async with http.post(url, json={"name": f"n{n}"}) as response:
                        doc = await response.json()
                    assert doc.get("message") == f"Hello, n{n}!", doc
                    ids.add(doc["id"])
            assert len(ids) == N
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.communicate()
    return proxy


async def test_each_answer_carries_the_next_get_on_one_connection() -> None:
    proxy = await _invoke_all()
    requests = proxy.requests()
    assert {conn for conn, _ in requests} == {1}, requests
    assert len([r for r in requests if r[1] == p.NEXT_PATH]) == N + 1, requests
    pairs = proxy.pipelined()
    assert len(pairs) == N, proxy.reads
    for paths in pairs:
        assert paths[0].endswith("/response") and paths[1:] == [p.NEXT_PATH], paths


async def test_the_switch_turns_it_off() -> None:
    proxy = await _invoke_all(AIOLAMBDA_PIPELINE="0")
    assert proxy.pipelined() == []
