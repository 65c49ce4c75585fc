"""The FastAPI app of ``benchmarks/asgi.py``: one typical JSON route and a lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

DEFAULTS = {"greeting": "hello"}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    yield {"settings": dict(DEFAULTS)}  # what an app sets up once: clients, config


app = FastAPI(lifespan=lifespan)


@app.get("/items/{item_id}")
async def item(item_id: int, request: Request, q: str | None = None) -> dict[str, object]:
    settings = getattr(request.state, "settings", DEFAULTS)  # no state with lifespan="off"
    return {"item_id": item_id, "q": q, "greeting": settings["greeting"]}
