"""Handlers for ``aiolambda check``: racy ones it must flag, clean ones it must pass.

When invocations may overlap they are paired up, the first of each pair waiting for
the second, so the overlap the racy ones need happens whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from aws_lambda_powertools import Logger

log = logging.getLogger("app")
log.setLevel(logging.INFO)
powertools_logger = Logger(service="check")
_current: dict[str, Any] = {}
_waiting: list[asyncio.Future[None]] = []


async def _overlap() -> None:
    """Pair invocations up: the first of a pair waits for the second to arrive.

    The odd one out of a round waits a bounded while and goes on (that only costs time).
    """
    if "AWS_LAMBDA_MAX_CONCURRENCY" not in os.environ:
        return  # one at a time: nothing to wait for
    if _waiting and not _waiting[0].done():
        _waiting.pop().set_result(None)
        await asyncio.sleep(0)
        return
    mine = asyncio.get_running_loop().create_future()
    _waiting[:] = [mine]
    try:
        await asyncio.wait_for(asyncio.shield(mine), 1)
    except TimeoutError:
        _waiting.clear()


async def racy_result(event: dict[str, Any], context: Any) -> Any:
    global _current  # noqa: PLW0603 - the race under test
    _current = event  # a module-level variable, overwritten by the next invocation
    await _overlap()
    return {"hello": _current["name"], "rid": context.aws_request_id}


async def racy_log(event: dict[str, Any], context: Any) -> Any:
    _current["name"] = event["name"]
    await _overlap()
    log.info("serving %s", _current["name"])  # the result is right, this line is not
    return {"hello": event["name"]}


async def clean(event: dict[str, Any], context: Any) -> Any:
    name = event["name"]
    log.info("serving %s", name)
    await _overlap()
    log.info("served %s", name)
    return {"hello": name, "rid": context.aws_request_id}


@powertools_logger.inject_lambda_context
async def clean_powertools(event: dict[str, Any], context: Any) -> Any:
    powertools_logger.append_keys(customer=event["name"])
    await _overlap()
    powertools_logger.info("served")
    return {"hello": event["name"]}


@powertools_logger.inject_lambda_context
def clean_sync(event: dict[str, Any], context: Any) -> Any:
    """A plain def: at N > 1 each invocation in flight has a process of its own."""
    powertools_logger.append_keys(customer=event["name"])
    powertools_logger.info("served")
    return {"hello": event["name"]}
