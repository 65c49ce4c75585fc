"""A FastAPI app on Lambda with aiolambda: ``_HANDLER=app.handler``.

Behind API Gateway (REST or HTTP API), an ALB or a Function URL in buffered mode.
For a Function URL in ``RESPONSE_STREAM`` mode use ``streaming.handler`` instead.

The lifespan runs once per execution environment, during init; the client session
it opens is reused by every warm invocation, on the runtime's one event loop.

Needs FastAPI (``requirements.txt``).
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/fastapi/requirements.txt
    aiolambda invoke --task-root examples/fastapi app.handler \\
        --event-file examples/fastapi/event.json

or keep it running and call it through the emulator's Function URL endpoint::

    aiolambda serve --task-root examples/fastapi app.handler --port 8080
    curl 'http://127.0.0.1:8080/lambda-url/hello/Ada?excited=true'
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse

from aiolambda.asgi import ASGIHandler


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    async with aiohttp.ClientSession() as session:  # closed on SIGTERM (shutdown)
        yield {"http": session, "started": time.time()}


app = FastAPI(title="aiolambda example", lifespan=lifespan)
ITEMS = {1: "apple", 2: "pear"}


@app.get("/hello/{name}")
async def hello(name: str, request: Request, excited: bool = False) -> dict[str, object]:
    context = request.scope["aws.context"]  # the Lambda context, as with Mangum
    return {
        "message": f"Hello, {name}{'!' if excited else '.'}",
        "request_id": context.aws_request_id,
        "warm_for_s": round(time.time() - request.state.started, 3),
    }


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, object]:
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail="no such item")
    return {"id": item_id, "name": ITEMS[item_id]}


@app.get("/countdown")
async def countdown(start: int = 3) -> StreamingResponse:
    """Server-sent events: one per second when streamed through a Function URL."""

    async def events() -> AsyncIterator[str]:
        for n in range(start, -1, -1):
            yield f"event: tick\ndata: {n}\n\n"
            if n:
                await asyncio.sleep(1)

    return StreamingResponse(events(), media_type="text/event-stream")


handler = ASGIHandler(app)
