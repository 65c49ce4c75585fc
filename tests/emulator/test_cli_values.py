"""Every value of ``aiolambda serve``/``invoke`` is checked before anything starts.

A bad value gets one line on stderr naming the option and what it accepts, exit
status 2, and no traceback. Run as a user runs them: in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from aiolambda import __version__
from aiolambda.emulator import Emulator
from aiolambda.emulator._cli_common import bootstrap_command, int_option, seconds_option

from ._support import HERE

if TYPE_CHECKING:
    from pathlib import Path

CLI = [sys.executable, "-m", "aiolambda.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = subprocess.run(
        [*CLI, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd=HERE,
        env=env,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


TIMEOUT = "greater than 0 and at most 900"
PORT = "from 0 to 65535"
MEMORY = "from 128 to 10240"
CONCURRENCY = "from 1 to 1600"

BAD_VALUES = [
    ("invoke", "--timeout", "0", TIMEOUT),
    ("invoke", "--timeout", "-1", TIMEOUT),
    ("invoke", "--timeout", "901", TIMEOUT),
    ("invoke", "--timeout", "nan", TIMEOUT),
    ("invoke", "--timeout", "soon", TIMEOUT),
    ("serve", "--timeout", "0", TIMEOUT),
    ("serve", "--port", "99999", PORT),
    ("serve", "--port", "-1", PORT),
    ("serve", "--port", "http", PORT),
    ("serve", "--runtime-api-port", "99999", PORT),
    ("serve", "--concurrency", "0", CONCURRENCY),
    ("serve", "--concurrency", "-3", CONCURRENCY),
    ("serve", "--concurrency", "100000", CONCURRENCY),
    ("serve", "--concurrency", "2.5", CONCURRENCY),
    ("invoke", "--memory", "-5", MEMORY),
    ("invoke", "--memory", "127", MEMORY),
    ("invoke", "--memory", "10241", MEMORY),
    ("serve", "--memory", "1e3", MEMORY),
    ("invoke", "--function-name", "a/b", "letters, digits, hyphens or underscores"),
    ("invoke", "--function-name", "x" * 65, "1 to 64"),
    ("invoke", "--env", "NOEQUALS", "NAME=VALUE"),
    ("serve", "--env", "=1", "NAME=VALUE"),
    ("invoke", "--task-root", "/nonexistent/dir", "existing directory"),
]


@pytest.mark.parametrize(("command", "option", "value", "expected"), BAD_VALUES)
def test_a_bad_value_gets_one_line_and_exit_2(
    command: str, option: str, value: str, expected: str
) -> None:
    code, out, err = run_cli(command, "fn.sync_app.echo", option, value)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert f"argument {option}: " in err and expected in err and repr(value) in err


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["a", "b"], {}, "unrecognized arguments: b"),
        (["a", "--timeout", "3"], {}, "unrecognized arguments: --timeout"),
        (["a"], {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:99999"}, "is not host:port"),
        (["a"], {"AWS_LAMBDA_MAX_CONCURRENCY": "0"}, "AWS_LAMBDA_MAX_CONCURRENCY=0"),
    ],
)
def test_run_gets_one_line_too(args: list[str], env: dict[str, str], expected: str) -> None:
    # aiolambda run's values come from Lambda's environment; each is checked at start.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIOLAMBDA_"))}
    base["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:9"
    code, out, err = run_cli("run", *args, env={**base, **env})
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


@pytest.mark.parametrize("event", ["{not json", "NaN", '{"a": Infinity}', "[1] [2]"])
def test_an_event_lambda_would_refuse_is_refused_before_starting(event: str) -> None:
    code, out, err = run_cli("invoke", "fn.sync_app.echo", "--event", event)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "not valid JSON" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"timeout": 0}, "timeouts must be positive"),
        ({"timeout": float("nan")}, "timeouts must be positive"),
        ({"init_timeout": -1}, "timeouts must be positive"),
        ({"memory": -5}, "memory must be from 128 to 10240"),
        ({"memory": 10_241}, "memory must be from 128 to 10240"),
        ({"concurrency": 0}, "concurrency must be from 1 to 1600"),
        ({"concurrency": 100_000}, "concurrency must be from 1 to 1600"),
    ],
)
def test_the_python_api_refuses_the_same_values(kwargs: dict[str, float], expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        Emulator("app.handler", **kwargs)  # type: ignore[arg-type]


def test_the_bounds_themselves_are_accepted() -> None:
    port = int_option(0, 65_535)
    assert (port("0"), port("65535")) == (0, 65_535)
    assert int_option(128, 10_240)("10240") == 10_240
    assert int_option(1, 1_600)("1600") == 1_600
    assert (seconds_option("0.25"), seconds_option("900")) == (0.25, 900.0)


def test_version_and_help() -> None:
    for flag in ("-V", "--version"):
        code, out, err = run_cli(flag)
        assert (code, out, err) == (0, f"{__version__}\n", "")
    code, out, _ = run_cli("--help")
    assert code == 0
    assert "-V, --version" in out


# -- the bootstrap command after "--" ----------------------------------------------------
def test_bootstrap_placeholder_and_bare_python() -> None:
    command = bootstrap_command(["python", "-m", "awslambdaric", "{handler}"], "app.handler")
    assert command == [sys.executable, "-m", "awslambdaric", "app.handler"]
    assert bootstrap_command(["python3", "--handler={handler}"], "a.b") == [
        sys.executable,
        "--handler=a.b",
    ]
    assert bootstrap_command(["./bootstrap", "python"], "a.b") == ["./bootstrap", "python"]
    assert bootstrap_command([], "a.b") is None


def test_invoke_runs_the_placeholder_command_with_this_interpreter(tmp_path: Path) -> None:
    # A PATH whose "python" is not this interpreter (and has no awslambdaric): the
    # command must still run, with this interpreter and the handler filled in.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "python"
    fake.write_text("#!/bin/sh\necho 'the wrong python' >&2\nexit 97\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    env["PYTHONUNBUFFERED"] = "1"  # the developer's shell: must not reach the function
    code, out, err = run_cli(
        "invoke", "fn.fidelity_app.python_env", "--env", "PYTHONHASHSEED=0",
        "--", "python", "-m", "awslambdaric", "{handler}",
        env=env,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == {"PYTHONHASHSEED": "0"}
    assert "the wrong python" not in err


def test_an_absolute_handler_path_runs_from_its_directory() -> None:
    # Tab completion gives /abs/dir/app.handler; as _HANDLER it would be a relative
    # import of ".abs.dir.app" (a TypeError inside the runtime). It runs instead.
    code, out, err = run_cli("invoke", f"{HERE}/fn/sync_app.echo", "--event", '{"n": 7}', "-q")
    assert code == 0, err
    assert json.loads(out)["event"] == {"n": 7}


@pytest.mark.parametrize(
    ("handler", "extra", "expected"),
    [
        (f"{HERE}/fn/sync_app.echo", ["--task-root", str(HERE)], "give it relative to that"),
        ("/no/such/dir/app.handler", [], "'/no/such/dir' is not a directory"),
        (f"{HERE}/fn/sync_app", [], "names no function"),
    ],
)
def test_an_absolute_handler_that_cannot_work_gets_one_line(
    handler: str, extra: list[str], expected: str
) -> None:
    code, out, err = run_cli("invoke", handler, *extra)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and expected in err, err
    assert "Traceback" not in err
