"""SnapStart through the emulator: aiolambda and awslambdaric run the same handlers."""

from __future__ import annotations

import asyncio

import pytest

from aiolambda._core import protocol as p
from aiolambda.emulator import Emulator
from tests.emulator._support import HandRuntime

from ._support import HERE, RUNTIMES, SYNC_HOOKS, report_field, report_line, snap_emulator

pytestmark = pytest.mark.usefixtures("driver")  # over both drivers (tests/conftest.py)


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_hooks_run_in_order_around_the_restore(runtime: str) -> None:
    async with snap_emulator(runtime, "fn.snap_hooks.handler", snapshot_pause=0.05) as emu:
        first = await emu.invoke({})
        assert first.ok, first.payload
        assert first.json()["events"] == SYNC_HOOKS
        paths = [r.path for r in emu.requests]
        assert paths[:2] == [p.RESTORE_NEXT_PATH, p.NEXT_PATH], paths
        assert paths.count(p.RESTORE_NEXT_PATH) == 1
        # The hooks print in the order they ran, all before the first invocation starts.
        hooks = [line for line in emu.logs.splitlines() if line.startswith("hook ")]
        assert hooks == [f"hook {name}" for name in SYNC_HOOKS]
        report = report_line(first.logs)
        assert "Init Duration" not in report
        restore_ms = report_field(report, "Restore Duration")
        billed_ms = report_field(report, "Billed Restore Duration")
        assert restore_ms >= 50.0, report  # the snapshot pause is restore time...
        assert billed_ms <= restore_ms - 50.0 + 1, report  # ...that is not billed
        second = await emu.invoke({})
        assert second.json() == first.json()  # same process, hooks not run again
        assert "Restore Duration" not in report_line(second.logs)
        assert emu.starts == 1


async def test_async_hooks_are_awaited_on_the_runtimes_loop() -> None:
    async with snap_emulator("aiolambda", "fn.snap_async.handler") as emu:
        result = await emu.invoke({})
        assert result.ok, result.payload
        body = result.json()
        assert body["events"] == ["async-before", "async-after:db", "sync-after"]
        assert body["loops"] == 1  # hooks and handler share the one loop


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_a_failing_before_snapshot_hook_is_an_init_error(runtime: str) -> None:
    async with snap_emulator(runtime, "fn.snap_fail_before.handler") as emu:
        result = await emu.invoke({})
        assert result.error_type == p.BEFORE_SNAPSHOT_ERROR
        doc = result.json()
        assert doc["errorType"] == "ValueError"
        assert doc["errorMessage"] == "cannot snapshot: a socket is open"
        assert any("snap_fail_before.py" in line for line in doc["stackTrace"])
        assert await emu.wait_exit() == 64
        posts = [r for r in emu.requests if r.path == p.INIT_ERROR_PATH]
        assert [r.headers[p.H_ERROR_TYPE.lower()] for r in posts] == [p.BEFORE_SNAPSHOT_ERROR]
        assert p.RESTORE_NEXT_PATH not in [r.path for r in emu.requests]
        assert "[ERROR] ValueError: cannot snapshot: a socket is open" in result.logs


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_a_failing_after_restore_hook_is_a_restore_error(runtime: str) -> None:
    async with snap_emulator(runtime, "fn.snap_fail_after.handler") as emu:
        result = await emu.invoke({})
        assert result.error_type == p.AFTER_RESTORE_ERROR
        doc = result.json()
        assert doc["errorType"] == "ConnectionError"
        assert doc["errorMessage"] == "database unreachable after restore"
        assert await emu.wait_exit() == 65
        posts = [r for r in emu.requests if r.path == p.RESTORE_ERROR_PATH]
        assert [r.headers[p.H_ERROR_TYPE.lower()] for r in posts] == [p.AFTER_RESTORE_ERROR]
        assert [r.status for r in posts] == [202]
        assert p.NEXT_PATH not in [r.path for r in emu.requests]


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_a_function_without_hooks(runtime: str) -> None:
    async with snap_emulator(runtime, "fn.plain.handler") as emu:
        result = await emu.invoke({})
        assert result.ok, result.payload
        body = result.json()
        assert body["init_type"] == p.INIT_TYPE_SNAP_START
        assert body["log_stream"] is None  # Lambda sets no log group/stream for SnapStart
        # aiolambda never imports the registry; awslambdaric always does.
        assert body["registry_imported"] is (runtime == "awslambdaric")
        assert [r.path for r in emu.requests][:2] == [p.RESTORE_NEXT_PATH, p.NEXT_PATH]
        assert "Restore Duration" in report_line(result.logs)


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_init_without_snapstart_is_unchanged(runtime: str) -> None:
    async with snap_emulator(runtime, "fn.snap_hooks.handler", snapstart=False) as emu:
        result = await emu.invoke({})
        assert result.ok, result.payload
        assert result.json()["events"] == []  # registered, never run
        assert p.RESTORE_NEXT_PATH not in [r.path for r in emu.requests]
        assert emu.environment()[p.ENV_INITIALIZATION_TYPE] == "on-demand"
        assert "Restore Duration" not in report_line(result.logs)


async def test_concurrent_pollers_start_only_after_the_restore() -> None:
    # The emulator refuses /next while /restore/next is pending (as RAPID does), which
    # would stop the runtime: three answered invocations prove the order.
    emu = snap_emulator("aiolambda", "fn.snap_async.handler", concurrency=3)
    async with emu:
        results = await asyncio.gather(*(emu.invoke({"n": i}) for i in range(3)))
        assert all(r.ok for r in results), [r.payload for r in results]
        assert [r.path for r in emu.requests].count(p.RESTORE_NEXT_PATH) == 1
        assert not [r for r in emu.requests if r.path == p.NEXT_PATH and r.status != 200]
        assert results[0].json()["events"] == ["async-before", "async-after:db", "sync-after"]


async def test_sync_handler_under_snapstart_serves_concurrency_from_the_restored_process() -> None:
    # One snapshot, one restore: no process per invocation (as without SnapStart), the N
    # invocations run in threads of the process whose hooks ran.
    emu = snap_emulator("aiolambda", "fn.snap_hooks.handler", concurrency=3)
    async with emu:
        results = await asyncio.gather(*(emu.invoke({"n": i}) for i in range(3)))
        assert all(r.ok for r in results), [r.payload for r in results]
        assert [r.path for r in emu.requests].count(p.RESTORE_NEXT_PATH) == 1
        assert len({r.json()["pid"] for r in results}) == 1
        assert all("after-2" in r.json()["events"] for r in results)


async def test_workers_are_refused_with_snapstart() -> None:
    env = {"AIOLAMBDA_WORKERS": "2"}
    async with snap_emulator("aiolambda", "fn.plain.handler", concurrency=2, env=env) as emu:
        result = await emu.invoke({})
        assert result.error_type == p.RUNTIME_EXIT_ERROR
        assert result.json()["errorMessage"].endswith("exit status 2")
        assert "AIOLAMBDA_WORKERS=2 cannot be used with SnapStart" in result.logs
        assert emu.starts >= 1


async def test_restore_next_without_snapstart_is_refused() -> None:
    emu = Emulator("fn.plain.handler", task_root=HERE, spawn=False)
    async with emu, HandRuntime(emu) as rt:
        status, _, body = await rt.request("GET", p.RESTORE_NEXT_PATH)
        assert status == 403 and b"SnapStart is not enabled" in body


async def test_the_emulators_restore_routes_follow_rapids_states() -> None:
    emu = Emulator("fn.plain.handler", task_root=HERE, spawn=False, snapstart=True)
    async with emu, HandRuntime(emu) as rt:
        # /restore/error before any restore: invalid state.
        status, _, _ = await rt.request("POST", p.RESTORE_ERROR_PATH, b"{}")
        assert status == 403
        pending = asyncio.ensure_future(rt.request("GET", p.RESTORE_NEXT_PATH))
        await emu.wait_for_snapshot()
        # While the snapshot is pending, /next and a second /restore/next are refused.
        status, _, _ = await rt.request("GET", p.NEXT_PATH)
        assert status == 403
        status, _, _ = await rt.request("GET", p.RESTORE_NEXT_PATH)
        assert status == 403
        # Registration closes at the snapshot, as in RAPID.
        status, _, _ = await rt.request(
            "POST", p.EXTENSION_REGISTER_PATH, b"{}", {p.H_EXTENSION_NAME: "late"}
        )
        assert status == 403
        assert not pending.done()
        invocation = emu.submit({"x": 1})
        status, _, body = await pending
        assert (status, body) == (200, b"")
        request_id, _, _ = await rt.next()
        await rt.respond(request_id, b'"ok"')
        result = await invocation
        assert result.payload == b'"ok"'
        assert "Restore Duration" in report_line(result.logs)


async def test_the_sigterm_extension_registers_before_the_snapshot() -> None:
    env = {"AIOLAMBDA_ENABLE_SIGTERM": "1"}
    async with snap_emulator("aiolambda", "fn.snap_hooks.handler", env=env) as emu:
        result = await emu.invoke({})
        assert result.ok, result.payload
        assert result.json()["events"] == SYNC_HOOKS
        paths = [r.path for r in emu.requests]
        # Lambda closes extension registration at the snapshot: register comes first.
        assert paths[:3] == [p.EXTENSION_REGISTER_PATH, p.RESTORE_NEXT_PATH, p.NEXT_PATH]
        assert emu.extensions == ["aiolambda-sigterm"]
    assert emu.returncode == 0  # SIGTERM at shutdown still ends it cleanly


async def test_credentials_set_by_an_after_restore_hook_are_redacted() -> None:
    async with snap_emulator("aiolambda", "fn.snap_new_creds.handler") as emu:
        result = await emu.invoke({})
        assert result.error_type == "Function.RuntimeError"
        doc = result.json()
        assert doc["errorMessage"] == "denied for token ***"
        assert "FRESHSECRET" not in result.payload.decode()
        # Redaction covers error reports and the runtime's own logs, not user prints.
        assert "FRESHSECRET" not in "".join(
            line for line in result.logs.splitlines() if not line.startswith("using ")
        )


async def test_a_stuck_after_restore_hook_times_the_invocation_out() -> None:
    emu = snap_emulator("aiolambda", "fn.snap_stuck.handler", init_timeout=0.5)
    async with emu:
        result = await emu.invoke({})
        assert result.error_type == p.SANDBOX_TIMEDOUT
        assert "hook stuck" in emu.logs  # it had started: the restore did happen


def test_the_snapshot_pause_must_fit_the_init_timeout() -> None:
    with pytest.raises(ValueError, match="snapshot_pause"):
        Emulator("fn.plain.handler", snapstart=True, snapshot_pause=10.0)
    with pytest.raises(ValueError, match="snapshot_pause"):
        Emulator("fn.plain.handler", snapstart=True, snapshot_pause=-1)


# -- intended differences from AWS's runtime, pinned ----------------------------------


async def test_awslambdaric_calls_async_hooks_without_awaiting_them() -> None:
    async with snap_emulator("awslambdaric", "fn.snap_async.sync_handler") as emu:
        result = await emu.invoke({})
        assert result.ok, result.payload
        # Only the plain hook did its work; aiolambda awaits all three (test above).
        assert result.json()["events"] == ["sync-after"]


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_a_plain_hook_runs_on_the_loops_thread(runtime: str, driver: str) -> None:
    # Under aiolambda hooks run where the module's own init code ran: on the asyncio
    # driver inside the running loop, so asyncio.run() there fails as it would at the
    # module's top level; the sync driver (this sync handler's, by default) has no loop.
    async with snap_emulator(runtime, "fn.snap_asyncio_run.handler") as emu:
        result = await emu.invoke({})
        if runtime == "awslambdaric" or driver == "auto":
            assert result.json()["events"] == ["flushed"]
        else:
            assert result.error_type == p.BEFORE_SNAPSHOT_ERROR
            assert (
                "asyncio.run() cannot be called from a running event loop"
                in (result.json()["errorMessage"])
            )
