"""Powertools batch processing with module-level processors, as Powertools documents."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    BatchProcessor,
    EventType,
    async_process_partial_response,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

processor = BatchProcessor(event_type=EventType.SQS)
async_processor = AsyncBatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    time.sleep(0.002)  # long enough for threads sharing the processor to interleave
    if record.body == "fail":
        raise ValueError(f"bad record {record.message_id}")
    return record.body


async def async_record_handler(record: SQSRecord) -> str:
    await asyncio.sleep(0.002)
    if record.body == "fail":
        raise ValueError(f"bad record {record.message_id}")
    return record.body


def sync_handler(event: Any, context: Any) -> Any:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


async def async_handler(event: Any, context: Any) -> Any:
    # process_partial_response never awaits: no other invocation runs in between.
    await asyncio.sleep(0.002)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


def sync_async_records(event: Any, context: Any) -> Any:
    return async_process_partial_response(
        event=event, record_handler=async_record_handler, processor=async_processor
    )


async def async_async_records(event: Any, context: Any) -> Any:
    return async_process_partial_response(
        event=event, record_handler=async_record_handler, processor=async_processor
    )
