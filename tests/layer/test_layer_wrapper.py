"""The exec wrapper, run from an unpacked layer exactly as Lambda's managed bootstrap runs it.

Lambda's ``/var/runtime/bootstrap`` does ``exec "$AWS_LAMBDA_EXEC_WRAPPER"
/var/lang/bin/python3.X /var/runtime/bootstrap.py``; here a temporary directory
stands in for ``/opt``, this interpreter for ``/var/lang/bin/python3.X`` and a fake
stock bootstrap (which only leaves a marker file) for ``/var/runtime/bootstrap.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ci import skip_or_fail
from tests.lambda_env import lambda_environ
from tests.layer.test_layer_chaining import stand_in_wrapper

HANDLERS_DIR = Path(__file__).resolve().parent / "handlers"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

FAKE_STOCK_BOOTSTRAP = """\
import json, os, sys
marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stock-ran.json")
with open(marker, "w") as f:
    json.dump({
        "argv": sys.argv,
        "executable": sys.executable,
        "opt_dir": os.environ.get("AIOLAMBDA_OPT_DIR"),
        "pythonpath": os.environ.get("PYTHONPATH"),
    }, f)
"""

# Records how the wrapper called "python3" when the interpreter it was given is unusable.
FAKE_PYTHON3 = """\
#!/bin/sh
{
    printf '%s\\n' "$#"
    printf 'OPT=%s\\n' "$AIOLAMBDA_OPT_DIR"
    printf 'PYTHONPATH=%s\\n' "${PYTHONPATH-<unset>}"
    for arg in "$@"; do printf '%s\\0' "$arg"; done
} > "$FAKE_PYTHON3_MARKER"
"""

VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


def _site(opt: Path) -> Path:
    return opt / "python" / "lib" / f"python{VERSION}" / "site-packages"


def _stock_bootstrap(directory: Path) -> Path:
    script = directory / "fake-stock-bootstrap.py"
    script.write_text(FAKE_STOCK_BOOTSTRAP)
    (directory / "stock-ran.json").unlink(missing_ok=True)
    return script


def _lambda_env(opt: Path, **extra: str) -> dict[str, str]:
    env = lambda_environ()
    env.pop("PYTHONPATH", None)  # the wrapper sets what the runtime needs
    env.update(
        AWS_LAMBDA_EXEC_WRAPPER=str(opt / "aiolambda"),
        AWS_EXECUTION_ENV=f"AWS_Lambda_python{VERSION}",
        LAMBDA_RUNTIME_DIR=str(opt.parent / "var-runtime"),
        LAMBDA_TASK_ROOT=str(HANDLERS_DIR),
        _HANDLER="layer_probe.handler",
    )
    env.update(extra)
    return env


# -- without a Runtime API ---------------------------------------------------------------


def test_wrapper_is_executable_in_the_unpacked_layer(host_opt: Path) -> None:
    wrapper = host_opt / "aiolambda"
    assert os.access(wrapper, os.X_OK)
    assert wrapper.read_bytes().startswith(b"#!/bin/sh\n")


def test_disabled_wrapper_runs_the_stock_bootstrap_unchanged(
    host_opt: Path, tmp_path: Path
) -> None:
    stock = _stock_bootstrap(tmp_path)
    done = subprocess.run(
        [str(host_opt / "aiolambda"), sys.executable, str(stock)],
        env=_lambda_env(host_opt, AIOLAMBDA_DISABLE="1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ran = json.loads((tmp_path / "stock-ran.json").read_text())
    assert ran["argv"] == [str(stock)]
    assert Path(ran["executable"]).resolve() == Path(sys.executable).resolve()
    assert ran["opt_dir"] is None  # nothing of aiolambda's leaks into the stock runtime
    assert ran["pythonpath"] is None


def test_wrapper_falls_back_to_python3_when_the_interpreter_is_unusable(
    host_opt: Path, tmp_path: Path
) -> None:
    if os.access("/var/lang/bin/python3", os.X_OK):
        pytest.skip("this host has /var/lang/bin/python3, which the wrapper prefers")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(FAKE_PYTHON3)
    fake.chmod(0o755)
    marker = tmp_path / "python3-called"
    env = _lambda_env(
        host_opt, PATH=f"{bin_dir}{os.pathsep}/usr/bin:/bin", FAKE_PYTHON3_MARKER=str(marker)
    )
    # Run it by a relative path from /opt's stand-in: the wrapper still finds its directory.
    done = subprocess.run(
        ["./aiolambda", str(tmp_path / "no-such-python3.99"), str(_stock_bootstrap(tmp_path))],
        cwd=host_opt,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    count, opt_line, pythonpath_line, args_blob = marker.read_text().split("\n", 3)
    args = args_blob.split("\0")[:-1]
    assert int(count) == len(args) == 3
    assert args[:2] == ["-P", "-c"]
    assert "from aiolambda._core.bootstrap import main" in args[2]
    assert Path(opt_line.removeprefix("OPT=")).resolve() == host_opt.resolve()
    assert pythonpath_line == "PYTHONPATH=<unset>"
    assert not (tmp_path / "stock-ran.json").exists()


def test_wrapper_names_a_python_version_the_layer_was_not_built_for(
    host_opt: Path, tmp_path: Path
) -> None:
    opt = tmp_path / "opt"
    opt.mkdir()
    shutil.copy2(host_opt / "aiolambda", opt / "aiolambda")  # a layer with no python/ for us
    done = subprocess.run(
        [str(opt / "aiolambda"), sys.executable, str(_stock_bootstrap(tmp_path))],
        env=_lambda_env(opt),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"aiolambda: this layer has no packages for Python {VERSION} "
        f"({opt.resolve()}/python/lib/python{VERSION}/site-packages is missing); "
        f"build one with: aiolambda layer build --python {VERSION}\n"
    )
    assert not (tmp_path / "stock-ran.json").exists()


# -- end to end, under the local emulator ---------------------------------------------------


def _emulator_class() -> Any:
    # No skip: a runtime that cannot be imported is the regression these tests catch.
    from aiolambda._core import bootstrap  # noqa: F401
    from aiolambda.emulator import Emulator

    return Emulator


async def test_wrapper_serves_an_invocation_from_the_layer(host_opt: Path, tmp_path: Path) -> None:
    emulator = _emulator_class()
    stock = _stock_bootstrap(tmp_path)
    wrapper = host_opt / "aiolambda"
    env = _lambda_env(host_opt)
    async with emulator(
        "layer_probe.handler",
        task_root=HANDLERS_DIR,
        bootstrap=[str(wrapper), sys.executable, str(stock)],
        env={k: env[k] for k in ("AWS_LAMBDA_EXEC_WRAPPER", "AWS_EXECUTION_ENV")},
        timeout=30,
        init_timeout=30,
    ) as emu:
        first = await emu.invoke({"x": 1})
        second = await emu.invoke({"x": 2})
    assert first.status == 200
    assert first.function_error is None, first.payload
    body = first.json()
    site = _site(host_opt)
    assert body["event"] == {"x": 1}
    assert Path(body["aiolambda"]).is_relative_to(site), body["aiolambda"]
    assert Path(body["orjson"]).is_relative_to(site), body["orjson"]
    # The managed runtime's order: task root, the layer's versioned site-packages, /opt/python.
    assert body["sys_path"] == [str(HANDLERS_DIR), str(site), str(host_opt / "python")]
    assert Path(body["opt_dir"]).resolve() == host_opt.resolve()
    # The emulator passes no PYTHON* variable, and the wrapper exports no PYTHONPATH: the
    # layer's path is put on sys.path inside the process only.
    assert body["pythonpath"] is None
    assert second.function_error is None, second.payload
    assert second.json()["event"] == {"x": 2}
    assert second.json()["request_id"] != body["request_id"]
    assert not (tmp_path / "stock-ran.json").exists()  # the stock runtime never ran


async def test_sam_example_handler_runs_through_the_wrapper(host_opt: Path, tmp_path: Path) -> None:
    emulator = _emulator_class()
    wrapper = host_opt / "aiolambda"
    async with emulator(
        "app.handler",
        task_root=EXAMPLES_DIR / "sam" / "function",
        bootstrap=[str(wrapper), sys.executable, str(_stock_bootstrap(tmp_path))],
        env={"AWS_LAMBDA_EXEC_WRAPPER": str(wrapper)},
        timeout=30,
        init_timeout=30,
    ) as emu:
        result = await emu.invoke({"name": "layer"})
    assert result.function_error is None, result.payload
    body = result.json()
    assert body["message"] == "hello, layer"
    assert body["request_id"] == result.request_id
    assert 0 < body["remaining_ms"] <= 30_000


async def test_layer_alone_supplies_the_runtime_to_another_python(
    other_python_opt: tuple[str, Path], tmp_path: Path
) -> None:
    interpreter, opt = other_python_opt
    version = subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    emulator = _emulator_class()
    wrapper = opt / "aiolambda"
    async with emulator(
        "layer_probe.handler",
        task_root=HANDLERS_DIR,
        bootstrap=[str(wrapper), interpreter, str(_stock_bootstrap(tmp_path))],
        env={"AWS_LAMBDA_EXEC_WRAPPER": str(wrapper)},
        timeout=30,
        init_timeout=30,
    ) as emu:
        result = await emu.invoke({"other": True})
    assert result.function_error is None, result.payload
    body = result.json()
    site = opt / "python" / "lib" / f"python{version}" / "site-packages"
    assert body["python"] == version
    assert Path(body["aiolambda"]).is_relative_to(site), body["aiolambda"]
    assert Path(body["orjson"]).is_relative_to(site), body["orjson"]
    assert body["sys_path"] == [str(HANDLERS_DIR), str(site), str(opt / "python")]


# -- flags, options, symlinks and misuse ------------------------------------------------------

# Records the arguments it was started with, under a name the wrapper takes for an interpreter.
FAKE_INTERPRETER = """\
#!/bin/sh
for arg in "$@"; do printf '%s\\0' "$arg"; done > "$FAKE_PYTHON3_MARKER"
"""


def _fake_interpreter(tmp_path: Path) -> tuple[Path, Path]:
    fake = tmp_path / "bin" / f"python{VERSION}"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(FAKE_INTERPRETER)
    fake.chmod(0o755)
    return fake, tmp_path / "interpreter-args"


def _run_wrapper(
    wrapper: Path, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(wrapper), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "On"])
def test_every_true_spelling_of_aiolambda_disable_runs_the_stock_bootstrap(
    host_opt: Path, tmp_path: Path, value: str
) -> None:
    stock = _stock_bootstrap(tmp_path)
    options = ["-X", "utf8", "-W", "ignore::DeprecationWarning"]
    done = _run_wrapper(
        host_opt / "aiolambda",
        [sys.executable, *options, str(stock)],
        _lambda_env(host_opt, AIOLAMBDA_DISABLE=value),
    )
    assert done.returncode == 0, done.stderr
    ran = json.loads((tmp_path / "stock-ran.json").read_text())
    assert ran["argv"] == [str(stock)]
    assert ran["opt_dir"] is None


@pytest.mark.parametrize("value", ["", "0", "false", "No", "off"])
def test_false_spellings_of_aiolambda_disable_keep_aiolambda(
    host_opt: Path, tmp_path: Path, value: str
) -> None:
    fake, marker = _fake_interpreter(tmp_path)
    env = _lambda_env(host_opt, AIOLAMBDA_DISABLE=value, FAKE_PYTHON3_MARKER=str(marker))
    done = _run_wrapper(host_opt / "aiolambda", [str(fake), str(_stock_bootstrap(tmp_path))], env)
    assert done.returncode == 0, done.stderr
    assert marker.read_text().split("\0")[:2] == ["-P", "-c"]


def test_a_bad_aiolambda_disable_value_is_one_clear_line(host_opt: Path, tmp_path: Path) -> None:
    done = _run_wrapper(
        host_opt / "aiolambda",
        [sys.executable, str(_stock_bootstrap(tmp_path))],
        _lambda_env(host_opt, AIOLAMBDA_DISABLE="maybe"),
    )
    assert done.returncode == 2
    assert done.stderr == "aiolambda: AIOLAMBDA_DISABLE=maybe: use 1 or 0\n"
    assert not (tmp_path / "stock-ran.json").exists()


def test_interpreter_options_and_a_runner_module_are_passed_through(
    host_opt: Path, tmp_path: Path
) -> None:
    # What SAM's debug bootstrap runs: python -Xfrozen_modules=off -m debugpy ... bootstrap.py
    fake, marker = _fake_interpreter(tmp_path)
    options = ["-Xfrozen_modules=off", "-X", "utf8", "-m", "debugpy", "--listen", "0.0.0.0:5678"]
    env = _lambda_env(host_opt, FAKE_PYTHON3_MARKER=str(marker))
    done = _run_wrapper(
        host_opt / "aiolambda", [str(fake), *options, "/var/runtime/bootstrap.py"], env
    )
    assert done.returncode == 0, done.stderr
    args = marker.read_text().split("\0")[:-1]
    assert args[: len(options) + 2] == ["-P", *options, "-c"]
    assert "from aiolambda._core.bootstrap import main" in args[-1]
    assert len(args) == len(options) + 3


def test_interpreter_options_reach_the_real_interpreter(host_opt: Path, tmp_path: Path) -> None:
    env = _lambda_env(host_opt)
    env.pop("AWS_LAMBDA_RUNTIME_API", None)  # so main() stops at once, after the imports
    done = _run_wrapper(
        host_opt / "aiolambda",
        [sys.executable, "-X", "importtime", str(_stock_bootstrap(tmp_path))],
        env,
    )
    assert done.returncode == 2
    assert "import time:" in done.stderr  # -X importtime took effect
    assert "| aiolambda._core.bootstrap" in done.stderr
    assert done.stderr.rstrip().endswith(
        "AWS_LAMBDA_RUNTIME_API is not set: aiolambda runs as "
        "a Lambda runtime (use 'aiolambda serve' or 'aiolambda invoke' to run a function locally)"
    )


@pytest.mark.parametrize("relative", [False, True])
def test_wrapper_started_through_a_symlink_finds_its_layer(
    host_opt: Path, tmp_path: Path, relative: bool
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    first = links / "aiolambda-link"
    second = links / "chained"
    target = host_opt / "aiolambda"
    first.symlink_to(os.path.relpath(target, links) if relative else target)
    second.symlink_to(first.name)  # a chain, relative to the link's own directory
    env = _lambda_env(host_opt)
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    done = _run_wrapper(second, [sys.executable, str(_stock_bootstrap(tmp_path))], env)
    # The layer was found (no "this layer has no packages"), so aiolambda itself ran.
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("aiolambda: AWS_LAMBDA_RUNTIME_API is not set"), done.stderr


def test_a_first_argument_that_is_not_an_interpreter_is_refused(
    host_opt: Path, tmp_path: Path
) -> None:
    stock = _stock_bootstrap(tmp_path)
    done = _run_wrapper(host_opt / "aiolambda", [str(stock)], _lambda_env(host_opt))
    assert done.returncode == 126
    assert done.stderr == (
        f"aiolambda: expected a Python interpreter as the first argument, got '{stock}'\n"
    )
    assert not (tmp_path / "stock-ran.json").exists()


@pytest.mark.parametrize("through", ["wrapper", "python -m aiolambda"])
async def test_the_collector_is_on_for_the_handler(
    host_opt: Path, tmp_path: Path, through: str
) -> None:
    """The runtime imports with the collector off; the handler's module and calls never do."""
    emulator = _emulator_class()
    wrapper = host_opt / "aiolambda"
    if through == "wrapper":
        bootstrap = [str(wrapper), sys.executable, str(_stock_bootstrap(tmp_path))]
    else:
        bootstrap = [sys.executable, "-m", "aiolambda"]
    async with emulator(
        "gc_probe.handler",
        task_root=HANDLERS_DIR,
        bootstrap=bootstrap,
        env={"AWS_LAMBDA_EXEC_WRAPPER": str(wrapper)},
        timeout=30,
        init_timeout=30,
    ) as emu:
        result = await emu.invoke({})
    assert result.function_error is None, result.payload
    assert result.json() == {"at_import": True, "in_handler": True}


def test_aiohttp_transport_without_aiohttp_in_the_layer_is_one_clear_line(
    other_python_opt: tuple[str, Path], tmp_path: Path
) -> None:
    interpreter, opt = other_python_opt  # a Python with nothing installed: only the layer
    env = _lambda_env(opt, AIOLAMBDA_TRANSPORT="aiohttp", AWS_LAMBDA_RUNTIME_API="127.0.0.1:9")
    done = _run_wrapper(opt / "aiolambda", [interpreter, str(_stock_bootstrap(tmp_path))], env)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "aiolambda: AIOLAMBDA_TRANSPORT=aiohttp but aiohttp is not installed "
        "(build the layer with: aiolambda layer build --transport aiohttp)\n"
    )


@pytest.mark.parametrize("chained", [False, True], ids=["alone", "chained"])
@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_the_wrapper_starts_the_interpreter_without_forking(
    host_opt: Path, tmp_path: Path, shell: str, chained: bool
) -> None:
    """Each fork (a `$(...)` subshell, a `tr`) costs every cold start ~0.7 ms, more under
    bash, which is /bin/sh on Amazon Linux 2023: the wrapper's usual path has none, nor
    has the hand-over to a chained wrapper (AIOLAMBDA_EXEC_WRAPPER)."""
    strace = shutil.which("strace")
    shell_path = shutil.which(shell)
    if strace is None or shell_path is None:
        skip_or_fail(f"needs strace and {shell} on PATH")
    fake, _ = _fake_interpreter(tmp_path)
    fake.unlink()
    fake.symlink_to(shutil.which("true") or "/bin/true")  # exits at once: no forks of its own
    trace = tmp_path / "trace"
    env = _lambda_env(host_opt, AIOLAMBDA_DISABLE="False")
    if chained:
        env["AIOLAMBDA_EXEC_WRAPPER"] = str(stand_in_wrapper(tmp_path))
    wrapper = [shell_path, str(host_opt / "aiolambda"), str(fake), "-X", "utf8", "/x/bootstrap.py"]
    done = subprocess.run(
        [strace, "-f", "-e", "trace=fork,vfork,clone,clone3", "-o", str(trace), *wrapper],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 and "ptrace" in done.stderr:
        skip_or_fail(f"strace cannot trace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    forks = [line for line in trace.read_text().splitlines() if "exited with" not in line]
    assert forks == []
