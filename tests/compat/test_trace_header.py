"""The running invocation's X-Ray header in os.environ, at any concurrency.

botocore (boto3, and aiobotocore for the async handler) adds it to every AWS call as
``X-Amzn-Trace-Id`` (X-Ray and Lambda's recursive-loop detection rely on it);
aws-xray-sdk's Lambda context and OpenTelemetry's X-Ray propagator read it with
``os.getenv``/``os.environ.get``: each is asked here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from aiolambda.emulator._engine import new_trace_id
from tests.compat._support import LEVELS, function, together


@contextlib.asynccontextmanager
async def recorder() -> AsyncIterator[tuple[str, dict[str, str | None]]]:
    """A DynamoDB GetItem stub on 127.0.0.1 recording each call's trace header by key."""
    headers: dict[str, str | None] = {}

    async def get_item(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        headers[body["Key"]["id"]["S"]] = request.headers.get("X-Amzn-Trace-Id")
        return web.Response(
            body=json.dumps({"Item": body["Key"]}), content_type="application/x-amz-json-1.0"
        )

    app = web.Application()
    app.router.add_post("/", get_item)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", headers
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize("handler", ["obs_trace.async_handler", "obs_trace.sync_handler"])
async def test_each_sdk_call_carries_its_invocations_trace_header(
    handler: str, concurrency: int | None
) -> None:
    traces = [new_trace_id() for _ in range(40)]
    n = together(concurrency)
    async with (
        recorder() as (url, headers),
        function(handler, concurrency, env={"STUB_URL": url}) as emu,
    ):
        futures = [
            emu.submit({"id": f"k{i}", "together": n}, trace_id=trace)
            for i, trace in enumerate(traces)
        ]
        results = await asyncio.gather(*futures)
    for i, (res, trace) in enumerate(zip(results, traces, strict=True)):
        root = trace.split(";")[0].removeprefix("Root=")
        assert res.json() == {
            "get": trace,
            "getenv": trace,
            "in": True,
            "otel_propagator": root.replace("-", "")[1:],
            "xray_sdk": root,
            "xray": trace,
        }
        assert headers[f"k{i}"] == trace
        if handler == "obs_trace.async_handler":  # aiobotocore, through the same header
            assert headers[f"k{i}-aio"] == trace
