"""The package as the index would serve it: built, installed by name into a fresh venv, run.

Needs the package index (``index`` marker): the build backend and the runtime
dependencies are installed from it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

import aiolambda
from tests.venvs import REPO, VenvCache, venv_env

DIST_NAME = "aiolambda-runtime"  # `aiolambda` on the index is an unrelated project
# Building a fresh venv (in fixture setup, which the timeout covers) takes minutes.
pytestmark = [pytest.mark.index, pytest.mark.timeout(600)]


def _metadata_name(text: str) -> str:
    return str(HeaderParser().parsestr(text)["Name"])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist) from ``python -m build``: the sdist, then the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    return wheel, sdist


def test_wheel_and_sdist_carry_the_distribution_name(built: tuple[Path, Path]) -> None:
    wheel, sdist = built
    stem = DIST_NAME.replace("-", "_")
    assert wheel.name == f"{stem}-{aiolambda.__version__}-py3-none-any.whl"
    assert sdist.name == f"{stem}-{aiolambda.__version__}.tar.gz"
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        assert _metadata_name(archive.read(metadata).decode()) == DIST_NAME
        # The import name stays `aiolambda`, and so does the command.
        assert f"{stem}-{aiolambda.__version__}.dist-info/entry_points.txt" in archive.namelist()
        entry_points = archive.read(metadata.replace("METADATA", "entry_points.txt")).decode()
        assert "aiolambda = aiolambda.cli:main" in entry_points
        assert "aiolambda/__init__.py" in archive.namelist()
    with tarfile.open(sdist) as archive:
        [pkg_info] = [n for n in archive.getnames() if n.count("/") == 1 and n.endswith("PKG-INFO")]
        member = archive.extractfile(pkg_info)
        assert member is not None
        assert _metadata_name(member.read().decode()) == DIST_NAME


def test_a_fresh_venv_installs_the_wheel_and_runs_the_hello_example(
    built: tuple[Path, Path], venvs: VenvCache, tmp_path: Path
) -> None:
    wheel, _ = built
    venv = venvs.get(str(wheel))
    env = venv_env(venv)
    # Run outside the checkout, so nothing can import aiolambda from the source tree.
    shown = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "show", DIST_NAME],
        capture_output=True, text=True, timeout=60, check=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert f"Name: {DIST_NAME}" in shown.stdout
    location = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import aiolambda; print(aiolambda.__file__)"],
        capture_output=True, text=True, timeout=60, check=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert Path(location.stdout.strip()).is_relative_to(venv)
    hello = REPO / "examples" / "hello"
    done = subprocess.run(
        [str(venv / "bin" / "aiolambda"), "invoke", "--task-root", str(hello), "app.handler",
         "--event", '{"name": "Ada"}'],
        capture_output=True, text=True, timeout=120, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["message"] == "Hello, Ada!"
