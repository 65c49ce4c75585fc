"""Sync wrappers around async def handlers bracket the coroutine (the runtime's bridge)."""

from __future__ import annotations

import pytest

from tests.compat._support import LEVELS, N, function, invoke_all, together


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_a_sync_decorator_runs_before_and_after_the_coroutine(
    concurrency: int | None,
) -> None:
    n = together(concurrency)
    async with function("bridged.bracketed", concurrency) as emu:
        results = await invoke_all(emu, [{"together": n} for _ in range(2 * n)])
        logs = emu.logs
    for res in results:
        # the wrapper got the result, not a coroutine; the coroutine ran in its context
        assert res.json() == {
            "result": {"seen": f"wrapper of {res.request_id}", "rid": res.request_id},
            "steps": ["before", "after"],
        }
        assert f"wrapper after {res.request_id}" in logs
    assert "a plain def wrapper" not in logs


@pytest.mark.parametrize("concurrency", LEVELS)
async def test_the_handlers_exception_propagates_through_the_wrapper(
    concurrency: int | None,
) -> None:
    async with function("bridged.bracketed", concurrency) as emu:
        results = await invoke_all(emu, [{"fail": True}, {}])
    assert results[0].json() == {
        "caught": f"failed {results[0].request_id}",
        "steps": ["before", "after"],
    }
    assert results[1].json()["steps"] == ["before", "after"]


async def test_wrappers_without_wraps_and_stacked() -> None:
    async with function("bridged.two_layers", None) as emu:
        res = await emu.invoke({})
    seen = {"seen": f"wrapper of {res.request_id}", "rid": res.request_id}
    assert res.json() == {"bare": {"result": seen, "steps": ["before", "after"]}}


async def test_a_wrapt_decorator() -> None:
    async with function("bridged.wrapt_wrapped", N) as emu:
        results = await invoke_all(emu, [{} for _ in range(4)])
    for res in results:
        assert res.json() == {"wrapt": {"seen": "wrapt", "rid": res.request_id}}


async def test_the_deadline_cancels_the_coroutine_and_the_wrapper_unwinds() -> None:
    async with function("bridged.bracketed", None, timeout=1) as emu:
        res = await emu.invoke({"hang": True})
        after = await emu.invoke({})  # the runtime carries on
        logs = emu.logs
    assert res.json()["errorType"] == "Function.Timeout"
    assert f"handler cancelled {res.request_id}" in logs
    assert f"wrapper after {res.request_id}" in logs
    assert after.json()["steps"] == ["before", "after"]


async def test_a_wrapper_the_bridge_cannot_see_into_is_warned_about() -> None:
    async with function("bridged.opaque", N) as emu:
        (res,) = await invoke_all(emu, [{}])
        logs = emu.logs
    assert res.json() == {"seen": "unset", "rid": res.request_id}
    assert "is an async def behind Opaque, a plain def wrapper" in logs
