"""Lambda Managed Instances: many invocations in flight in one process."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aiolambda import current_request_id, current_trace_id
from aiolambda.emulator import Emulator
from tests.runtime.harness import running

FIXTURES = Path(__file__).parent / "fixtures"


def overlapping(spans: list[tuple[float, float]]) -> bool:
    """True when every span was running at one common instant."""
    return max(start for start, _ in spans) < min(end for _, end in spans)


async def test_invocations_overlap_and_keep_their_own_state(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)  # other in-process runs set it
    n = 8
    gate = asyncio.Event()
    started = 0

    async def handler(event: Any, context: Any) -> Any:
        nonlocal started
        begin = time.monotonic()
        started += 1
        if started == n:
            gate.set()
        await gate.wait()  # all n are in flight at once before any returns
        await asyncio.sleep(0.01)
        assert current_request_id() == context.aws_request_id
        assert current_trace_id() == f"Root=1-{event['i']}"
        # os.environ reads the trace header from the invocation's context when N > 1
        assert os.environ.get("_X_AMZN_TRACE_ID") == f"Root=1-{event['i']}"
        return {"i": event["i"], "span": [begin, time.monotonic()], "id": context.aws_request_id}

    async with running(handler, transport=transport, concurrency=n) as r:
        futures = [r.emu.submit({"i": i}, trace_id=f"Root=1-{i}") for i in range(n)]
        results = [await f for f in futures]
    assert "_X_AMZN_TRACE_ID" not in os.environ  # the process value was never set
    docs = [res.json() for res in results]
    assert [d["i"] for d in docs] == list(range(n))
    assert [d["id"] for d in docs] == [res.request_id for res in results]
    assert overlapping([tuple(d["span"]) for d in docs])


async def test_one_failure_does_not_touch_the_others(transport: str) -> None:
    async def handler(event: Any, context: Any) -> Any:
        await asyncio.sleep(0.01)
        if event["i"] % 3 == 0:
            raise RuntimeError(f"boom {event['i']}")
        if event["i"] % 3 == 1:
            return object()  # unserialisable
        return event["i"]

    async with running(handler, transport=transport, concurrency=4) as r:
        results = await asyncio.gather(*(r.emu.submit({"i": i}) for i in range(12)))
        for i, res in enumerate(results):
            if i % 3 == 0:
                assert res.json()["errorMessage"] == f"boom {i}"
            elif i % 3 == 1:
                assert res.json()["errorType"] == "Runtime.MarshalError"
            else:
                assert res.json() == i
            assert len(r.emu.answers(res.request_id)) == 1


async def test_sync_handlers_use_a_thread_pool_when_concurrent(transport: str) -> None:
    barrier = threading.Barrier(4, timeout=10)

    def handler(event: Any, context: Any) -> Any:
        barrier.wait()  # only passes if 4 handlers run at once
        return threading.current_thread().name

    async with running(handler, transport=transport, concurrency=4) as r:
        results = await asyncio.gather(*(r.emu.submit({}) for _ in range(4)))
    names = {res.json() for res in results}
    assert len(names) == 4


async def test_sigterm_with_invocations_in_flight_loses_nothing() -> None:
    async with Emulator("funcs.whoami", task_root=FIXTURES, concurrency=4) as emu:
        pending = [emu.submit({"sleep": 0.3}) for _ in range(4)]
        await emu.wait_for_next_calls(4)
        assert emu.pid is not None
        os.kill(emu.pid, signal.SIGTERM)
        results = await asyncio.gather(*pending)
        assert all(res.ok for res in results), [res.payload for res in results]
        assert await emu.wait_exit() == 0
        for res in results:
            assert len(emu.answers(res.request_id)) == 1


async def test_sigterm_extension_is_registered_when_asked() -> None:
    env = {"AIOLAMBDA_ENABLE_SIGTERM": "1"}
    async with Emulator("funcs.whoami", task_root=FIXTURES, env=env) as emu:
        assert (await emu.invoke({"sleep": 0})).ok
        assert emu.extensions == ["aiolambda-sigterm"]
        register = [r for r in emu.requests if r.path.endswith("/extension/register")]
        assert register and register[0].status == 200


async def test_workers_split_the_pollers_across_processes() -> None:
    env = {"AIOLAMBDA_WORKERS": "2"}
    async with Emulator("funcs.whoami", task_root=FIXTURES, concurrency=4, env=env) as emu:
        await emu.wait_for_next_calls(4)
        results = await asyncio.gather(*(emu.submit({"sleep": 0.3}) for _ in range(4)))
        pids = {res.json()["pid"] for res in results}
        assert len(pids) == 2
        assert emu.pid in pids


async def test_workers_register_the_sigterm_extension_once() -> None:
    # Worker 0 registers it and passes SIGTERM on to the other workers when it stops;
    # a second registration would be a second extension in Lambda's shutdown phase.
    env = {"AIOLAMBDA_WORKERS": "2", "AIOLAMBDA_ENABLE_SIGTERM": "1"}
    async with Emulator("funcs.whoami", task_root=FIXTURES, concurrency=2, env=env) as emu:
        # Bounded: before the fix a worker whose registration came too late exited.
        await asyncio.wait_for(emu.wait_for_next_calls(2), 60)
        results = await asyncio.gather(*(emu.submit({"sleep": 0.3}) for _ in range(2)))
        assert len({res.json()["pid"] for res in results}) == 2
        assert emu.extensions == ["aiolambda-sigterm"]
        registers = [r for r in emu.requests if r.path.endswith("/extension/register")]
        assert len(registers) == 1


async def test_logs_go_to_the_managed_instances_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "logs.sock")
    received = bytearray()
    got_line = asyncio.Event()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(4096):
            received.extend(chunk)
            if b"done " in received:
                got_line.set()
        writer.close()

    server = await asyncio.start_unix_server(on_client, path)
    env = {"_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET": path}
    try:
        async with Emulator("funcs.whoami", task_root=FIXTURES, env=env) as emu:
            res = await emu.invoke({"sleep": 0})
            await got_line.wait()
            assert "done " not in res.logs  # stdout/stderr went to the socket instead
    finally:
        server.close()
        await server.wait_closed()
    assert f"done {res.request_id}".encode() in received
