"""``python -m aiolambda`` as a child process against the fault server.

What only a real process shows: the exit code and the log line when the Runtime API
says 500, credentials kept out of payloads, X-Ray causes and the process's own
output, and handlers that close stdout, call ``sys.exit`` or ``os._exit``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from aiolambda.emulator import Emulator
from tests.reliability._faultserver import Event, Fault, FaultServer, default_headers
from tests.reliability._runner import child_env, finish, spawn, stop

pytestmark = pytest.mark.usefixtures("driver")  # over both drivers (tests/conftest.py)

WAIT_S = 20.0
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEBYaDHhBTEXAMPLESESSIONTOKENvalue0123456789"


def _env(
    server: FaultServer, handler: str, loop_kind: str, transport: str = "lean"
) -> dict[str, str]:
    return child_env(
        server.runtime_api,
        handler,
        AIOLAMBDA_LOOP=loop_kind,
        AIOLAMBDA_TRANSPORT=transport,
    )


async def test_500_on_next_exits_1_with_a_log_line(loop_kind: str, transport: str) -> None:
    # The 2nd /next is pipelined with e1's answer: refused, it is asked again on its own.
    faults = {("next", 2): Fault("status", status=500), ("next", 3): Fault("status", status=500)}
    async with FaultServer(faults=faults) as server:
        proc = await spawn(_env(server, "hostile.echo", loop_kind, transport))
        server.queue(Event("e1", b'{"n": 1}'))
        async with asyncio.timeout(WAIT_S):
            code, output = await finish(proc)
    assert code == 1
    assert "Runtime API failure: /next answered 500" in output, output
    server.assert_exactly_once()
    assert server.delivered == ["e1"]


async def test_500_on_a_post_exits_1_with_a_log_line(loop_kind: str) -> None:
    async with FaultServer(faults={("response", 1): Fault("status", status=500)}) as server:
        proc = await spawn(_env(server, "hostile.echo", loop_kind))
        server.queue(Event("e1", b'{"n": 1}'))
        async with asyncio.timeout(WAIT_S):
            code, output = await finish(proc)
    assert code == 1
    assert "posting the response of e1 got 500" in output, output
    assert server.count("next") == 1  # it stopped instead of asking for more


async def test_unusable_request_id_exits_1_without_posting(loop_kind: str) -> None:
    hostile = Event("bad", headers=default_headers("../../init/error"))
    async with FaultServer() as server:
        proc = await spawn(_env(server, "hostile.echo", loop_kind))
        server.queue(hostile)
        async with asyncio.timeout(WAIT_S):
            code, output = await finish(proc)
    assert code == 1
    assert "unusable request id" in output
    assert server.posts() == [] and server.count("init_error") == 0


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
async def test_credentials_never_reach_payloads_causes_or_logs(
    loop_kind: str, transport: str, log_format: str
) -> None:
    # The error post is taken, then answered 500 with a body that echoes the secret: the
    # runtime's own failure log line must not carry it either.
    body = b'{"echo": "%s %s"}' % (SECRET.encode(), TOKEN.encode())
    echo_500 = b"HTTP/1.1 500 X\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    faults = {("error", 1): Fault("raw", raw=echo_500)}
    async with FaultServer(faults=faults) as server:
        env = _env(server, "hostile.leak_secrets", loop_kind, transport)
        env.update(
            AWS_LAMBDA_LOG_FORMAT=log_format,
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_SESSION_TOKEN=TOKEN,
            AWS_ACCESS_KEY_ID="AKIDEXAMPLE123",
        )
        proc = await spawn(env)
        server.queue(Event("e1"))
        async with asyncio.timeout(WAIT_S):
            code, output = await finish(proc)
    assert code == 1
    (post,) = server.posts("e1")
    assert post.outcome == "accepted"
    doc = orjson.loads(post.body)
    assert doc["errorType"] == "ValueError"
    assert "key=*** token=***" in doc["errorMessage"]
    cause = post.headers["lambda-runtime-function-xray-error-cause"]
    assert "key=*** token=***" in cause
    for text in (post.body.decode(), str(post.headers), output):
        assert SECRET not in text and TOKEN not in text
    assert "about to fail with *** and ***" in output  # the handler's own log record
    assert "posting the error of e1 got 500" in output


async def test_handler_closing_stdout_does_not_break_the_runtime(loop_kind: str) -> None:
    for handler in ("hostile.close_stdout", "hostile.close_fd1"):
        async with FaultServer() as server:
            proc = await spawn(_env(server, handler, loop_kind))
            server.queue(
                Event("close", b'{"close": true}'),
                Event("fail", b'{"fail": true}'),
                Event("after", b"{}"),
            )
            async with asyncio.timeout(WAIT_S):
                outcomes = [await server.settled(i) for i in ("close", "fail", "after")]
                code, _ = await stop(proc)
        assert outcomes == ["response", "error", "response"], handler
        # With fd 1 closed, Python 3.13 fails its final flush of sys.stdout and exits 120.
        assert code == 0 or (code == 120 and handler.endswith("fd1")), (handler, code)
        server.assert_exactly_once()


async def test_sync_exit_and_os_exit_end_the_process(loop_kind: str) -> None:
    # sys.exit() in a handler ends the process with its status, as under awslambdaric:
    # nothing is posted for that invocation and Lambda reports Runtime.ExitError.
    async with FaultServer() as server:
        proc = await spawn(_env(server, "hostile.sync_exit", loop_kind))
        server.queue(Event("x", b'{"exit": true}'), Event("after", b"{}"))
        async with asyncio.timeout(WAIT_S):
            code, _ = await finish(proc)
    assert code == 0  # sys.exit(0)
    assert server.posts() == []
    assert server.delivered == ["x"]

    async with FaultServer() as server:
        proc = await spawn(_env(server, "hostile.hard_exit", loop_kind))
        server.queue(Event("gone"))
        async with asyncio.timeout(WAIT_S):
            code, _ = await finish(proc)
    # Nothing can answer for a process that is gone: Lambda reports Runtime.ExitError.
    assert code == 7
    assert server.posts() == []


async def test_emulator_listens_on_loopback_only_by_default() -> None:
    async with Emulator(spawn=False) as emu:
        assert emu.runtime_api.startswith("127.0.0.1:")
        assert emu.endpoint_url.startswith("http://127.0.0.1:")
        ports = {int(emu.runtime_api.rsplit(":", 1)[1]), emu.invoke_port}
        listening = _listening_addresses()
        for port in ports:
            assert listening.get(port) == {"0100007F"}, (port, listening.get(port))


def _listening_addresses() -> dict[int, set[str]]:
    """Local addresses of listening TCP sockets by port, from /proc/net/tcp{,6}."""
    out: dict[int, set[str]] = {}
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == "0A":  # LISTEN
                out.setdefault(int(port, 16), set()).add(address)
    return out


async def test_init_error_is_reported_through_a_reset_then_the_process_exits(
    loop_kind: str,
) -> None:
    faults = {("init_error", 1): Fault("reset_before")}
    async with FaultServer(faults=faults) as server:
        proc = await spawn(_env(server, "no_such_module.handler", loop_kind))
        async with asyncio.timeout(WAIT_S):
            code, output = await finish(proc)
    assert code == 1
    posts = [r for r in server.requests if r.kind == "init_error"]
    assert [r.outcome for r in posts] == ["dropped", "other"]  # retried once, then taken
    doc = orjson.loads(posts[1].body)
    assert doc["errorType"] == "Runtime.ImportModuleError"
    assert server.count("next") == 0  # never polls after a failed init
    assert "Runtime.ImportModuleError" in output
