"""Pipelined ``/next``: used when the Runtime API takes it, dropped for good when it refuses.

The server counts requests it found already buffered when it finished reading the one
before (the client wrote them without waiting for the answer), so "pipelining was
used" is read from the wire, not from aiolambda's own state.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.reliability._faultserver import Event, FaultServer
from tests.reliability._runner import serving

WAIT_S = 20.0
REFUSED_LINE = "DEBUG the Runtime API refused a pipelined /next"


def _events(n: int) -> list[Event]:
    # Every third one fails: an /error post carries the next /next too.
    return [
        Event(f"e{i}", b'{"fail": true}' if i % 3 == 0 else b'{"i": %d}' % i)
        for i in range(1, n + 1)
    ]


def _handler(calls: list[Any]) -> Any:
    async def handler(event: Any, context: Any) -> Any:
        calls.append(context.aws_request_id)
        if event.get("fail"):
            raise ValueError("asked to fail")
        return {"echo": event}

    return handler


async def _serve_all(server: FaultServer, n: int, transport: str, **env: str) -> list[str]:
    """Serve ``n`` events; return the runtime's log lines. Each is answered exactly once."""
    calls: list[str] = []
    events = _events(n)
    async with serving(_handler(calls), api=server.runtime_api, transport=transport, env=env) as r:
        server.queue(*events)
        async with asyncio.timeout(WAIT_S):
            for event in events:
                await server.settled(event.request_id)
    server.assert_exactly_once()
    assert server.delivered == [e.request_id for e in events]
    assert calls == server.delivered  # each handler ran once, in order
    kinds = [p.kind for p in server.posts()]
    assert kinds == ["error" if i % 3 == 0 else "response" for i in range(1, n + 1)]
    return r.log_lines


async def test_every_next_after_an_answer_goes_out_with_it() -> None:
    async with FaultServer() as server:
        lines = await _serve_all(server, 7, "lean")
    # The first /next follows nothing; each answer carried the next /next (the one
    # after the last answer may not have been read yet when the test stops).
    assert server.pipelined in (["next"] * 6, ["next"] * 7)
    assert server.count("next") == 7  # delivered ones
    assert server.connections == 1
    assert not any(line.startswith(REFUSED_LINE) for line in lines), lines


@pytest.mark.parametrize(
    ("transport", "env"),
    [("lean", {"AIOLAMBDA_PIPELINE": "0"}), ("aiohttp", {})],
    ids=["lean-off", "aiohttp"],
)
async def test_the_switch_and_aiohttp_send_one_request_at_a_time(
    transport: str, env: dict[str, str]
) -> None:
    async with FaultServer() as server:
        await _serve_all(server, 4, transport, **env)
    assert server.pipelined == []


async def test_a_server_that_hangs_up_after_the_answer_turns_pipelining_off() -> None:
    """It answers the post and closes without reading the /next behind it: that /next is
    sent again on a new connection, and nothing is pipelined afterwards."""
    async with FaultServer(refuse_pipelining="close") as server:
        lines = await _serve_all(server, 6, "lean")
    assert server.pipelined == []  # the one sent was never read: the server hung up
    assert server.count("next") == 6
    assert server.connections == 2  # one reconnect, then sequential on it
    assert sum(line.startswith(REFUSED_LINE) for line in lines) == 1, lines


@pytest.mark.parametrize("status", [400, 403, 500])
async def test_a_refused_pipelined_next_is_asked_again_on_its_own(status: int) -> None:
    """The pipelined /next gets an error status (no event): asked again alone, it gets
    the event, and the runtime stops pipelining for good."""
    async with FaultServer(refuse_pipelining="status", refuse_status=status) as server:
        lines = await _serve_all(server, 6, "lean")
    assert server.pipelined == ["next"]  # the first one, refused; then one at a time
    assert server.count("next") == 7  # one per event, and the refused one
    assert server.connections == 1
    assert sum(line.startswith(REFUSED_LINE) for line in lines) == 1, lines


async def test_n_pollers_share_the_fallback() -> None:
    """Four pollers, each pipelining on its own connection; one refusal stops all."""
    async with FaultServer(refuse_pipelining="status") as server:
        lines = await _serve_all(server, 12, "lean", AWS_LAMBDA_MAX_CONCURRENCY="4")
    assert 1 <= len(server.pipelined) <= 4  # at most the ones already out when it happened
    assert sum(line.startswith(REFUSED_LINE) for line in lines) == 1, lines
