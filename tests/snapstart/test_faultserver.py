"""``python -m aiolambda`` with SnapStart against the fault server: wire order and connections."""

from __future__ import annotations

import json

import pytest

from aiolambda._core import protocol as p
from tests.reliability._faultserver import Event, Fault, FaultServer
from tests.reliability._runner import child_env, finish, spawn, stop

from ._support import HERE, SYNC_HOOKS

pytestmark = pytest.mark.usefixtures("driver")  # over both drivers (tests/conftest.py)

TOKEN = "container-token-0123456789abcdef"


def snap_env(api: str, handler: str, **extra: str) -> dict[str, str]:
    return child_env(
        api,
        handler,
        LAMBDA_TASK_ROOT=str(HERE),
        AWS_LAMBDA_INITIALIZATION_TYPE=p.INIT_TYPE_SNAP_START,
        **extra,
    )


@pytest.mark.parametrize("transport", ["lean", "aiohttp"])
async def test_the_connection_open_across_the_snapshot_is_never_used_again(
    transport: str,
) -> None:
    async with FaultServer(hold_restore=True) as server:
        env = snap_env(server.runtime_api, "fn.snap_hooks.handler", AIOLAMBDA_TRANSPORT=transport)
        proc = await spawn(env)
        try:
            assert server.restore_arrived is not None
            await server.restore_arrived.wait()
            server.restore()
            server.queue(Event("req-1"))
            assert await server.settled("req-1") == "response"
        finally:
            code, output = await stop(proc)
        assert code == 0, output
        restore = [r for r in server.requests if r.kind == "restore_next"]
        nexts = [r for r in server.requests if r.kind == "next"]
        assert len(restore) == 1 and nexts
        # The connection that was open across the snapshot carries nothing afterwards.
        assert all(r.conn != restore[0].conn for r in server.requests if r is not restore[0])
        assert server.requests.index(restore[0]) < server.requests.index(nexts[0])
        body = json.loads(server.posts("req-1")[0].body)
        assert body["events"] == SYNC_HOOKS
        assert [line for line in output.splitlines() if line.startswith("hook ")] == [
            f"hook {name}" for name in SYNC_HOOKS
        ]


async def test_a_connection_reset_after_the_restore_is_harmless() -> None:
    faults = {("restore_next", 1): Fault("reset_after")}
    async with FaultServer(faults=faults) as server:
        proc = await spawn(snap_env(server.runtime_api, "fn.snap_hooks.handler"))
        try:
            server.queue(Event("req-1"), Event("req-2"))
            assert await server.settled("req-2") == "response"
        finally:
            code, output = await stop(proc)
        assert code == 0, output
        server.assert_exactly_once()
        assert server.count("restore_next") == 1


async def test_all_pollers_start_after_the_restore() -> None:
    async with FaultServer(hold_restore=True) as server:
        env = snap_env(server.runtime_api, "fn.snap_async.handler", AWS_LAMBDA_MAX_CONCURRENCY="3")
        proc = await spawn(env)
        try:
            assert server.restore_arrived is not None
            await server.restore_arrived.wait()
            server.restore()
            server.queue(*(Event(f"req-{i}") for i in range(6)))
            for i in range(6):
                assert await server.settled(f"req-{i}") == "response"
        finally:
            code, output = await stop(proc)
        assert code == 0, output
        server.assert_exactly_once()
        assert server.count("restore_next") == 1
        first_next = next(i for i, r in enumerate(server.requests) if r.kind == "next")
        restore_at = next(i for i, r in enumerate(server.requests) if r.kind == "restore_next")
        assert restore_at < first_next
        assert len({r.conn for r in server.requests if r.kind == "next"}) == 3


@pytest.mark.parametrize("transport", ["lean", "aiohttp"])
async def test_a_refused_restore_next_is_a_before_snapshot_error(transport: str) -> None:
    faults = {("restore_next", 1): Fault("status", status=403)}
    async with FaultServer(faults=faults) as server:
        env = snap_env(server.runtime_api, "fn.plain.handler", AIOLAMBDA_TRANSPORT=transport)
        proc = await spawn(env)
        code, output = await finish(proc)
    assert code == 64, output
    posts = [r for r in server.requests if r.kind == "init_error"]
    assert [r.headers[p.H_ERROR_TYPE.lower()] for r in posts] == [p.BEFORE_SNAPSHOT_ERROR]
    doc = json.loads(posts[0].body)
    assert doc["errorType"] == "RuntimeAPIError"
    assert "/restore/next answered 403" in doc["errorMessage"]
    assert server.count("next") == 0


async def test_an_after_restore_error_goes_out_on_a_new_connection_redacted() -> None:
    async with FaultServer() as server:
        env = snap_env(
            server.runtime_api, "fn.snap_leak.handler", AWS_CONTAINER_AUTHORIZATION_TOKEN=TOKEN
        )
        proc = await spawn(env)
        code, output = await finish(proc)
    assert code == 65, output
    restore = [r for r in server.requests if r.kind == "restore_next"]
    posts = [r for r in server.requests if r.kind == "restore_error"]
    assert len(restore) == 1 and len(posts) == 1
    assert posts[0].conn != restore[0].conn
    assert posts[0].headers[p.H_ERROR_TYPE.lower()] == p.AFTER_RESTORE_ERROR
    doc = json.loads(posts[0].body)
    assert doc["errorType"] == "PermissionError"
    assert doc["errorMessage"] == "credentials endpoint refused token ***"
    assert TOKEN not in output and TOKEN.encode() not in posts[0].body
    assert server.count("next") == 0


async def test_without_snapstart_the_first_request_is_next() -> None:
    async with FaultServer() as server:
        proc = await spawn(
            child_env(server.runtime_api, "fn.snap_hooks.handler", LAMBDA_TASK_ROOT=str(HERE))
        )
        try:
            server.queue(Event("req-1"))
            assert await server.settled("req-1") == "response"
        finally:
            code, output = await stop(proc)
        assert code == 0, output
        assert server.requests[0].kind == "next"
        assert server.count("restore_next") == 0
        assert json.loads(server.posts("req-1")[0].body)["events"] == []
