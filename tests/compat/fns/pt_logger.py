"""Powertools Logger: the async adapter, Powertools' own decorator on sync and (refused) async."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from aws_lambda_powertools import Logger

from aiolambda import powertools

logger = Logger(service="compat")
_started = [0]
_all_in = asyncio.Event()


async def _together(n: int) -> None:
    """Hold until n invocations of this process are in flight (bounded)."""
    _started[0] += 1
    if _started[0] >= n:
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)


@powertools.inject_lambda_context(logger, correlation_id_path="cid")
async def adapted(event: Any, context: Any) -> Any:
    await _together(event["together"])
    for step in range(3):
        logger.thread_safe_append_keys(step_key=f"{event['cid']}-{step}")
        logger.info("step", extra={"marker": event["cid"], "step": step, "pid": os.getpid()})
        await asyncio.sleep(0.005)
    return {"rid": context.aws_request_id}


@logger.inject_lambda_context(correlation_id_path="cid")
def sync_native(event: Any, context: Any) -> Any:
    for step in range(3):
        logger.info("step", extra={"marker": event["cid"], "step": step, "pid": os.getpid()})
        time.sleep(0.005)
    return {"rid": context.aws_request_id}


@logger.inject_lambda_context(correlation_id_path="cid")
async def async_native(event: Any, context: Any) -> Any:
    for step in range(3):
        logger.info("step", extra={"marker": event["cid"], "step": step, "pid": os.getpid()})
        await asyncio.sleep(0.005)
    return {"rid": context.aws_request_id}


@logger.inject_lambda_context(correlation_id_path="cid")
async def async_native_together(event: Any, context: Any) -> Any:
    await _together(event["together"])
    for step in range(3):
        logger.info("step", extra={"marker": event["cid"], "step": step, "pid": os.getpid()})
        await asyncio.sleep(0.005)
    return {"rid": context.aws_request_id}


async def appending(event: Any, context: Any) -> Any:
    """``logger.append_keys`` in an async handler, then an await before logging."""
    logger.append_keys(order=event["cid"], rid=context.aws_request_id)
    await _together(event["together"])
    for step in range(3):
        logger.info("step", extra={"marker": event["cid"], "step": step})
        await asyncio.sleep(0)
    logger.remove_keys(["order"])
    logger.info("done", extra={"after": event["cid"]})
    return {"rid": context.aws_request_id}
