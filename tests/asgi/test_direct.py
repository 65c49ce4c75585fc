"""``ASGIHandler`` called directly (no runtime): streaming mode, lifespan modes, paths.

The body of a streamed answer is iterated here as the runtime iterates it; end to end
through the emulator is in ``test_emulator.py``.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

import orjson
import pytest

from aiolambda import StreamingResponse
from aiolambda.asgi import ASGIHandler, LifespanError, UnsupportedEvent

from . import _events
from .apps import api

CONTEXT = types.SimpleNamespace(aws_request_id="req-1")


async def _chunks(response: StreamingResponse) -> list[bytes]:
    out = []
    async for chunk in response.body:
        out.append(chunk if isinstance(chunk, bytes) else chunk.encode())
    return out


async def test_streaming_sends_status_headers_cookies_then_each_chunk() -> None:
    handler = ASGIHandler(api.app, streaming=True)
    response = await handler(_events.request("url", "GET", "/stream", query=[("n", "5")]), CONTEXT)
    assert isinstance(response, StreamingResponse)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-streamed"] == "yes"
    assert "content-length" not in response.headers
    assert await _chunks(response) == [f"chunk {i}\n".encode() for i in range(5)]


async def test_server_sent_events_stream_with_their_cookie() -> None:
    handler = ASGIHandler(api.app, streaming=True)
    response = await handler(_events.request("url", "GET", "/sse"), CONTEXT)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.cookies == ["seen=1; Path=/; SameSite=lax"]
    chunks = await _chunks(response)
    assert chunks == [f'id: {i}\nevent: tick\ndata: {{"n": {i}}}\n\n'.encode() for i in range(3)]


async def test_streaming_holds_the_app_back_until_each_chunk_is_taken() -> None:
    handler = ASGIHandler(api.app, streaming=True)
    response = await handler(_events.request("url", "GET", "/counted", query=[("n", "4")]), CONTEXT)
    seen = []
    async for chunk in response.body:
        # While the runtime holds chunk i, the app has produced nothing past it.
        assert list(range(len(seen) + 1)) == api.PRODUCED, (chunk, api.PRODUCED)
        seen.append(chunk)
    assert seen == [b"0", b"1", b"2", b"3"]


async def test_closing_the_stream_cancels_the_app() -> None:
    handler = ASGIHandler(api.app, streaming=True)
    response = await handler(_events.request("url", "GET", "/endless"), CONTEXT)
    body: Any = response.body
    assert await body.__anext__() == b"tick\n"
    await body.aclose()
    await asyncio.wait_for(api.STREAM_CLOSED[0].wait(), 5)


async def test_an_error_mid_stream_ends_the_stream_with_it() -> None:
    handler = ASGIHandler(api.app, streaming=True)
    response = await handler(_events.request("url", "GET", "/stream-fails"), CONTEXT)
    assert response.status_code == 200
    got = []
    with pytest.raises(ValueError, match="broken mid-stream"):
        async for chunk in response.body:
            got.append(chunk)
    assert got == [b"first\n"]


async def test_an_error_before_the_response_streams_a_500() -> None:
    handler = ASGIHandler(api.app, streaming=True)
    response = await handler(_events.request("url", "GET", "/boom"), CONTEXT)
    assert response.status_code == 500
    assert b"".join(await _chunks(response)) == b"Internal Server Error"


async def test_a_buffered_response_in_streaming_mode_is_one_stream() -> None:
    handler = ASGIHandler(api.app, streaming=True)
    response = await handler(_events.request("rest", "GET", "/cookies"), CONTEXT)
    assert response.headers["x-multi"] == "one,two"
    assert "content-length" not in response.headers  # streamed: no fixed length
    assert len(response.cookies) == 2
    assert orjson.loads(b"".join(await _chunks(response))) == {"ok": True}


async def test_lifespan_state_reaches_requests_and_startup_runs_once() -> None:
    handler = ASGIHandler(api.app)
    before = api.COUNTS["startup"]
    answers = await asyncio.gather(
        *(handler(_events.request("http", "GET", "/state"), CONTEXT) for _ in range(3))
    )
    assert api.COUNTS["startup"] == before + 1
    for answer in answers:
        state = orjson.loads(answer["body"])
        assert state["pool"].startswith("pool-") and state["same_loop"]


HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"x-a", b"1")]


def _raw_app(lifespan: str) -> Any:
    """A bare ASGI app: ``lifespan`` is 'refuse', 'fail', 'raise' or 'ok'."""
    events: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            if lifespan == "refuse":
                raise ValueError("only http here")
            message = await receive()
            events.append(message["type"])
            if lifespan == "fail":
                await send({"type": "lifespan.startup.failed", "message": "no database"})
                return
            if lifespan == "raise":
                raise ConnectionError("no database")
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            events.append(message["type"])
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    app.events = events  # type: ignore[attr-defined]
    return app


async def test_lifespan_auto_accepts_an_app_without_lifespan() -> None:
    handler = ASGIHandler(_raw_app("refuse"))
    answer = await handler(_events.request("alb", "GET", "/x"), CONTEXT)
    assert answer["body"] == "/x" and answer["headers"]["x-a"] == "1"


async def test_lifespan_on_requires_it() -> None:
    handler = ASGIHandler(_raw_app("refuse"), lifespan="on")
    with pytest.raises(LifespanError, match="does not support lifespan"):
        await handler(_events.request("alb", "GET", "/x"), CONTEXT)


@pytest.mark.parametrize("mode", ["fail", "raise"])
async def test_a_failed_startup_is_an_error_and_is_tried_again(mode: str) -> None:
    app = _raw_app(mode)
    handler = ASGIHandler(app)
    for _ in range(2):
        with pytest.raises(LifespanError, match="no database"):
            await handler(_events.request("alb", "GET", "/x"), CONTEXT)
    assert app.events == ["lifespan.startup", "lifespan.startup"]


async def test_lifespan_off_never_runs_it() -> None:
    app = _raw_app("fail")
    handler = ASGIHandler(app, lifespan="off")
    answer = await handler(_events.request("alb", "GET", "/x"), CONTEXT)
    assert answer["statusCode"] == 200 and app.events == []


async def test_startup_then_shutdown_exchange_messages_in_order() -> None:
    app = _raw_app("ok")
    handler = ASGIHandler(app)
    await handler.startup()
    await handler.startup()
    lifespan: Any = handler._lifespan
    await lifespan.shutdown()
    assert app.events == ["lifespan.startup", "lifespan.shutdown"]


def test_bad_lifespan_argument() -> None:
    with pytest.raises(ValueError, match="lifespan"):
        ASGIHandler(_raw_app("ok"), lifespan="maybe")  # type: ignore[arg-type]


@pytest.mark.parametrize("event", [{"foo": 1}, [], b"raw", {"requestContext": {}}])
async def test_an_event_of_another_source_is_refused_clearly(event: Any) -> None:
    handler = ASGIHandler(_raw_app("refuse"))
    with pytest.raises(UnsupportedEvent, match="API Gateway"):
        await handler(event, CONTEXT)


async def test_base_path_of_a_custom_domain_moves_into_root_path() -> None:
    # Custom domain with base path mapping "api": `path` and requestContext.path agree.
    handler = ASGIHandler(api.app, base_path="/api/")
    event = _events.request("rest", "GET", "/api/items/7")
    event["requestContext"]["path"] = "/api/items/7"
    event["requestContext"]["domainName"] = "example.com"
    answer = await handler(event, CONTEXT)
    body = orjson.loads(answer["body"])
    assert (body["item_id"], body["root_path"], body["path"]) == (7, "/api", "/api/items/7")
    # The same handler on the execute-api URL (no base path): the stage is the root.
    answer = await handler(_events.request("rest", "GET", "/items/7"), CONTEXT)
    assert orjson.loads(answer["body"])["root_path"] == "/prod"


async def test_rest_root_resource_on_a_stage() -> None:
    handler = ASGIHandler(_raw_app("refuse"))
    event = _events.request("rest", "GET", "/")
    event["requestContext"]["path"] = "/prod"
    answer = await handler(event, CONTEXT)
    assert answer["body"] == "/prod/"


async def test_http_api_named_stage_is_the_root_path() -> None:
    handler = ASGIHandler(api.app)
    event = _events.request("http", "GET", "/dev/items/9")
    event["requestContext"]["stage"] = "dev"
    body = orjson.loads((await handler(event, CONTEXT))["body"])
    assert (body["item_id"], body["root_path"], body["path"]) == (9, "/dev", "/dev/items/9")


async def test_percent_encoded_path_is_decoded() -> None:
    handler = ASGIHandler(_raw_app("refuse"))
    answer = await handler(_events.request("alb", "GET", "/a%20b/%C3%A9"), CONTEXT)
    assert answer["body"] == "/a b/é"


async def test_http_api_payload_1_0_on_a_named_stage_needs_base_path() -> None:
    # HTTP API with payload format 1.0: REST's shape, but `path` keeps the stage.
    event = _events.request("rest", "GET", "/dev/items/3")
    event["version"] = "1.0"
    event["requestContext"].update(stage="dev", path="/dev/items/3")
    plain = await ASGIHandler(api.app)(event, CONTEXT)
    assert plain["statusCode"] == 404
    body = orjson.loads((await ASGIHandler(api.app, base_path="dev")(event, CONTEXT))["body"])
    assert (body["item_id"], body["root_path"]) == (3, "/dev")


async def test_alb_client_is_the_address_the_load_balancer_saw() -> None:
    handler = ASGIHandler(api.app)
    event = _events.request(
        "alb", "GET", "/echo", headers=[("X-Forwarded-For", "10.0.0.1, 203.0.113.9")]
    )
    assert orjson.loads((await handler(event, CONTEXT))["body"])["client"] == "203.0.113.9"
