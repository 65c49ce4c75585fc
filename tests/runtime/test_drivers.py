"""Which driver serves a handler (``bootstrap.needs_loop``), end to end.

A plain ``def`` handler at concurrency 1, and each one-per-invocation worker process
under Managed Instances, is served by the sync driver: neither asyncio nor uvloop is
imported unless the function imports it. An ``async def`` handler's module is imported
inside the running loop. See README "Which driver runs".
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from aiolambda._core.bootstrap import needs_loop
from aiolambda._core.config import RuntimeConfig
from aiolambda._core.exchange import Invocation
from aiolambda._core.handler import Handler
from aiolambda._core.runtime_sync import Watchdog
from aiolambda.emulator import Emulator

FIXTURES = Path(__file__).parent / "fixtures"


def emulator(handler: str, **kwargs: object) -> Emulator:
    return Emulator(f"drivers.{handler}", task_root=FIXTURES, **kwargs)  # type: ignore[arg-type]


async def test_a_sync_handler_runs_without_asyncio_or_uvloop() -> None:
    async with emulator("plain.handler") as emu:
        first, second = await emu.invoke({}), await emu.invoke({})
    for res in (first, second):
        doc = res.json()
        assert doc["loaded"] == [], doc
        assert doc["thread"] == "MainThread"  # as under AWS's runtime
        assert doc["trace"] is not None  # _X_AMZN_TRACE_ID, fresh per invocation
    assert first.json()["trace"] != second.json()["trace"]


async def test_each_managed_instances_worker_runs_without_asyncio() -> None:
    async with emulator("plain.handler", concurrency=3) as emu:
        await emu.wait_for_next_calls(3)
        docs = [(await emu.invoke({})).json() for _ in range(3)]
    assert all(doc["loaded"] == [] for doc in docs), docs


async def test_a_sync_handler_that_uses_asyncio_itself_keeps_the_sync_driver() -> None:
    async with emulator("uses_asyncio.handler") as emu:
        doc = (await emu.invoke({"n": 21})).json()
    assert doc == {"value": 42, "uvloop": False, "asyncio_driver": False}


async def test_the_asyncio_driver_can_be_forced() -> None:
    async with emulator("plain.handler", env={"AIOLAMBDA_DRIVER": "asyncio"}) as emu:
        doc = (await emu.invoke({})).json()
    assert doc["asyncio_driver"] is True
    assert "asyncio" in doc["loaded"]
    assert doc["thread"].startswith("aiolambda-sync")


async def test_an_async_handler_module_is_imported_inside_the_running_loop() -> None:
    async with emulator("loop_at_import.handler") as emu:
        res = await emu.invoke({})
    assert res.ok, res.payload
    assert res.json() == {"same_loop": True}


async def test_an_async_handler_re_exported_by_a_module_that_shows_no_sign_of_it() -> None:
    """The documented edge case: the module was imported before any loop ran; the
    handler is still awaited on the asyncio driver."""
    async with emulator("reexport.handler") as emu:
        res = await emu.invoke({})
    assert res.ok, res.payload
    assert res.json() == {"imported_in_loop": False}


async def test_a_returned_coroutine_hands_the_process_to_the_asyncio_driver() -> None:
    env = {"AIOLAMBDA_DRIVER": "sync"}  # the module says `async def`: skip the pre-check
    async with emulator("handoff.handler", env=env) as emu:
        before = (await emu.invoke({"n": 1})).json()
        handed = await emu.invoke({"coroutine": True})
        after = (await emu.invoke({"n": 2})).json()
        exits = emu.exit_codes
    assert before == {"got": {"n": 1}, "asyncio_driver": False}
    assert handed.ok, handed.payload
    assert handed.json()["got"] == {"coroutine": True}
    assert after == {"got": {"n": 2}, "asyncio_driver": True}
    assert exits == []  # one process throughout


def _config(**env: str) -> RuntimeConfig:
    return RuntimeConfig.from_environ(
        {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "_HANDLER": "app.handler", **env}
    )


def _sync(event: object, context: object) -> None:
    return None


async def _async(event: object, context: object) -> None:
    return None


async def _stream(event: object, context: object):  # type: ignore[no-untyped-def]
    yield b""


@pytest.mark.parametrize(
    ("env", "func", "forked", "expected"),
    [
        ({}, _sync, False, False),
        ({}, _async, False, True),
        ({}, _stream, False, True),
        ({"AWS_LAMBDA_MAX_CONCURRENCY": "4"}, _sync, True, False),  # a worker process
        ({"AWS_LAMBDA_MAX_CONCURRENCY": "4"}, _sync, False, True),  # threads, one process
        ({"AIOLAMBDA_DRIVER": "asyncio"}, _sync, False, True),
        ({"AIOLAMBDA_DRIVER": "sync"}, _async, False, True),  # an async handler needs a loop
    ],
)
def test_the_rule_after_the_import(
    env: dict[str, str], func: object, forked: bool, expected: bool
) -> None:
    handler = Handler(func=func, is_async=func is _async, name="app.handler")  # type: ignore[arg-type]
    assert needs_loop(_config(**env), handler, forked=forked) is expected


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        ("drivers/plain.handler", False),
        ("drivers.uses_asyncio.handler", False),  # `import asyncio` alone is no sign
        ("drivers.loop_at_import.handler", True),
        ("drivers.handoff.handler", False),  # `def handler(` beside an `async def` helper
        ("drivers.reexport.handler", False),  # the edge case above
        ("drivers.missing.handler", True),  # not found: the import reports it, in a loop
    ],
)
def test_the_rule_before_the_import(
    handler: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    assert needs_loop(_config(_HANDLER=handler), None, forked=False) is expected


async def test_sigterm_while_waiting_on_next_ends_the_sync_driver_at_once() -> None:
    env = {"AIOLAMBDA_ENABLE_SIGTERM": "1"}
    async with emulator("plain.handler", env=env) as emu:
        assert (await emu.invoke({})).ok
        await emu.wait_for_next_calls(2)  # idle in its blocking GET /next
        assert emu.extensions == ["aiolambda-sigterm"]
        assert emu.pid is not None
        os.kill(emu.pid, signal.SIGTERM)
        assert await emu.wait_exit() == 0


async def test_sigterm_during_an_invocation_lets_the_sync_driver_answer_it(
    tmp_path: Path,
) -> None:
    env = {"AIOLAMBDA_ENABLE_SIGTERM": "1"}
    async with Emulator("isolation.rendezvous", task_root=FIXTURES, env=env) as emu:
        await emu.wait_for_next_calls(1)
        handed_out = len(emu.requests) + 1
        # n=2: the handler holds until the test adds its own file, after the SIGTERM
        pending = emu.submit({"dir": str(tmp_path), "n": 2})
        await emu.wait_for_requests(handed_out)
        assert emu.pid is not None
        os.kill(emu.pid, signal.SIGTERM)
        (tmp_path / "test").write_text("released")
        res = await pending
        assert await emu.wait_exit() == 0
    assert res.ok, res.payload
    assert res.json()["all_started"] is True
    assert res.json()["thread"] == "MainThread"


def _invocation() -> Invocation:
    return Invocation(
        request_id="8f5e4c1a-0000-4000-8000-000000000000",
        deadline_ms=None,
        invoked_function_arn="",
        trace_id=None,
        client_context=None,
        cognito_identity=None,
        tenant_id=None,
        invocation_id=None,
        content_type=None,
        body=b"{}",
    )


def test_the_sync_watchdog_fires_once_for_the_armed_invocation_whose_point_passed() -> None:
    expired: list[Invocation] = []
    fired = threading.Event()

    def on_expiry(inv: Invocation) -> None:
        expired.append(inv)
        fired.set()

    watchdog = Watchdog(on_expiry)
    first, second = _invocation(), _invocation()
    watchdog.arm(first, time.time() + 3600)  # far ahead
    watchdog.disarm()  # answered in time: never reported
    watchdog.arm(second, time.time() - 1)  # past its point: reported
    assert fired.wait(30)
    assert expired == [second]
