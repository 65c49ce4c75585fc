"""The emulator's streaming endpoints: InvokeWithResponseStream (boto3) and the Function URL.

The runtime runs in-process on the test's loop. Incremental delivery is proved with
events: the handler waits for a gate that the reader opens only after it has received
the previous chunk, so a relay that buffered the response would deadlock (and time out).
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from aiolambda import StreamingResponse
from aiolambda.emulator._streaming import encode_event
from tests.runtime.harness import running

DUMMY_CREDENTIALS = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
MARGIN = {"AIOLAMBDA_TIMEOUT_MARGIN_MS": "400"}


def _read_stream(
    endpoint_url: str, payload: bytes, on_event: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    import boto3

    client = boto3.client(
        "lambda", endpoint_url=endpoint_url, region_name="us-east-1", **DUMMY_CREDENTIALS
    )
    try:
        response = client.invoke_with_response_stream(
            FunctionName="test_function", Payload=payload, LogType="Tail"
        )
        events = []
        for event in response["EventStream"]:
            events.append(event)
            on_event(event)
        response["events"] = events
        return response
    finally:
        client.close()


async def boto3_stream(
    endpoint_url: str, payload: bytes, on_event: Callable[[dict[str, Any]], None] = lambda _: None
) -> dict[str, Any]:
    return await asyncio.to_thread(_read_stream, endpoint_url, payload, on_event)


def test_event_stream_framing_matches_botocore() -> None:
    from botocore.eventstream import EventStreamBuffer

    message = encode_event("PayloadChunk", b"\x00hello", "application/octet-stream")
    total, headers_length, prelude_crc = struct.unpack(">III", message[:12])
    assert total == len(message) and prelude_crc == zlib.crc32(message[:8])
    assert headers_length == len(message) - 16 - len(b"\x00hello")
    buffer = EventStreamBuffer()
    buffer.add_data(message)
    (parsed,) = list(buffer)
    assert parsed.payload == b"\x00hello"
    assert parsed.headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }


async def test_boto3_reads_a_stream_as_it_is_produced() -> None:
    loop = asyncio.get_running_loop()
    gates = [asyncio.Event() for _ in range(2)]
    seen = 0

    def on_event(event: dict[str, Any]) -> None:
        nonlocal seen
        if "PayloadChunk" in event and seen < len(gates):
            loop.call_soon_threadsafe(gates[seen].set)
            seen += 1

    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        yield b"first,"
        await gates[0].wait()  # opened only once boto3 has read "first,"
        yield b"second,"
        await gates[1].wait()
        yield b"third"

    async with running(handler, transport="lean") as r:
        response = await boto3_stream(r.emu.endpoint_url, b"{}", on_event)
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/octet-stream"
    *chunks, complete = response["events"]
    assert [c["PayloadChunk"]["Payload"] for c in chunks] == [b"first,", b"second,", b"third"]
    assert "ErrorCode" not in complete["InvokeComplete"]
    assert "LogResult" in complete["InvokeComplete"]


async def test_boto3_reads_the_error_event_of_a_failed_stream() -> None:
    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("disk on fire")

    async with running(handler, transport="lean") as r:
        response = await boto3_stream(r.emu.endpoint_url, b"{}")
        # The environment stays warm: the next stream is served by the same runtime.
        again = await boto3_stream(r.emu.endpoint_url, b"{}")
        assert not r.task.done()
    first, complete = response["events"]
    assert first["PayloadChunk"]["Payload"] == b"partial"
    done = complete["InvokeComplete"]
    assert done["ErrorCode"] == "Function.RuntimeError"
    details = json.loads(done["ErrorDetails"])
    assert details["errorType"] == "RuntimeError"
    assert details["errorMessage"] == "disk on fire"
    assert again["events"][0]["PayloadChunk"]["Payload"] == b"partial"


async def test_boto3_stream_deadline_mid_stream() -> None:
    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        yield b"tick"
        if event == "slow":
            await asyncio.Event().wait()

    async with running(handler, transport="lean", timeout=1.0, env=MARGIN) as r:
        response = await boto3_stream(r.emu.endpoint_url, b'"slow"')
        fast = await boto3_stream(r.emu.endpoint_url, b'"fast"')
    first, complete = response["events"]
    assert first["PayloadChunk"]["Payload"] == b"tick"
    assert complete["InvokeComplete"]["ErrorCode"] == "Function.Timeout"
    assert json.loads(complete["InvokeComplete"]["ErrorDetails"])["errorType"] == (
        "Function.Timeout"
    )
    assert "ErrorCode" not in fast["events"][-1]["InvokeComplete"]


async def test_boto3_stream_of_a_buffered_function() -> None:
    async def handler(event: Any, context: Any) -> Any:
        if event == "fail":
            raise ValueError("plain failure")
        return {"buffered": True}

    async with running(handler, transport="lean") as r:
        ok = await boto3_stream(r.emu.endpoint_url, b"{}")
        failed = await boto3_stream(r.emu.endpoint_url, b'"fail"')
    chunk, complete = ok["events"]
    assert json.loads(chunk["PayloadChunk"]["Payload"]) == {"buffered": True}
    assert "ErrorCode" not in complete["InvokeComplete"]
    (complete,) = failed["events"]
    assert complete["InvokeComplete"]["ErrorCode"] == "Function.ValueError"
    assert json.loads(complete["InvokeComplete"]["ErrorDetails"])["errorMessage"] == (
        "plain failure"
    )


async def test_function_url_streams_the_prelude_as_an_http_response() -> None:
    gate = asyncio.Event()
    events: list[dict[str, Any]] = []

    async def body() -> AsyncIterator[str]:
        yield "data: one\n\n"
        await gate.wait()  # opened once the HTTP client has read the first event
        yield "data: two\n\n"

    async def handler(event: Any, context: Any) -> StreamingResponse:
        events.append(event)
        return StreamingResponse(
            body(),
            status_code=207,
            headers={"Content-Type": "text/event-stream", "X-Trace": "t1"},
            cookies=["a=1; Path=/", "b=2"],
        )

    async with running(handler, transport="lean") as r, aiohttp.ClientSession() as http:
        url = f"{r.emu.endpoint_url}/lambda-url/items/7?q=x&q=y"
        headers = {"Cookie": "c=3; d=4", "Content-Type": "application/json"}
        async with http.post(url, data=b'{"in": 1}', headers=headers) as resp:
            assert resp.status == 207
            assert resp.headers["Content-Type"] == "text/event-stream"
            assert resp.headers["X-Trace"] == "t1"
            assert resp.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2"]
            assert await resp.content.readexactly(11) == b"data: one\n\n"
            gate.set()
            assert await resp.content.read() == b"data: two\n\n"
    (event,) = events
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/items/7"
    assert event["rawQueryString"] == "q=x&q=y"
    assert event["queryStringParameters"] == {"q": "x,y"}
    assert event["cookies"] == ["c=3", "d=4"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["body"] == '{"in": 1}' and event["isBase64Encoded"] is False


async def test_function_url_buffered_answers() -> None:
    async def handler(event: Any, context: Any) -> Any:
        path = event["rawPath"]
        if path == "/plain":
            return {"hello": "world"}
        if path == "/fail":
            raise ValueError("nope")
        return {
            "statusCode": 404,
            "headers": {"Content-Type": "text/plain"},
            "cookies": ["z=9"],
            "body": "not here",
        }

    async with running(handler, transport="lean") as r, aiohttp.ClientSession() as http:
        base = f"{r.emu.endpoint_url}/lambda-url"
        async with http.get(f"{base}/plain") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"
            assert await resp.json() == {"hello": "world"}
        async with http.get(f"{base}/missing") as resp:
            assert resp.status == 404
            assert resp.headers["Set-Cookie"] == "z=9"
            assert await resp.text() == "not here"
        async with http.get(f"{base}/fail") as resp:
            assert resp.status == 502


async def test_function_url_error_mid_stream_cuts_the_response() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"half"
        raise OSError("gone")

    async def handler(event: Any, context: Any) -> StreamingResponse:
        return StreamingResponse(body(), headers={"Content-Type": "text/plain"})

    async with running(handler, transport="lean") as r, aiohttp.ClientSession() as http:
        async with http.get(f"{r.emu.endpoint_url}/lambda-url/") as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        # the runtime is still serving
        async with http.get(f"{r.emu.endpoint_url}/lambda-url/") as resp:
            assert resp.status == 200


async def test_function_url_malformed_answers_are_bad_gateway() -> None:
    async def prelude_body() -> AsyncIterator[bytes]:
        yield b"never shown"

    async def handler(event: Any, context: Any) -> Any:
        if event["rawPath"] == "/bad-headers":
            return {"statusCode": 200, "headers": ["not", "a", "map"], "body": "x"}
        response = StreamingResponse(prelude_body())
        response.headers = ["a", "list"]  # type: ignore[assignment]  # a prelude Lambda rejects
        return response

    async with running(handler, transport="lean") as r, aiohttp.ClientSession() as http:
        base = f"{r.emu.endpoint_url}/lambda-url"
        async with http.get(f"{base}/bad-headers") as resp:
            assert resp.status == 502
        async with http.get(f"{base}/bad-prelude") as resp:
            assert resp.status == 502
        async with http.get(f"{base}/bad-headers") as resp:  # still serving
            assert resp.status == 502
