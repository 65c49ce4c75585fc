"""The layer in a Lambda-like sandbox: AWS's RIE, /var/runtime/bootstrap, the exec wrapper.

Everything runs as on a managed python3.12 function with the layer attached and
``AWS_LAMBDA_EXEC_WRAPPER=/opt/aiolambda`` (see ``sandbox.py`` for what is bound
where): no venv, no ``HOME``, a read-only root, uid 993, 128 MB.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.sandbox.conftest import OLDER_ORJSON, TOO_OLD_ORJSON, readable_by_all
from tests.sandbox.sandbox import MEMORY_MB, UID, sandbox

SYNC = """\
import errno, logging, os, sys

def handler(event, context):
    print("printed by the handler", event["n"])
    logging.getLogger().warning("logged by the handler %s", event["n"])
    try:
        open("/var/task/written", "w")
        task_root_writable = True
    except OSError as exc:
        task_root_writable = errno.errorcode[exc.errno]
    with open("/tmp/written", "w") as f:
        f.write("ok")
    return {
        "n": event["n"],
        "request_id": context.aws_request_id,
        "uid": os.getuid(),
        "home": os.environ.get("HOME"),
        "executable": sys.executable,
        "sys_path": sys.path[:3],
        "aiolambda": sys.modules["aiolambda"].__file__,
        "stock_runtime_loaded": "awslambdaric" in sys.modules,
        "task_root_writable": task_root_writable,
        "pid": os.getpid(),
    }
"""

ASYNC = """\
import asyncio, logging

async def handler(event, context):
    await asyncio.sleep(0)
    print("printed by the async handler")
    logging.getLogger().error("logged by the async handler")
    return {
        "loop": type(asyncio.get_running_loop()).__module__,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
"""

FAILING = """\
def handler(event, context):
    raise ValueError("no good: " + event["why"])
"""

SLOW = """\
import asyncio, time

async def handler(event, context):
    if event.get("sleep"):
        await asyncio.sleep(60)
    return "awake"

def blocking(event, context):
    if event.get("sleep"):
        time.sleep(60)
    return "awake"
"""

OWN_ORJSON = """\
import orjson

def handler(event, context):
    from aiolambda._core import errors, logs
    return {
        "version": orjson.__version__,
        "file": orjson.__file__,
        "runtime_uses_it": errors.orjson is orjson and logs.orjson is orjson,
        "encoded": orjson.dumps(event).decode(),
    }
"""

CHAINED = """\
import os, sys

def handler(event, context):
    return {
        "variable": os.environ.get("OTHER_LAYER"),
        "sitecustomize": getattr(sys, "other_layer_loaded", False),
        "aiolambda_runtime": "aiolambda._core.bootstrap" in sys.modules,
    }
"""

STOCK_RAN = "the stock runtime (/var/runtime/bootstrap.py) ran"


def function(tmp_path: Path, code: str) -> Path:
    task = tmp_path / "task"
    task.mkdir(exist_ok=True)
    (task / "app.py").write_text(code)
    return readable_by_all(task)


def test_a_sync_handler_runs_as_on_lambda(opt: Path, var_runtime: Path, tmp_path: Path) -> None:
    with sandbox(opt=opt, task=function(tmp_path, SYNC), runtime=var_runtime) as box:
        first = box.invoke({"n": 1})
        second = box.invoke({"n": 2})
        limit = int((box.cgroup / "memory.limit_in_bytes").read_text())
        in_sandbox = box.pids()
    finished = box.stop()
    assert first.status == 200, finished.output
    body = first.json()
    assert body["n"] == 1
    assert body["uid"] == UID
    assert body["home"] is None
    assert body["executable"] == "/var/lang/bin/python3.12"
    site = "/opt/python/lib/python3.12/site-packages"
    assert body["sys_path"] == ["/var/task", site, "/opt/python"]
    assert body["aiolambda"] == f"{site}/aiolambda/__init__.py"
    assert body["stock_runtime_loaded"] is False
    assert body["task_root_writable"] == "EROFS"
    assert body["pid"] in in_sandbox
    assert limit == MEMORY_MB * 1024 * 1024
    assert second.json()["n"] == 2
    assert second.json()["pid"] == body["pid"]  # one warm runtime process served both
    # Prints and log lines reach RIE's output, inside their own invocation.
    (first_id, first_lines), (second_id, second_lines) = finished.segments()
    assert (first_id, second_id) == (body["request_id"], second.json()["request_id"])
    assert first_lines[0] == "printed by the handler 1"
    assert first_lines[1].startswith("[WARNING]\t")
    assert first_lines[1].endswith(f"\t{first_id}\tlogged by the handler 1")
    assert second_lines[0] == "printed by the handler 2"
    assert STOCK_RAN not in finished.output


def test_an_async_handler_runs_on_the_layers_uvloop(
    opt: Path, var_runtime: Path, tmp_path: Path
) -> None:
    with sandbox(opt=opt, task=function(tmp_path, ASYNC), runtime=var_runtime) as box:
        reply = box.invoke({})
    finished = box.stop()
    assert reply.status == 200, finished.output
    body = reply.json()
    assert body["loop"] == "uvloop"
    assert 0 < body["remaining_ms"] <= 10_000
    ((request_id, lines),) = finished.segments()
    assert request_id == body["request_id"]
    assert lines[0] == "printed by the async handler"
    assert lines[1].startswith("[ERROR]\t")
    assert lines[1].endswith(f"\t{request_id}\tlogged by the async handler")


def test_an_error_comes_back_as_error_json_and_one_log_entry(
    opt: Path, var_runtime: Path, tmp_path: Path
) -> None:
    with sandbox(opt=opt, task=function(tmp_path, FAILING), runtime=var_runtime) as box:
        reply = box.invoke({"why": "testing"})
    finished = box.stop()
    assert reply.status == 200, finished.output  # RIE: function errors are a 200 with the JSON
    error = reply.json()
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "no good: testing"
    assert error["requestId"] == finished.segments()[0][0]
    assert any('raise ValueError("no good: " + event["why"])' in e for e in error["stackTrace"])
    ((_, lines),) = finished.segments()
    assert lines[0].startswith("[ERROR] ValueError: no good: testing"), lines


@pytest.mark.parametrize("handler", ["app.handler", "app.blocking"])
def test_a_timeout_is_reported_and_the_next_invocation_is_served(
    opt: Path, var_runtime: Path, tmp_path: Path, handler: str
) -> None:
    task = function(tmp_path, SLOW)
    with sandbox(opt=opt, task=task, runtime=var_runtime, handler=handler, timeout_s=1) as box:
        timed_out = box.invoke({"sleep": True})
        after = box.invoke({})
    finished = box.stop()
    # aiolambda answers shortly before the deadline (AIOLAMBDA_TIMEOUT_MARGIN_MS). A sync
    # handler's thread cannot be stopped: the runtime answers, then exits to be restarted,
    # and RIE turns that exit into a 502 around the same error document.
    assert timed_out.status == (200 if handler == "app.handler" else 502), finished.output
    assert timed_out.json()["errorType"] == "Function.Timeout"
    assert "deadline" in timed_out.json()["errorMessage"]
    assert after.status == 200, finished.output
    assert after.json() == "awake"


def _with_orjson(tmp_path: Path, wheel: Path) -> Path:
    task = tmp_path / "task"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(task)
    return function(tmp_path, OWN_ORJSON)


def test_the_functions_own_orjson_wins_over_the_layers(
    opt: Path, var_runtime: Path, orjson_wheels: dict[str, Path], tmp_path: Path
) -> None:
    task = _with_orjson(tmp_path, orjson_wheels[OLDER_ORJSON])
    with sandbox(opt=opt, task=task, runtime=var_runtime) as box:
        reply = box.invoke({"b": [1, 2]})
    finished = box.stop()
    assert reply.status == 200, finished.output
    assert reply.json() == {
        "version": OLDER_ORJSON,
        "file": "/var/task/orjson/__init__.py",
        "runtime_uses_it": True,
        "encoded": '{"b":[1,2]}',
    }


def test_an_orjson_too_old_for_the_runtime_is_one_init_error(
    opt: Path, var_runtime: Path, orjson_wheels: dict[str, Path], tmp_path: Path
) -> None:
    task = _with_orjson(tmp_path, orjson_wheels[TOO_OLD_ORJSON])
    with sandbox(opt=opt, task=task, runtime=var_runtime) as box:
        reply = box.invoke({})
    finished = box.stop()
    message = (
        f"aiolambda needs orjson>=3.10, but orjson {TOO_OLD_ORJSON} comes first on sys.path "
        "(/var/task/orjson): ship orjson>=3.10 with the function, or leave it out to use "
        "the one installed with aiolambda"
    )
    # RIE answers the invocation that waited for the failed init with the init error.
    assert reply.status == 502, finished.output
    assert reply.json()["errorType"] == "Runtime.ImportModuleError"
    assert reply.json()["errorMessage"] == message
    assert f"[ERROR] Runtime.ImportModuleError: {message}" in finished.output
    assert STOCK_RAN not in finished.output


def test_a_chained_exec_wrapper_and_aiolambda_both_take_effect(
    opt_with_another_layer: Path, var_runtime: Path, tmp_path: Path
) -> None:
    with sandbox(
        opt=opt_with_another_layer,
        task=function(tmp_path, CHAINED),
        runtime=var_runtime,
        env={"AIOLAMBDA_EXEC_WRAPPER": "/opt/other-wrapper"},
    ) as box:
        reply = box.invoke({})
    finished = box.stop()
    assert reply.status == 200, finished.output
    assert reply.json() == {
        "variable": "instrumented",
        "sitecustomize": True,
        "aiolambda_runtime": True,
    }
    assert STOCK_RAN not in finished.output


HOG = """\
def handler(event, context):
    hoard = b"x" * (event["mb"] * 1024 * 1024)  # written, so every page is really used
    return len(hoard) // (1024 * 1024)
"""


def test_the_memory_limit_holds_for_the_function(
    opt: Path, var_runtime: Path, tmp_path: Path
) -> None:
    with sandbox(opt=opt, task=function(tmp_path, HOG), runtime=var_runtime) as box:
        fits = box.invoke({"mb": 32})
        too_much = box.invoke({"mb": 2 * MEMORY_MB})
        after = box.invoke({"mb": 32})
    finished = box.stop()
    assert fits.json() == 32, finished.output
    # Over the limit the kernel kills the runtime, as on Lambda (the group holds RIE too).
    assert too_much.status == 502, finished.output
    assert too_much.json()["errorType"] == "Runtime.ExitError"
    assert too_much.json()["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert after.json() == 32, finished.output
