"""A timed-out async handler's blocked ``to_thread`` calls must not starve later invocations."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from aiolambda._core import executors
from tests.runtime.harness import running

# The margin is capped at a quarter of the time left: with a 2 s timeout the handler is
# cancelled at 1.5 s and the Function.Timeout has 0.5 s to reach the emulator before it
# times the invocation out (1 s gave 0.25 s, too little when 40 threads start on a
# loaded machine: Sandbox.Timedout).
TIMEOUT_S = 2.0
MARGIN = {"AIOLAMBDA_TIMEOUT_MARGIN_MS": "500"}
# More blocked calls than the default executor has threads (min(32, CPUs + 4)).
BLOCKED = 40


async def test_next_invocation_answers_while_the_timed_out_ones_threads_stay_blocked(
    transport: str,
) -> None:
    gate = threading.Event()  # released only after the next invocation was answered

    def blocking_call() -> str:
        gate.wait()
        return "late"

    async def handler(event: Any, context: Any) -> Any:
        if event == "block":
            await asyncio.gather(*(asyncio.to_thread(blocking_call) for _ in range(BLOCKED)))
        return await asyncio.to_thread(lambda: "ok")

    try:
        async with running(handler, transport=transport, timeout=TIMEOUT_S, env=MARGIN) as r:
            blocked = await r.emu.invoke(b'"block"')
            assert blocked.json()["errorType"] == "Function.Timeout"
            nxt = await r.emu.invoke(b'"next"')
            assert not gate.is_set()
            assert nxt.ok, nxt.payload  # answered while the old threads still block
            assert nxt.json() == "ok"
            assert executors.abandoned_threads() > 0  # they are blocked still
            assert not r.task.done()  # the environment stays warm
    finally:
        gate.set()


async def test_queued_jobs_of_other_invocations_move_to_the_fresh_pool(transport: str) -> None:
    """A concurrent invocation's to_thread call, queued behind the blocked threads, still runs."""
    gate = threading.Event()
    blocked_all = asyncio.Event()

    def blocking_call() -> None:
        gate.wait()

    async def handler(event: Any, context: Any) -> Any:
        if event == "block":
            loop = asyncio.get_running_loop()
            # run_in_executor submits at once (to_thread only when its task first runs)
            calls = [loop.run_in_executor(None, blocking_call) for _ in range(BLOCKED)]
            blocked_all.set()
            await asyncio.gather(*calls)
        await blocked_all.wait()
        return await asyncio.to_thread(lambda: "ran")

    try:
        async with running(
            handler, transport=transport, timeout=TIMEOUT_S, env=MARGIN, concurrency=2
        ) as r:
            blocked = r.emu.submit(b'"block"')
            # a later deadline than the blocked invocation's, so it is not cancelled with it
            later = str(int((time.time() + 60) * 1000))
            other = r.emu.submit(b'"other"', headers={"Lambda-Runtime-Deadline-Ms": later})
            assert (await blocked).json()["errorType"] == "Function.Timeout"
            res = await other
            assert not gate.is_set()
            assert res.json() == "ran"
    finally:
        gate.set()


async def test_environment_retires_once_abandoned_threads_pile_up(transport: str) -> None:
    gate = threading.Event()

    async def handler(event: Any, context: Any) -> Any:
        await asyncio.gather(*(asyncio.to_thread(gate.wait) for _ in range(BLOCKED)))

    try:
        async with running(handler, transport=transport, timeout=TIMEOUT_S, env=MARGIN) as r:
            messages = []
            # each timeout abandons one pool's worth of threads; the bound is passed within
            # MAX_ABANDONED_THREADS / 1 + 1 timeouts at the latest
            for _ in range(executors.MAX_ABANDONED_THREADS + 1):
                res = await r.emu.invoke({})
                messages.append(res.json()["errorMessage"])
                if r.task.done() or "will restart" in messages[-1]:
                    break
            assert "will restart" in messages[-1]
            assert all("will restart" not in m for m in messages[:-1])
            assert await r.task == 1  # retired: a fresh environment replaces it
            assert executors.abandoned_threads() > executors.MAX_ABANDONED_THREADS
    finally:
        gate.set()


async def test_a_stream_cut_at_its_deadline_does_not_starve_the_next_invocation(
    transport: str,
) -> None:
    gate = threading.Event()

    async def handler(event: Any, context: Any) -> AsyncIterator[bytes]:
        yield b"started"
        if event == "block":
            await asyncio.gather(*(asyncio.to_thread(gate.wait) for _ in range(BLOCKED)))
        yield await asyncio.to_thread(lambda: b" done")

    try:
        async with running(handler, transport=transport, timeout=TIMEOUT_S, env=MARGIN) as r:
            cut = await r.emu.invoke(b'"block"')
            assert cut.error_type == "Function.Timeout"
            nxt = await r.emu.invoke(b'"next"')
            assert not gate.is_set()
            assert nxt.ok and nxt.payload == b"started done", nxt.payload
    finally:
        gate.set()
