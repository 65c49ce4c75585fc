"""aiolambda.batch.process_batch: bounded concurrency, exact failures, FIFO order."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import orjson
import pytest

from aiolambda.batch import process_batch

from ._support import sample

pytestmark = pytest.mark.timeout(30)


def sqs_event(count: int, *, fifo: bool = False, groups: int = 1) -> dict[str, Any]:
    template = orjson.loads(sample("sqs"))["Records"][0]
    records = []
    for index in range(count):
        record = copy.deepcopy(template)
        record["messageId"] = f"m-{index:03d}"
        record["body"] = str(index)
        if fifo:
            record["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
            record["attributes"]["MessageGroupId"] = f"g{index % groups}"
            record["attributes"]["SequenceNumber"] = str(18849496460467696128 + index)
        records.append(record)
    return {"Records": records}


class Probe:
    """Counts records in flight; the first ``limit`` wait until ``limit`` run at once."""

    def __init__(self, limit: int, failing: set[int]) -> None:
        self.limit = limit
        self.failing = failing
        self.in_flight = 0
        self.peak = 0
        self.full = asyncio.Event()
        self.started: list[int] = []

    async def __call__(self, record: Any) -> None:
        index = int(record["body"])
        self.started.append(index)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.in_flight == self.limit:
            self.full.set()
        try:
            await self.full.wait()  # proves `limit` records really ran at the same time
            await asyncio.sleep(0)
            if index in self.failing:
                raise RuntimeError(f"record {index} failed")
        finally:
            self.in_flight -= 1


async def test_100_records_10_failing_at_concurrency_8() -> None:
    failing = set(range(7, 100, 10))
    probe = Probe(8, failing)
    result = await process_batch(sqs_event(100), probe, concurrency=8)
    assert result == {
        "batchItemFailures": [{"itemIdentifier": f"m-{i:03d}"} for i in sorted(failing)]
    }
    assert probe.peak == 8
    assert sorted(probe.started) == list(range(100))
    assert probe.started[:8] == list(range(8)), "records start in batch order"


async def test_fifo_100_records_10_failing_keeps_each_group_in_order() -> None:
    groups = 10
    failing = {3, 15, 27, 48, 52, 66, 71, 84, 99, 9}  # one per group (index % 10), some last
    event = sqs_event(100, fifo=True, groups=groups)
    probe = Probe(8, failing)
    result = await process_batch(event, probe, concurrency=8)
    # A failed record and every later record of its group fail; the later ones never ran.
    expected = sorted(
        i for i in range(100) if any(i % groups == f % groups and i >= f for f in failing)
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m-{i:03d}"} for i in expected]}
    skipped = {i for i in expected if i not in failing}
    assert not skipped & set(probe.started)
    for group in range(groups):
        ran = [i for i in probe.started if i % groups == group]
        assert ran == sorted(ran), f"group g{group} ran out of order: {ran}"
    assert probe.peak == 8  # 8 of the 10 groups at once


async def test_fifo_whole_batch_as_one_sequence() -> None:
    event = sqs_event(20, fifo=True, groups=4)
    started: list[int] = []

    async def record_handler(record: Any) -> None:
        started.append(int(record["body"]))
        if record["body"] == "5":
            raise ValueError("five")

    result = await process_batch(event, record_handler, concurrency=8, fifo_per_group=False)
    assert started == list(range(6))
    assert result["batchItemFailures"] == [{"itemIdentifier": f"m-{i:03d}"} for i in range(5, 20)]


async def test_fifo_detected_from_the_queue_arn_alone() -> None:
    event = sqs_event(6, fifo=True)
    for record in event["Records"]:
        del record["attributes"]["MessageGroupId"]
    started: list[int] = []

    async def record_handler(record: Any) -> None:
        started.append(int(record["body"]))
        if record["body"] == "2":
            raise ValueError("two")

    result = await process_batch(event, record_handler, concurrency=4)
    assert started == [0, 1, 2]
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [
        "m-002",
        "m-003",
        "m-004",
        "m-005",
    ]


async def test_kinesis_and_dynamodb_report_sequence_numbers() -> None:
    kinesis = orjson.loads(sample("kinesis"))

    async def fail_customer_7(record: Any) -> None:
        if record["kinesis"]["partitionKey"] == "customer-7":
            raise ValueError("bad")

    result = await process_batch(kinesis, fail_customer_7)
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": kinesis["Records"][1]["kinesis"]["sequenceNumber"]}
        ]
    }
    dynamodb = orjson.loads(sample("dynamodb"))

    async def fail_removes(record: Any) -> None:
        if record["eventName"] == "REMOVE":
            raise ValueError("bad")

    result = await process_batch(dynamodb, fail_removes)
    assert result == {"batchItemFailures": [{"itemIdentifier": "4421584700000000017450439093"}]}


async def test_typed_events_give_typed_records() -> None:
    from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, SQSEvent
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.parser.models import SqsModel, SqsRecordModel

    raw = sample("sqs")
    seen: list[type] = []

    async def record_handler(record: Any) -> None:
        seen.append(type(record))
        if "pear" in (record.body if not isinstance(record, dict) else record["body"]):
            raise ValueError("out of pears")

    expected = {"batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]}
    assert await process_batch(SqsModel.model_validate_json(raw), record_handler) == expected
    assert await process_batch(SQSEvent(orjson.loads(raw)), record_handler) == expected
    assert seen == [SqsRecordModel] * 3 + [SQSRecord] * 3

    async def ok(record: Any) -> None:
        assert record.dynamodb.sequence_number

    event = DynamoDBStreamEvent(orjson.loads(sample("dynamodb")))
    assert await process_batch(event, ok) == {"batchItemFailures": []}


async def test_sync_record_handlers_and_return_values_are_accepted() -> None:
    def record_handler(record: Any) -> str:
        if record["body"] == "1":
            raise KeyError("x")
        return "ignored"

    result = await process_batch(sqs_event(3), record_handler, concurrency=1)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-001"}]}


async def test_concurrent_invocations_share_nothing() -> None:
    gate = asyncio.Event()
    started = 0

    async def record_handler(record: Any) -> None:
        nonlocal started
        started += 1
        if started == 8:
            gate.set()
        await gate.wait()  # both batches are in flight together
        if record["messageId"].startswith("b") and record["body"] in ("0", "3"):
            raise ValueError("b fails")

    a = sqs_event(4)
    b = sqs_event(4)
    for record in b["Records"]:
        record["messageId"] = "b" + record["messageId"]
    first, second = await asyncio.gather(
        process_batch(a, record_handler, concurrency=4),
        process_batch(b, record_handler, concurrency=4),
    )
    assert first == {"batchItemFailures": []}
    assert second == {
        "batchItemFailures": [{"itemIdentifier": "bm-000"}, {"itemIdentifier": "bm-003"}]
    }


async def test_cancellation_cancels_running_records_and_leaves_no_task() -> None:
    running = asyncio.Event()
    cancelled = 0

    async def record_handler(record: Any) -> None:
        nonlocal cancelled
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled += 1
            raise

    before = asyncio.all_tasks()
    task = asyncio.create_task(process_batch(sqs_event(10), record_handler, concurrency=3))
    await running.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled == 3
    assert asyncio.all_tasks() == before


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"detail": {}}, "not a batch event: it has no 'Records' list"),
        ("s3", "record 0: eventSource 'aws:s3' is not aws:sqs, aws:kinesis or aws:dynamodb"),
        ({"Records": [{"eventSource": "aws:sqs"}]}, "record 0 (aws:sqs) has no item identifier"),
    ],
)
async def test_events_that_are_not_batches_are_refused_before_any_record_runs(
    event: Any, message: str
) -> None:
    if event == "s3":
        event = orjson.loads(sample("s3"))
    ran = []

    async def record_handler(record: Any) -> None:
        ran.append(record)

    with pytest.raises(ValueError) as info:
        await process_batch(event, record_handler)
    assert str(info.value) == message
    assert not ran


async def test_concurrency_must_be_positive() -> None:
    async def record_handler(record: Any) -> None: ...

    with pytest.raises(ValueError, match="at least 1"):
        await process_batch(sqs_event(1), record_handler, concurrency=0)


async def test_a_record_raising_cancelled_error_itself_is_a_failure() -> None:
    async def record_handler(record: Any) -> None:
        if record["body"] == "1":
            raise asyncio.CancelledError  # e.g. a library cancelling its own inner task
        await asyncio.sleep(0)

    for fifo in (False, True):
        result = await process_batch(sqs_event(3, fifo=fifo), record_handler, concurrency=2)
        expected = ["m-001", "m-002"] if fifo else ["m-001"]
        assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == expected


async def test_an_empty_batch_has_no_failures() -> None:
    async def record_handler(record: Any) -> None:
        raise AssertionError("no record to run")

    assert await process_batch({"Records": []}, record_handler) == {"batchItemFailures": []}
