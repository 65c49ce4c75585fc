"""``examples/fastapi`` and ``examples/starlette`` run under the emulator as on Lambda."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import orjson
import pytest

from aiolambda import StreamingResponse
from aiolambda.testing import EmulatorThread

from . import _events

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_fastapi_example_behind_every_source() -> None:
    with EmulatorThread("app.handler", task_root=str(EXAMPLES / "fastapi")) as emu:
        for kind in _events.KINDS:
            result = emu.invoke(
                _events.request(kind, "GET", "/hello/Ada", query=[("excited", "true")])
            )
            answer = result.json()
            assert answer["statusCode"] == 200, answer
            body = orjson.loads(answer["body"])
            assert body["message"] == "Hello, Ada!"
            assert body["request_id"] == result.request_id
            missing = emu.invoke(_events.request(kind, "GET", "/items/9")).json()
            assert missing["statusCode"] == 404
            assert orjson.loads(missing["body"]) == {"detail": "no such item"}


def test_starlette_example_keeps_lifespan_state_across_invocations() -> None:
    with EmulatorThread("app.handler", task_root=str(EXAMPLES / "starlette")) as emu:
        counts = []
        for kind in _events.KINDS:
            answer = emu.invoke(_events.request(kind, "GET", "/visit")).json()
            counts.append(orjson.loads(answer["body"])["visits"])
            assert "last_visit" in str(_events.answer_headers(answer)["set-cookie"])
        assert counts == [1, 2, 3, 4, 5]
        home = emu.invoke(_events.request("url", "GET", "/")).json()
        assert home["body"] == "Hello from Starlette on aiolambda"
        posted = emu.invoke(
            _events.request("rest", "POST", "/echo", body="hi", query=[("a", "1")])
        ).json()
        assert orjson.loads(posted["body"]) == {"body": "hi", "query": {"a": "1"}}


async def test_fastapi_streaming_example_streams_server_sent_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES / "fastapi"))
    try:
        import streaming  # examples/fastapi/streaming.py

        response = await streaming.handler(
            _events.request("url", "GET", "/countdown", query=[("start", "0")]),
            types.SimpleNamespace(aws_request_id="r"),
        )
    finally:  # the example's modules are named for Lambda (app, streaming), not for tests
        sys.modules.pop("streaming", None)
        sys.modules.pop("app", None)
    assert isinstance(response, StreamingResponse)
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = [chunk async for chunk in response.body]
    assert chunks == [b"event: tick\ndata: 0\n\n"]
