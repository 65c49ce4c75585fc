"""The invocation's X-Ray header as botocore and tracers read it: from os.environ."""

from __future__ import annotations

import asyncio
import contextvars
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from aiobotocore.session import get_session
from aws_xray_sdk.core.lambda_launcher import LambdaContext
from opentelemetry import trace
from opentelemetry.propagators.aws import AwsXRayLambdaPropagator

dynamodb = boto3.client(
    "dynamodb",
    endpoint_url=os.environ.get("STUB_URL"),
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)
_aio_client: list[Any] = []  # aiobotocore: made on first use, on the runtime's loop
_started = [0]
_all_in = asyncio.Event()


def _seen() -> dict[str, Any]:
    key = "_X_AMZN_TRACE_ID"
    otel = trace.get_current_span(AwsXRayLambdaPropagator().extract({})).get_span_context()
    return {
        "get": os.environ.get(key),
        "getenv": os.getenv(key),
        "in": key in os.environ,
        "otel_propagator": f"{otel.trace_id:032x}",
        # aws-xray-sdk's Lambda context keeps its segment per thread: ask in a fresh one
        "xray_sdk": _in_thread(lambda: LambdaContext().get_trace_entity().trace_id),
    }


def _in_thread(func: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(contextvars.copy_context().run, func).result()


async def async_handler(event: Any, context: Any) -> Any:
    _started[0] += 1
    if _started[0] >= event["together"]:
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)  # all in flight: one env cannot serve them
    seen = _seen()
    await asyncio.to_thread(dynamodb.get_item, TableName="t", Key={"id": {"S": event["id"]}})
    await (await _aiobotocore()).get_item(TableName="t", Key={"id": {"S": event["id"] + "-aio"}})
    return {**seen, "xray": context.xray_trace_id}


async def _aiobotocore() -> Any:
    if not _aio_client:
        creator = get_session().create_client(
            "dynamodb",
            endpoint_url=os.environ.get("STUB_URL"),
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        _aio_client.append(await creator.__aenter__())
    return _aio_client[0]


def sync_handler(event: Any, context: Any) -> Any:
    seen = _seen()
    dynamodb.get_item(TableName="t", Key={"id": {"S": event["id"]}})
    return {**seen, "xray": context.xray_trace_id}
