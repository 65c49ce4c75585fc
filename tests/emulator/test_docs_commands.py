"""The commands the docs tell users to type work as written.

AWS CLI v2 (what most users have) reads ``--payload`` as base64 unless told
``--cli-binary-format raw-in-base64-out``; ``serve``/``invoke`` commands that run
another runtime write the handler once, with the ``{handler}`` placeholder.
"""

from __future__ import annotations

import re

from ._support import HERE

REPO = HERE.parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _commands(text: str) -> list[str]:
    """Shell commands with their backslash continuations joined."""
    return [re.sub(r"\s+", " ", cmd) for cmd in text.replace("\\\n", " ").splitlines()]


def test_every_aws_lambda_invoke_with_an_inline_payload_uses_cli_v2_syntax() -> None:
    found = 0
    for doc in DOCS:
        for command in _commands(doc.read_text(encoding="utf-8")):
            if "aws lambda invoke" in command and "--payload '" in command:
                found += 1
                assert "--cli-binary-format raw-in-base64-out" in command, (doc.name, command)
    assert found >= 2  # README and docs/emulator.md show one each


def test_other_runtimes_are_shown_with_the_handler_placeholder() -> None:
    found = 0
    for doc in DOCS:
        for command in _commands(doc.read_text(encoding="utf-8")):
            match = re.search(
                r"aiolambda (?:serve|invoke) (\S+).* -- python -m awslambdaric (\S+)", command
            )
            if match:
                found += 1
                assert match[2] == "{handler}", (doc.name, command)
    assert found >= 2
