"""AIOLAMBDA_EXEC_WRAPPER: another layer's exec wrapper (ADOT's /opt/otel-instrument, ...)
runs in the chain after /opt/aiolambda, so both layers take effect.

The stand-in follows the usual contract of such wrappers: it gets the command as "$@",
exports variables (here, as ADOT does, a PYTHONPATH entry with a sitecustomize.py) and
``exec "$@"``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aiolambda.emulator import Emulator
from tests.lambda_env import lambda_environ

STAND_IN = """\
#!/bin/sh
export OTHER_LAYER=instrumented
export PYTHONPATH="{site}${{PYTHONPATH:+:$PYTHONPATH}}"
exec "$@"
"""
SITECUSTOMIZE = "import sys\nsys.other_layer_loaded = True\n"

HANDLER = """\
import os, sys

def handler(event, context):
    return {
        "variable": os.environ.get("OTHER_LAYER"),
        "sitecustomize": getattr(sys, "other_layer_loaded", False),
        "aiolambda_runtime": "aiolambda._core.bootstrap" in sys.modules,
        "stock_runtime": "awslambdaric" in sys.modules,
    }
"""

# Stands in for /var/runtime/bootstrap.py: records what the chained wrapper exported.
STOCK = """\
import json, os, sys
with open(os.environ["STOCK_MARKER"], "w") as f:
    json.dump({"argv": sys.argv, "variable": os.environ.get("OTHER_LAYER")}, f)
"""


def stand_in_wrapper(directory: Path, deployed_at: str | None = None) -> Path:
    """An ADOT-like exec wrapper at ``directory/other-wrapper`` (a stand-in for /opt/...).

    ``deployed_at``: where ``directory`` is seen by the function (``/opt`` in a sandbox).
    """
    site = directory / "other-layer-python"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    wrapper = directory / "other-wrapper"
    seen = f"{deployed_at}/other-layer-python" if deployed_at else str(site)
    wrapper.write_text(STAND_IN.format(site=seen))
    wrapper.chmod(0o755)
    return wrapper


def _function(tmp_path: Path) -> Path:
    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "app.py").write_text(HANDLER)
    return task_root


async def test_a_chained_wrapper_and_aiolambda_both_take_effect(
    host_opt: Path, tmp_path: Path
) -> None:
    other = stand_in_wrapper(tmp_path)
    stock = tmp_path / "bootstrap.py"
    stock.write_text(STOCK)
    wrapper = str(host_opt / "aiolambda")
    env = {"AWS_LAMBDA_EXEC_WRAPPER": wrapper, "AIOLAMBDA_EXEC_WRAPPER": str(other)}
    async with Emulator(
        "app.handler",
        task_root=_function(tmp_path),
        bootstrap=[wrapper, sys.executable, str(stock)],
        env={**env, "STOCK_MARKER": str(tmp_path / "stock-ran.json")},
        timeout=30,
        init_timeout=30,
    ) as emu:
        result = await emu.invoke({})
    assert result.function_error is None, result.payload
    assert result.json() == {
        "variable": "instrumented",
        "sitecustomize": True,
        "aiolambda_runtime": True,
        "stock_runtime": False,
    }
    assert not (tmp_path / "stock-ran.json").exists()


def _run(host_opt: Path, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    stock = tmp_path / "bootstrap.py"
    stock.write_text(STOCK)
    env = lambda_environ(
        AWS_LAMBDA_EXEC_WRAPPER=str(host_opt / "aiolambda"),
        STOCK_MARKER=str(tmp_path / "stock-ran.json"),
        **extra,
    )
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(host_opt / "aiolambda"), sys.executable, str(stock)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_with_aiolambda_disabled_the_chained_wrapper_still_runs_the_stock_runtime(
    host_opt: Path, tmp_path: Path
) -> None:
    other = stand_in_wrapper(tmp_path)
    done = _run(host_opt, tmp_path, AIOLAMBDA_DISABLE="1", AIOLAMBDA_EXEC_WRAPPER=str(other))
    assert done.returncode == 0, done.stderr
    ran = json.loads((tmp_path / "stock-ran.json").read_text())
    assert ran == {"argv": [str(tmp_path / "bootstrap.py")], "variable": "instrumented"}


def test_a_chained_wrapper_that_is_not_executable_is_one_clear_line(
    host_opt: Path, tmp_path: Path
) -> None:
    other = stand_in_wrapper(tmp_path)
    other.chmod(0o644)
    done = _run(host_opt, tmp_path, AIOLAMBDA_EXEC_WRAPPER=str(other))
    assert done.returncode == 126
    assert done.stderr == f"aiolambda: AIOLAMBDA_EXEC_WRAPPER={other} is not an executable file\n"
    assert not (tmp_path / "stock-ran.json").exists()


@pytest.mark.parametrize("how", ["same path", "symbolic link"])
def test_chaining_aiolambda_to_itself_is_one_clear_line(
    host_opt: Path, tmp_path: Path, how: str
) -> None:
    itself = host_opt / "aiolambda"
    if how == "symbolic link":
        link = tmp_path / "link"
        os.symlink(itself, link)
        itself = link
    done = _run(host_opt, tmp_path, AIOLAMBDA_EXEC_WRAPPER=str(itself))
    assert done.returncode == 2
    assert done.stderr == (
        f"aiolambda: AIOLAMBDA_EXEC_WRAPPER={itself} is this wrapper: name the other layer's\n"
    )
