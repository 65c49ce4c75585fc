"""The FastAPI app the ASGI tests drive (handlers in ``buffered.py`` and ``streamed.py``)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

COUNTS = {"startup": 0, "shutdown": 0}
MARKER = os.environ.get("ASGI_TEST_MARKER")  # a file the lifespan appends its events to


def _mark(word: str) -> None:
    COUNTS[word] += 1
    if MARKER:
        with open(MARKER, "a") as f:
            f.write(f"{word} {os.getpid()}\n")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    if os.environ.get("ASGI_TEST_FAIL_STARTUP"):
        raise RuntimeError("database unreachable")
    _mark("startup")
    yield {"pool": f"pool-{os.getpid()}", "loop": id(asyncio.get_running_loop())}
    _mark("shutdown")


app = FastAPI(lifespan=lifespan)


@app.get("/state")
async def state(request: Request) -> dict[str, object]:
    return {
        "counts": COUNTS,
        "pid": os.getpid(),
        "pool": request.state.pool,
        "same_loop": request.state.loop == id(asyncio.get_running_loop()),
    }


@app.get("/items/{item_id}")
async def item(item_id: int, request: Request) -> dict[str, object]:
    return {
        "item_id": item_id,
        "q": request.query_params.getlist("q"),
        "query": request.url.query,
        "path": request.url.path,
        "root_path": request.scope.get("root_path", ""),
        "url": str(request.url),
    }


@app.api_route("/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def echo(request: Request) -> dict[str, object]:
    body = await request.body()
    return {
        "method": request.method,
        "headers": [[k, v] for k, v in request.headers.items()],
        "cookies": request.cookies,
        "query": sorted(request.query_params.multi_items()),
        "body": body.decode("utf-8", "replace"),
        "client": request.client.host if request.client else None,
        "scheme": request.url.scheme,
        "server": list(request.scope["server"]) if request.scope.get("server") else None,
        "request_id": request.scope["aws.context"].aws_request_id,
        "event_keys": sorted(request.scope["aws.event"]),
    }


@app.post("/upload")
async def upload(request: Request) -> Response:
    body = await request.body()
    return Response(
        content=body,
        media_type="application/octet-stream",
        headers={"x-sha256": hashlib.sha256(body).hexdigest()},
    )


PNG = bytes(range(256)) * 4


@app.get("/image")
async def image() -> Response:
    return Response(content=PNG, media_type="image/png")


@app.get("/gzip")
async def gzipped() -> Response:
    return Response(
        content=gzip.compress(b'{"compressed": true}'),
        media_type="application/json",
        headers={"content-encoding": "gzip"},
    )


@app.get("/text")
async def text() -> Response:
    return Response(content="héllo wörld ✓", media_type="text/plain")


@app.get("/cookies")
async def cookies() -> Response:
    response = JSONResponse({"ok": True})
    response.set_cookie("session", "s3cr3t", httponly=True)
    response.set_cookie("theme", "dark", max_age=3600)
    response.headers.append("x-multi", "one")
    response.headers.append("x-multi", "two")
    return response


@app.get("/status/{code}")
async def status(code: int) -> Response:
    return Response(status_code=code)


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom")


@app.get("/stream")
async def stream(n: int = 5) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(n):
            await asyncio.sleep(0)
            yield f"chunk {i}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain", headers={"x-streamed": "yes"})


@app.get("/sse")
async def sse() -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        for i in range(3):
            yield f'id: {i}\nevent: tick\ndata: {{"n": {i}}}\n\n'

    response = StreamingResponse(events(), media_type="text/event-stream")
    response.set_cookie("seen", "1")
    return response


@app.get("/stream-fails")
async def stream_fails() -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first\n"
        raise ValueError("broken mid-stream")

    return StreamingResponse(chunks(), media_type="text/plain")


PRODUCED: list[int] = []  # chunks /counted has produced so far
STREAM_CLOSED: list[asyncio.Event] = []  # set when /endless's body is torn down


@app.get("/counted")
async def counted(n: int = 4) -> StreamingResponse:
    PRODUCED.clear()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(n):
            PRODUCED.append(i)
            yield f"{i}".encode()

    return StreamingResponse(chunks(), media_type="application/octet-stream")


@app.get("/endless")
async def endless() -> StreamingResponse:
    closed = asyncio.Event()
    STREAM_CLOSED[:] = [closed]

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick\n"
        finally:
            closed.set()

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/sleep")
async def sleep(s: float) -> dict[str, float]:
    await asyncio.sleep(s)
    return {"slept": s}


@app.get("/gated")
async def gated() -> StreamingResponse:
    """One event, then wait until the test has read it (it writes to the FIFO), then more."""

    async def events() -> AsyncIterator[str]:
        yield "data: one\n\n"
        gate = os.environ["ASGI_TEST_GATE"]  # a FIFO: reading blocks until the test writes
        word = await asyncio.to_thread(lambda: open(gate).read())  # noqa: SIM115, ASYNC
        yield f"data: {word}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@app.get("/stream-slow")
async def stream_slow() -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"started\n"
        await asyncio.sleep(60)  # far past any test's deadline
        yield b"never\n"

    return StreamingResponse(chunks(), media_type="text/plain")


ARRIVED: list[int] = []  # requests at /together so far
ALL_HERE: list[asyncio.Event] = []


@app.get("/together")
async def together(n: int) -> dict[str, int]:
    """Answers only once ``n`` requests are in flight at the same time (or fails at 10 s)."""
    if not ALL_HERE or ALL_HERE[0].is_set():
        ALL_HERE[:] = [asyncio.Event()]
        ARRIVED.clear()
    event = ALL_HERE[0]
    ARRIVED.append(os.getpid())
    if len(ARRIVED) == n:
        event.set()
    await asyncio.wait_for(event.wait(), 10)
    return {"in_flight": len(ARRIVED), "pid": os.getpid()}
