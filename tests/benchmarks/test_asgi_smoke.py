"""Smoke run of ``benchmarks/asgi.py``: every contender answers the FastAPI request right.

Tiny N, correctness only. The mock checks the answers against ``--expect-file`` (the
app's response, not an echo); it must also refuse an answer that differs.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.append(str(BENCH))  # last: the scripts there must not shadow anything

import _harness as h  # noqa: E402
from _mock_api import MockRuntimeAPI  # noqa: E402

from aiolambda._core import protocol as proto  # noqa: E402

EXPECT = {"statusCode": 200, "body": '{"item_id":42,"q":"lamp","greeting":"hello"}'}


@pytest.mark.parametrize("key", ["aiolambda", "mangum", "mangum_off"])
@pytest.mark.parametrize("event_kind", ["http", "rest"])
def test_every_asgi_contender_answers_the_request(key: str, event_kind: str) -> None:
    import asgi as bench  # benchmarks/asgi.py

    contender = next(c for c in bench.CONTENDERS if c.key == key)
    if why := contender.available():
        pytest.skip(why)
    event = bench.EVENTS[event_kind][1]()
    with (
        h.EventFile(json.dumps(event).encode()) as event_file,
        tempfile.NamedTemporaryFile("w", suffix=".json") as expect,
    ):
        json.dump(EXPECT, expect)
        expect.flush()
        result = h.run_once(
            contender,
            event_file,
            10,
            h.placement(split=False),
            timeout_s=30,
            mock_args=("--expect-file", expect.name),
        )
    assert result.ok, result.error


async def test_the_mock_refuses_an_answer_that_is_not_the_expected_one() -> None:
    async with MockRuntimeAPI(2, b"{}", timeout_s=30, expect=EXPECT) as api:
        reader, writer = await asyncio.open_connection("127.0.0.1", await api.start())
        for answer in (EXPECT, {**EXPECT, "statusCode": 500}):
            writer.write(f"GET {proto.NEXT_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            rid = head.lower().split(proto.H_REQUEST_ID.encode() + b":")[1].split(b"\r\n")[0]
            body = json.dumps(answer).encode()
            path = proto.response_path(rid.strip().decode()).encode()
            writer.write(
                b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                % (path, len(body), body)
            )
            if answer is EXPECT:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(16)
        result = await api.result()
        writer.close()
    assert not result.ok and "wrong answer for request 1" in result.error
