"""docs/deploy.md, walked as a reader would: its shell blocks are the test's script.

The blocks are read from the doc at test time, so the doc and the test cannot drift:
- the walkthrough runs for real in an empty directory (venv, install, the function,
  a local invoke, the layer build), with one substitution: the package is installed
  from this checkout, not from the index; its AWS commands run through the real AWS
  CLI up to the point where it needs credentials (so every parameter was validated),
  pointed at a closed loopback port;
- the commands that attach the layer to an existing function run against a stand-in
  of Lambda's API on 127.0.0.1, which records what they ask for: the function's other
  layers must be kept;
- the "try the layer locally" block builds, unpacks and runs the layer.

Needs the package index (``index`` marker): pip installs the package and its
dependencies into a fresh venv, and the layer builder downloads wheels.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import aiolambda
from aiolambda._layer import LayerBuild, Target, deploy_commands
from tests.docs._lambda_stub import aws_env, lambda_stub
from tests.lambda_env import scrubbed

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "deploy.md"
OTHER_LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:other-tools:7"
OLD_OURS = "arn:aws:lambda:us-east-1:123456789012:layer:aiolambda-python313-arm64:1"
NEW_OURS = "arn:aws:lambda:us-east-1:123456789012:layer:aiolambda-python313-arm64:2"


def shell_blocks(text: str) -> list[str]:
    """The bodies of the doc's ```sh blocks, in order."""
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def _block(containing: str) -> str:
    [block] = [b for b in shell_blocks(DOC.read_text()) if containing in b]
    return block


def _host_env() -> dict[str, str]:
    """This machine's environment without the test suite's venv (the doc makes its own)."""
    env = scrubbed()
    for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(key, None)
    ours = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != ours)
    return env


def _sh(script: str, cwd: Path, env: dict[str, str], *, strict: bool = True) -> str:
    done = subprocess.run(
        ["sh", "-c", ("set -eu\n" if strict else "") + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert not strict or done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
    return done.stdout + "\0" + done.stderr


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The walkthrough's local part, run in an empty directory; returns ``hello/``."""
    walkthrough = _block("mkdir hello && cd hello")
    local, aws_part = walkthrough.split("# 2. Publish it.", 1)
    install = "pip install aiolambda-runtime"
    assert install in local, "the walkthrough installs the package by its name"
    local = local.replace(install, f"pip install {shlex.quote(str(REPO))}", 1)
    root = tmp_path_factory.mktemp("walk")
    out, _ = _sh(local, root, _host_env()).split("\0")
    hello = root / "hello"
    results = [line for line in out.splitlines() if line.startswith('{"message"')]
    assert [json.loads(line) for line in results] == [{"message": "hello, Ada"}], out
    # Step 2 publishes the zip step 1 built, by its exact name.
    [zip_name] = re.findall(r"fileb://(dist/\S+\.zip)", aws_part)
    assert sorted(p.name for p in (hello / "dist").iterdir()) == [Path(zip_name).name]
    assert zip_name == f"dist/aiolambda-{aiolambda.__version__}-python3.13-arm64.zip"
    return hello


# Building a fresh venv (in fixture setup, which the timeout covers) takes minutes.
pytestmark = [pytest.mark.index, pytest.mark.timeout(600)]


def test_walkthrough_builds_the_layer_the_publish_step_names(walked: Path) -> None:
    assert (walked / "app.py").is_file()


def test_walkthrough_aws_commands_pass_the_aws_cli_validation(walked: Path) -> None:
    if shutil.which("aws") is None:
        pytest.fail("the AWS CLI (a dev dependency) is not installed")
    _, aws_part = _block("mkdir hello && cd hello").split("# 2. Publish it.", 1)
    calls = len(re.findall(r"(?:^|\$\()aws ", aws_part, flags=re.MULTILINE))
    assert calls == 6
    env = aws_env(_host_env(), walked, "http://127.0.0.1:9")  # a closed port
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        del env[key]  # stop each command right after its parameters were validated
    # What the commands would have captured from AWS: the script's own assignments,
    # which get nothing here, are renamed so that these stand.
    env["LAYER_ARN"] = NEW_OURS
    env["ROLE_ARN"] = "arn:aws:iam::123456789012:role/hello-aiolambda-role"
    script = re.sub(r"^(LAYER_ARN|ROLE_ARN)=\$\(", r"\1_CAPTURED=$(", aws_part, flags=re.M)
    assert script.count("_CAPTURED=$(") == 2
    _, err = _sh(f". .venv/bin/activate\n{script}", walked, env, strict=False).split("\0")
    assert err.count("Unable to locate credentials") == calls, err
    assert "usage:" not in err and "Error parsing" not in err, err
    assert (walked / "function.zip").is_file()


@pytest.mark.parametrize(
    ("layers", "kept"),
    [
        ([OTHER_LAYER, OLD_OURS], [OTHER_LAYER, NEW_OURS]),
        ([OLD_OURS, OTHER_LAYER], [OTHER_LAYER, NEW_OURS]),
        (None, [NEW_OURS]),
    ],
)
@pytest.mark.parametrize("source", ["docs/deploy.md", "aiolambda layer build"])
def test_attaching_the_layer_keeps_the_function_s_other_layers(
    source: str, layers: list[str] | None, kept: list[str], tmp_path: Path
) -> None:
    if shutil.which("aws") is None:
        pytest.fail("the AWS CLI (a dev dependency) is not installed")
    if source == "docs/deploy.md":
        script = _block("get-function-configuration")
    else:
        build = LayerBuild(
            path=Path("dist/layer.zip"),
            target=Target("3.13", "arm64"),
            version=aiolambda.__version__,
            zipped_bytes=0,
            unzipped_bytes=0,
            sha256="",
            wheels=(),
        )
        script = deploy_commands(build, "my-function")[1]
    configuration: dict[str, object] = {"FunctionName": "my-function", "Runtime": "python3.13"}
    if layers is not None:
        configuration["Layers"] = [{"Arn": arn, "CodeSize": 1000} for arn in layers]
    with lambda_stub(configuration) as stub:
        env = aws_env(_host_env(), tmp_path, stub.endpoint)
        env["LAYER_ARN"] = NEW_OURS
        _sh(script, tmp_path, env)
    [update] = stub.updates
    assert update["Layers"] == kept
    assert update["Environment"] == {"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/aiolambda"}}


def test_the_layer_stub_sees_a_command_that_drops_layers(tmp_path: Path) -> None:
    """The old command (--layers "$LAYER_ARN" alone) loses the other layers: caught."""
    if shutil.which("aws") is None:
        pytest.fail("the AWS CLI (a dev dependency) is not installed")
    configuration = {"FunctionName": "my-function", "Layers": [{"Arn": OTHER_LAYER}]}
    with lambda_stub(configuration) as stub:
        env = aws_env(_host_env(), tmp_path, stub.endpoint)
        env["LAYER_ARN"] = NEW_OURS
        _sh(
            "aws lambda update-function-configuration --function-name my-function"
            ' --layers "$LAYER_ARN"',
            tmp_path,
            env,
        )
    assert stub.updates[0]["Layers"] == [NEW_OURS] != [OTHER_LAYER, NEW_OURS]


def test_trying_the_layer_locally_builds_unpacks_and_runs_it(walked: Path) -> None:
    if sys.platform != "linux":
        pytest.skip("the layer holds manylinux wheels")
    script = _block("dist/local")
    out, _ = _sh(f". .venv/bin/activate\n{script}", walked, _host_env()).split("\0")
    assert json.loads(out.strip().splitlines()[-1]) == {"message": "hello, Ada"}
    host = Target.host()
    [built] = (walked / "dist" / "local").iterdir()
    assert built.name == f"aiolambda-{aiolambda.__version__}-{host.runtime}-{host.arch}.zip"
    assert (walked / "opt" / "aiolambda").is_file()
