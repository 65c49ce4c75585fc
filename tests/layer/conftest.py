"""Session-wide layer builds, shared by the layer tests so each target is built once.

Building needs the package index (pip download); pip's HTTP cache makes the
repeated builds in this directory cheap.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aiolambda._layer import LayerBuild, Target, build_layer

if TYPE_CHECKING:
    from collections.abc import Callable

CROSS_TARGET = Target("3.12", "arm64")


@pytest.fixture(scope="session")
def host_layer(tmp_path_factory: pytest.TempPathFactory) -> LayerBuild:
    """The layer for this interpreter and CPU, built once per session."""
    return build_layer(Target.host(), tmp_path_factory.mktemp("host-layer"))


@pytest.fixture(scope="session")
def cross_layer(tmp_path_factory: pytest.TempPathFactory) -> LayerBuild:
    """A layer for another CPU than this host's (arm64, or x86_64 on an arm64 host).

    With the aiohttp transport: the most wheels with shared objects to check.
    """
    target = CROSS_TARGET
    if Target.host().arch == "arm64":
        target = Target("3.12", "x86_64")
    return build_layer(target, tmp_path_factory.mktemp("cross-layer"), transport="aiohttp")


def unpack(zip_path: Path, dest: Path) -> Path:
    """Unpack like Lambda does into ``dest`` (standing in for /opt), keeping modes."""
    dest.mkdir(parents=True, exist_ok=True)
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", "-o", str(zip_path), "-d", str(dest)], check=True)
        return dest
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = Path(archive.extract(info, dest))
            target.chmod(stat.S_IMODE(info.external_attr >> 16))
    return dest


@pytest.fixture(scope="session")
def unpack_layer() -> Callable[[Path, Path], Path]:
    """The ``unpack(zip_path, dest)`` helper, for tests that unpack a layer themselves."""
    return unpack


@pytest.fixture(scope="session")
def host_opt(host_layer: LayerBuild, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host layer unpacked into a directory standing in for /opt."""
    return unpack(host_layer.path, tmp_path_factory.mktemp("opt"))


def find_interpreter(version: str) -> str | None:
    """A working ``pythonX.Y`` on this machine (PATH first, then pyenv's versions)."""
    home = Path.home()
    candidates = [shutil.which(f"python{version}")]
    pyenv = sorted(home.glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    candidates += [str(p) for p in pyenv]
    for candidate in candidates:
        if candidate is None:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


@pytest.fixture(scope="session")
def other_python_opt(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(interpreter, unpacked layer) for a Python other than the one running the tests.

    That interpreter has none of aiolambda's dependencies installed, so a working
    invocation proves the layer alone supplies them.
    """
    host = Target.host()
    for version in ("3.12", "3.13", "3.14"):
        if version == host.python:
            continue
        interpreter = find_interpreter(version)
        if interpreter is not None:
            build = build_layer(Target(version, host.arch), tmp_path_factory.mktemp("other-layer"))
            return interpreter, unpack(build.path, tmp_path_factory.mktemp("other-opt"))
    pytest.skip("no second Python interpreter (3.12-3.14) on this machine")


def download_wheel(name: str, version: str, dest: Path, python: str | None = None) -> Path:
    """The real ``name`` ``version`` wheel for ``python`` (X.Y; default: this interpreter).

    From the package index, like the layer build; manylinux x86_64/aarch64 per this CPU.
    """
    import platform
    import sys

    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", f"{name}=={version}"]
    command += ["--only-binary", ":all:", "--no-deps", "-q", "-d", str(dest)]
    if python is not None:
        command += ["--python-version", python, "--platform", f"manylinux2014_{platform.machine()}"]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    tag = "cp" + (python or f"{sys.version_info[0]}.{sys.version_info[1]}").replace(".", "")
    (wheel,) = dest.glob(f"{name}-{version}-{tag}-*.whl")
    return wheel


def download_orjson(version: str, dest: Path, python: str | None = None) -> Path:
    """The real orjson ``version`` wheel (see :func:`download_wheel`)."""
    return download_wheel("orjson", version, dest, python)


def function_shipping_orjson(wheel: Path, task_root: Path, handler: str) -> Path:
    """A deployment package: the unpacked wheel (orjson's, ...) beside ``app.py`` (``handler``)."""
    task_root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(task_root)
    (task_root / "app.py").write_text(handler)
    return task_root
