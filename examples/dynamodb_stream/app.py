"""DynamoDB stream: typed change records, processed concurrently, failures reported.

With ``FunctionResponseTypes: [ReportBatchItemFailures]`` on the event source mapping,
Lambda resumes the shard from the lowest failed sequence number. ``DynamoDBStreamModel``
turns the DynamoDB JSON of ``Keys``/``NewImage``/``OldImage`` into plain values.
Needs ``aws-lambda-powertools[parser]`` (pydantic) in the function's package or a layer
(``requirements.txt``).
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/dynamodb_stream/requirements.txt
    aiolambda event dynamodb-stream | \\
        aiolambda invoke examples/dynamodb_stream/app.handler --event-file -
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamModel,
    DynamoDBStreamRecordModel,
)

from aiolambda.batch import process_batch

log = logging.getLogger("order-totals")


async def publish(customer: str, change: Decimal) -> None:
    await asyncio.sleep(0)  # stand-in for a call to another service
    log.info("customer %s: total %s", customer, f"{change:+}")


async def record_handler(record: DynamoDBStreamRecordModel) -> None:
    """Publish how much the change moved the customer's order total."""
    change = record.dynamodb
    new = (change.NewImage or {}).get("total", Decimal(0))
    old = (change.OldImage or {}).get("total", Decimal(0))
    await publish(str(change.Keys["pk"]), Decimal(new) - Decimal(old))


async def handler(event: DynamoDBStreamModel, context: Any) -> dict[str, Any]:
    return await process_batch(event, record_handler, concurrency=4)
