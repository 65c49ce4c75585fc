"""Every example runs as its docstring says, in a venv holding exactly what it says to install.

Each example's module docstring has a block introduced by "install what it needs and
run it::": a ``pip install`` line, then the commands that run it (``aiolambda invoke``
with its sample event, or ``pytest``). This module reads that block, builds a fresh
venv with exactly that ``pip install`` (no ``--system-site-packages``: a requirement
the docs forget must fail here), runs the other commands through a shell in the
repository's root, as a reader would, and checks what they print. The doc and the
test cannot drift: the test runs the doc's text.

Needs the package index (``index`` marker): the venvs are filled by pip. Examples
whose requirement files have the same content share one venv.
"""

from __future__ import annotations

import ast
import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.venvs import REPO, VenvCache, venv_env

EXAMPLES = REPO / "examples"
MARK = "install what it needs and run it::"
# Building a fresh venv (in fixture setup, which the timeout covers) takes minutes.
pytestmark = [pytest.mark.index, pytest.mark.timeout(600)]


def documented_commands(path: Path) -> list[str]:
    """The shell commands of ``path``'s docstring block, continuation lines joined."""
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert MARK in docstring, f"{path}: no '{MARK}' block"
    block = docstring.split(MARK, 1)[1].lstrip("\n")
    lines: list[str] = []
    for line in block.splitlines():
        if not line.startswith("    "):
            break
        lines.append(line.strip())
    return _join(lines)


def _join(lines: list[str]) -> list[str]:
    commands: list[str] = []
    pending = ""
    for line in lines:
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        commands.append(pending + line)
        pending = ""
    assert not pending, "a continuation line ends the block"
    return commands


def _documented() -> dict[str, Path]:
    """Example name -> the file whose docstring documents it."""
    found = {}
    for path in sorted(EXAMPLES.rglob("*.py")):
        if MARK in (ast.get_docstring(ast.parse(path.read_text())) or ""):
            found[path.parent.relative_to(EXAMPLES).as_posix()] = path
    return found


def _json(stdout: str) -> Any:
    return json.loads(stdout)


def _body(stdout: str) -> Any:
    answer = json.loads(stdout)
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])


# What each example's documented commands must print (their stdout, in order).
EXPECTED: dict[str, Callable[[list[str]], None]] = {
    "hello": lambda out: _check(_json(out[0])["message"] == "Hello, Ada!", out),
    "container": lambda out: _check(_json(out[0])["echo"] == {"ping": 1}, out),
    "sam/function": lambda out: _check(_json(out[0])["message"] == "hello, SAM", out),
    "sqs_batch": lambda out: _check(
        _json(out[0])
        == {"batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]},
        out,
    ),
    "s3_notification": lambda out: _check(
        _json(out[0])["created"][0]["key"] == "albums/2026/beach day.jpg", out
    ),
    "dynamodb_stream": lambda out: _check(_json(out[0]) == {"batchItemFailures": []}, out),
    "apigw_v2": lambda out: _check(_body(out[0])["orderId"] == "o-1001", out),
    "fastapi": lambda out: _check(_body(out[0])["message"] == "Hello, Ada!", out),
    "starlette": lambda out: _check(_body(out[0])["visits"] == 1, out),
    "snapstart": lambda out: _check(_json(out[0])["restores"] == 1, out),
    "emulator_demo": lambda out: _check("3 passed" in out[0], out),
}


def _check(ok: bool, out: list[str]) -> None:
    assert ok, out


def test_every_example_documents_how_to_install_and_run_it() -> None:
    documented = _documented()
    directories = {path.parent.relative_to(EXAMPLES).as_posix() for path in EXAMPLES.rglob("*.py")}
    assert documented.keys() == directories == EXPECTED.keys()
    for name in documented:
        assert (EXAMPLES / name / "requirements.txt").is_file(), name


def test_example_requirements_are_pinned_as_in_constraints() -> None:
    """Each requirement is `name==version`, at the version the test suite pins."""
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    pins["aiolambda-runtime"] = __import__("aiolambda").__version__
    for path in EXAMPLES.rglob("requirements.txt"):
        for line in path.read_text().splitlines():
            requirement = line.split("#", 1)[0].strip()
            if requirement:
                name, _, version = requirement.partition("==")
                name = name.split("[", 1)[0].lower().replace("_", "-")
                assert pins.get(name) == version, f"{path}: {line} (constraints: {pins.get(name)})"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_as_documented(name: str, venvs: VenvCache) -> None:
    path = _documented()[name]
    install, *commands = documented_commands(path)
    assert install.startswith("pip install "), install
    pip_args = shlex.split(install)[2:]
    requirements = REPO / pip_args[pip_args.index("-r") + 1]
    assert requirements == path.parent / "requirements.txt"
    lines = [line.strip() for line in requirements.read_text().splitlines()]
    wanted = frozenset(line for line in lines if line and not line.startswith("#"))
    at = pip_args.index("-r")
    others = tuple(pip_args[:at] + pip_args[at + 2 :])  # all but `-r FILE`: FILE's content counts
    venv = venvs.get(*pip_args, key=(others, wanted))
    outputs = []
    for command in commands:
        done = subprocess.run(
            ["sh", "-c", command],
            cwd=REPO,
            env=venv_env(venv),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    EXPECTED[name](outputs)
