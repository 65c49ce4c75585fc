"""Handlers for ``aiolambda check``: racy ones it must flag, clean ones it must pass.

Each waits, when invocations may overlap, until a second one has arrived (bounded),
so the overlap the racy ones need happens on every run, whatever the machine's load.
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
_arrived = [0]
_pair = asyncio.Event()
_current: dict[str, Any] = {}


async def _overlap() -> None:
    if "AWS_LAMBDA_MAX_CONCURRENCY" not in os.environ:
        return  # one at a time: nothing to wait for
    _arrived[0] += 1
    if _arrived[0] >= 2:
        _pair.set()
    await asyncio.wait_for(_pair.wait(), 10)


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
