"""A Starlette app on Lambda with aiolambda: ``_HANDLER=app.handler``.

Needs Starlette (``requirements.txt``).
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/starlette/requirements.txt
    aiolambda invoke --task-root examples/starlette app.handler \\
        --event-file examples/starlette/event.json
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from aiolambda.asgi import ASGIHandler


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
    yield {"visits": {"count": 0}}  # lives as long as the execution environment


async def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello from Starlette on aiolambda")


async def visit(request: Request) -> JSONResponse:
    visits = request.state.visits
    visits["count"] += 1
    response = JSONResponse({"visits": visits["count"], "path": request.url.path})
    response.set_cookie("last_visit", str(visits["count"]))
    return response


async def echo(request: Request) -> JSONResponse:
    return JSONResponse(
        {"body": (await request.body()).decode(), "query": dict(request.query_params)}
    )


app = Starlette(
    routes=[
        Route("/", homepage),
        Route("/visit", visit),
        Route("/echo", echo, methods=["POST"]),
    ],
    lifespan=lifespan,
)
handler = ASGIHandler(app)
