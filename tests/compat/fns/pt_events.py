"""Powertools event handler resolvers and parser."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser, parse

app = APIGatewayRestResolver()


@app.get("/items/<item_id>")
def get_item(item_id: str) -> dict[str, Any]:
    time.sleep(0.002)
    return {
        "item": item_id,
        "rid": app.lambda_context.aws_request_id,
        "q": app.current_event.get_query_string_value("q"),
    }


def sync_resolver(event: Any, context: Any) -> Any:
    return app.resolve(event, context)


async def async_resolver(event: Any, context: Any) -> Any:
    await asyncio.sleep(0.002)
    return app.resolve(event, context)  # runs to completion without yielding the loop


class Order(BaseModel):
    order_id: int
    items: list[str]


async def async_parse(event: Any, context: Any) -> Any:
    order = parse(event=event, model=Order)
    await asyncio.sleep(0.002)
    return {"order_id": order.order_id, "n": len(order.items), "rid": context.aws_request_id}


@event_parser(model=Order)
async def async_event_parser(order: Order, context: Any) -> Any:
    await asyncio.sleep(0.002)
    return {"order_id": order.order_id, "n": len(order.items), "rid": context.aws_request_id}


@event_parser(model=Order)
def sync_event_parser(order: Order, context: Any) -> Any:
    return {"order_id": order.order_id, "n": len(order.items), "rid": context.aws_request_id}
