"""Response streaming: async generator handlers and StreamingResponse, through the emulator.

Incremental delivery is proved with events, never with timing: the handler waits for an
event that the test sets only once the emulator has handed it the previous chunk.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from aiolambda import StreamingResponse
from aiolambda._core import protocol as p
from aiolambda.emulator import InvokeResult
from tests.runtime.harness import Running, running

MARGIN = {"AIOLAMBDA_TIMEOUT_MARGIN_MS": "400"}
H_TYPE = p.H_ERROR_TYPE.lower()
H_BODY = p.H_ERROR_BODY.lower()


def _stream_post(r: Running, result: InvokeResult) -> Any:
    (post,) = r.emu.answers(result.request_id)
    assert post.status == 202
    assert post.path == p.response_path(result.request_id)
    assert post.headers[p.H_RESPONSE_MODE.lower()] == "streaming"
    assert post.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in post.headers
    assert post.headers["trailer"] == f"{p.H_ERROR_TYPE}, {p.H_ERROR_BODY}"
    return post


def _trailer_error(post: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(post.trailers[H_BODY], validate=True))
    return doc


async def test_generator_streams_each_chunk_as_it_is_produced(transport: str) -> None:
    received: list[bytes] = []
    gates = [asyncio.Event() for _ in range(3)]

    def on_chunk(data: bytes) -> None:
        received.append(data)
        gates[len(received) - 1].set()

    async def handler(event: Any, context: Any) -> AsyncIterator[bytes | str]:
        yield b"one "
        for i, gate in enumerate(gates[:2]):
            # The next chunk is produced only after the caller has seen the previous one.
            await gate.wait()
            yield f"chunk{i} " if i == 0 else f"chunk{i}".encode()

    async with running(handler, transport=transport) as r:
        result = await r.emu.invoke({}, on_chunk=on_chunk)
        assert received == [b"one ", b"chunk0 ", b"chunk1"]
        assert result.ok and result.streamed
        assert result.payload == b"one chunk0 chunk1"
        assert result.content_type == p.CT_OCTET_STREAM
        post = _stream_post(r, result)
        assert post.trailers == {}
        assert post.body == b"one chunk0 chunk1"
        # warm: the next (buffered) invocation is served by the same runtime
        again = await r.emu.invoke({})
        assert again.streamed and again.payload == b"one chunk0 chunk1"
        assert not r.task.done()


async def test_error_mid_stream_ends_with_trailers_and_stays_warm(transport: str) -> None:
    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        yield b"partial"
        if event == "boom":
            raise ValueError("it broke mid-way")
        yield b" whole"

    async with running(handler, transport=transport) as r:
        result = await r.emu.invoke('"boom"')
        post = _stream_post(r, result)
        assert result.payload == b"partial"
        assert post.trailers[H_TYPE] == "Function.ValueError"
        doc = _trailer_error(post)
        assert doc["errorType"] == "ValueError"
        assert doc["errorMessage"] == "it broke mid-way"
        assert doc["requestId"] == result.request_id
        assert any("it broke mid-way" in line or "raise" in line for line in doc["stackTrace"])
        assert result.function_error == "Unhandled"
        assert result.error_type == "Function.ValueError"
        ok = await r.emu.invoke('"fine"')
        assert ok.ok and ok.payload == b"partial whole"
        assert not r.task.done()


async def test_error_before_the_first_chunk_is_an_ordinary_error(transport: str) -> None:
    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        if event == "early":
            raise KeyError("nothing sent yet")
        yield b"x"

    async with running(handler, transport=transport) as r:
        result = await r.emu.invoke('"early"')
        assert not result.streamed
        assert result.json()["errorType"] == "KeyError"
        (post,) = r.emu.answers(result.request_id)
        assert post.path == p.error_path(result.request_id)
        assert (await r.emu.invoke('"late"')).payload == b"x"


async def test_deadline_mid_stream_ends_with_timeout_trailers(transport: str) -> None:
    cleaned: list[str] = []
    sent = asyncio.Event()

    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        yield b"started"
        if event == "slow":
            try:
                await asyncio.Event().wait()  # never set: only the deadline ends this
            finally:
                cleaned.append(context.aws_request_id)
        yield b" done"

    async with running(handler, transport=transport, timeout=1.0, env=MARGIN) as r:
        result = await r.emu.invoke('"slow"', on_chunk=lambda _: sent.set())
        assert sent.is_set()
        post = _stream_post(r, result)
        assert result.payload == b"started"
        assert post.trailers[H_TYPE] == "Function.Timeout"
        assert _trailer_error(post)["errorType"] == "Function.Timeout"
        assert result.error_type == "Function.Timeout"  # ours, not Sandbox.Timedout
        assert cleaned == [result.request_id]
        nxt = await r.emu.invoke('"fast"')
        assert nxt.ok and nxt.payload == b"started done"
        assert not r.task.done()


async def test_generator_that_swallows_the_deadline_is_closed(transport: str) -> None:
    closed: list[bool] = []

    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        yield b"a"
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # badly behaved: carries on after its cancellation
        try:
            yield b"after the deadline"
            yield b"never sent"
        finally:
            closed.append(True)

    async with running(handler, transport=transport, timeout=1.0, env=MARGIN) as r:
        result = await r.emu.invoke({})
        post = _stream_post(r, result)
        assert result.payload == b"a"
        assert post.trailers[H_TYPE] == "Function.Timeout"
        # Closed before the runtime asks for the next invocation.
        assert (await r.emu.invoke({})).payload == b"a"
        assert closed[0] is True


async def test_streaming_response_sends_the_http_prelude(transport: str) -> None:
    received: list[bytes] = []
    gate = asyncio.Event()

    async def body() -> AsyncIterator[str]:
        yield "data: 1\n\n"
        await gate.wait()
        yield "data: 2\n\n"

    def on_chunk(data: bytes) -> None:
        received.append(data)
        if len(received) == 2:
            gate.set()

    async def handler(event: Any, context: Any) -> StreamingResponse:
        return StreamingResponse(
            body(),
            status_code=201,
            headers={"content-type": "text/event-stream", "x-a": "1"},
            cookies=["k=v; Path=/"],
        )

    async with running(handler, transport=transport) as r:
        result = await r.emu.invoke({}, on_chunk=on_chunk)
        _stream_post(r, result)
        assert result.content_type == p.CT_HTTP_INTEGRATION
        prelude, sep, rest = result.payload.partition(b"\0" * 8)
        assert sep and rest == b"data: 1\n\ndata: 2\n\n"
        assert json.loads(prelude) == {
            "statusCode": 201,
            "headers": {"content-type": "text/event-stream", "x-a": "1"},
            "cookies": ["k=v; Path=/"],
        }
        # The prelude goes out at once, before the body's first chunk.
        assert received[0] == prelude + sep
        assert received[1:] == [b"data: 1\n\n", b"data: 2\n\n"]


async def test_sync_handler_may_return_a_streaming_response(transport: str) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"from a thread's handler"

    def handler(event: Any, context: Any) -> StreamingResponse:
        return StreamingResponse(body())

    async with running(handler, transport=transport) as r:
        result = await r.emu.invoke({})
        _stream_post(r, result)
        assert result.payload.endswith(b"\0" * 8 + b"from a thread's handler")
        assert json.loads(result.payload.partition(b"\0" * 8)[0])["statusCode"] == 200


async def test_bad_chunk_type_and_empty_stream(transport: str) -> None:
    async def handler(event: Any, context: Any) -> AsyncIterator[Any]:
        if event == "empty":
            return
        yield b"ok"
        yield 42

    async with running(handler, transport=transport) as r:
        bad = await r.emu.invoke('"bad"')
        post = _stream_post(r, bad)
        assert bad.payload == b"ok"
        assert post.trailers[H_TYPE] == p.MARSHAL_ERROR
        assert "not int" in _trailer_error(post)["errorMessage"]
        empty = await r.emu.invoke('"empty"')
        _stream_post(r, empty)
        assert empty.ok and empty.streamed and empty.payload == b""


async def test_async_handler_returning_a_generator_streams(transport: str) -> None:
    async def chunks(n: int) -> AsyncIterator[bytes]:
        for i in range(n):
            yield b"%d," % i

    async def handler(event: Any, context: Any) -> Any:
        return chunks(event["n"])

    async with running(handler, transport=transport) as r:
        result = await r.emu.invoke({"n": 5})
        _stream_post(r, result)
        assert result.payload == b"0,1,2,3,4,"


async def test_deadline_while_the_runtime_is_sending_never_cancels_the_transport() -> None:
    # Under back-pressure the deadline can pass while the runtime, not user code, holds
    # the task (waiting to drain). The task must not be cancelled there (that would
    # drop the connection mid-body); the stream stops before user code resumes instead.
    import time

    from aiolambda._core.client import parse_invocation
    from aiolambda._core.config import RuntimeConfig
    from aiolambda._core.errors import Redactor
    from aiolambda._core.handler import Handler
    from aiolambda._core.http import HttpResponse
    from aiolambda._core.invocation import Invoker
    from aiolambda._core.stream import Stream

    resumed: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"one"
            resumed.append("after one")
            yield b"two"
        finally:
            resumed.append("closed")

    async def handler(event: Any, context: Any) -> StreamingResponse:
        return StreamingResponse(body())

    config = RuntimeConfig.from_environ(
        {
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
            "_HANDLER": "test.handler",
            "AIOLAMBDA_TIMEOUT_MARGIN_MS": "400",
        }
    )
    invoker = Invoker(
        config,
        Handler(func=handler, is_async=True, name="test.handler"),
        executor=None,
        redact=Redactor(()),
        log_writer=lambda _: None,
    )
    task = asyncio.current_task()
    assert task is not None
    deadline_ms = int(time.time() * 1000) + 2000  # cancellation point: 400 ms before it
    inv = parse_invocation(
        HttpResponse(200, {p.H_REQUEST_ID: "rid-1", p.H_DEADLINE_MS: str(deadline_ms)}, b"{}")
    )
    stream = await invoker.run(inv, task)
    assert isinstance(stream, Stream)
    chunks = stream.chunks()
    assert (await anext(chunks)).endswith(b"\0" * 8)  # the prelude: no user code yet
    assert await anext(chunks) == b"one"
    # Now "in the transport" (not in user code) until the cancellation point has passed.
    watch = stream._watch
    assert watch is not None
    for _ in range(400):  # bounded: at most ~4 s
        if watch.fired:
            break
        await asyncio.sleep(0.01)
    assert watch.fired
    assert task.cancelling() == 0  # the transport's await was not cancelled
    assert [c async for c in chunks] == []  # user code is not resumed after the deadline
    assert resumed == []
    assert stream.trailers()[0] == (p.H_ERROR_TYPE, p.FUNCTION_TIMEOUT)
    await stream.aclose()
    assert resumed == ["closed"]  # its finally block ran
    assert task.cancelling() == 0


async def test_the_exact_bytes_on_the_wire() -> None:
    # A raw Runtime API: one event, then the streamed POST is captured byte for byte.
    from aiolambda._core.config import RuntimeConfig
    from aiolambda._core.errors import Redactor
    from aiolambda._core.handler import Handler
    from aiolambda._core.invocation import Invoker
    from aiolambda._core.logs import LogSink
    from aiolambda._core.runtime import Runtime

    captured: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    served = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"GET"):
                    served += 1
                    if served > 1:
                        await asyncio.Event().wait()  # no second event
                    event = b'"go"'
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: rid-7\r\n"
                        b"Lambda-Runtime-Deadline-Ms: 9999999999999\r\n"
                        b"Content-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(event), event)
                    )
                else:
                    body = await reader.readuntil(b"\r\n0\r\n")
                    trailers = await reader.readuntil(b"\r\n\r\n")
                    captured.set_result(head + body + trailers)
                    writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def handler(event: Any, context: Any) -> AsyncIterator[bytes | str]:
        yield b"hello"
        yield ""  # skipped: a zero-size chunk would end the body
        yield "\u00e9t\u00e9"
        raise ValueError("bad")

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = RuntimeConfig.from_environ(
        {"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}", "_HANDLER": "test.handler"}
    )
    redact = Redactor(())
    sink = LogSink(None, json=False, redact=redact)
    invoker = Invoker(
        config,
        Handler(func=handler, is_async=False, name="test.handler"),
        executor=None,
        redact=redact,
        log_writer=sink.write_raw,
    )
    runtime = Runtime(config, invoker, sink)
    task = asyncio.get_running_loop().create_task(runtime.serve())
    try:
        wire = await captured
    finally:
        runtime.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        server.close()
    head, _, rest = wire.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /2018-06-01/runtime/invocation/rid-7/response HTTP/1.1"
    assert b"Content-Type: application/octet-stream" in lines
    assert b"Lambda-Runtime-Function-Response-Mode: streaming" in lines
    assert b"Transfer-Encoding: chunked" in lines
    assert (
        b"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    ) in lines
    assert not any(line.lower().startswith(b"content-length") for line in lines)
    body, _, trailer_block = rest.partition(b"0\r\n")
    assert body == b"5\r\nhello\r\n5\r\n\xc3\xa9t\xc3\xa9\r\n"
    type_line, body_line, end = trailer_block.split(b"\r\n", 2)
    assert type_line == b"Lambda-Runtime-Function-Error-Type: Function.ValueError"
    name, _, value = body_line.partition(b": ")
    assert name == b"Lambda-Runtime-Function-Error-Body"
    doc = json.loads(base64.b64decode(value, validate=True))
    assert (doc["errorType"], doc["errorMessage"], doc["requestId"]) == (
        "ValueError",
        "bad",
        "rid-7",
    )
    assert end == b"\r\n"


async def test_streams_in_flight_at_once_on_managed_instances(transport: str) -> None:
    # Two pollers, two streams interleaved: each one's chunks stay on its own stream.
    gates = {"a": asyncio.Event(), "b": asyncio.Event()}
    firsts: dict[str, asyncio.Event] = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def handler(event: Any, context: Any) -> AsyncIterator[str]:
        yield f"{event}1,"
        await gates[event].wait()
        yield f"{event}2"

    async with running(handler, transport=transport, concurrency=2) as r:
        a = r.emu.submit('"a"', on_chunk=lambda _: firsts["a"].set())
        b = r.emu.submit('"b"', on_chunk=lambda _: firsts["b"].set())
        await firsts["a"].wait()
        await firsts["b"].wait()  # both streams are open at once
        gates["b"].set()
        assert (await b).payload == b"b1,b2"
        assert not a.done()
        gates["a"].set()
        assert (await a).payload == b"a1,a2"


async def test_a_stream_that_cannot_connect_is_retried_then_fails_untouched() -> None:
    import socket

    import pytest

    from aiolambda._core.client import RuntimeAPIClient, parse_invocation
    from aiolambda._core.errors import RuntimeAPIError
    from aiolambda._core.http import HttpResponse
    from aiolambda._core.transport import connect

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        started.append(1)
        yield b"x"

    client = RuntimeAPIClient(connect("lean", "127.0.0.1", port))
    inv = parse_invocation(HttpResponse(200, {p.H_REQUEST_ID: "rid-9"}, b""))
    with pytest.raises(RuntimeAPIError, match="unreachable after 10 attempts"):
        await client.post_stream(inv, p.CT_OCTET_STREAM, chunks(), list)
    assert started == []  # the body was never taken, so nothing was lost mid-way
