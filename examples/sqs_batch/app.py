"""SQS batch with partial failures: typed records, processed concurrently.

The event source mapping needs ``FunctionResponseTypes: [ReportBatchItemFailures]``;
Lambda then deletes the messages that succeeded and delivers only the failed ones again.
Needs ``aws-lambda-powertools[parser]`` (pydantic) in the function's package or a layer
(``requirements.txt``).
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/sqs_batch/requirements.txt
    aiolambda event sqs | aiolambda invoke examples/sqs_batch/app.handler --event-file -
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aws_lambda_powertools.utilities.parser.models import SqsModel, SqsRecordModel
from pydantic import BaseModel, Field

from aiolambda.batch import process_batch

log = logging.getLogger("orders")


class Order(BaseModel):
    """What each message body holds."""

    order_id: str = Field(alias="orderId")
    sku: str
    qty: int = Field(ge=1)


async def reserve(order: Order) -> None:
    await asyncio.sleep(0)  # stand-in for a database or HTTP call
    log.info("reserved %d x %s for %s", order.qty, order.sku, order.order_id)


async def record_handler(record: SqsRecordModel) -> None:
    """One message; raising marks it failed (here: a body that is not a valid order)."""
    await reserve(Order.model_validate_json(record.body))


async def handler(event: SqsModel, context: Any) -> dict[str, Any]:
    """The event arrives validated as ``SqsModel``: aiolambda decodes it before the call."""
    return await process_batch(event, record_handler, concurrency=8)
