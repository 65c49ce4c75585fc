"""The lean connection with a ``GET`` sent ahead: two requests out, answered in order.

Each test scripts the server by hand on a real loopback socket. A server that reads
both requests before answering either proves they were written without waiting (a
client that waits for the first answer would hang here, bounded by the timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from aiolambda._core.transport import TransportError
from aiolambda._core.transport_lean import LeanConnection

WAIT_S = 10.0
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def answer(status: int, body: bytes = b"", *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 %d X\r\n%sContent-Length: %d\r\n\r\n%s" % (status, extra, len(body), body)


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request: (request line, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head.split(b"\r\n")[0], await reader.readexactly(length)


@contextlib.asynccontextmanager
async def serving(script: Script) -> AsyncIterator[tuple[LeanConnection, list[int]]]:
    """A server running ``script`` per connection (its 1-based index) and a client."""
    accepted: list[int] = []
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(len(accepted) + 1)
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await script(reader, writer, len(accepted))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    conn = LeanConnection("127.0.0.1", server.sockets[0].getsockname()[1])
    try:
        async with asyncio.timeout(WAIT_S):
            yield conn, accepted
    finally:
        await conn.close()
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def test_two_requests_in_one_write_answered_in_one_read() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        assert await read_request(reader) == (b"POST /r HTTP/1.1", b"answer")
        assert await read_request(reader) == (b"GET /next HTTP/1.1", b"")
        writer.write(answer(202, b"ok") + answer(200, b"event"))  # one write: one read
        while True:
            await read_request(reader)
            writer.write(answer(200, b"again"))

    async with serving(script) as (conn, accepted):
        first = await conn.request("POST", "/r", b"answer", ahead="/next")
        assert (first.status, first.body) == (202, b"ok")
        second = await conn.response_ahead()
        assert (second.status, second.body) == (200, b"event")
        third = await conn.request("GET", "/other")
        assert third.body == b"again"
    assert accepted == [1]


@pytest.mark.parametrize("close_header", [True, False], ids=["connection-close", "hang-up"])
async def test_a_server_that_closes_after_the_first_answer(close_header: bool) -> None:
    """The GET sent ahead fails (to be sent again); the next request reconnects."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        if n == 1:
            writer.write(answer(202, b"ok", close=close_header))
            await writer.drain()
            return  # closes without reading or answering the GET behind it
        writer.write(answer(200, b"event"))
        await writer.drain()

    async with serving(script) as (conn, accepted):
        first = await conn.request("POST", "/r", b"answer", ahead="/next")
        assert first.status == 202
        with pytest.raises(TransportError):
            await conn.response_ahead()
        again = await conn.request("GET", "/next")
        assert again.body == b"event"
    assert accepted == [1, 2]


async def test_an_answer_before_the_body_was_read_fails_the_get_ahead() -> None:
    body = b"x" * (32 * 1024 * 1024)  # more than the kernel's socket buffers can hold

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer(413, b"too big"))  # keep-alive, but the body is unread
        await writer.drain()
        await asyncio.Event().wait()  # never reads on

    async with serving(script) as (conn, _):
        first = await conn.request("POST", "/r", body, ahead="/next")
        assert first.status == 413
        with pytest.raises(TransportError):
            await conn.response_ahead()


async def test_a_request_while_the_get_is_out_goes_on_a_connection_of_its_own() -> None:
    other_answered = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 1:
            await read_request(reader)
            await read_request(reader)
            writer.write(answer(413))
            await other_answered.wait()  # the GET is answered only after the other request
            writer.write(answer(200, b"event"))
            await writer.drain()
            await asyncio.Event().wait()
        else:
            assert await read_request(reader) == (b"POST /error HTTP/1.1", b"report")
            writer.write(answer(202, b"taken"))
            await writer.drain()
            other_answered.set()

    async with serving(script) as (conn, accepted):
        first = await conn.request("POST", "/r", b"answer", ahead="/next")
        assert first.status == 413
        aside = await conn.request("POST", "/error", b"report")
        assert aside.body == b"taken"
        ahead = await conn.response_ahead()
        assert ahead.body == b"event"
    assert accepted == [1, 2]


async def test_close_and_cancel_drop_the_get_ahead() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        await read_request(reader)
        writer.write(answer(202))
        await reader.read()  # the GET stays unanswered until the client hangs up

    async with serving(script) as (conn, accepted):
        await conn.request("POST", "/r", b"a", ahead="/next")
        waiting = asyncio.ensure_future(conn.response_ahead())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        with pytest.raises(RuntimeError, match="no request was sent ahead"):
            await conn.response_ahead()
        await conn.request("POST", "/r", b"a", ahead="/next")
        await conn.close()  # with the GET still out: no error, no warning
        with pytest.raises(RuntimeError, match="no request was sent ahead"):
            await conn.response_ahead()
    assert accepted == [1, 2]
