"""Powertools Event Handler: each response is built from its own invocation's request.

The resolvers keep the current event and Lambda context on a class and the route
context on the resolver: with several invocations in one process, aiolambda makes
them invocation-local (aiolambda/_compat/powertools_state.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.compat._support import LEVELS, N, function, invoke_all, together

KINDS = ("rest", "http", "alb", "url", "lattice")


def request(kind: str, path: str, n: int) -> dict[str, Any]:
    query = {"q": path.rsplit("/", 1)[1], "n": str(n)}
    raw_query = "&".join(f"{k}={v}" for k, v in query.items())
    if kind in ("rest", "local"):
        return {
            "resource": path,
            "path": path,
            "httpMethod": "GET",
            "headers": {},
            "multiValueHeaders": {},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
            "requestContext": {"stage": "$default", "path": path, "httpMethod": "GET"},
            "body": None,
            "isBase64Encoded": False,
        }
    if kind in ("http", "url"):
        return {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": raw_query,
            "headers": {},
            "queryStringParameters": query,
            "requestContext": {"stage": "$default", "http": {"method": "GET", "path": path}},
            "isBase64Encoded": False,
        }
    if kind == "alb":
        return {
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elb:tg"}},
            "httpMethod": "GET",
            "path": path,
            "queryStringParameters": query,
            "headers": {},
            "body": "",
            "isBase64Encoded": False,
        }
    assert kind == "lattice"
    return {
        "version": "2.0",
        "path": path,
        "method": "GET",
        "headers": {},
        "queryStringParameters": {k: [v] for k, v in query.items()},
        "body": "",
        "isBase64Encoded": False,
        "requestContext": {"region": "us-east-1", "timeEpoch": "0"},
    }


def check(results: list, items: list[str], prefix: str) -> None:
    wrong = []
    for item, res in zip(items, results, strict=True):
        assert res.ok, res.payload
        doc = res.json()
        seen = json.loads(doc["response"]["body"])
        expected = {
            "item": item,
            "path": f"{prefix}/{item}",
            "q": item,
            "marker": item,
            "rid": doc["rid"],
        }
        if seen != expected:
            wrong.append((expected, seen))
    assert not wrong, f"{len(wrong)} of {len(items)} built from another request: {wrong[:2]}"


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize("kind", KINDS)
async def test_async_routes_resolve_async(kind: str, concurrency: int | None) -> None:
    items = [f"{kind}{i}" for i in range(2 * N)]
    n = together(concurrency)
    async with function("pt_resolvers.handler", concurrency) as emu:
        events = [{"kind": kind, "request": request(kind, f"/items/{i}", n)} for i in items]
        results = await invoke_all(emu, events)
    check(results, items, "/items")


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_async_routes_of_an_included_router(concurrency: int | None) -> None:
    items = [f"r{i}" for i in range(2 * N)]
    n = together(concurrency)
    async with function("pt_resolvers.handler", concurrency) as emu:
        events = [{"kind": "http", "request": request("http", f"/routed/{i}", n)} for i in items]
        results = await invoke_all(emu, events)
    check(results, items, "/routed")


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_sync_routes_resolve_in_threads(concurrency: int | None) -> None:
    # The loop's default executor has at least 5 threads: 4 wait for each other.
    items = [f"t{i}" for i in range(2 * N)]
    n = min(together(concurrency), 4)
    async with function("pt_resolvers.handler_thread", concurrency) as emu:
        events = [{"kind": "rest", "request": request("rest", f"/sync/{i}", n)} for i in items]
        results = await invoke_all(emu, events)
    check(results, items, "/sync")


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize("kind", ["url", "local"])  # local: HttpResolverLocal, sync on Lambda
async def test_sync_handler_on_threads(kind: str, concurrency: int | None) -> None:
    items = [f"s{i}" for i in range(2 * N)]
    n = together(concurrency)
    env = {"AIOLAMBDA_SYNC_THREADS": "1"}
    async with function("pt_resolvers.handler_sync", concurrency, env) as emu:
        events = [{"kind": kind, "request": request(kind, f"/sync/{i}", n)} for i in items]
        results = await invoke_all(emu, events)
    check(results, items, "/sync")


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_appsync_async_resolver(concurrency: int | None) -> None:
    items = [f"g{i}" for i in range(2 * N)]
    n = together(concurrency)
    events = [
        {
            "typeName": "Query",
            "fieldName": "getItem",
            "arguments": {"id": item, "n": n},
            "info": {"parentTypeName": "Query", "fieldName": "getItem", "variables": {}},
            "request": {"headers": {}},
            "identity": None,
            "source": None,
            "stash": {},
            "prev": None,
        }
        for item in items
    ]
    async with function("pt_resolvers.appsync_handler", concurrency) as emu:
        results = await invoke_all(emu, events)
    wrong = []
    for item, res in zip(items, results, strict=True):
        assert res.ok, res.payload
        doc = res.json()
        expected = {"item": item, "arg": item, "marker": item, "rid": doc["rid"]}
        if doc["result"] != expected:
            wrong.append((expected, doc["result"]))
    assert not wrong, f"{len(wrong)} of {len(items)} resolved from another event: {wrong[:2]}"


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_async_routes_with_validation(concurrency: int | None) -> None:
    # Each request in flight holds two of the loop's default-executor threads while its
    # route runs (the validation middlewares are sync): all N must fit, or they deadlock.
    items = [f"v{i}" for i in range(2 * N)]
    n = together(concurrency)
    async with function("pt_resolvers.handler_validated", concurrency) as emu:
        events = [{"kind": "http", "request": request("http", f"/valid/{i}", n)} for i in items]
        results = await invoke_all(emu, events)
    check(results, items, "/valid")


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_powertools_imported_during_an_invocation(concurrency: int | None) -> None:
    items = [f"late{i}" for i in range(2 * N)]
    n = together(concurrency)
    async with function("pt_late.handler", concurrency) as emu:
        events = [{"kind": "rest", "request": request("rest", f"/items/{i}", n)} for i in items]
        results = await invoke_all(emu, events)
    check(results, items, "/items")
