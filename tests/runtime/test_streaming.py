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

    from aiolambda._core.client import Invocation
    from aiolambda._core.config import RuntimeConfig
    from aiolambda._core.errors import Redactor
    from aiolambda._core.handler import Handler
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
    inv = Invocation("rid-1", deadline_ms, "arn", None, None, None, None, None, None, b"{}")
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
