"""Deadline-aware cancellation: cleanup runs, the error is posted in time, the env stays warm."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tests.runtime.harness import running

MARGIN = {"AIOLAMBDA_TIMEOUT_MARGIN_MS": "400"}


async def test_async_handler_is_cancelled_before_the_deadline(transport: str) -> None:
    cleaned: list[str] = []

    async def handler(event: Any, context: Any) -> Any:
        if event == "slow":
            try:
                await asyncio.sleep(60)
            finally:
                cleaned.append(context.aws_request_id)
                await asyncio.sleep(0)  # cleanup may await
        return {"fast": True, "remaining": context.get_remaining_time_in_millis()}

    async with running(handler, transport=transport, timeout=1.0, env=MARGIN) as r:
        res = await r.emu.invoke(b'"slow"')
        doc = res.json()
        assert doc["errorType"] == "Function.Timeout"
        assert "AIOLAMBDA_TIMEOUT_MARGIN_MS=400" in doc["errorMessage"]
        assert res.error_type != "Sandbox.Timedout"  # our error arrived before Lambda's
        (post,) = r.emu.answers(res.request_id)
        assert post.status == 202
        assert post.headers["lambda-runtime-function-error-type"] == "Function.Timeout"
        assert cleaned == [res.request_id]
        # the same runtime, still warm, serves the next invocation
        fast = await r.emu.invoke(b'"fast"')
        assert fast.json()["fast"] is True
        assert not r.task.done()


async def test_handler_that_ignores_cancellation_is_answered_then_runtime_retires(
    transport: str,
) -> None:
    release = asyncio.Event()

    async def handler(event: Any, context: Any) -> Any:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                pass  # a badly behaved handler swallows the cancellation
        return "late"

    async with running(handler, transport=transport, timeout=1.0, env=MARGIN) as r:
        res = await r.emu.invoke({})
        assert res.json()["errorType"] == "Function.Timeout"
        assert "will restart" in res.json()["errorMessage"]
        assert await r.task == 1  # retired: a fresh environment replaces it
        release.set()
        assert len(r.emu.answers(res.request_id)) == 1


async def test_sync_handler_overrun_is_answered_and_runtime_retires(transport: str) -> None:
    release = threading.Event()

    def handler(event: Any, context: Any) -> Any:
        release.wait(30)
        return "late"

    try:
        async with running(handler, transport=transport, timeout=1.0, env=MARGIN) as r:
            res = await r.emu.invoke({})
            assert res.json()["errorType"] == "Function.Timeout"
            assert await r.task == 1
            assert r.invoker.unreclaimable
            assert len(r.emu.answers(res.request_id)) == 1
    finally:
        release.set()


async def test_short_timeouts_keep_three_quarters_of_their_time(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        await asyncio.sleep(0.15)  # fits in 0.4 s, though the margin (500 ms) does not
        return "done"

    async with running(handler, transport=transport, timeout=0.4) as r:
        assert (await r.emu.invoke({})).json() == "done"


@pytest.mark.parametrize(
    ("timeout", "margin_ms", "at_most_ms"),
    [(0.4, None, 100), (2.0, "200", 200)],
    ids=["a-quarter-of-the-time-left", "the-configured-margin"],
)
async def test_the_handler_is_cancelled_no_earlier_than_the_margin_rule_says(
    transport: str, timeout: float, margin_ms: str | None, at_most_ms: int
) -> None:
    """The margin is min(AIOLAMBDA_TIMEOUT_MARGIN_MS, a quarter of the time left): the
    watchdog never fires before ``deadline - margin``, so what the handler has left when
    it is cancelled bounds the margin from above, whatever the machine's load."""
    left: list[int] = []

    async def handler(event: Any, context: Any) -> Any:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            left.append(context.get_remaining_time_in_millis())
            raise
        return "late"

    env = {} if margin_ms is None else {"AIOLAMBDA_TIMEOUT_MARGIN_MS": margin_ms}
    async with running(handler, transport=transport, timeout=timeout, env=env) as r:
        res = await r.emu.invoke({})
    assert res.json()["errorType"] == "Function.Timeout"
    (remaining_ms,) = left
    assert remaining_ms <= at_most_ms + 1, left  # +1: the context rounds to whole ms


async def test_margin_zero_turns_cancellation_off(transport: str) -> None:
    finished = asyncio.Event()

    async def handler(event: Any, context: Any) -> Any:
        await asyncio.sleep(0.6)
        finished.set()
        return "done"

    env = {"AIOLAMBDA_TIMEOUT_MARGIN_MS": "0"}
    async with running(handler, transport=transport, timeout=0.4, env=env) as r:
        res = await r.emu.invoke({})
        assert res.error_type == "Sandbox.Timedout"  # Lambda's own timeout, not ours
        await finished.wait()
        await r.emu.wait_for_next_calls(2)
        (post,) = r.emu.answers(res.request_id)
        assert post.status == 410  # the late answer is refused; the runtime carries on
        assert (await r.emu.invoke({})).error_type == "Sandbox.Timedout"
        assert not r.task.done()


async def test_each_invocation_has_its_own_deadline_under_concurrency(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        if event == "slow":
            await asyncio.sleep(60)
        await asyncio.sleep(0.05)
        return event

    async with running(handler, transport=transport, timeout=1.0, concurrency=3, env=MARGIN) as r:
        slow = r.emu.submit(b'"slow"')
        fast = [r.emu.submit(b'"fast"') for _ in range(4)]
        assert [(await f).json() for f in fast] == ["fast"] * 4
        assert (await slow).json()["errorType"] == "Function.Timeout"
