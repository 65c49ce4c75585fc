"""Managed Instances: sync handlers get one process per concurrent invocation by default."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from aiolambda._core import protocol as p
from aiolambda.emulator import Emulator

pytestmark = pytest.mark.usefixtures("driver")  # over both drivers (tests/conftest.py)

FIXTURES = Path(__file__).parent / "fixtures"
N = 4


async def test_sync_handler_runs_one_process_per_concurrent_invocation(tmp_path: Path) -> None:
    async with Emulator("isolation.rendezvous", task_root=FIXTURES, concurrency=N) as emu:
        await emu.wait_for_next_calls(N)  # every worker finished its own init and polls
        futures = [
            emu.submit({"dir": str(tmp_path), "n": N}, trace_id=f"Root=1-{i}") for i in range(N)
        ]
        results = [await f for f in futures]
    docs = [res.json() for res in results]
    assert all(d["all_started"] for d in docs), docs  # all N were in flight at once
    assert len({d["pid"] for d in docs}) == N  # ... each in a process of its own
    assert all(d["inits"] == 1 for d in docs)  # ... with its own init
    # one invocation per process, so the process-wide trace variable is right again
    assert [d["trace"] for d in docs] == [f"Root=1-{i}" for i in range(N)]
    for res in results:
        assert len(emu.answers(res.request_id)) == 1


async def test_sync_threads_opt_in_shares_one_process(tmp_path: Path) -> None:
    env = {"AIOLAMBDA_SYNC_THREADS": "1"}
    async with Emulator("isolation.rendezvous", task_root=FIXTURES, concurrency=N, env=env) as emu:
        futures = [emu.submit({"dir": str(tmp_path), "n": N}) for _ in range(N)]
        docs = [(await f).json() for f in futures]
        pid = emu.pid
    assert all(d["all_started"] for d in docs), docs
    assert {d["pid"] for d in docs} == {pid}
    assert len({d["thread"] for d in docs}) == N


async def test_a_worker_that_retires_retires_the_environment() -> None:
    env = {"AIOLAMBDA_TIMEOUT_MARGIN_MS": "400"}
    async with Emulator(
        "isolation.stuck", task_root=FIXTURES, concurrency=2, timeout=1.0, env=env
    ) as emu:
        await emu.wait_for_next_calls(2)
        first_pid = emu.pid
        res = await emu.invoke({"stuck": True})
        assert res.json()["errorType"] == "Function.Timeout"  # answered before the deadline
        assert await emu.wait_exit() == 1  # the whole environment retired
        again = await emu.invoke({})  # a fresh environment serves the next one
        assert again.ok, again.payload
        assert emu.pid != first_pid
        assert emu.exit_codes == [1]


async def test_sigterm_reaches_every_worker_and_nothing_is_lost(tmp_path: Path) -> None:
    env = {"AIOLAMBDA_ENABLE_SIGTERM": "1"}
    async with Emulator("isolation.rendezvous", task_root=FIXTURES, concurrency=N, env=env) as emu:
        await emu.wait_for_next_calls(N)
        assert emu.extensions == ["aiolambda-sigterm"]  # registered once, by the first process
        # ... before any process's first /next, which ends init (Lambda then refuses it)
        (registered,) = [r.time for r in emu.requests if r.path == p.EXTENSION_REGISTER_PATH]
        assert all(registered <= r.time for r in emu.requests if r.path == p.NEXT_PATH)
        handed_out = len(emu.requests) + N  # the N pending /next calls get answered
        # N + 1: the handlers hold until the test adds its own file, after the SIGTERM
        pending = [emu.submit({"dir": str(tmp_path), "n": N + 1}) for _ in range(N)]
        await emu.wait_for_requests(handed_out)
        assert emu.pid is not None
        os.kill(emu.pid, signal.SIGTERM)
        (tmp_path / "test").write_text("released")
        results = await asyncio.gather(*pending)
        assert await emu.wait_exit() == 0
    assert all(res.ok for res in results), [res.payload for res in results]
    assert len({res.json()["pid"] for res in results}) == N
    for res in results:
        assert len(emu.answers(res.request_id)) == 1
