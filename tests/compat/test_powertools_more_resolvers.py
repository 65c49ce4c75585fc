"""Bedrock agent, Bedrock agent functions and AppSync Events resolvers: own data each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.compat._support import LEVELS, N, function, invoke_all, together

SYNC_THREADS = {"AIOLAMBDA_SYNC_THREADS": "1"}


def agent_info() -> dict[str, Any]:
    return {"name": "a", "id": "a1", "alias": "TSTALIASID", "version": "DRAFT"}


def assert_own(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    wrong = [(expected, seen) for expected, seen in pairs if expected != seen]
    assert not wrong, f"{len(wrong)} of {len(pairs)} from another invocation: {wrong[:2]}"


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_bedrock_agent_async_routes(concurrency: int | None) -> None:
    n = together(concurrency)
    items = [f"b{i}" for i in range(2 * N)]
    events = [
        {
            "messageVersion": "1.0",
            "agent": agent_info(),
            "inputText": "",
            "sessionId": f"s-{item}",
            "actionGroup": "items",
            "apiPath": "/item",
            "httpMethod": "GET",
            "parameters": [{"name": "item", "type": "string", "value": item}],
            "sessionAttributes": {"n": str(n)},
            "promptSessionAttributes": {},
        }
        for item in items
    ]
    async with function("pt_more_resolvers.agent_handler", concurrency) as emu:
        results = await invoke_all(emu, events)
    pairs = []
    for item, res in zip(items, results, strict=True):
        assert res.ok, res.payload
        doc = res.json()
        body = doc["response"]["response"]["responseBody"]["application/json"]["body"]
        expected = {
            "item": item,
            "param": item,
            "session": f"s-{item}",
            "rid": doc["rid"],
        }
        pairs.append((expected, json.loads(body)))
    assert_own(pairs)


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_bedrock_agent_functions_on_sync_threads(concurrency: int | None) -> None:
    n = together(concurrency)
    items = [f"f{i}" for i in range(2 * N)]
    events = [
        {
            "messageVersion": "1.0",
            "agent": agent_info(),
            "inputText": "",
            "sessionId": f"s-{item}",
            "actionGroup": "tools",
            "function": "lookup",
            "parameters": [{"name": "item", "type": "string", "value": item}],
            "sessionAttributes": {"n": str(n)},
            "promptSessionAttributes": {},
        }
        for item in items
    ]
    async with function("pt_more_resolvers.tools_handler", concurrency, SYNC_THREADS) as emu:
        results = await invoke_all(emu, events)
    pairs = []
    for item, res in zip(items, results, strict=True):
        assert res.ok, res.payload
        body = res.json()["response"]["response"]["functionResponse"]["responseBody"]["TEXT"]
        seen = body["body"]
        pairs.append(({"item": item, "session": f"s-{item}"}, json.loads(seen)))
    assert_own(pairs)


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_appsync_events_on_sync_threads(concurrency: int | None) -> None:
    n = together(concurrency)
    items = [f"e{i}" for i in range(2 * N)]
    events = [
        {
            "identity": None,
            "result": None,
            "request": {"headers": {}, "domainName": None},
            "info": {
                "channel": {"path": f"/default/{item}", "segments": ["default", item]},
                "channelNamespace": {"name": "default"},
                "operation": "PUBLISH",
            },
            "error": None,
            "prev": None,
            "stash": {},
            "outErrors": [],
            "events": [{"payload": {"item": item, "n": n}, "id": f"id-{item}"}],
        }
        for item in items
    ]
    async with function("pt_more_resolvers.channels_handler", concurrency, SYNC_THREADS) as emu:
        results = await invoke_all(emu, events)
    pairs = []
    for item, res in zip(items, results, strict=True):
        assert res.ok, res.payload
        doc = res.json()
        seen = doc["response"]["events"][0]["payload"]
        pairs.append(({"item": item, "channel": f"/default/{item}", "rid": doc["rid"]}, seen))
    assert_own(pairs)
