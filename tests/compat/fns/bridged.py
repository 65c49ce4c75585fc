"""Sync wrappers around async def handlers, which the runtime bridges."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from typing import Any

import wrapt

current = contextvars.ContextVar[str]("current", default="unset")
_started = [0]
_all_in = asyncio.Event()


def bracket(func: Any) -> Any:
    """A plain decorator (functools.wraps) with a before and an after step."""

    @functools.wraps(func)
    def wrapper(event: Any, context: Any) -> Any:
        steps = ["before"]
        token = current.set(f"wrapper of {context.aws_request_id}")
        try:
            result = func(event, context)
        except ValueError as exc:
            return {"caught": str(exc), "steps": [*steps, "after"]}
        finally:
            current.reset(token)
            print(f"wrapper after {context.aws_request_id}", flush=True)
        steps.append("after")
        return {"result": result, "steps": steps}

    return wrapper


def bare(func: Any) -> Any:
    """No functools.wraps: the reference is found in the closure."""

    def wrapper(event: Any, context: Any) -> Any:
        result = func(event, context)
        return {"bare": result}

    return wrapper


@wrapt.decorator
def wrapt_style(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    token = current.set("wrapt")
    try:
        return {"wrapt": wrapped(*args, **kwargs)}
    finally:
        current.reset(token)


class Opaque:
    """A callable object the bridge cannot look into."""

    def __init__(self, func: Any) -> None:
        self.func = func
        functools.update_wrapper(self, func)

    def __call__(self, event: Any, context: Any) -> Any:
        return self.func(event, context)


async def _body(event: Any, context: Any) -> Any:
    await asyncio.sleep(0)
    if event.get("together"):
        _started[0] += 1
        if _started[0] >= event["together"]:
            _all_in.set()
        await asyncio.wait_for(_all_in.wait(), 10)
    if event.get("fail"):
        raise ValueError(f"failed {context.aws_request_id}")
    if event.get("hang"):
        try:
            await asyncio.Event().wait()
        finally:
            print(f"handler cancelled {context.aws_request_id}", flush=True)
    return {"seen": current.get(), "rid": context.aws_request_id}


@bracket
async def bracketed(event: Any, context: Any) -> Any:
    return await _body(event, context)


@bare
@bracket
async def two_layers(event: Any, context: Any) -> Any:
    return await _body(event, context)


@wrapt_style
async def wrapt_wrapped(event: Any, context: Any) -> Any:
    return await _body(event, context)


@Opaque
async def opaque(event: Any, context: Any) -> Any:
    return await _body(event, context)


async def plain(event: Any, context: Any) -> Any:
    return await _body(event, context)
