"""Handlers under Sentry's AwsLambdaIntegration, set up as its documentation says."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from _sentry_setup import init

init()
_started = [0]
_all_in = asyncio.Event()


def sync_handler(event: Any, context: Any) -> Any:
    if event.get("hang"):
        threading.Event().wait(4)  # past the deadline (bounded): the runtime answers for it
    if event.get("fail"):
        raise ValueError(f"sync failed {context.aws_request_id}")
    return {"rid": context.aws_request_id}


async def async_handler(event: Any, context: Any) -> Any:
    _started[0] += 1
    if _started[0] >= event.get("together", 1):
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)
    if event.get("hang"):
        await asyncio.Event().wait()
    if event.get("fail"):
        raise ValueError(f"async failed {context.aws_request_id}")
    return {"rid": context.aws_request_id}
