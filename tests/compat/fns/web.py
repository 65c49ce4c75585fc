"""Mangum + FastAPI; a module-level aiohttp session; boto3 through asyncio.to_thread."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
import boto3
from fastapi import FastAPI, Request
from mangum import Mangum

api = FastAPI()


@api.get("/items/{item_id}")
async def read_item(item_id: int, request: Request) -> dict[str, Any]:
    await asyncio.sleep(0.002)
    return {"item": item_id, "rid": request.scope["aws.context"].aws_request_id, "pid": os.getpid()}


mangum_handler = Mangum(api, lifespan="off")

_session: list[aiohttp.ClientSession] = []


async def aiohttp_handler(event: Any, context: Any) -> Any:
    if not _session:
        _session.append(aiohttp.ClientSession())  # on the runtime's loop, reused while warm
    session = _session[0]
    async with session.get(f"{os.environ['STUB_URL']}/echo", params={"i": event["i"]}) as resp:
        body = await resp.json()
    return {"i": event["i"], "echo": body, "session": id(session), "pid": os.getpid()}


dynamodb = boto3.client(
    "dynamodb",
    endpoint_url=os.environ.get("STUB_URL"),
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)


async def boto3_handler(event: Any, context: Any) -> Any:
    item = await asyncio.to_thread(
        dynamodb.get_item, TableName="compat", Key={"id": {"S": event["id"]}}
    )
    return {"id": event["id"], "got": item["Item"]["id"]["S"], "rid": context.aws_request_id}


def boto3_sync_handler(event: Any, context: Any) -> Any:
    item = dynamodb.get_item(TableName="compat", Key={"id": {"S": event["id"]}})
    return {"id": event["id"], "got": item["Item"]["id"]["S"], "rid": context.aws_request_id}
