"""Wrappers that aiolambda warns about or refuses at init."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Metrics


def timed(func: Any) -> Any:
    """A plain decorator: its "after" runs when the coroutine is created."""

    @functools.wraps(func)
    def wrapper(event: Any, context: Any) -> Any:
        return func(event, context)

    return wrapper


@timed
async def plain_wrapped(event: Any, context: Any) -> Any:
    return {"rid": context.aws_request_id}


def adapter_on_sync(event: Any, context: Any) -> None:
    from aiolambda import powertools

    metrics = Metrics(namespace="Compat")

    @powertools.log_metrics(metrics)
    def handler(event: Any, context: Any) -> Any:
        return None
