"""Streaming with the runtime as a child process: the Invoke API relay and the CLI."""

from __future__ import annotations

import json
import sys

import aiohttp
import pytest

from aiolambda.emulator import Emulator

from ._support import HERE
from .test_cli import run_cli

ENV = {"AIOLAMBDA_TIMEOUT_MARGIN_MS": "200"}


async def test_invoke_relay_streams_and_cuts_the_body_on_a_trailer_error() -> None:
    async with (
        Emulator("fn.stream_app.chunks", task_root=HERE, env=ENV) as emu,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(emu.invoke_url, data=b'{"n": 2}') as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/octet-stream"
            assert resp.headers.get("Transfer-Encoding") == "chunked"
            assert await resp.read() == b"part0\npart1\n"
        async with http.post(emu.invoke_url, data=b'{"n": 1, "fail": true}') as resp:
            assert resp.status == 200  # sent before the error was known
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        failed = emu.results[-1]
        assert failed.streamed and failed.payload == b"part0\n"
        assert failed.error_type == "Function.ValueError"
        assert "[ERROR] ValueError: mid-stream failure" in failed.logs
        # The runtime process stayed up and serves the next one.
        ok = await emu.invoke({"n": 1})
        assert ok.ok and ok.payload == b"part0\n"
        assert emu.starts == 1


def test_cli_invoke_prints_a_stream_and_its_trailer_error() -> None:
    code, out, err = run_cli(
        "invoke", "fn.stream_app.chunks", "--event", '{"n": 2, "fail": true}',
        "--", sys.executable, "-m", "aiolambda", "fn.stream_app.chunks",
    )  # fmt: skip
    assert code == 1
    assert out == "part0\npart1\n"
    _, _, shown = err.partition("stream ended with Function.ValueError: ")
    assert json.loads(shown.splitlines()[0])["errorMessage"] == "mid-stream failure"
