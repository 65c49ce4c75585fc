"""Powertools Logger: every log line carries its own invocation's ids, or init refuses."""

from __future__ import annotations

import pytest

from tests.compat._support import LEVELS, N, function, invoke_all, json_lines, together


def check_attribution(logs: str, results: list, markers: list[str]) -> None:
    rid_of = {m: res.json()["rid"] for m, res in zip(markers, results, strict=True)}
    lines = json_lines(logs, "marker")
    assert sorted(line["marker"] for line in lines) == sorted(markers * 3)
    cold_of: dict[tuple[int, str], set[object]] = {}
    for line in lines:
        assert line["correlation_id"] == line["marker"]
        assert line["function_request_id"] == rid_of[line["marker"]]
        cold_of.setdefault((line["pid"], line["function_request_id"]), set()).add(
            line["cold_start"]
        )
    # Every line of an invocation says the same, and each process (a sync handler gets
    # one per concurrent invocation) has exactly one cold start: its first invocation.
    assert all(len(values) == 1 for values in cold_of.values()), cold_of
    assert len({rid for _, rid in cold_of}) == len(markers), cold_of
    for pid in {pid for pid, _ in cold_of}:
        cold = [rid for (p, rid), values in cold_of.items() if p == pid and values == {True}]
        assert len(cold) == 1, (pid, cold_of)


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_async_adapter_attributes_every_line(concurrency: int | None) -> None:
    markers = [f"c{i}" for i in range(16)]
    async with function("pt_logger.adapted", concurrency) as emu:
        n = together(concurrency)
        results = await invoke_all(emu, [{"cid": m, "together": n} for m in markers])
        logs = emu.logs
    assert all(res.ok for res in results), [res.payload for res in results]
    check_attribution(logs, results, markers)
    # keys the handler added with thread_safe_append_keys are its own as well
    for line in json_lines(logs, "marker"):
        assert line["step_key"] == f"{line['marker']}-{line['step']}"


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_powertools_decorator_on_sync_handler(concurrency: int | None) -> None:
    markers = [f"s{i}" for i in range(16)]
    async with function("pt_logger.sync_native", concurrency) as emu:
        results = await invoke_all(emu, [{"cid": m} for m in markers])
        logs = emu.logs
    assert all(res.ok for res in results)
    check_attribution(logs, results, markers)


async def test_powertools_decorator_on_async_handler_works_one_at_a_time() -> None:
    markers = [f"a{i}" for i in range(4)]
    async with function("pt_logger.async_native", None) as emu:
        results = [await emu.invoke({"cid": m}) for m in markers]
        logs = emu.logs
    check_attribution(logs, results, markers)


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_powertools_decorator_on_async_handler(concurrency: int | None) -> None:
    # The keys it appends are the invocation's own when several share the process.
    markers = [f"a{i}" for i in range(16)]
    async with function("pt_logger.async_native_together", concurrency) as emu:
        n = together(concurrency)
        results = await invoke_all(emu, [{"cid": m, "together": n} for m in markers])
        logs = emu.logs
    assert all(res.ok for res in results), [res.payload for res in results]
    check_attribution(logs, results, markers)


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_append_keys_in_async_handler(concurrency: int | None) -> None:
    markers = [f"k{i}" for i in range(16)]
    async with function("pt_logger.appending", concurrency) as emu:
        n = together(concurrency)
        results = await invoke_all(emu, [{"cid": m, "together": n} for m in markers])
        logs = emu.logs
    assert all(res.ok for res in results), [res.payload for res in results]
    rid_of = {m: res.json()["rid"] for m, res in zip(markers, results, strict=True)}
    lines = json_lines(logs, "marker")
    assert sorted(line["marker"] for line in lines) == sorted(markers * 3)
    wrong = [
        line
        for line in lines
        if (line["order"], line["rid"]) != (line["marker"], rid_of[line["marker"]])
    ]
    assert not wrong, (
        f"{len(wrong)} of {len(lines)} lines carry another invocation's keys: {wrong[:2]}"
    )
    done = json_lines(logs, "after")
    assert len(done) == len(markers)
    for line in done:
        assert "order" not in line  # removed by its own invocation
        assert line["rid"] == rid_of[line["after"]]


async def test_log_buffer_is_refused_at_init_when_concurrent() -> None:
    async with function("pt_logger_buffer.handler", N) as emu:
        res = await emu.invoke({})
        error = await emu.wait_init_error()
    assert not res.ok
    assert error["errorType"] == "Runtime.UnsafeLibraryState"
    message = error["errorMessage"]
    assert "'buffered'" in message and "buffer_config" in message and "\n" not in message
    assert "AWS_LAMBDA_MAX_CONCURRENCY=8" in message


async def test_log_buffer_works_one_at_a_time() -> None:
    async with function("pt_logger_buffer.handler", None) as emu:
        results = [await emu.invoke({}) for _ in range(3)]
    assert all(res.ok for res in results)
