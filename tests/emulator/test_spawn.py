"""Spawn mode: real bootstraps (awslambdaric, bash+curl, a stdlib runtime) as children."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TYPE_CHECKING

from aiolambda.emulator import Emulator

from ._support import CURL_BOOTSTRAP, HERE, ric

if TYPE_CHECKING:
    from pathlib import Path

FN_ROOT = HERE


def ric_emulator(handler: str, **kwargs: object) -> Emulator:
    return Emulator(handler, task_root=FN_ROOT, bootstrap=ric(handler), **kwargs)  # type: ignore[arg-type]


async def test_awslambdaric_sees_the_lambda_environment() -> None:
    async with ric_emulator("fn.sync_app.echo", memory=256, function_name="shop") as emu:
        result = await emu.invoke({"hello": "world"}, trace_id="Root=1-00000000-0;Sampled=0")
        assert result.ok, result.payload
        body = result.json()
        assert body["event"] == {"hello": "world"}
        assert body["request_id"] == result.request_id
        assert body["function_name"] == "shop"
        assert body["memory"] == "256"
        assert body["arn"] == "arn:aws:lambda:us-east-1:012345678912:function:shop"
        assert body["task_root"] == str(FN_ROOT)
        assert body["cwd"] == str(FN_ROOT)
        assert body["trace"] == "Root=1-00000000-0;Sampled=0"
        assert body["max_concurrency"] is None
        env = emu.environment()
        assert env["AWS_LAMBDA_RUNTIME_API"] == emu.runtime_api
        assert env["_HANDLER"] == "fn.sync_app.echo"
        assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "3"
        assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/shop"


async def test_awslambdaric_function_error_and_logs() -> None:
    async with ric_emulator("fn.sync_app.fail") as emu:
        result = await emu.invoke({})
        assert result.function_error == "Unhandled"
        doc = result.json()
        assert doc["errorType"] == "ValueError" and doc["errorMessage"] == "boom"
    async with ric_emulator("fn.sync_app.talk") as emu:
        result = await emu.invoke({})
        assert result.payload == b'"said it"'
        assert f"hello from {result.request_id}" in result.logs
        assert "to stderr too" in result.logs
        lines = result.logs.splitlines()
        assert lines[0].startswith(f"START RequestId: {result.request_id}")
        assert lines[-2] == f"END RequestId: {result.request_id}"
        assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")


async def test_timeout_kills_and_restarts_the_runtime() -> None:
    async with ric_emulator("fn.sync_app.nap", timeout=0.5) as emu:
        pid_before = emu.pid
        result = await emu.invoke({"seconds": 30})
        assert result.error_type == "Sandbox.Timedout"
        assert result.json()["errorMessage"].endswith("Task timed out after 0.50 seconds")
        again = await emu.invoke({"seconds": 0})
        assert again.payload == b'"rested"'
        assert emu.pid != pid_before
        assert emu.starts == 2
        assert emu.exit_codes == [-signal.SIGKILL]


async def test_crash_mid_invocation_is_an_exit_error_then_a_restart() -> None:
    async with ric_emulator("fn.sync_app.crash") as emu:
        result = await emu.invoke({})
        assert result.error_type == "Runtime.ExitError"
        assert result.json()["errorMessage"] == (
            f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 3"
        )
        assert "about to crash" in result.logs
        again = await emu.invoke({})  # answered by a fresh runtime, which crashes too
        assert again.error_type == "Runtime.ExitError"
        assert again.request_id != result.request_id
        assert emu.exit_codes[:2] == [3, 3]


async def test_init_error_is_served_and_the_runtime_exits() -> None:
    async with ric_emulator("fn.broken_app.handler") as emu:
        doc = await emu.wait_init_error()
        assert doc["errorMessage"] == "cannot start: missing configuration"
        assert await emu.wait_exit() == 1
        result = await emu.invoke({})
        assert result.function_error == "Unhandled"
        assert result.json()["errorMessage"] == "cannot start: missing configuration"
        # The next invoke starts a fresh runtime, which fails its init again.
        second = await emu.invoke({})
        assert second.json()["errorMessage"] == "cannot start: missing configuration"
        assert emu.starts == 2


async def test_oversized_result_from_awslambdaric() -> None:
    async with ric_emulator("fn.sync_app.huge") as emu:
        result = await emu.invoke({})
        assert result.error_type == "Function.ResponseSizeTooLarge"
        (answer,) = emu.answers(result.request_id)
        assert answer.status == 413


async def test_curl_bootstrap_round_trips() -> None:
    async with Emulator("ignored.handler", task_root=FN_ROOT, bootstrap=CURL_BOOTSTRAP) as emu:
        big = {"blob": "x" * 2_000_000}  # large enough for curl to send Expect: 100-continue
        result = await emu.invoke(big)
        assert result.ok and result.json() == big
        assert f"bash runtime handling {result.request_id}" in result.logs
        failed = await emu.invoke({"fail": True})
        assert failed.error_type == "Function.BashError"
        assert failed.json() == {"errorMessage": "asked to fail", "errorType": "BashError"}
        crashed = await emu.invoke({"crash": True})
        assert crashed.error_type == "Runtime.ExitError"
        assert crashed.json()["errorMessage"].endswith("exit status 7")
        after = await emu.invoke({"n": 1})
        assert after.json() == {"n": 1}
        assert emu.exit_codes == [7]


async def test_runtime_that_never_asks_for_work_times_out_and_is_reset() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    async with Emulator(bootstrap=sleeper, init_timeout=0.3, spawn=True) as emu:
        result = await emu.invoke({})
        assert result.error_type == "Sandbox.Timedout"
        second = await emu.invoke({})
        assert second.error_type == "Sandbox.Timedout"
    assert emu.exit_codes[0] == -signal.SIGKILL


async def test_sigterm_only_when_an_extension_is_registered(tmp_path: Path) -> None:
    runtime = [sys.executable, str(FN_ROOT / "fn" / "ext_runtime.py")]
    marker = tmp_path / "sigterm"
    env = {"SIGTERM_MARKER": str(marker), "REGISTER_EXTENSION": "1"}
    async with Emulator(bootstrap=runtime, env=env) as emu:
        assert (await emu.invoke({"a": 1})).json() == {"a": 1}
        assert emu.extensions == ["sigterm-helper"]
    assert marker.read_text() == "terminated"
    assert emu.exit_codes == [0]

    env["REGISTER_EXTENSION"] = "0"
    marker_absent = tmp_path / "no-sigterm"
    env["SIGTERM_MARKER"] = str(marker_absent)
    async with Emulator(bootstrap=runtime, env=env) as emu:
        assert (await emu.invoke({"b": 2})).json() == {"b": 2}
        assert emu.extensions == []
    assert not marker_absent.exists()
    assert emu.exit_codes == [-signal.SIGKILL]


async def test_shutdown_leaves_the_pending_next_unanswered() -> None:
    # Answering /next (500) while SIGTERM lands made a runtime take Lambda's shutdown for
    # a Runtime API failure and exit 1; Lambda holds it until the runtime is gone.
    runtime = [sys.executable, str(FN_ROOT / "fn" / "shutdown_runtime.py")]
    async with Emulator(bootstrap=runtime) as emu:
        assert (await emu.invoke({"a": 1})).json() == {"a": 1}
        assert emu.extensions == ["shutdown-watcher"]
    assert "SIGTERM with /next pending" in emu.logs, emu.logs
    assert "answered during shutdown" not in emu.logs, emu.logs
    assert emu.exit_codes == [-signal.SIGKILL]  # the grace ran out with /next still held


async def test_bad_bootstrap_command_fails_at_start() -> None:
    emu = Emulator(bootstrap=["/nonexistent/bootstrap"])
    try:
        await emu.start()
    except FileNotFoundError:
        pass
    else:
        await emu.close()
        raise AssertionError("start() should have raised")


async def test_awslambdaric_managed_instances_mode() -> None:
    # awslambdaric 4 runs AWS_LAMBDA_MAX_CONCURRENCY worker processes, each polling /next.
    async with ric_emulator("fn.sync_app.pid", concurrency=2) as emu:
        results = await asyncio.gather(*(emu.invoke({}) for _ in range(6)))
        assert all(r.ok for r in results), [r.payload for r in results]
        assert emu.environment()["AWS_LAMBDA_INITIALIZATION_TYPE"] == "lambda-managed-instances"
        await emu.wait_for_next_calls(2)
        busy = [r for r in emu.requests if r.path.endswith("/next") and r.status == 403]
        assert busy == []  # two workers, two slots: never more /next than allowed


async def test_init_failure_logs_come_with_the_error() -> None:
    async with ric_emulator("fn.broken_app.handler") as emu:
        result = await emu.invoke({})
        assert "cannot start: missing configuration" in result.logs
        assert "Traceback" in result.logs
        assert result.logs in emu.logs


async def test_restart_slower_than_the_timeout_still_serves_queued_work() -> None:
    # After a reset the fresh runtime gets the init budget, not the function timeout.
    slow_start = ["bash", "-c", f"sleep 0.6; exec {sys.executable} -m awslambdaric fn.sync_app.nap"]
    async with Emulator(
        "fn.sync_app.nap", task_root=FN_ROOT, bootstrap=slow_start, timeout=0.3
    ) as emu:
        timed_out = emu.submit({"seconds": 30})
        queued = emu.submit({"seconds": 0})
        assert (await timed_out).error_type == "Sandbox.Timedout"
        assert (await queued).payload == b'"rested"'
        assert emu.starts == 2
