"""Helpers for the emulator tests: a hand-written runtime and raw-socket requests."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from aiolambda._core import protocol as p

if TYPE_CHECKING:
    from aiolambda.emulator import Emulator

HERE = Path(__file__).resolve().parent
CURL_BOOTSTRAP = ["bash", str(HERE / "bootstrap_curl.sh")]


def ric(handler: str) -> list[str]:
    """awslambdaric as the bootstrap, the way a managed Python runtime starts it."""
    return [sys.executable, "-m", "awslambdaric", handler]


def aiolambda_runtime(handler: str) -> list[str]:
    return [sys.executable, "-m", "aiolambda", handler]


class HandRuntime:
    """A runtime driven step by step by the test, over aiohttp's client."""

    def __init__(self, emu: Emulator) -> None:
        self.root = f"http://{emu.runtime_api}"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HandRuntime:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()

    async def request(
        self, method: str, path: str, body: Any = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        assert self._session is not None
        data: Any = io.BytesIO(body) if isinstance(body, bytes) and len(body) > 2**20 else body
        async with self._session.request(
            method, self.root + path, data=data, headers=headers
        ) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, await resp.read()

    async def next(self) -> tuple[str, dict[str, str], bytes]:
        status, headers, body = await self.request("GET", p.NEXT_PATH)
        assert status == 200, (status, body)
        return headers[p.H_REQUEST_ID], headers, body

    async def respond(
        self, request_id: str, body: bytes = b'"ok"', headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        status, _, raw = await self.request("POST", p.response_path(request_id), body, headers)
        return status, json.loads(raw) if raw else None

    async def fail(
        self, request_id: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        status, _, raw = await self.request("POST", p.error_path(request_id), body, headers)
        return status, json.loads(raw) if raw else None


async def raw_exchange(emu: Emulator, request: bytes) -> tuple[int, bytes, bytes]:
    """Send raw bytes to the Runtime API; return (status, head, body) of the answer."""
    host, port = emu.runtime_api.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await reader.readexactly(length)
        return int(head.split(b" ")[1]), head, body
    finally:
        writer.close()
        await writer.wait_closed()
