"""``aiolambda invoke``'s per-invocation options and ``--env-file``, through the real CLI.

Each value is read back from inside the handler, under aiolambda's runtime and under
awslambdaric (the reference for what Lambda's context holds).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import aiohttp
import pytest

from aiolambda.emulator._dotenv import DotenvError, parse_dotenv

from ._serve import serve
from ._support import ric
from .test_cli import run_cli

if TYPE_CHECKING:
    from pathlib import Path

HANDLER = "fn.innerloop_app.context_fields"
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
ENV_FILE = """\
# a comment, then a blank line

IL_PLAIN=plain value # a comment after a space
export IL_EXPORTED=1
IL_SINGLE='no $expansion, no \\n escapes'
IL_DOUBLE="tab\\there \\"quoted\\" # not a comment"
IL_HASH=a#b
IL_EMPTY=
IL_OVERRIDDEN=from the file
"""


@pytest.mark.parametrize("runtime", ["aiolambda", "awslambdaric"])
def test_every_option_reaches_the_context(tmp_path: Path, runtime: str) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_FILE)
    bootstrap = ["--", *ric(HANDLER)] if runtime == "awslambdaric" else []
    code, out, err = run_cli(
        "invoke", HANDLER, "-q",
        "--env-file", str(env_file), "--env", "IL_OVERRIDDEN=from --env",
        "--client-context",
        '{"custom": {"k": "v"}, "env": {"locale": "en"}, "client": {"app_title": "T"}}',
        "--identity", '{"cognitoIdentityId": "us-east-1:id", "cognitoIdentityPoolId": "pool"}',
        "--tenant-id", "tenant-1",
        "--trace-id", TRACE,
        *bootstrap,
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    assert got["custom"] == {"k": "v"} and got["env"] == {"locale": "en"}
    assert got["client_title"] == "T"
    assert (got["cognito_identity_id"], got["cognito_identity_pool_id"]) == ("us-east-1:id", "pool")
    assert got["tenant_id"] == "tenant-1"
    assert got["trace_env"] == TRACE
    if runtime == "aiolambda":  # an aiolambda addition; awslambdaric's context lacks it
        assert got["xray_trace_id"] == TRACE
    assert got["vars"] == {
        "IL_PLAIN": "plain value",
        "IL_EXPORTED": "1",
        "IL_SINGLE": "no $expansion, no \\n escapes",
        "IL_DOUBLE": 'tab\there "quoted" # not a comment',
        "IL_HASH": "a#b",
        "IL_EMPTY": "",
        "IL_OVERRIDDEN": "from --env",
    }
    assert err == ""  # -q: the result only


def test_without_options_the_context_has_none_of_them() -> None:
    code, out, err = run_cli("invoke", HANDLER)
    assert code == 0, err
    got = json.loads(out)
    assert got["custom"] is None and got["cognito_identity_id"] is None
    assert got["tenant_id"] is None
    assert got["trace_env"].startswith("Root=1-") and got["trace_env"] == got["xray_trace_id"]
    assert "START RequestId: " in err  # the logs, by default


def test_verbose_shows_debug_lines_and_runtime_api_requests() -> None:
    code, out, err = run_cli("invoke", "fn.innerloop_app.chatty", "-v")
    assert code == 0 and json.loads(out) == "ok", err
    assert "debug line from the handler" in err
    lines = err.splitlines()
    next_line = lines.index("aiolambda: runtime API: GET /2018-06-01/runtime/invocation/next")
    start = next(i for i, line in enumerate(lines) if line.startswith("START RequestId: "))
    answer = next(i for i, line in enumerate(lines) if line.endswith("/response"))
    assert next_line < start < answer
    code, out, err = run_cli("invoke", "fn.innerloop_app.chatty")
    assert code == 0 and "debug line" not in err and "runtime API" not in err
    assert "print from the handler" in err


@pytest.mark.parametrize(
    ("args", "option", "words"),
    [
        (["--client-context", "[1]"], "--client-context", "JSON object"),
        (["--client-context", "{not json"], "--client-context", "JSON object"),
        (["--client-context", '{"custom": 1}'], "--client-context", "'custom'"),
        (["--client-context", json.dumps({"custom": {"k": "v" * 3000}})], "--client-context",
         "at most 3583"),
        (["--identity", '{"other": 1}'], "--identity", "cognitoIdentityId"),
        (["--identity", '{"cognitoIdentityId": 5}'], "--identity", "must be a string"),
        (["--tenant-id", ""], "--tenant-id", "1 to 256"),
        (["--tenant-id", "a\nb"], "--tenant-id", "1 to 256"),
        (["--trace-id", "1-5759e988-bd862e3fe1be46a994272793"], "--trace-id", "X-Ray"),
        (["--trace-id", f"{TRACE}\r\nX: y"], "--trace-id", "X-Ray"),
        (["-q", "-v"], "-v/--verbose", "not allowed"),
    ],
)  # fmt: skip
def test_bad_values_are_one_line_and_exit_2(args: list[str], option: str, words: str) -> None:
    # Checked before anything starts: a bootstrap that cannot run is never reached.
    code, out, err = run_cli("invoke", HANDLER, *args, "--", "/nonexistent/bootstrap")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"argument {option}:" in err and words in err, err


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("A=1\nNOVALUE\n", "line 2: expected NAME=VALUE, got 'NOVALUE'"),
        ("1A=x\n", "line 1: expected NAME=VALUE"),
        ("A='open\n", "line 1: the ' quote is not closed"),
        ('A="x" trailing\n', "line 1: unexpected text after the closing quote"),
    ],
)
@pytest.mark.parametrize("command", ["invoke", "serve"])
def test_a_bad_env_file_line_is_one_line_and_exit_2(
    tmp_path: Path, command: str, text: str, words: str
) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text(text)
    code, _, err = run_cli(command, HANDLER, "--env-file", str(env_file), "--", "/nonexistent")
    assert code == 2 and err.count("\n") == 1
    assert f"argument --env-file: {env_file}, {words}" in err, err
    code, _, err = run_cli(command, HANDLER, "--env-file", str(tmp_path / "missing.env"))
    assert code == 2 and "argument --env-file: cannot read" in err


async def test_serve_passes_the_env_file_on(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("IL_SERVED=yes\n")
    async with (
        serve(HANDLER, "--env-file", str(env_file)) as served,
        aiohttp.ClientSession() as http,
        http.post(served.url, json={}) as response,
    ):
        assert (await response.json())["vars"] == {"IL_SERVED": "yes"}


def test_the_parser_names_the_source_and_keeps_later_values() -> None:
    assert parse_dotenv("A=1\nA=2\n") == {"A": "2"}
    assert parse_dotenv("  A = spaced  \n") == {"A": "spaced"}
    with pytest.raises(DotenvError, match=r"^x\.env, line 1: a value cannot hold a NUL"):
        parse_dotenv("A=\0", "x.env")
