"""The fault server's own checks must be able to fail (else the matrix proves nothing)."""

from __future__ import annotations

import asyncio

import pytest

from aiolambda._core import protocol as p
from tests.reliability._faultserver import Event, Fault, FaultServer


async def _exchange(port: int, method: str, path: str, body: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        return head + await reader.readexactly(length)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_second_answer_is_caught() -> None:
    async with FaultServer() as server:
        server.queue(Event("e1"))
        assert b"e1" in await _exchange(server.port, "GET", p.NEXT_PATH)
        first = await _exchange(server.port, "POST", p.response_path("e1"), b'"a"')
        assert first.startswith(b"HTTP/1.1 202")
        server.assert_exactly_once()
        # An unprovoked second answer (here an error after the response) is refused by
        # the server and flagged by the check.
        second = await _exchange(server.port, "POST", p.error_path("e1"), b"{}")
        assert second.startswith(b"HTTP/1.1 400")
        with pytest.raises(AssertionError):
            server.assert_exactly_once()


async def test_an_unanswered_or_undelivered_invocation_is_caught() -> None:
    async with FaultServer() as server:
        server.queue(Event("e1"), Event("e2"))
        await _exchange(server.port, "GET", p.NEXT_PATH)
        with pytest.raises(AssertionError):
            server.assert_exactly_once()  # e1 delivered, never answered
        await _exchange(server.port, "POST", p.response_path("e1"), b"1")
        server.assert_exactly_once()
        reply = await _exchange(server.port, "POST", p.response_path("e2"), b"1")
        assert reply.startswith(b"HTTP/1.1 400")  # e2 was never delivered
        with pytest.raises(AssertionError):
            server.assert_exactly_once()


async def test_a_cut_next_puts_the_event_back() -> None:
    async with FaultServer(faults={("next", 1): Fault("cut_body")}) as server:
        server.queue(Event("e1", b'{"long": "enough to cut"}'))
        with pytest.raises(asyncio.IncompleteReadError):
            await _exchange(server.port, "GET", p.NEXT_PATH)
        assert server.delivered == []
        assert b"e1" in await _exchange(server.port, "GET", p.NEXT_PATH)
        assert server.delivered == ["e1"]
