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
    """A layer for another CPU than this host's (arm64, or x86_64 on an arm64 host)."""
    target = CROSS_TARGET
    if Target.host().arch == "arm64":
        target = Target("3.12", "x86_64")
    return build_layer(target, tmp_path_factory.mktemp("cross-layer"))


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
