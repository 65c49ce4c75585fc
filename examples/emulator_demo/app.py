"""A function with a few behaviours worth testing locally: a result, an error, a log line."""

from __future__ import annotations

import asyncio
from typing import Any


class OutOfStock(Exception):
    """Raised for an item the shop does not have."""


STOCK = {"apple": 3, "pear": 0}


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reserve ``event["qty"]`` of ``event["item"]``."""
    await asyncio.sleep(0)  # stand-in for a database call
    item, qty = event["item"], int(event.get("qty", 1))
    print(f"reserving {qty} x {item} for {context.aws_request_id}")
    if STOCK.get(item, 0) < qty:
        raise OutOfStock(item)
    return {"item": item, "reserved": qty}
