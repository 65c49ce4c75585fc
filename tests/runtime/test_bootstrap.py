"""End to end: ``python -m aiolambda`` as a child process under the emulator."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

from aiolambda.emulator import Emulator

pytestmark = pytest.mark.usefixtures("driver")  # over both drivers (tests/conftest.py)

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def emulator(handler: str, **kwargs: object) -> Emulator:
    return Emulator(handler, task_root=kwargs.pop("task_root", FIXTURES), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "env", [{}, {"AIOLAMBDA_TRANSPORT": "aiohttp"}, {"AIOLAMBDA_LOOP": "asyncio"}]
)
async def test_example_runs_end_to_end(env: dict[str, str]) -> None:
    async with Emulator("examples/hello/app.handler", task_root=REPO, env=env) as emu:
        res = await emu.invoke({"name": "Ada"})
        assert res.ok, res.payload
        doc = res.json()
        assert doc["message"] == "Hello, Ada!"
        assert doc["request_id"] == res.request_id
        assert 0 < doc["remaining_ms"] <= 3000


async def test_default_path_imports_no_aiohttp_emulator_or_cli() -> None:
    async with emulator("funcs.modules") as emu:
        assert (await emu.invoke({})).json() == []
    async with emulator("funcs.modules", env={"AIOLAMBDA_TRANSPORT": "aiohttp"}) as emu:
        assert "aiohttp" in (await emu.invoke({})).json()


async def test_sys_path_matches_the_managed_runtime(tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (opt / "python" / "lib" / version / "site-packages").mkdir(parents=True)
    env = {"AIOLAMBDA_OPT_DIR": str(opt)}
    async with emulator("funcs.sync_path", env=env) as emu:
        doc = (await emu.invoke({})).json()
    assert doc["path_head"] == [
        str(FIXTURES),
        str(opt / "python" / "lib" / version / "site-packages"),
        str(opt / "python"),
    ]


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("nodots", "Runtime.MalformedHandlerName", "Bad handler 'nodots'"),
        ("missing_module.handler", "Runtime.ImportModuleError", "Unable to import module"),
        ("init_bad_import.handler", "Runtime.ImportModuleError", "a_dependency_that_is_not"),
        ("init_syntax.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module"),
        ("funcs.no_such_function", "Runtime.HandlerNotFound", "Handler 'no_such_function'"),
        ("init_raises.handler", "RuntimeError", "cannot read configuration"),
    ],
)
async def test_init_errors_are_reported_and_the_process_exits(
    tmp_path: Path, handler: str, error_type: str, message: str
) -> None:
    root = tmp_path / "task"
    shutil.copytree(FIXTURES, root)
    (root / "init_syntax.py").write_text((FIXTURES / "init_syntax.py.txt").read_text())
    output = io.StringIO()
    async with emulator(handler, task_root=root, log_stream=output) as emu:
        res = await emu.invoke({})
        assert res.function_error == "Unhandled"
        doc = res.json()
        assert doc["errorType"] == error_type
        assert message in doc["errorMessage"]
        init_error = await emu.wait_init_error()
        assert init_error["errorType"] == error_type
        assert init_error["requestId"] == ""
        (post,) = [r for r in emu.requests if r.path.endswith("/init/error")]
        header = post.headers["lambda-runtime-function-error-type"]
        assert header.startswith(("Runtime.", "Function."))
        assert await emu.wait_exit() == 1
    assert f"[ERROR] {error_type}: {doc['errorMessage']}" in output.getvalue()


async def test_text_logs_carry_the_request_id_and_stay_one_record() -> None:
    env = {"AWS_LAMBDA_LOG_LEVEL": "INFO"}
    async with emulator("funcs.logs", env=env) as emu:
        res = await emu.invoke({})
    lines = res.logs.split("\n")
    info = [line for line in lines if line.startswith("[INFO]")]
    assert info and info[0].endswith(f"\t{res.request_id}\tinfo from {res.request_id}")
    (warning,) = [line for line in lines if line.startswith("[WARNING]")]
    assert warning.endswith("first line\rsecond line")
    assert "raw context log" in res.logs
    assert "printed line" in res.logs


async def test_json_logs_use_lambda_keys_and_level_filter() -> None:
    env = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"}
    async with emulator("funcs.logs", env=env) as emu:
        res = await emu.invoke({})
    records = [json.loads(line) for line in res.logs.split("\n") if line.startswith("{")]
    levels = [r["level"] for r in records]
    assert levels == ["WARN", "ERROR"]  # INFO filtered out by AWS_LAMBDA_LOG_LEVEL
    assert all(r["requestId"] == res.request_id for r in records)
    assert records[0]["message"] == "first line\nsecond line"
    assert records[1]["order_id"] == 7
    assert {"timestamp", "logger"} <= set(records[0])


async def test_credentials_never_reach_errors_or_logs() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    token = "IQoJb3JpZ2luX2VjEXAMPLETOKENvalue0123456789"
    env = {"AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": token}
    async with emulator("funcs.leak_secret", env=env) as emu:
        res = await emu.invoke({})
        assert res.json()["errorType"] == "PermissionError"
        everything = (
            res.payload.decode() + res.logs + json.dumps([dict(r.headers) for r in emu.requests])
        )
    assert secret not in everything
    assert "***" in res.json()["errorMessage"]


async def test_sigterm_mid_flight_answers_then_exits_zero() -> None:
    async with emulator("funcs.slow") as emu:
        pending = emu.submit({"sleep": 0.5})
        await emu.wait_for_next_calls(1)
        assert emu.pid is not None
        os.kill(emu.pid, signal.SIGTERM)
        res = await pending
        assert res.json() == {"slept": 0.5}
        assert await emu.wait_exit() == 0
