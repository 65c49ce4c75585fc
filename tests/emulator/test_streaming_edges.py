"""Where issues 12 and 15 met: the streaming endpoints behave like the Invoke API at the edges.

* ``InvokeWithResponseStream`` refuses a non-JSON payload as ``Invoke`` does (Lambda's
  400 ``InvalidRequestContentException``, the function never runs), from the same code;
* the Function URL endpoint never hands the runtime an event a strict parser refuses;
* no prelude or buffered answer a function can send crashes the Function URL endpoint:
  framing headers are remapped, what cannot go on the wire is a 502, bodiless answers
  stay bodiless, and HTTP/1.0 clients are served.
"""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from aiolambda import StreamingResponse
from aiolambda.emulator import _caller_api, _invoke_api, _streaming
from tests.runtime.harness import running

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

STREAM_PATH = _streaming.STREAM_INVOKE_ROUTE.format(name="test_function")
NOT_JSON = [b"hello", b"{not json", b"NaN", b'{"a": Infinity}', b"\xff\xfe{}", b"{} {}", b"  "]


# -- one definition of the shared plumbing ------------------------------------------------
def _top_level_names(module: Any) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_the_invoke_endpoints_share_one_definition_of_their_plumbing() -> None:
    assert _top_level_names(_invoke_api) & _top_level_names(_streaming) == set()
    # Both endpoints read and check an invoke request with the one shared reader.
    for name in ("aws_error", "read_invocation", "log_tail"):
        assert getattr(_streaming, name) is getattr(_caller_api, name)
        assert getattr(_invoke_api, name) is getattr(_caller_api, name)


# -- InvokeWithResponseStream refuses non-JSON payloads ----------------------------------
async def test_invoke_with_response_stream_refuses_a_non_json_payload_as_invoke_does() -> None:
    events: list[Any] = []

    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        events.append(event)
        yield json.dumps(event).encode()

    async with running(handler, transport="lean") as r, aiohttp.ClientSession() as http:
        stream_url = r.emu.endpoint_url + STREAM_PATH
        for payload in NOT_JSON:
            async with http.post(r.emu.invoke_url, data=payload) as plain:
                assert plain.status == 400
                expected = await plain.json()
            for invocation_type in ("RequestResponse", "DryRun"):
                headers = {"X-Amz-Invocation-Type": invocation_type}
                async with http.post(stream_url, data=payload, headers=headers) as response:
                    assert response.status == 400, (payload, invocation_type)
                    assert response.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
                    assert response.headers["x-amzn-RequestId"]
                    assert response.content_type == "application/json"
                    assert await response.json() == expected  # the same message, word for word
        assert events == [] and r.emu.results == []  # the function never ran
        # Any JSON value is an event, and no payload at all is {} (as on the Invoke API).
        for payload, event in [(b'"hello"', "hello"), (b" [1] ", [1]), (b"", {})]:
            async with http.post(stream_url, data=payload) as response:
                assert response.status == 200
                await response.read()
            async with http.post(r.emu.invoke_url, data=payload) as response:
                assert response.status == 200
                await response.read()
        assert events == ["hello", "hello", [1], [1], {}, {}]


def _boto3_stream(endpoint_url: str, payload: bytes) -> Any:
    import boto3

    client = boto3.client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    try:
        return client.invoke_with_response_stream(FunctionName="test_function", Payload=payload)
    finally:
        client.close()


async def test_boto3_stream_sees_invalid_request_content_exception() -> None:
    pytest.importorskip("boto3")
    from botocore.exceptions import ClientError

    calls: list[Any] = []

    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        calls.append(event)
        yield b"never"

    async with running(handler, transport="lean") as r:
        with pytest.raises(ClientError) as caught:
            await asyncio.to_thread(_boto3_stream, r.emu.endpoint_url, b"hello")
    assert calls == []
    error = caught.value.response
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- the Function URL event is always valid JSON text ------------------------------------
async def _raw_request(url: str, request: bytes) -> bytes:
    """Send ``request`` as is (aiohttp's client would not send these bytes); read to EOF."""
    host, port = url.split("//", 1)[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_function_url_event_with_non_utf8_header_bytes_reaches_the_function() -> None:
    events: list[dict[str, Any]] = []

    async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "body": "ok"}

    async with running(handler, transport="lean") as r:
        answer = await _raw_request(
            r.emu.endpoint_url,
            b"GET /lambda-url/a?q=%FF HTTP/1.1\r\nHost: x\r\nX-Raw: a\xff\xfeb\r\n"
            b"Cookie: c=\xff\r\nConnection: close\r\n\r\n",
        )
        assert [result.error_type for result in r.emu.results] == [None]
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    (event,) = events
    # Bytes that are not UTF-8 arrive as U+FFFD, one per byte, rather than as
    # lone surrogates that make the whole event undecodable (Runtime.UnmarshalError).
    assert event["headers"]["x-raw"] == "a\ufffd\ufffdb"
    assert event["cookies"] == ["c=\ufffd"]
    assert event["rawQueryString"] == "q=%FF"


# -- no prelude crashes the Function URL endpoint ----------------------------------------
REMAPPED = {
    "Content-Length": "5",
    "Transfer-Encoding": "gzip",
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Keep-Alive": "timeout=5",
    "TE": "trailers",
    "Trailer": "X-Checksum",
    "Proxy-Connection": "close",
}
UNSENDABLE: dict[str, dict[str, Any]] = {
    "crlf-value": {"headers": {"X-A": "a\r\nX-Injected: 1"}},
    "lf-value": {"headers": {"X-A": "a\nb"}},
    "nul-value": {"headers": {"X-A": "a\x00b"}},
    "bad-name": {"headers": {"X A:": "v"}},
    "empty-name": {"headers": {"": "v"}},
    "crlf-cookie": {"cookies": ["a=1\r\nX-Injected: 1"]},
    "status-1000": {"status_code": 1000},
    "status-99": {"status_code": 99},
    "status-0": {"status_code": 0},
    "status-negative": {"status_code": -1},
    "status-101": {"status_code": 101},
}


def _as_buffered(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": kwargs.get("status_code", 200),
        "headers": kwargs.get("headers", {}),
        "cookies": kwargs.get("cookies", []),
        "body": "hello",
    }


async def test_function_url_remaps_framing_headers_of_a_streamed_prelude() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"hel"
        yield b"lo"

    async def handler(event: dict[str, Any], context: Any) -> Any:
        headers = {"Content-Type": "text/plain", **REMAPPED}
        if event["rawPath"] == "/buffered":
            return {"statusCode": 201, "headers": headers, "body": "hello"}
        return StreamingResponse(body(), status_code=201, headers=headers)

    async with running(handler, transport="lean") as r, aiohttp.ClientSession() as http:
        for path in ("/streamed", "/buffered"):
            async with http.get(f"{r.emu.endpoint_url}/lambda-url{path}") as resp:
                assert resp.status == 201, path
                assert await resp.read() == b"hello"
                assert resp.headers["Content-Type"] == "text/plain"
                for name, value in REMAPPED.items():
                    assert resp.headers[f"x-amzn-Remapped-{name}"] == value, (path, name)
                assert "Upgrade" not in resp.headers and "Keep-Alive" not in resp.headers
                assert resp.headers.get("Connection", "keep-alive") == "keep-alive"
                if path == "/streamed":  # the emulator's own framing, not the function's
                    assert resp.headers["Transfer-Encoding"] == "chunked"
                    assert "Content-Length" not in resp.headers
                else:
                    assert resp.headers["Content-Length"] == "5"
        assert [result.ok for result in r.emu.results] == [True, True]


async def test_function_url_answers_502_for_what_cannot_go_on_the_wire() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"hello"

    async def handler(event: dict[str, Any], context: Any) -> Any:
        kind, case = event["rawPath"].strip("/").split("/")
        if kind == "buffered":
            return _as_buffered(UNSENDABLE[case])
        return StreamingResponse(body(), **UNSENDABLE[case])

    async with running(handler, transport="lean") as r, aiohttp.ClientSession() as http:
        for kind in ("streamed", "buffered"):
            for case in UNSENDABLE:
                async with http.get(f"{r.emu.endpoint_url}/lambda-url/{kind}/{case}") as resp:
                    assert resp.status == 502, (kind, case)
                    assert await resp.json() == {"Message": "Internal Server Error"}
                    assert "X-Injected" not in resp.headers
        async with http.get(f"{r.emu.endpoint_url}/lambda-url/streamed/status-0") as resp:
            assert resp.status == 502  # still serving


async def test_function_url_bodiless_answers_carry_no_body() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"dropped"

    async def handler(event: dict[str, Any], context: Any) -> Any:
        status = int(event["rawPath"].strip("/").split("/")[1])
        if event["rawPath"].startswith("/buffered"):
            return {"statusCode": status, "body": "dropped"}
        return StreamingResponse(body(), status_code=status, headers={"X-Kept": "1"})

    async with running(handler, transport="lean") as r:
        # One keep-alive connection for every answer: a body after a bodiless status
        # would be read as the start of the next response.
        requests = [
            ("GET", "/streamed/204", 204),
            ("GET", "/streamed/304", 304),
            ("HEAD", "/streamed/200", 200),
            ("GET", "/buffered/204", 204),
            ("HEAD", "/buffered/200", 200),
            ("GET", "/streamed/200", 200),
        ]
        wire = b"".join(
            f"{method} /lambda-url{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            for method, path, _ in requests
        )
        answer = await _raw_request(
            r.emu.endpoint_url,
            wire + b"GET /lambda-url/streamed/200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    statuses = [int(line.split()[1]) for line in answer.split(b"\r\n") if line.startswith(b"HTTP/")]
    assert statuses == [status for _, _, status in requests] + [200]
    assert answer.count(b"dropped") == 2  # only the two final GET 200s carry a body


async def test_http_1_0_clients_get_close_delimited_streams() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"hel"
        yield b"lo"

    async def handler(event: Any, context: Any) -> Any:
        if isinstance(event, dict) and "rawPath" in event:
            return StreamingResponse(body(), headers={"Content-Length": "5"})
        return body()

    async with running(handler, transport="lean") as r:
        url = r.emu.endpoint_url
        for method, path in [("GET", "/lambda-url/x"), ("POST", _invoke_api.RIE_INVOKE_PATH)]:
            request = f"{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}"
            answer = await _raw_request(url, request.encode())
            head, _, payload = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.0 200 "), answer
            assert b"Transfer-Encoding" not in head
            assert payload == b"hello"
        answer = await _raw_request(
            url, f"POST {STREAM_PATH} HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode()
        )
        assert answer.startswith(b"HTTP/1.0 200 "), answer
        assert b"InvokeComplete" in answer
