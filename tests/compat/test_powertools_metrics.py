"""Powertools Metrics: one EMF document per invocation with exactly its metrics, or refused."""

from __future__ import annotations

import pytest

from tests.compat._support import LEVELS, N, function, invoke_all, json_lines, together


def work_documents(logs: str) -> list[dict]:
    return [doc for doc in json_lines(logs, "_aws") if "Work" in doc]


def check_per_invocation(logs: str, count: int, kind: str) -> None:
    docs = work_documents(logs)
    # exactly one document per invocation, holding that invocation's metric and metadata
    assert sorted(doc["marker"] for doc in docs) == list(range(count))
    for doc in docs:
        values = doc["Work"] if isinstance(doc["Work"], list) else [doc["Work"]]
        assert values == [doc["marker"]]  # this invocation's value, only
        assert doc["kind"] == kind
        assert doc["service"] == "compat"
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Compat"
        assert [m["Name"] for m in directive["Metrics"]] == ["Work"]


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_async_adapter_writes_each_invocations_metrics(concurrency: int | None) -> None:
    async with function("pt_metrics.adapted", concurrency) as emu:
        n = together(concurrency)
        results = await invoke_all(emu, [{"i": i, "together": n} for i in range(16)])
        logs = emu.logs
    assert all(res.ok for res in results), [res.payload for res in results]
    check_per_invocation(logs, 16, "adapted")
    cold = [doc for doc in json_lines(logs, "_aws") if "ColdStart" in doc]
    assert len(cold) == 1  # one process, one cold start
    assert "No application metrics to publish" not in logs


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_powertools_decorator_on_sync_handler(concurrency: int | None) -> None:
    async with function("pt_metrics.sync_native", concurrency) as emu:
        results = await invoke_all(emu, [{"i": i} for i in range(16)])
        logs = emu.logs
    assert all(res.ok for res in results)
    check_per_invocation(logs, 16, "native")
    cold = [doc for doc in json_lines(logs, "_aws") if "ColdStart" in doc]
    assert 1 <= len(cold) <= (concurrency or 1)  # one per process that served


async def test_powertools_decorator_on_async_handler_works_one_at_a_time() -> None:
    # The runtime bridges the sync decorator: it flushes after the coroutine has run.
    async with function("pt_metrics.async_native", None) as emu:
        results = [await emu.invoke({"i": i}) for i in range(4)]
        logs = emu.logs
    assert all(res.ok for res in results), [res.payload for res in results]
    assert [res.json()["rid"] for res in results] == [res.request_id for res in results]
    check_per_invocation(logs, 4, "bridged")
    assert "No application metrics to publish" not in logs


async def test_powertools_decorator_on_async_handler_is_refused_when_concurrent() -> None:
    # One buffer for all invocations in flight: each flush would write the others' metrics.
    async with function("pt_metrics.async_native", N) as emu:
        res = await emu.invoke({"i": 1})
        error = await emu.wait_init_error()
    assert not res.ok
    assert error["errorType"] == "Runtime.UnsafeHandlerWrapper"
    assert "@Metrics.log_metrics" in error["errorMessage"]
    assert "AWS_LAMBDA_MAX_CONCURRENCY=8" in error["errorMessage"]
    assert "one metrics buffer" in error["errorMessage"]
    assert "aiolambda.powertools.log_metrics(metrics)" in error["errorMessage"]
