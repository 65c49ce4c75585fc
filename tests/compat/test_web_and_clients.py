"""Mangum + FastAPI, a module-level aiohttp session, boto3 through asyncio.to_thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.compat._support import LEVELS, N, function, invoke_all


@contextlib.asynccontextmanager
async def stub_server(hold: int = 0) -> AsyncIterator[tuple[str, set[tuple[str, int]]]]:
    """127.0.0.1: ``/echo`` for aiohttp and a DynamoDB ``GetItem`` stub for boto3.

    With ``hold``, the first ``hold`` GetItem requests are answered only once all of
    them have arrived (bounded wait): proof that they were in flight together.
    """
    peers: set[tuple[str, int]] = set()
    arrived = [0]
    all_in = asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername")[:2])  # type: ignore[union-attr]
        return web.json_response({"i": int(request.query["i"])})

    async def dynamodb(request: web.Request) -> web.Response:
        assert request.headers["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
        assert "Credential=test/" in request.headers["Authorization"]
        body = json.loads(await request.read())
        arrived[0] += 1
        if arrived[0] >= hold:
            all_in.set()
        if arrived[0] <= hold:
            try:
                await asyncio.wait_for(all_in.wait(), 10)
            except TimeoutError:
                return web.Response(status=400, text="not concurrent")
        return web.Response(
            body=json.dumps({"Item": body["Key"]}),
            content_type="application/x-amz-json-1.0",
        )

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_post("/", dynamodb)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", peers
    finally:
        await runner.cleanup()


def rest_event(i: int) -> dict:
    return {
        "resource": "/items/{item_id}",
        "path": f"/items/{i}",
        "httpMethod": "GET",
        "headers": {"host": "example.com"},
        "multiValueHeaders": {"host": ["example.com"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"item_id": str(i)},
        "requestContext": {"requestId": f"api-{i}", "stage": "prod", "resourcePath": "/items"},
        "body": None,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_mangum_fastapi(concurrency: int | None) -> None:
    async with function("web.mangum_handler", concurrency) as emu:
        results = await invoke_all(emu, [rest_event(i) for i in range(16)])
    pids = set()
    for i, res in enumerate(results):
        doc = res.json()
        assert doc["statusCode"] == 200, doc
        body = json.loads(doc["body"])
        assert (body["item"], body["rid"]) == (i, res.request_id)
        pids.add(body["pid"])
    assert len(pids) <= (concurrency or 1)  # Mangum is sync: one process per slot


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_module_level_aiohttp_session_is_reused_while_warm(concurrency: int | None) -> None:
    async with (
        stub_server() as (url, peers),
        function("web.aiohttp_handler", concurrency, env={"STUB_URL": url}) as emu,
    ):
        first = await invoke_all(emu, [{"i": i} for i in range(16)])
        second = await invoke_all(emu, [{"i": i} for i in range(16, 32)])
    results = first + second
    for i, res in enumerate(results):
        assert res.json()["i"] == i
        assert res.json()["echo"] == {"i": i}
    assert len({res.json()["session"] for res in results}) == 1  # one session, one loop
    assert len({res.json()["pid"] for res in results}) == 1
    assert len(peers) <= (concurrency or 1)  # keep-alive connections, reused


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize("handler", ["web.boto3_handler", "web.boto3_sync_handler"])
async def test_boto3(handler: str, concurrency: int | None) -> None:
    async with (
        stub_server() as (url, _),
        function(handler, concurrency, env={"STUB_URL": url}) as emu,
    ):
        results = await invoke_all(emu, [{"id": f"k{i}"} for i in range(16)])
    for i, res in enumerate(results):
        assert res.json() == {"id": f"k{i}", "got": f"k{i}", "rid": res.request_id}


async def test_boto3_calls_of_concurrent_invocations_overlap() -> None:
    """Async invocations' to_thread boto3 calls are in flight at once."""
    async with (
        stub_server(hold=4) as (url, _),
        function("web.boto3_handler", N, env={"STUB_URL": url}) as emu,
    ):
        results = await invoke_all(emu, [{"id": f"k{i}"} for i in range(N * 4)])
    for i, res in enumerate(results):
        assert res.json() == {"id": f"k{i}", "got": f"k{i}", "rid": res.request_id}
