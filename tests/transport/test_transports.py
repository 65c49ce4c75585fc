"""Both transports against a scripted server on real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

import pytest

from aiolambda import __version__
from aiolambda._core.transport import Connection, TransportError, connect

from ._server import Reply, Request, Server, ok

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

KINDS = ("lean", "aiohttp")
SIX_MB = 6 * 1024 * 1024 + 100


def echo(request: Request) -> Reply:
    return ok(request.body, headers=(("X-Path", request.path),))


def client_socket(conn: Connection) -> socket.socket:
    """The client-side socket of an idle connection (test introspection of internals)."""
    proto = getattr(conn, "_proto", None)
    if proto is not None:
        return proto.transport.get_extra_info("socket")  # type: ignore[no-any-return]
    # aiohttp: the pooled ResponseHandler of the session's connector.
    pooled = [
        handler
        for entries in conn._session.connector._conns.values()  # type: ignore[attr-defined]
        for handler, _ in entries
    ]
    assert len(pooled) == 1
    return pooled[0].transport.get_extra_info("socket")  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", KINDS)
async def test_keep_alive_reuses_one_connection(kind: str) -> None:
    async with Server(echo) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            for i in range(40):
                if i % 2:
                    response = await conn.request("POST", f"/r/{i}", b"body %d" % i)
                    assert response.body == b"body %d" % i
                else:
                    response = await conn.request("GET", "/next")
                    assert response.body == b""
                assert response.status == 200
                assert response.headers["x-path"] == ("/next" if i % 2 == 0 else f"/r/{i}")
        finally:
            await conn.close()
    assert server.accepts == 1
    assert len(server.requests) == 40


@pytest.mark.parametrize("kind", KINDS)
async def test_request_headers_on_the_wire(kind: str) -> None:
    async with Server(echo) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            await conn.request("GET", "/next")
            await conn.request("POST", "/empty")
            await conn.request("POST", "/json", b"{}", [("Content-Type", "application/json")])
        finally:
            await conn.close()
    host = f"127.0.0.1:{server.port}"
    agent = f"aiolambda/{__version__}"
    get, empty, post = server.requests
    assert {k.lower(): v for k, v in get.headers} == {"host": host, "user-agent": agent}
    assert {k.lower(): v for k, v in empty.headers} == {
        "host": host,
        "user-agent": agent,
        "content-length": "0",
    }
    assert {k.lower(): v for k, v in post.headers} == {
        "host": host,
        "user-agent": agent,
        "content-type": "application/json",
        "content-length": "2",
    }
    assert (get.method, empty.method, post.body) == ("GET", "POST", b"{}")


@pytest.mark.parametrize("kind", KINDS)
async def test_chunked_response_and_repeated_headers(kind: str) -> None:
    wire = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Multi: a\r\nx-multi: b\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    async with Server(lambda r: Reply([wire])) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            for _ in range(2):
                response = await conn.request("GET", "/next")
                assert response.body == b"hello world"
                assert response.headers["x-multi"] == "a, b"
        finally:
            await conn.close()
    assert server.accepts == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_six_megabytes_both_ways(kind: str) -> None:
    body = bytes(range(256)) * (SIX_MB // 256) + b"tail"
    async with Server(echo) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            response = await conn.request("POST", "/big", body)
            assert response.body == body
            response = await conn.request("POST", "/small", b"x")
            assert response.body == b"x"
        finally:
            await conn.close()
    assert server.requests[0].body == body
    assert server.accepts == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_large_chunked_response(kind: str) -> None:
    body = b"0123456789abcdef" * (SIX_MB // 16)
    step = 100_000
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
        for i in range(0, len(body), step)
    )
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    async with Server(lambda r: Reply([wire])) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            response = await conn.request("GET", "/next")
        finally:
            await conn.close()
    assert response.body == body


@pytest.mark.parametrize("kind", KINDS)
async def test_one_byte_at_a_time(kind: str) -> None:
    wire = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n0\r\nT: 1\r\n\r\n"
    )
    first_len = wire.index(b"hello") + 5

    def reply(request: Request) -> Reply:
        part = wire[:first_len] if request.path == "/a" else wire[first_len:]
        return Reply([part[i : i + 1] for i in range(len(part))])

    async with Server(reply) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            first = await conn.request("GET", "/a")
            second = await conn.request("GET", "/b")
        finally:
            await conn.close()
    assert (first.status, first.body, first.headers["x-a"]) == (200, b"hello", "1")
    assert second.body == b"abc"
    assert server.accepts == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_body_delimited_by_close(kind: str) -> None:
    wire = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"
    async with Server(lambda r: Reply([wire[:20], wire[20:]], close=True)) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            assert (await conn.request("GET", "/a")).body == b"until the end"
            assert (await conn.request("GET", "/b")).body == b"until the end"
        finally:
            await conn.close()
    assert server.accepts == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_close_header_reconnects(kind: str) -> None:
    def reply(request: Request) -> Reply:
        return Reply(ok(b"x", headers=(("Connection", "close"),)).data)

    async with Server(reply) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            for _ in range(3):
                assert (await conn.request("POST", "/r", b"1")).body == b"x"
        finally:
            await conn.close()
    assert server.accepts == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_server_closing_between_requests_reconnects(kind: str) -> None:
    async with Server(lambda r: Reply(ok(b"first").data, close=True)) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            assert (await conn.request("GET", "/next")).body == b"first"
            await server.closed(1)
            server.reply = echo
            response = await conn.request("GET", "/next")
            assert response.headers["x-path"] == "/next"
        finally:
            await conn.close()
    assert server.accepts == 2
    assert [r.connection for r in server.requests] == [1, 2]


async def test_lean_reconnects_before_a_post_when_the_idle_connection_was_closed() -> None:
    # The loop has not necessarily seen the FIN yet; a POST written into the dead
    # socket would fail with sent=True, so the lean transport checks before writing.
    async with Server(lambda r: Reply(ok(b"first").data, close=True)) as server:
        conn = connect("lean", "127.0.0.1", server.port)
        try:
            for i in range(1, 6):
                assert (await conn.request("POST", "/r", b"x")).body == b"first"
                await server.closed(i)
        finally:
            await conn.close()
    assert server.accepts == 5


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_refused_is_not_sent(kind: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on ``port`` now (the probe never called listen()).
    conn = connect(kind, "127.0.0.1", port)
    try:
        for _ in range(2):
            with pytest.raises(TransportError) as info:
                await conn.request("POST", "/r", b"x")
            assert info.value.sent is False
            assert str(port) in str(info.value)
    finally:
        await conn.close()


CUT_MID_BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"
FAULTS = {
    "cut-mid-body": Reply([CUT_MID_BODY], close=True),
    "cut-mid-chunk": Reply(
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"], close=True
    ),
    "closed-without-response": Reply([], close=True),
    "garbage-status-line": Reply([b"HTTP/1.1 OK 200\r\nContent-Length: 0\r\n\r\n"]),
    "not-http": Reply([b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"]),
    "oversized-headers": Reply(
        [b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\nContent-Length: 0\r\n\r\n"]
    ),
    "conflicting-content-lengths": Reply(
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"]
    ),
    "obs-fold": Reply([b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n"]),
}


# aiohttp's parser unfolds obs-fold (RFC 9112 §5.2 lets a user agent do so); ours rejects it.
LENIENT_IN_AIOHTTP = {"obs-fold"}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("kind", KINDS)
async def test_faults_raise_and_the_next_request_reconnects(kind: str, fault: str) -> None:
    if kind == "aiohttp" and fault in LENIENT_IN_AIOHTTP:
        pytest.skip("aiohttp accepts this response (see test_aiohttp_unfolds_obs_fold)")

    def reply(request: Request) -> Reply:
        return FAULTS[fault] if request.path == "/bad" else echo(request)

    async with Server(reply) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            assert (await conn.request("GET", "/good")).status == 200
            with pytest.raises(TransportError) as info:
                await conn.request("POST", "/bad", b"payload")
            assert info.value.sent is True
            response = await conn.request("POST", "/good", b"again")
            assert response.body == b"again"
        finally:
            await conn.close()
    assert server.accepts == 2
    assert [r.connection for r in server.requests] == [1, 1, 2]


async def test_aiohttp_unfolds_obs_fold() -> None:
    async with Server(lambda r: FAULTS["obs-fold"]) as server:
        conn = connect("aiohttp", "127.0.0.1", server.port)
        try:
            response = await conn.request("GET", "/next")
        finally:
            await conn.close()
    assert response.headers["x-a"].split() == ["1", "folded"]


@pytest.mark.parametrize("kind", KINDS)
async def test_bytes_after_a_response_are_not_the_next_response(kind: str) -> None:
    fake = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake"

    def reply(request: Request) -> Reply:
        if request.path == "/first":
            return Reply([ok(b"real").data[0] + fake])
        return echo(request)

    async with Server(reply) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            assert (await conn.request("GET", "/first")).body == b"real"
            try:
                second = await conn.request("POST", "/second", b"fresh")
            except TransportError:
                pass  # refusing the desynchronised connection is also acceptable
            else:
                assert second.body == b"fresh"
        finally:
            await conn.close()
    assert server.accepts >= 1


async def test_lean_drops_the_connection_after_unsolicited_bytes() -> None:
    fake = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake"

    def reply(request: Request) -> Reply:
        if request.path == "/first":
            return Reply([ok(b"real").data[0] + fake])
        return echo(request)

    async with Server(reply) as server:
        conn = connect("lean", "127.0.0.1", server.port)
        try:
            assert (await conn.request("GET", "/first")).body == b"real"
            assert (await conn.request("POST", "/second", b"fresh")).body == b"fresh"
        finally:
            await conn.close()
    assert server.accepts == 2


async def test_lean_bytes_arriving_while_idle_are_not_the_next_response() -> None:
    # Lean only: aiohttp 3.14.5 on uvloop keeps such bytes and returns them as the answer
    # to the next request (seen here: b"fake"), one reason lean is the default.
    fake = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake"
    written: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def reply(request: Request) -> Reply:
        if request.path == "/first":
            # The fake response is a separate write, after the client has its answer.
            return Reply([ok(b"real").data[0], fake], written=written)
        return echo(request)

    async with Server(reply) as server:
        conn = connect("lean", "127.0.0.1", server.port)
        try:
            assert (await conn.request("GET", "/first")).body == b"real"
            await written  # the unsolicited bytes are now in the client's receive buffer
            assert (await conn.request("POST", "/second", b"fresh")).body == b"fresh"
        finally:
            await conn.close()
    assert server.accepts == 2


async def test_lean_streaming_source_error_drops_the_connection() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"part"
        raise ZeroDivisionError

    async with Server(echo) as server:
        conn = connect("lean", "127.0.0.1", server.port)
        try:
            with pytest.raises(ZeroDivisionError):
                await conn.request_streaming("POST", "/s", [], failing(), list)
            assert (await conn.request("POST", "/after", b"ok")).body == b"ok"
        finally:
            await conn.close()
    assert server.accepts == 2
    assert [r.path for r in server.requests] == ["/after"]


@pytest.mark.parametrize("kind", KINDS)
async def test_tcp_nodelay_is_set(kind: str) -> None:
    async with Server(echo) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            await conn.request("GET", "/next")
            sock = client_socket(conn)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            await conn.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_concurrent_requests_are_a_programming_error(kind: str) -> None:
    arrived = asyncio.Event()
    release: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def reply(request: Request) -> Reply:
        if request.path == "/slow":
            arrived.set()
            return Reply(echo(request).data, wait=release)
        return echo(request)

    async with Server(reply) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            first = asyncio.create_task(conn.request("GET", "/slow"))
            await arrived.wait()
            with pytest.raises(RuntimeError, match="concurrent"):
                await conn.request("GET", "/second")
            release.set_result(None)
            assert (await first).headers["x-path"] == "/slow"
            assert (await conn.request("GET", "/third")).status == 200
        finally:
            await conn.close()
    assert [r.path for r in server.requests] == ["/slow", "/third"]
    assert server.accepts == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_cancelled_request_leaves_a_usable_connection(kind: str) -> None:
    arrived = asyncio.Event()

    def reply(request: Request) -> Reply:
        if request.path == "/hang":
            arrived.set()
            return Reply([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart"])
        return echo(request)

    async with Server(reply) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            task = asyncio.create_task(conn.request("GET", "/hang"))
            await arrived.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await conn.request("POST", "/ok", b"after")).body == b"after"
        finally:
            await conn.close()
    assert server.accepts == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_unsafe_headers_fail_before_any_io(kind: str) -> None:
    async with Server(echo) as server:
        conn = connect(kind, "127.0.0.1", server.port)
        try:
            with pytest.raises(ValueError):
                await conn.request("POST", "/r", b"", [("X-Error", "a\r\nInjected: 1")])
            with pytest.raises(ValueError):
                await conn.request("POST", "/r", b"", [("Content-Length", "5")])
            assert (await conn.request("GET", "/ok")).status == 200
        finally:
            await conn.close()
    assert [r.path for r in server.requests] == ["/ok"]


def test_unknown_transport_kind() -> None:
    with pytest.raises(ValueError, match="lean, aiohttp"):
        connect("curl", "127.0.0.1", 1)


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_lean_streaming_request_with_trailers() -> None:
    async with Server(lambda r: ok(b'{"status":"OK"}', status=202)) as server:
        conn = connect("lean", "127.0.0.1", server.port)
        try:
            calls: list[int] = []

            def trailers() -> list[tuple[str, str]]:
                calls.append(1)
                return [("Lambda-Runtime-Function-Error-Type", "Function.Boom")]

            response = await conn.request_streaming(
                "POST",
                "/stream",
                [
                    ("Lambda-Runtime-Function-Response-Mode", "streaming"),
                    ("Trailer", "Lambda-Runtime-Function-Error-Type"),
                ],
                _chunks([b"first ", b"", b"x" * 300_000, b" last"]),
                trailers,
            )
            assert response.status == 202
            assert calls == [1]
            assert (await conn.request("POST", "/after", b"1")).status == 202
        finally:
            await conn.close()
    stream = server.requests[0]
    assert stream.body == b"first " + b"x" * 300_000 + b" last"
    assert stream.header("transfer-encoding") == ["chunked"]
    assert stream.header("content-length") == []
    assert stream.trailers == [("Lambda-Runtime-Function-Error-Type", "Function.Boom")]
    assert server.accepts == 1


async def test_aiohttp_streams_over_a_lean_connection_of_its_own() -> None:
    # aiohttp cannot send trailers: a streamed body goes over a separate lean connection,
    # which is closed afterwards; the aiohttp session carries the other requests.
    async with Server(lambda r: ok(b'{"status":"OK"}', status=202)) as server:
        conn = connect("aiohttp", "127.0.0.1", server.port)
        try:
            assert (await conn.request("POST", "/before", b"1")).status == 202
            response = await conn.request_streaming(
                "POST",
                "/stream",
                [("Trailer", "Lambda-Runtime-Function-Error-Type")],
                _chunks([b"a", b"b"]),
                lambda: [("Lambda-Runtime-Function-Error-Type", "Function.Boom")],
            )
            assert response.status == 202
            assert (await conn.request("POST", "/after", b"1")).status == 202
        finally:
            await conn.close()
    assert [r.path for r in server.requests] == ["/before", "/stream", "/after"]
    stream = server.requests[1]
    assert stream.body == b"ab"
    assert stream.header("transfer-encoding") == ["chunked"]
    assert stream.trailers == [("Lambda-Runtime-Function-Error-Type", "Function.Boom")]
    assert server.accepts == 2
