"""The function's own packages win over the layer's (and the venv's), as Lambda documents.

A deployment package that ships orjson 3.10.18 (a real wheel from the package index)
gets that copy under ``python -m aiolambda`` and under the layer's exec wrapper, and
the runtime uses the same copy; one too old for the runtime fails init with one line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest

from aiolambda.emulator import Emulator
from tests.layer.conftest import download_orjson, download_wheel, function_shipping_orjson

if TYPE_CHECKING:
    from collections.abc import Sequence

OLDER = "3.10.18"  # older than the layer's and the venv's, new enough for the runtime
TOO_OLD = "3.9.15"  # below the runtime's floor, orjson>=3.10

# Reports the orjson the handler imported and the one the runtime's modules hold.
HANDLER = """\
import sys
import orjson

def handler(event, context):
    from aiolambda._core import errors, logs
    return {
        "version": orjson.__version__,
        "file": orjson.__file__,
        "runtime_uses_it": errors.orjson is orjson and logs.orjson is orjson,
    }
"""


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dest = tmp_path_factory.mktemp("orjson-wheels")
    return {version: download_orjson(version, dest) for version in (OLDER, TOO_OLD)}


def test_the_wheels_are_older_than_what_the_runtime_would_otherwise_use() -> None:
    assert orjson.__version__ != OLDER
    assert tuple(map(int, orjson.__version__.split(".")[:2])) > (3, 10)


async def _invoke(task_root: Path, bootstrap: Sequence[str] | None, env: dict[str, str]) -> object:
    async with Emulator(
        "app.handler",
        task_root=task_root,
        bootstrap=bootstrap,
        env=env,
        timeout=30,
        init_timeout=30,
    ) as emu:
        result = await emu.invoke({})
    assert result.function_error is None, result.payload
    return result.json()


def _wrapper(opt: Path, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    stock = tmp_path / "bootstrap.py"
    stock.write_text("raise SystemExit('the stock runtime ran')\n")
    wrapper = str(opt / "aiolambda")
    return [wrapper, sys.executable, str(stock)], {"AWS_LAMBDA_EXEC_WRAPPER": wrapper}


async def test_python_m_aiolambda_uses_the_functions_own_orjson(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    """Pins behaviour rather than guarding the fix: started in the task root, as Lambda
    starts a container image, ``-m`` already put it first before ``__main__`` did."""
    task_root = function_shipping_orjson(wheels[OLDER], tmp_path / "task", HANDLER)
    body = await _invoke(task_root, None, {})
    assert body == {
        "version": OLDER,
        "file": str(task_root / "orjson" / "__init__.py"),
        "runtime_uses_it": True,
    }


async def test_the_layer_wrapper_uses_the_functions_own_orjson(
    wheels: dict[str, Path], host_opt: Path, tmp_path: Path
) -> None:
    task_root = function_shipping_orjson(wheels[OLDER], tmp_path / "task", HANDLER)
    bootstrap, env = _wrapper(host_opt, tmp_path)
    body = await _invoke(task_root, bootstrap, env)
    assert body == {
        "version": OLDER,
        "file": str(task_root / "orjson" / "__init__.py"),
        "runtime_uses_it": True,
    }


@pytest.mark.parametrize("through", ["python -m aiolambda", "the layer wrapper"])
async def test_an_orjson_too_old_for_the_runtime_fails_init_with_one_line(
    wheels: dict[str, Path], host_opt: Path, tmp_path: Path, through: str
) -> None:
    task_root = function_shipping_orjson(wheels[TOO_OLD], tmp_path / "task", HANDLER)
    bootstrap, env = (
        _wrapper(host_opt, tmp_path) if through != "python -m aiolambda" else (None, {})
    )
    async with Emulator(
        "app.handler",
        task_root=task_root,
        bootstrap=bootstrap,
        env=env,
        timeout=30,
        init_timeout=30,
    ) as emu:
        error = await emu.wait_init_error()
        logs = emu.logs
    message = (
        f"aiolambda needs orjson>=3.10, but orjson {TOO_OLD} comes first on sys.path "
        f"({task_root / 'orjson'}): ship orjson>=3.10 with the function, or leave it out "
        "to use the one installed with aiolambda"
    )
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == message
    assert f"[ERROR] Runtime.ImportModuleError: {message}" in logs.splitlines()


def test_the_runtime_floors_are_pyprojects() -> None:
    import re
    import tomllib

    from aiolambda._core.precedence import MINIMUM_VERSIONS

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    floors = {}
    for requirement in pyproject["project"]["dependencies"]:
        found = re.fullmatch(r"([a-z]+)>=(\d+)\.(\d+)(;.*)?", requirement.replace(" ", ""))
        if found and found[1] in MINIMUM_VERSIONS:
            floors[found[1]] = (int(found[2]), int(found[3]))
    assert floors == MINIMUM_VERSIONS


# What installing the index's project named aiolambda put into deployment packages: an
# unrelated project.
NOT_THE_RUNTIME = "raise ImportError('an unrelated project that is also called aiolambda')\n"

PROBE = """\
import aiolambda

def handler(event, context):
    return {"aiolambda": aiolambda.__file__}
"""


async def test_the_layer_runs_its_own_aiolambda_whatever_the_function_ships(
    host_opt: Path, tmp_path: Path
) -> None:
    """As the stock runtime runs its own awslambdaric: the wrapper and its package match."""
    task_root = tmp_path / "task"
    (task_root / "aiolambda").mkdir(parents=True)
    (task_root / "aiolambda" / "__init__.py").write_text(NOT_THE_RUNTIME)
    (task_root / "app.py").write_text(PROBE)
    bootstrap, env = _wrapper(host_opt, tmp_path)
    body = await _invoke(task_root, bootstrap, env)
    site = host_opt / "python" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert body == {"aiolambda": str(site / "site-packages" / "aiolambda" / "__init__.py")}


async def test_a_uvloop_too_old_for_the_runtime_fails_init_with_one_line(tmp_path: Path) -> None:
    """uvloop 0.18.0, a real wheel: the runtime imports it for an async handler's loop, then
    names it (a sync handler's driver never imports uvloop, so its copy does not matter)."""
    wheel = download_wheel("uvloop", "0.18.0", tmp_path / "wheels")
    source = "async def handler(e, c):\n    pass\n"
    task_root = function_shipping_orjson(wheel, tmp_path / "task", source)
    async with Emulator("app.handler", task_root=task_root, timeout=30, init_timeout=30) as emu:
        error = await emu.wait_init_error()
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == (
        f"aiolambda needs uvloop>=0.19, but uvloop 0.18.0 comes first on sys.path "
        f"({task_root / 'uvloop'}): ship uvloop>=0.19 with the function, or leave it out "
        "to use the one installed with aiolambda"
    )
