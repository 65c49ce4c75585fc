"""FastAPI's ``StreamingResponse`` streamed end to end: the real runtime process runs
``ASGIHandler(app, streaming=True)`` and the emulator's Function URL endpoint relays
the HTTP prelude and the chunks as a real HTTP response, as they arrive."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest

from aiolambda.emulator import Emulator

HERE = Path(__file__).parent


async def test_server_sent_events_reach_the_client_as_the_app_sends_them(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    env = {"ASGI_TEST_GATE": str(gate)}
    async with (
        Emulator("apps.streamed.handler", task_root=HERE, timeout=20.0, env=env) as emu,
        aiohttp.ClientSession() as http,
        http.get(f"{emu.endpoint_url}/lambda-url/gated") as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        # The first event arrives while the app is still blocked, waiting for this test.
        async with asyncio.timeout(15):
            assert await resp.content.readexactly(11) == b"data: one\n\n"
        await asyncio.to_thread(gate.write_text, "two")
        assert await resp.content.read() == b"data: two\n\n"


async def test_streamed_answers_keep_status_headers_cookies_and_errors() -> None:
    async with (
        Emulator("apps.streamed.handler", task_root=HERE, timeout=10.0) as emu,
        aiohttp.ClientSession() as http,
    ):
        base = f"{emu.endpoint_url}/lambda-url"
        async with http.get(f"{base}/stream?n=4") as resp:
            assert resp.status == 200 and resp.headers["X-Streamed"] == "yes"
            assert await resp.read() == b"".join(f"chunk {i}\n".encode() for i in range(4))
        async with http.get(f"{base}/sse") as resp:
            assert resp.headers.getall("Set-Cookie") == ["seen=1; Path=/; SameSite=lax"]
            assert (await resp.read()).count(b"event: tick") == 3
        async with http.get(f"{base}/image") as resp:  # binary, streamed as is
            assert resp.headers["Content-Type"] == "image/png"
            assert await resp.read() == bytes(range(256)) * 4
        async with http.get(f"{base}/status/418") as resp:
            assert resp.status == 418
        async with http.get(f"{base}/boom") as resp:
            assert resp.status == 500 and await resp.read() == b"Internal Server Error"
        async with http.get(f"{base}/stream-fails") as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()  # the error trailers cut the response
        async with http.get(f"{base}/state") as resp:
            state = await resp.json()
        assert state["counts"]["startup"] == 1  # the same environment, still warm
        failed = [r for r in emu.results if r.function_error]
        assert [r.error_type for r in failed] == ["Function.ValueError"]


async def test_buffered_answers_through_a_function_url() -> None:
    async with (
        Emulator("apps.buffered.handler", task_root=HERE, timeout=10.0) as emu,
        aiohttp.ClientSession() as http,
    ):
        base = f"{emu.endpoint_url}/lambda-url"
        async with http.get(f"{base}/image") as resp:
            assert resp.status == 200 and await resp.read() == bytes(range(256)) * 4
        async with http.get(f"{base}/cookies") as resp:
            assert len(resp.headers.getall("Set-Cookie")) == 2
            assert await resp.json() == {"ok": True}
        async with http.get(f"{base}/items/5?q=a&q=b") as resp:
            assert (await resp.json())["q"] == ["a", "b"]


async def test_a_stream_past_its_deadline_is_cut_and_the_environment_stays_warm() -> None:
    async with (
        Emulator("apps.streamed.handler", task_root=HERE, timeout=2.0) as emu,
        aiohttp.ClientSession() as http,
    ):
        base = f"{emu.endpoint_url}/lambda-url"
        async with http.get(f"{base}/stream-slow") as resp:
            assert resp.status == 200
            assert await resp.content.readexactly(8) == b"started\n"
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        async with http.get(f"{base}/state") as resp:
            assert (await resp.json())["counts"]["startup"] == 1
        assert [r.error_type for r in emu.results if r.function_error] == ["Function.Timeout"]
