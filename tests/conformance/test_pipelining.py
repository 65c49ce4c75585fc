"""Pipelined ``/next`` under AWS's RIE, on both drivers: used on every invocation, and
every answer right.

A proxy between the runtime and RIE's Runtime API (``tests.wire_proxy``) shows from
outside that each answer (``/response`` and ``/error``) and the next ``GET /next`` reach
the wire in one write, on one connection; RIE, built from Lambda's own Go code, answers
every invocation correctly. An ``async def`` handler runs on the asyncio driver whatever
the tier's ``driver``; the sync one is pinned to the sync driver.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aiolambda._core import protocol as p
from tests.conformance.conftest import RieFunction, rie_function
from tests.wire_proxy import WireProxy

N = 25

HANDLERS = pytest.mark.parametrize(
    ("handler", "driver_env"),
    [("app.echo_or_fail", []), ("sync_echo.echo_or_fail", ["AIOLAMBDA_DRIVER=sync"])],
    ids=["asyncio-driver", "sync-driver"],
)


def _run(rie: Path, handler: str, driver_env: list[str], **env: str) -> WireProxy:
    """Invoke ``handler`` (an ``echo_or_fail``) N times through the proxy; check every reply."""
    functions: list[RieFunction] = []
    request_ids = []
    with WireProxy(lambda: ("127.0.0.1", functions[0].api_port)) as proxy:
        # RIE sets AWS_LAMBDA_RUNTIME_API for the runtime it starts; env(1) points it
        # at the proxy instead.
        command = [
            "env",
            f"AWS_LAMBDA_RUNTIME_API={proxy.address}",
            *driver_env,
            *(f"{k}={v}" for k, v in env.items()),
            sys.executable,
            "-m",
            "aiolambda",
            handler,
        ]
        with rie_function(rie, handler, command=command) as function:
            functions.append(function)
            for n in range(N):
                fail = n % 5 == 4
                reply = function.invoke({"n": n, "fail": fail})
                if fail:
                    assert reply.json()["errorType"] == "ValueError", reply
                    assert reply.json()["errorMessage"] == f"asked to fail {n}"
                else:
                    assert reply.status == 200, reply
                    assert reply.json()["n"] == n
                    request_ids.append(reply.json()["id"])
    assert len(set(request_ids)) == len(request_ids)
    return proxy


@HANDLERS
def test_each_answer_carries_the_next_get_on_one_connection(
    rie: Path, handler: str, driver_env: list[str]
) -> None:
    proxy = _run(rie, handler, driver_env)
    requests = proxy.requests()
    nexts = [r for r in requests if r[1] == p.NEXT_PATH]
    answers = [r for r in requests if r[1].endswith(("/response", "/error"))]
    assert len(answers) == N and len(nexts) == N + 1, requests
    assert {conn for conn, _ in requests} == {1}, requests  # one keep-alive connection
    # Every answer went out in the same write as the GET /next after it.
    pairs = proxy.pipelined()
    assert len(pairs) == N, proxy.reads
    for paths in pairs:
        assert len(paths) == 2 and paths[1] == p.NEXT_PATH, paths
        assert paths[0].endswith(("/response", "/error")), paths


@HANDLERS
def test_the_switch_turns_it_off(rie: Path, handler: str, driver_env: list[str]) -> None:
    proxy = _run(rie, handler, driver_env, AIOLAMBDA_PIPELINE="0")
    assert proxy.pipelined() == []
    # One GET per invocation; the one after the last answer may not be out yet.
    assert len([r for r in proxy.requests() if r[1] == p.NEXT_PATH]) in (N, N + 1)
