"""Powertools idempotency: the module-level config's Lambda context is the invocation's own.

``@idempotent`` registers the invocation's context on the config and reads its
remaining time to bound the in-progress record; here the handler does the same steps.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

config = IdempotencyConfig(event_key_jmespath="order")
_started = [0]
_all_in = asyncio.Event()


async def handler(event: dict[str, Any], context: Any) -> Any:
    config.register_lambda_context(context)
    _started[0] += 1
    if _started[0] >= event["together"]:
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)
    assert config.lambda_context is not None
    return {"rid": context.aws_request_id, "registered": config.lambda_context.aws_request_id}
