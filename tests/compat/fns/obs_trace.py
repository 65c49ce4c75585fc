"""The invocation's X-Ray header as botocore and tracers read it: from os.environ."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import boto3

dynamodb = boto3.client(
    "dynamodb",
    endpoint_url=os.environ.get("STUB_URL"),
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)
_started = [0]
_all_in = asyncio.Event()


def _seen() -> dict[str, Any]:
    key = "_X_AMZN_TRACE_ID"
    return {"get": os.environ.get(key), "getenv": os.getenv(key), "in": key in os.environ}


async def async_handler(event: Any, context: Any) -> Any:
    _started[0] += 1
    if _started[0] >= event["together"]:
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)  # all in flight: one env cannot serve them
    seen = _seen()
    await asyncio.to_thread(dynamodb.get_item, TableName="t", Key={"id": {"S": event["id"]}})
    return {**seen, "xray": context.xray_trace_id}


def sync_handler(event: Any, context: Any) -> Any:
    seen = _seen()
    dynamodb.get_item(TableName="t", Key={"id": {"S": event["id"]}})
    return {**seen, "xray": context.xray_trace_id}
