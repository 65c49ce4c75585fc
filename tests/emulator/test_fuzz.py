"""Arbitrary bytes on the Runtime API socket never crash or wedge the emulator."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiolambda._core import protocol as p
from aiolambda.emulator import Emulator

from ._support import HandRuntime

_PREFIXES = [
    b"",
    f"GET {p.NEXT_PATH} HTTP/1.1\r\n".encode(),
    f"POST {p.response_path('x')} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".encode(),
    f"POST {p.INIT_ERROR_PATH} HTTP/1.1\r\nContent-Length: 5\r\n\r\n".encode(),
]


async def _poke_then_serve(garbage: bytes) -> None:
    async with Emulator(spawn=False, timeout=5.0) as emu:
        host, port = emu.runtime_api.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(garbage)
        writer.write_eof()  # the server sees the end of whatever we sent
        async with asyncio.timeout(10):
            reply = await reader.read()
        writer.close()
        await writer.wait_closed()
        assert reply == b"" or reply.startswith(b"HTTP/1.1 ")
        async with HandRuntime(emu) as rt:
            assert (await rt.request("GET", "/2018-06-01/ping"))[2] == b"pong"
            if emu.init_error is not None:
                # The garbage happened to be a valid init error report: the next caller
                # is owed that error, not a fresh invocation.
                assert (await emu.invoke({})).function_error == "Unhandled"
                return
            # Still serving: a well-formed runtime gets and answers an invocation.
            pending = emu.submit({"ok": True})
            rid, _, body = await rt.next()
            assert body == b'{"ok": true}'
            assert (await rt.respond(rid, b"1"))[0] == 202
        assert (await pending).payload == b"1"


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same inputs every run: a failure here is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(prefix=st.sampled_from(_PREFIXES), tail=st.binary(max_size=300))
def test_garbage_never_wedges_the_runtime_api(prefix: bytes, tail: bytes) -> None:
    asyncio.run(_poke_then_serve(prefix + tail))
