"""What the bridge changes at init, and what it leaves alone (aiolambda._core.bridge)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from typing import Any

from aiolambda._core import observe
from aiolambda._core.bridge import Bridge, intercept
from aiolambda._core.handler import Handler

var = contextvars.ContextVar[str]("var", default="unset")


async def body(event: Any, context: Any) -> Any:
    await asyncio.sleep(0)
    return {"event": event, "var": var.get()}


def passing(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(event: Any, context: Any) -> Any:
        token = var.set("set by the wrapper")
        try:
            return {"wrapped": func(event, context)}
        finally:
            var.reset(token)

    return wrapper


def driving(func: Any) -> Any:
    """Runs the coroutine itself: given a result in its place, it would fail."""

    @functools.wraps(func)
    def wrapper(event: Any, context: Any) -> Any:
        return asyncio.run(func(event, context))

    return wrapper


def test_a_plain_async_handler_comes_out_unchanged() -> None:
    handler = Handler(body, True, "m.body")
    assert observe.prepare(handler, 8)[0] is handler  # nothing added per invocation


def test_a_plain_sync_handler_comes_out_unchanged() -> None:
    def handler_func(event: Any, context: Any) -> Any:
        return event

    handler = Handler(handler_func, False, "m.handler_func")
    assert observe.prepare(handler, 1)[0] is handler


def test_a_wrapper_that_drives_the_coroutine_itself_is_left_alone() -> None:
    wrapped = driving(body)
    assert not intercept(wrapped)
    assert wrapped({"a": 1}, None) == {"event": {"a": 1}, "var": "unset"}


async def test_outside_a_bridge_thread_the_shim_returns_the_coroutine() -> None:
    wrapped = passing(body)
    assert intercept(wrapped)
    assert intercept(wrapped)  # idempotent: the handler module may be loaded twice
    result = wrapped({"a": 1}, None)
    coroutine = result["wrapped"]
    assert asyncio.iscoroutine(coroutine)
    assert await coroutine == {"event": {"a": 1}, "var": "unset"}


async def test_in_the_bridge_the_wrapper_gets_the_result_in_its_context() -> None:
    wrapped = passing(body)
    assert intercept(wrapped)
    bridged = Bridge(wrapped, 2).handler()
    results = await asyncio.gather(bridged({"a": 1}, None), bridged({"a": 2}, None))
    assert results == [
        {"wrapped": {"event": {"a": 1}, "var": "set by the wrapper"}},
        {"wrapped": {"event": {"a": 2}, "var": "set by the wrapper"}},
    ]
