"""Powertools batch processing: every batch reports exactly its own failed records."""

from __future__ import annotations

import pytest

from tests.compat._support import LEVELS, N, function, invoke_all, together

BATCHES = 40


def sqs_batch(b: int) -> dict:
    def record(r: int, body: str) -> dict:
        return {
            "messageId": f"b{b}-m{r}",
            "receiptHandle": f"rh-{b}-{r}",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:compat",
            "awsRegion": "us-east-1",
        }

    return {"Records": [record(0, "ok"), record(1, "fail"), record(2, "ok")]}


def check_exact(results: list) -> None:
    for b, res in enumerate(results):
        assert res.ok, res.payload
        assert res.json() == {"batchItemFailures": [{"itemIdentifier": f"b{b}-m1"}]}


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize(
    "handler",
    [
        "pt_batch.sync_handler",  # module-level BatchProcessor, plain def
        "pt_batch.async_handler",  # the same processor from an async def
        "pt_batch.sync_async_records",  # AsyncBatchProcessor from a plain def
    ],
)
async def test_each_batch_reports_exactly_its_failed_record(
    handler: str, concurrency: int | None
) -> None:
    async with function(handler, concurrency) as emu:
        results = await invoke_all(emu, [sqs_batch(b) for b in range(BATCHES)])
    check_exact(results)


async def test_async_batch_helper_inside_async_handler_fails_loudly() -> None:
    """async_process_partial_response drives its own loop: inside a running one it raises.

    Every batch is answered with that error (SQS retries the batch); none is reported
    as a success.
    """
    async with function("pt_batch.async_async_records", N) as emu:
        results = await invoke_all(emu, [sqs_batch(b) for b in range(8)])
    for res in results:
        assert not res.ok
        assert res.json()["errorType"] == "RuntimeError"
        assert "already running" in res.json()["errorMessage"]


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_module_level_processor_around_an_await(concurrency: int | None) -> None:
    # The processor's records, outcome and failures are each invocation's own.
    n = together(concurrency)
    async with function("pt_batch.awaiting", concurrency) as emu:
        results = await invoke_all(emu, [{**sqs_batch(b), "together": n} for b in range(16)])
    check_exact(results)


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_module_level_processor_on_sync_threads(concurrency: int | None) -> None:
    n = together(concurrency)
    env = {"AIOLAMBDA_SYNC_THREADS": "1"}
    async with function("pt_batch.threads_handler", concurrency, env) as emu:
        results = await invoke_all(emu, [{**sqs_batch(b), "together": n} for b in range(16)])
    check_exact(results)
