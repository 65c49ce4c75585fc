"""Concurrent partial-batch processing for SQS, Kinesis and DynamoDB Streams events.

::

    from aiolambda.batch import process_batch

    async def record_handler(record):
        await save(json.loads(record["body"]))     # raise to mark the record failed

    async def handler(event, context):
        return await process_batch(event, record_handler, concurrency=8)

Each record runs in a task of its own, at most ``concurrency`` at a time, and the result
is the ``{"batchItemFailures": [{"itemIdentifier": …}, …]}`` document Lambda reads when
the event source mapping has ``ReportBatchItemFailures`` turned on. Every call keeps its
state to itself, so concurrent invocations (``AWS_LAMBDA_MAX_CONCURRENCY``) never see
each other's records.

Why not Powertools' ``async_process_partial_response``: its processor drives an event
loop of its own (``run_until_complete``), which cannot happen inside an ``async def``
handler whose loop is already running, and it keeps each batch's records and results on
the (usually module-level) processor instance, which concurrent invocations would share.
It has no public coroutine to await instead.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

__all__ = ["process_batch"]

log = logging.getLogger("aiolambda.batch")

_SQS: Final = "aws:sqs"
_KINESIS: Final = "aws:kinesis"
_DYNAMODB: Final = "aws:dynamodb"

RecordHandler = Callable[[Any], Awaitable[object] | object]


async def process_batch(
    event: Any,
    record_handler: RecordHandler,
    *,
    concurrency: int = 10,
    fifo_per_group: bool = True,
) -> dict[str, list[dict[str, str]]]:
    """Run ``record_handler`` on each record of ``event``; return the records that failed.

    ``event`` is the batch as the handler received it: the plain dict, a Powertools parser
    model (``SqsModel``, ``KinesisDataStreamModel``, ``DynamoDBStreamModel``) or event
    source data class (``SQSEvent``, ``KinesisStreamEvent``, ``DynamoDBStreamEvent``).
    ``record_handler`` gets each record in the same form (a dict, a record model, a record
    data class); a record fails when it raises an ``Exception`` (logged on the
    ``aiolambda.batch`` logger). It is normally ``async def``; a plain function runs on
    the event loop, one record at a time.

    Records run concurrently, at most ``concurrency`` at once. Stream records (Kinesis,
    DynamoDB) may therefore finish out of order; Lambda resumes a stream from the lowest
    failed sequence number, so records after a failure are delivered again and the
    handler must be idempotent, as with any partial batch response.

    SQS FIFO records (a ``.fifo`` queue, or a ``MessageGroupId``) keep their order: each
    message group runs its records one after the other, and when one fails the rest of
    its group is reported failed without being run, so Lambda delivers them again in
    order. Groups run concurrently. With ``fifo_per_group=False`` the whole batch is one
    sequence and the first failure fails everything after it (AWS's most conservative
    reading of FIFO partial responses).

    Raises ``ValueError`` (before any record runs) for an event that is not an SQS,
    Kinesis or DynamoDB Streams batch, or a record without its identifier.
    Cancellation (the invocation's deadline) cancels every record still running.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    records = _records(event)
    identifiers: list[str] = []
    groups: dict[str | None, list[int]] = {}
    fifo = False
    for index, record in enumerate(records):
        identifier, group = _identify(record, index)
        identifiers.append(identifier)
        if group is not None:
            fifo = True
        groups.setdefault(group if fifo_per_group else "", []).append(index)
    failed = [False] * len(records)
    limit = asyncio.Semaphore(concurrency)

    async def run(index: int) -> bool:
        try:
            result = record_handler(records[index])
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the invocation is being cancelled (its deadline): not this record
            # The record handler raised CancelledError itself: a failure like any other,
            # never a silent success (a task group ignores its cancelled children).
            failed[index] = True
            log.warning("record %s failed: %r", identifiers[index], exc, exc_info=exc)
            return False
        except Exception as exc:
            failed[index] = True
            log.warning("record %s failed: %r", identifiers[index], exc, exc_info=exc)
            return False
        return True

    async def run_in_order(indices: list[int]) -> None:
        for position, index in enumerate(indices):
            # A task per record, as for unordered records: its own context variables.
            if not await asyncio.create_task(run(index)):
                for skipped in indices[position + 1 :]:
                    failed[skipped] = True
                return

    def release(_: object) -> None:
        limit.release()

    async with asyncio.TaskGroup() as tasks:
        if fifo:
            units: list[Any] = [run_in_order(indices) for indices in groups.values()]
        else:
            units = [run(index) for index in range(len(records))]
        for position, unit in enumerate(units):
            try:
                await limit.acquire()
            except BaseException:
                for pending in units[position:]:
                    pending.close()  # never started: no "never awaited" warning
                raise
            tasks.create_task(unit).add_done_callback(release)
    return {
        "batchItemFailures": [
            {"itemIdentifier": identifiers[index]} for index in range(len(records)) if failed[index]
        ]
    }


def _records(event: Any) -> list[Any]:
    if isinstance(event, Mapping):
        typed = getattr(event, "records", None)  # a Powertools data class: typed records
        if typed is not None and not isinstance(event, dict):
            return list(typed)
        records = event.get("Records")
    else:
        records = getattr(event, "Records", None)  # a Powertools parser model
    if not isinstance(records, list | tuple) and not inspect.isgenerator(records):
        raise ValueError("not a batch event: it has no 'Records' list")
    return list(records)


def _field(value: Any, name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _identify(record: Any, index: int) -> tuple[str, str | None]:
    """The record's item identifier and, for SQS FIFO, its message group."""
    source = _field(record, "eventSource")
    group = None
    if source == _SQS:
        identifier = _field(record, "messageId")
        group = _field(_field(record, "attributes"), "MessageGroupId")
        if group is None and str(_field(record, "eventSourceARN") or "").endswith(".fifo"):
            group = ""
    elif source == _KINESIS:
        identifier = _field(_field(record, "kinesis"), "sequenceNumber")
    elif source == _DYNAMODB:
        identifier = _field(_field(record, "dynamodb"), "SequenceNumber")
    else:
        raise ValueError(
            f"record {index}: eventSource {source!r} is not {_SQS}, {_KINESIS} or {_DYNAMODB}"
        )
    if not isinstance(identifier, str) or not identifier:
        raise ValueError(f"record {index} ({source}) has no item identifier")
    return identifier, group
