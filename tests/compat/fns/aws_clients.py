"""aiobotocore against a local AWS service: each invocation stores and reads back its own item."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiobotocore.session import get_session

_client: Any = None
_lock = asyncio.Lock()  # the handler module is imported on the runtime's loop


async def _s3() -> Any:
    """One client for the environment's life, made by the first invocation that needs it."""
    global _client  # noqa: PLW0603 - a module-level client, as functions keep them
    async with _lock:
        if _client is None:
            context = get_session().create_client(
                "s3",
                endpoint_url=os.environ["MOTO_ENDPOINT"],
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            _client = await context.__aenter__()
    return _client


async def handler(event: dict[str, Any], context: Any) -> Any:
    s3 = await _s3()
    key = f"items/{context.aws_request_id}"
    await s3.put_object(Bucket=event["bucket"], Key=key, Body=event["value"].encode())
    got = await s3.get_object(Bucket=event["bucket"], Key=key)
    async with got["Body"] as body:
        value = (await body.read()).decode()
    return {"value": value, "key": key}
