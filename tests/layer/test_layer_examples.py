"""Deploy examples: the SAM template and its Makefile, the Dockerfile, the printed AWS commands.

Nothing here talks to AWS: the template is linted with cfn-lint, the printed AWS CLI
commands are parsed and validated by the AWS CLI itself with no credentials (it
stops at "Unable to locate credentials" only after the parameters passed
validation), and the container's entry point is run under the local emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

import aiolambda
from aiolambda._layer import LayerBuild, Target, deploy_commands

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
SAM_DIR = EXAMPLES_DIR / "sam"
CONTAINER_DIR = EXAMPLES_DIR / "container"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt…) as {"Ref": value}."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.construct_mapping(node)  # type: ignore[arg-type]
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def _template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((SAM_DIR / "template.yaml").read_text(), _CfnLoader)
    return loaded


def _cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("cfn-lint")
    command = [exe] if exe else [sys.executable, "-m", "cfnlint"]
    return subprocess.run(
        [*command, str(path)], capture_output=True, text=True, timeout=110, check=False
    )


# -- SAM ----------------------------------------------------------------------------------


def test_sam_template_passes_cfn_lint() -> None:
    done = _cfn_lint(SAM_DIR / "template.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_does_catch_a_broken_template(tmp_path: Path) -> None:
    # A resource type that does not exist is an error in every cfn-lint release (E3006
    # since 1.0); a retired runtime name is not: newer releases stopped flagging some.
    broken = tmp_path / "template.yaml"
    text = (SAM_DIR / "template.yaml").read_text()
    assert "Type: AWS::Serverless::LayerVersion" in text
    broken.write_text(text.replace("Type: AWS::Serverless::LayerVersion", "Type: AWS::Nope::Layer"))
    done = _cfn_lint(broken)
    assert done.returncode != 0
    assert "AWS::Nope::Layer" in done.stdout


def test_sam_function_uses_the_layer_and_the_wrapper() -> None:
    resources = _template()["Resources"]
    layer = resources["AioLambdaLayer"]
    function = resources["HelloFunction"]["Properties"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert function["Layers"] == [{"Ref": "AioLambdaLayer"}]
    assert function["Environment"]["Variables"] == {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/aiolambda"}
    assert layer["Properties"]["CompatibleRuntimes"] == [function["Runtime"]]
    assert layer["Properties"]["CompatibleArchitectures"] == function["Architectures"]
    # The Makefile must build for the same runtime and architecture as the template says.
    makefile = (SAM_DIR / "layer" / "Makefile").read_text()
    python = function["Runtime"].removeprefix("python")
    assert f"PYTHON ?= {python}\n" in makefile
    assert f"ARCH ?= {function['Architectures'][0]}\n" in makefile
    assert (SAM_DIR / function["CodeUri"] / "app.py").is_file()


def test_sam_layer_makefile_produces_the_layer_tree(tmp_path: Path) -> None:
    if shutil.which("make") is None or shutil.which("unzip") is None:
        pytest.skip("make and unzip are needed to run the SAM build target")
    host = Target.host()
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    done = subprocess.run(
        [
            "make", "-C", str(SAM_DIR / "layer"), "build-AioLambdaLayer",
            f"ARTIFACTS_DIR={artifacts}", f"PYTHON={host.python}", f"ARCH={host.arch}",
            f"AIOLAMBDA={sys.executable} -m aiolambda.cli",
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in artifacts.iterdir()) == ["aiolambda", "python"]
    assert stat.S_IMODE((artifacts / "aiolambda").stat().st_mode) == 0o755
    assert (artifacts / host.site_packages / "aiolambda" / "_core" / "bootstrap.py").is_file()


# -- container ----------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    text = (CONTAINER_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    pairs = []
    for line in lines:
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _exec_form(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    [value] = [args for kw, args in instructions if kw == keyword]
    parsed = json.loads(value)  # exec form: no shell between Lambda and the runtime
    assert isinstance(parsed, list)
    return [str(item) for item in parsed]


def test_dockerfile_runs_python_m_aiolambda_on_the_handler() -> None:
    instructions = _dockerfile_instructions()
    assert instructions[0][0] == "FROM"
    assert instructions[0][1].startswith("python:3.")
    assert _exec_form(instructions, "ENTRYPOINT") == ["python", "-m", "aiolambda"]
    handler = _exec_form(instructions, "CMD")
    assert handler == ["app.handler"]
    copied = [args.split()[0] for kw, args in instructions if kw == "COPY"]
    assert all((CONTAINER_DIR / name).is_file() for name in copied), copied
    # The distribution's name, not `aiolambda` (an unrelated project on the package index).
    requirements = (CONTAINER_DIR / "requirements.txt").read_text().split()
    assert f"aiolambda-runtime=={aiolambda.__version__}" in requirements


def test_dockerfile_sets_no_python_variable_lambda_would_not() -> None:
    """PYTHONUNBUFFERED and friends in the image would hide what Lambda's environment shows."""
    instructions = _dockerfile_instructions()
    env = " ".join(args for kw, args in instructions if kw == "ENV")
    assert "PYTHONUNBUFFERED" not in env and "PYTHONDONTWRITEBYTECODE" not in env
    assert ("RUN", "python -m compileall -q app.py") in instructions


async def test_container_entry_point_serves_the_example_handler() -> None:
    from aiolambda.emulator import Emulator  # no skip: failing to import it is a regression

    instructions = _dockerfile_instructions()
    command = _exec_form(instructions, "ENTRYPOINT") + _exec_form(instructions, "CMD")
    command[0] = sys.executable  # the image's `python`
    # A container image gets no _HANDLER: the handler comes from CMD, as in the image.
    async with Emulator(
        None,
        task_root=CONTAINER_DIR,
        bootstrap=command,
        env={"AWS_EXECUTION_ENV": "AWS_Lambda_Image"},
        timeout=30,
        init_timeout=30,
    ) as emu:
        result = await emu.invoke({"ping": 1})
    assert result.function_error is None, result.payload
    assert result.json() == {"echo": {"ping": 1}, "request_id": result.request_id}


# -- the printed AWS CLI commands -----------------------------------------------------------


def _aws_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_EC2_METADATA_DISABLED="true",  # no credential lookup over the network
        AWS_DEFAULT_REGION="us-east-1",
        LAYER_ARN="arn:aws:lambda:us-east-1:123456789012:layer:aiolambda-python312-x86_64:1",
        ROLE_ARN="arn:aws:iam::123456789012:role/lambda-basic-execution",
    )
    return env


def _run_aws(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The endpoint is a closed loopback port: nothing may leave this machine.
    command = command.replace("aws lambda ", "aws --endpoint-url http://127.0.0.1:9 lambda ", 1)
    return subprocess.run(
        ["sh", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_printed_aws_commands_pass_the_aws_cli_parameter_validation(
    host_layer: LayerBuild, tmp_path: Path
) -> None:
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not installed")
    with zipfile.ZipFile(tmp_path / "function.zip", "w") as archive:
        archive.write(CONTAINER_DIR / "app.py", "app.py")
    env = _aws_env(tmp_path)
    commands = deploy_commands(host_layer, "hello")
    assert len(commands) == 3
    # The update is `LAYERS=$(aws … get-function-configuration …) && aws … update…`.
    steps = [commands[0], *commands[1].split(" && "), commands[2]]
    steps[2] = steps[2].replace("$LAYERS", "")
    for command in steps:
        done = _run_aws(command, tmp_path, env)
        assert "Unable to locate credentials" in done.stderr, (command, done.stderr)
    # ...and the same check rejects a malformed command, so it can fail.
    bad = steps[2].replace("AWS_LAMBDA_EXEC_WRAPPER=", "AWS_LAMBDA_EXEC_WRAPPER")
    done = _run_aws(bad, tmp_path, env)
    assert "Unable to locate credentials" not in done.stderr
    assert "Error parsing parameter '--environment'" in done.stderr
