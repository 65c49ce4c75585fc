"""Powertools Tracer with tracing disabled; the refusals with the reason for each."""

from __future__ import annotations

import pytest

from tests.compat._support import LEVELS, N, function, invoke_all


@pytest.mark.parametrize("concurrency", LEVELS)
@pytest.mark.parametrize("handler", ["pt_tracer.adapted", "pt_tracer.sync_native"])
async def test_traced_handlers_answer_their_own_invocation(
    handler: str, concurrency: int | None
) -> None:
    async with function(handler, concurrency) as emu:
        results = await invoke_all(emu, [{"i": i} for i in range(16)])
    for i, res in enumerate(results):
        assert res.json() == {"rid": res.request_id, "double": 2 * i}


async def test_adapter_propagates_the_handlers_exception() -> None:
    async with function("pt_tracer.adapted", N) as emu:
        results = await invoke_all(emu, [{"i": i, "fail": i % 2 == 0} for i in range(8)])
    for i, res in enumerate(results):
        if i % 2 == 0:
            assert res.json()["errorType"] == "ValueError"
            assert res.json()["errorMessage"] == f"failed {i}"
        else:
            assert res.json()["double"] == 2 * i


async def test_powertools_decorator_on_async_handler_works_one_at_a_time() -> None:
    # Bridged: the decorator gets the handler's result (or exception), not its coroutine.
    async with function("pt_tracer.async_native", None) as emu:
        results = [await emu.invoke({"i": i, "fail": i == 2}) for i in range(4)]
    for i, res in enumerate(results):
        if i == 2:
            assert res.json()["errorType"] == "ValueError"
            assert res.json()["errorMessage"] == "failed 2"
        else:
            assert res.json() == {"rid": res.request_id, "double": 2 * i}


async def test_powertools_decorator_on_async_handler_is_refused_when_concurrent() -> None:
    async with function("pt_tracer.async_native", N) as emu:
        res = await emu.invoke({"i": 1})
        error = await emu.wait_init_error()
    assert not res.ok
    assert error["errorType"] == "Runtime.UnsafeHandlerWrapper"
    assert "@Tracer.capture_lambda_handler" in error["errorMessage"]
    assert "AWS_LAMBDA_MAX_CONCURRENCY=8" in error["errorMessage"]
    assert "aiolambda.powertools.capture_lambda_handler(tracer)" in error["errorMessage"]


async def test_adapter_with_tracing_enabled_is_refused_when_concurrent() -> None:
    env = {"POWERTOOLS_TRACE_DISABLED": "false"}
    async with function("pt_tracer.adapted", N, env=env) as emu:
        res = await emu.invoke({"i": 1})
        error = await emu.wait_init_error()
    assert not res.ok
    assert error["errorType"] == "Runtime.UnsafeHandlerWrapper"
    assert "POWERTOOLS_TRACE_DISABLED=true" in error["errorMessage"]
