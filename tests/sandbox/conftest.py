"""The sandbox tier's shared pieces: the layer for Python 3.12, built once per session.

Building needs the package index (pip download), like the layer tests. Where the
machine cannot build the sandbox (not root, no ``unshare``, no RIE, no Python 3.12,
no cgroup v1 memory controller) the tier is skipped with the reason; under CI=true
it fails instead, so a CI machine that lost a capability cannot hide a regression.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aiolambda._layer import Target, build_layer
from tests.layer.conftest import download_orjson, unpack
from tests.layer.test_layer_chaining import stand_in_wrapper
from tests.sandbox.sandbox import PYTHON, interpreter_prefix, missing, runtime_dir

OLDER_ORJSON = "3.10.18"  # older than the layer's, new enough for the runtime
TOO_OLD_ORJSON = "3.9.15"  # below the runtime's floor, orjson>=3.10


def readable_by_all(root: Path) -> Path:
    """Modes as Lambda gives a deployment package: directories 0755, files 0644 (or 0755)."""
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
        elif not path.is_symlink():
            path.chmod(0o755 if path.stat().st_mode & 0o100 else 0o644)
    return root


@pytest.fixture(scope="session")
def sandbox_ready() -> None:
    """Skips the tier, saying why, where the machine cannot build it; fails it in CI."""
    reason = missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sandbox tier cannot run in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def sandbox_layer(sandbox_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer for python3.12 on this CPU, as `aiolambda layer build` makes it (its zip)."""
    prefix = interpreter_prefix()
    assert prefix is not None
    build = build_layer(
        Target(PYTHON, Target.host().arch),
        tmp_path_factory.mktemp("sandbox-layer"),
        compile_with=str(prefix / "bin" / f"python{PYTHON}"),
    )
    return build.path


@pytest.fixture(scope="session")
def opt(sandbox_layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/opt with the aiolambda layer alone."""
    return readable_by_all(unpack(sandbox_layer, tmp_path_factory.mktemp("opt")))


@pytest.fixture(scope="session")
def opt_with_another_layer(sandbox_layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/opt with the aiolambda layer and an ADOT-like one (its exec wrapper, /opt/other-wrapper)."""
    opt = unpack(sandbox_layer, tmp_path_factory.mktemp("opt-two-layers"))
    stand_in_wrapper(opt, deployed_at="/opt")
    return readable_by_all(opt)


@pytest.fixture(scope="session")
def var_runtime(sandbox_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return readable_by_all(runtime_dir(tmp_path_factory.mktemp("var-runtime")))


@pytest.fixture(scope="session")
def orjson_wheels(sandbox_ready: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real orjson wheels for CPython 3.12 on this CPU, from the package index, by version."""
    dest = tmp_path_factory.mktemp("wheels")
    versions = (OLDER_ORJSON, TOO_OLD_ORJSON)
    return {version: download_orjson(version, dest, python=PYTHON) for version in versions}
