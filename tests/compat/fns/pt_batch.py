"""Powertools batch processing with module-level processors, as Powertools documents."""

from __future__ import annotations

import asyncio
import threading
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


_started = [0]
_all_in = asyncio.Event()
_lock = threading.Lock()
_threads_started = [0]
_threads_in = threading.Event()


async def _together(n: int) -> None:
    """Hold until n invocations of this process are in flight (bounded)."""
    _started[0] += 1
    if _started[0] >= n:
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)
    await asyncio.sleep(0)


def _together_in_threads(n: int) -> None:
    with _lock:
        _threads_started[0] += 1
        if _threads_started[0] >= n:
            _threads_in.set()
    _threads_in.wait(10)


async def awaiting(event: Any, context: Any) -> Any:
    """The processor's context manager around an await (say, writing the results)."""
    with processor(records=event["Records"], handler=record_handler):
        processor.process()
        await _together(event["together"])
    return processor.response()


def threads_handler(event: Any, context: Any) -> Any:
    """A plain def handler on threads (AIOLAMBDA_SYNC_THREADS=1), one shared processor."""

    def record_handler_together(record: SQSRecord) -> str:
        if record.body == "fail":
            _together_in_threads(event["together"])
        return record_handler(record)

    return process_partial_response(
        event=event, record_handler=record_handler_together, processor=processor, context=context
    )
