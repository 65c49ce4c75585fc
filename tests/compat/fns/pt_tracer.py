"""Powertools Tracer (tracing disabled unless a test enables it)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aws_lambda_powertools import Tracer

from aiolambda import powertools

tracer = Tracer(service="compat")


@tracer.capture_method
async def work(i: int) -> int:
    await asyncio.sleep(0.005)
    return i * 2


@powertools.capture_lambda_handler(tracer)
async def adapted(event: Any, context: Any) -> Any:
    if event.get("fail"):
        raise ValueError(f"failed {event['i']}")
    return {"rid": context.aws_request_id, "double": await work(event["i"])}


@tracer.capture_lambda_handler
def sync_native(event: Any, context: Any) -> Any:
    time.sleep(0.005)
    return {"rid": context.aws_request_id, "double": event["i"] * 2}


@tracer.capture_lambda_handler
async def async_native(event: Any, context: Any) -> Any:
    if event.get("fail"):
        raise ValueError(f"failed {event['i']}")
    return {"rid": context.aws_request_id, "double": await work(event["i"])}
