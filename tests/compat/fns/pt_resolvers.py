"""Powertools Event Handler resolvers: every route answers from its own invocation's event.

Each route records what it knows before it waits (its route argument, appended route
context) and reads the resolver's event, context and route context again once every
invocation of the batch is in flight: with shared state the later reads would show
another invocation's data.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aws_lambda_powertools.event_handler import (
    ALBResolver,
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    AppSyncResolver,
    HttpResolverLocal,
    LambdaFunctionUrlResolver,
    VPCLatticeV2Resolver,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Router

_started = [0]
_all_in = asyncio.Event()
_lock = threading.Lock()
_threads_in = threading.Event()
_threads_started = [0]


async def _together(n: int) -> None:
    """Hold until n invocations of this process are in flight (bounded)."""
    _started[0] += 1
    if _started[0] >= n:
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)
    await asyncio.sleep(0)


def _together_in_threads(n: int) -> None:
    with _lock:
        _threads_started[0] += 1
        if _threads_started[0] >= n:
            _threads_in.set()
    _threads_in.wait(10)


def _seen(app: ApiGatewayResolver | Router, item: str) -> dict[str, Any]:
    event = app.current_event
    return {
        "item": item,
        "path": event.path,
        "q": event.get_query_string_value("q"),
        "marker": app.context.get("marker"),
        "rid": app.lambda_context.aws_request_id,
    }


def _routes(app: ApiGatewayResolver) -> None:
    router = Router()

    @app.get("/items/<item>")
    async def item_async(item: str) -> dict[str, Any]:
        app.append_context(marker=item)
        await _together(int(app.current_event.get_query_string_value("n") or 1))
        return _seen(app, item)

    @app.get("/sync/<item>")
    def item_sync(item: str) -> dict[str, Any]:
        app.append_context(marker=item)
        _together_in_threads(int(app.current_event.get_query_string_value("n") or 1))
        return _seen(app, item)

    @router.get("/routed/<item>")
    async def routed(item: str) -> dict[str, Any]:
        router.append_context(marker=item)
        await _together(int(router.current_event.get_query_string_value("n") or 1))
        return _seen(router, item)

    app.include_router(router)


APPS: dict[str, ApiGatewayResolver] = {
    "rest": APIGatewayRestResolver(),
    "http": APIGatewayHttpResolver(),
    "alb": ALBResolver(),
    "url": LambdaFunctionUrlResolver(),
    "lattice": VPCLatticeV2Resolver(),
    "local": HttpResolverLocal(),  # the ASGI resolver, run as a Lambda handler
}
for _app in APPS.values():
    _routes(_app)


async def handler(event: dict[str, Any], context: Any) -> Any:
    """Async routes through ``resolve_async``."""
    response = await APPS[event["kind"]].resolve_async(event["request"], context)
    return {"rid": context.aws_request_id, "response": response}


async def handler_thread(event: dict[str, Any], context: Any) -> Any:
    """Sync routes through ``resolve`` in a thread (``asyncio.to_thread``)."""
    app = APPS[event["kind"]]
    response = await asyncio.to_thread(app.resolve, event["request"], context)
    return {"rid": context.aws_request_id, "response": response}


def handler_sync(event: dict[str, Any], context: Any) -> Any:
    """A plain def handler (threads with AIOLAMBDA_SYNC_THREADS=1)."""
    response = APPS[event["kind"]].resolve(event["request"], context)
    return {"rid": context.aws_request_id, "response": response}


appsync = AppSyncResolver()


@appsync.resolver(type_name="Query", field_name="getItem")
async def get_item(id: str, n: int) -> dict[str, Any]:
    appsync.append_context(marker=id)
    await _together(n)
    return {
        "item": id,
        "arg": appsync.current_event.arguments["id"],
        "marker": appsync.context.get("marker"),
        "rid": appsync.lambda_context.aws_request_id,
    }


async def appsync_handler(event: dict[str, Any], context: Any) -> Any:
    """An async resolver: ``resolve`` returns its coroutine."""
    result = await appsync.resolve(event, context)
    appsync.clear_context()
    return {"rid": context.aws_request_id, "result": result}


validated = APIGatewayHttpResolver(enable_validation=True)


@validated.get("/valid/<item>")
async def valid_item(item: str, n: int) -> dict[str, Any]:
    validated.append_context(marker=item)
    await _together(n)
    return _seen(validated, item)


async def handler_validated(event: dict[str, Any], context: Any) -> Any:
    """Validation on: Powertools runs its sync validation middlewares in threads."""
    response = await validated.resolve_async(event["request"], context)
    return {"rid": context.aws_request_id, "response": response}
