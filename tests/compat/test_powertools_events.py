"""Powertools event handler resolvers and parser, sync and async."""

from __future__ import annotations

import json

import pytest

from tests.compat._support import LEVELS, function, invoke_all


def rest_event(i: int) -> dict:
    return {
        "resource": "/items/{item_id}",
        "path": f"/items/{i}",
        "httpMethod": "GET",
        "headers": {"Host": "example.com"},
        "multiValueHeaders": {},
        "queryStringParameters": {"q": f"q{i}"},
        "multiValueQueryStringParameters": {"q": [f"q{i}"]},
        "pathParameters": {"item_id": str(i)},
        "requestContext": {"requestId": f"api-{i}", "stage": "prod", "httpMethod": "GET"},
        "body": None,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize("handler", ["pt_events.sync_resolver", "pt_events.async_resolver"])
async def test_resolver_routes_each_request(handler: str, concurrency: int | None) -> None:
    async with function(handler, concurrency) as emu:
        results = await invoke_all(emu, [rest_event(i) for i in range(16)])
    for i, res in enumerate(results):
        doc = res.json()
        assert doc["statusCode"] == 200
        assert json.loads(doc["body"]) == {"item": str(i), "rid": res.request_id, "q": f"q{i}"}


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize(
    "handler",
    ["pt_events.async_parse", "pt_events.async_event_parser", "pt_events.sync_event_parser"],
)
async def test_parser(handler: str, concurrency: int | None) -> None:
    async with function(handler, concurrency) as emu:
        events = [{"order_id": i, "items": ["x"] * (i % 4)} for i in range(16)]
        results = await invoke_all(emu, [*events, {"order_id": "nope"}])
        logs = emu.logs
    for i, res in enumerate(results[:-1]):
        assert res.json() == {"order_id": i, "n": i % 4, "rid": res.request_id}
    assert results[-1].json()["errorType"] == "ValidationError"
    assert "plain def wrapper" not in logs  # event_parser only acts before the call
