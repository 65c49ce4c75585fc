"""examples/sam with the real SAM CLI: `sam validate --lint` and `sam build`, as documented.

The SAM CLI has heavy, tightly pinned dependencies, so it is not a dev dependency: it
goes into a fresh venv of its own, with the package installed beside it from this
checkout, exactly as the doc's `pip install aiolambda-runtime aws-sam-cli` line does
(the SAM CLI at a pinned version, so that a new release cannot break the suite
unannounced). Nothing reaches AWS: `validate --lint` runs cfn-lint locally, and
`sam build` runs the layer's Makefile (aiolambda's own builder) and copies the
function.

`sam build` of a python3.13 function needs a ``python3.13`` on PATH (SAM checks the
runtime's interpreter even for a function without dependencies); the test finds one
as the layer builder does (PATH, then pyenv).

Needs the package index (``index`` marker).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from aiolambda._layer import LayerError, Target, elf_machine, find_compiler
from tests.venvs import REPO, VenvCache, venv_env

SAM_CLI = "aws-sam-cli==1.170.0"
SAM_DIR = REPO / "examples" / "sam"
DEPLOY = REPO / "docs" / "deploy.md"
# Building a fresh venv (in fixture setup, which the timeout covers) takes minutes.
pytestmark = [pytest.mark.index, pytest.mark.timeout(600)]


def _sam_block() -> str:
    blocks = re.findall(r"^```sh\n(.*?)^```$", DEPLOY.read_text(), flags=re.M | re.S)
    [block] = [b for b in blocks if "sam build" in b]
    return block


@pytest.fixture(scope="module")
def sam_venv(venvs: VenvCache) -> Path:
    [install] = [line for line in _sam_block().splitlines() if line.startswith("pip install")]
    assert shlex.split(install) == ["pip", "install", "aiolambda-runtime", "aws-sam-cli"]
    return venvs.get(str(REPO), SAM_CLI)


def _python(version: str) -> str:
    try:
        return find_compiler(Target(version, "arm64"), None)
    except LayerError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"`sam build` needs python{version}: {exc}")
        pytest.skip(f"`sam build` needs python{version}: {exc}")


def _sam_env(venv: Path, home: Path, python_dir: str) -> dict[str, str]:
    env = {k: v for k, v in venv_env(venv).items() if not k.startswith("AWS_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{python_dir}{os.pathsep}{env['PATH']}"
    cache = Path.home() / ".cache" / "pip"
    if cache.is_dir():
        env["PIP_CACHE_DIR"] = str(cache)  # the layer build's wheels; HOME moves below
    env.update(
        HOME=str(home),  # SAM writes ~/.aws-sam: keep it out of the real home
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
        AWS_CONFIG_FILE=str(home / "no-config"),
    )
    return env


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _project(tmp_path: Path) -> Path:
    """A copy of examples/sam: `sam build` writes .aws-sam/ next to the template."""
    project = tmp_path / "sam"
    shutil.copytree(SAM_DIR, project)
    return project


def test_sam_validate_lint_accepts_the_template_and_rejects_a_broken_one(
    sam_venv: Path, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    env = _sam_env(sam_venv, tmp_path, os.path.dirname(_python("3.13")))
    [validate] = [line for line in _sam_block().splitlines() if line.startswith("sam validate")]
    assert validate == "sam validate --lint"
    done = _run(validate, project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr
    template = project / "template.yaml"
    text = template.read_text()
    assert "      Handler: app.handler\n" in text
    template.write_text(text.replace("      Handler: app.handler\n", "      Handlr: app.handler\n"))
    done = _run("sam validate --lint", project, env)
    assert done.returncode != 0
    assert "Handlr" in done.stdout + done.stderr


def test_sam_build_builds_the_layer_and_the_function(sam_venv: Path, tmp_path: Path) -> None:
    project = _project(tmp_path)
    python = _python("3.13")
    env = _sam_env(sam_venv, tmp_path, os.path.dirname(python))
    [build] = [line for line in _sam_block().splitlines() if line.startswith("sam build")]
    done = _run(build, project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Build Succeeded" in done.stdout + done.stderr
    built = project / ".aws-sam" / "build"
    layer = built / "AioLambdaLayer"
    assert sorted(p.name for p in layer.iterdir()) == ["aiolambda", "python"]
    assert stat.S_IMODE((layer / "aiolambda").stat().st_mode) == 0o755
    site = layer / "python" / "lib" / "python3.13" / "site-packages"
    assert (site / "aiolambda" / "_core" / "bootstrap.py").is_file()
    [orjson_so] = (site / "orjson").glob("orjson.cpython-313-*.so")
    assert elf_machine(orjson_so) == "aarch64"  # the template's arm64, from any host
    assert (built / "HelloFunction" / "app.py").read_text() == (
        SAM_DIR / "function" / "app.py"
    ).read_text()
    assert "AioLambdaLayer" in (built / "template.yaml").read_text()
    # `sam deploy` zips the built layer with SAM's own packaging code: the wrapper must
    # stay executable in that zip (0755), or Lambda could not exec /opt/aiolambda.
    zipped = subprocess.run(
        [str(sam_venv / "bin" / "python"), "-c", _SAM_ZIP, str(layer), str(tmp_path / "layer")],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert zipped.returncode == 0, zipped.stderr
    assert zipped.stdout.split() == ["0o755"]


# What `sam deploy` does to a local layer directory before uploading it: the zip method
# samcli picks for a resource of this type, applied to the built folder; prints the
# wrapper's mode in the zip.
_SAM_ZIP = """
import sys, zipfile
from samcli.lib.package import utils
from samcli.lib.utils.resources import AWS_SERVERLESS_LAYERVERSION, LAMBDA_LOCAL_RESOURCES
assert AWS_SERVERLESS_LAYERVERSION in LAMBDA_LOCAL_RESOURCES
name = utils.make_zip_with_lambda_permissions(sys.argv[2], sys.argv[1])
with zipfile.ZipFile(name) as archive:
    print(oct((archive.getinfo("aiolambda").external_attr >> 16) & 0o777))
"""
