"""Smoke run of the benchmark harness: tiny N, correctness only, never a timing threshold.

Every contender of ``benchmarks/run.py`` must serve its invocations with correct
answers through the mock Runtime API; the mock itself must reject wrong, repeated
and unknown answers (else the benchmark could not fail) and parse the request
shapes real clients send.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.append(str(BENCH))  # last: the scripts there must not shadow anything

import _harness as h  # noqa: E402
from _mock_api import MockRuntimeAPI  # noqa: E402

from aiolambda._core import protocol as proto  # noqa: E402

N_TINY = 20
N_100K = 5


@pytest.mark.parametrize("key", [c.key for c in (*h.CONTENDERS, *h.EXTRA_CONTENDERS)])
def test_every_contender_answers_correctly(key: str) -> None:
    contender = h.CONTENDER_BY_KEY[key]
    why = contender.available()
    if why:
        pytest.skip(why)
    where = h.placement(split=False)
    for size_key, n in (("tiny", N_TINY), ("100k", N_100K)):
        size = h.SIZE_BY_KEY[size_key]
        with h.EventFile(h.make_event(size.nbytes)) as event:
            result = h.run_once(contender, event, n, where, size_key=size_key, timeout_s=20)
        assert result.ok, f"{key} on {size_key}: {result.error}"
        assert result.n == n
        assert result.elapsed_s > 0
        assert result.peak_rss_kb > 0


@pytest.mark.parametrize("key", ["aiolambda", "awslambdaric_312", "floor_orjson"])
def test_realistic_events_are_answered_correctly(key: str) -> None:
    contender = h.CONTENDER_BY_KEY[key]
    why = contender.available()
    if why:
        pytest.skip(why)
    for size in h.REALISTIC_SIZES:
        with h.EventFile(size.event()) as event:
            result = h.run_once(contender, event, 3, h.placement(split=False), timeout_s=20)
        assert result.ok, f"{key} on {size.key}: {result.error}"
        assert result.pss_kb > 0  # measured from the live processes, never computed


def test_every_repetition_rotates_the_contenders() -> None:
    import run

    items = [h.CONTENDER_BY_KEY[k] for k in ("aiolambda", "floor", "floor_orjson")]
    orders = [[c.key for c in run.rotated(items, rep)] for rep in range(3)]
    assert orders == [
        ["aiolambda", "floor", "floor_orjson"],
        ["floor", "floor_orjson", "aiolambda"],
        ["floor_orjson", "aiolambda", "floor"],
    ]


def test_readme_tables_refuse_a_quick_run() -> None:
    import run

    with pytest.raises(SystemExit, match="Not for quoting"):
        run.readme_tables({"meta": {"quick": True}, "cells": []})


def test_events_have_the_requested_sizes() -> None:
    for size in h.SIZES:
        event = h.make_event(size.nbytes)
        assert json.loads(event)
        assert size.nbytes - 200 < len(event) <= size.nbytes
    assert len(h.make_event(h.SIZE_BY_KEY["6m"].nbytes)) < proto.MAX_PAYLOAD_BYTES - 4096


# -- the mock's own checks, over a raw loopback connection ------------------------------
EVENT = b'{"a":[1,2,3],"b":"x"}'


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status, *lines = head[:-4].split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines)}
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status, headers, body


async def _next(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(f"GET {proto.NEXT_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    status, headers, body = await _read_response(reader)
    assert status.startswith(b"HTTP/1.1 200"), status
    assert body == EVENT
    for name in (proto.H_REQUEST_ID, proto.H_DEADLINE_MS, proto.H_FUNCTION_ARN, proto.H_TRACE_ID):
        assert name.encode() in headers
    return headers[proto.H_REQUEST_ID.encode()]


def _post(request_id: bytes, body: bytes) -> bytes:
    path = proto.response_path(request_id.decode()).encode()
    return b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (path, len(body), body)


async def test_mock_fails_a_wrong_answer() -> None:
    async with MockRuntimeAPI(2, EVENT, timeout_s=30) as api:
        reader, writer = await asyncio.open_connection("127.0.0.1", await api.start())
        rid = await _next(reader, writer)
        writer.write(_post(rid, b'{"a":[1,2,4],"b":"x"}'))
        result = await api.result()
        writer.close()
    assert not result.ok
    assert "wrong answer" in result.error


async def test_mock_fails_an_answer_given_twice() -> None:
    async with MockRuntimeAPI(2, EVENT, timeout_s=30) as api:
        reader, writer = await asyncio.open_connection("127.0.0.1", await api.start())
        rid = await _next(reader, writer)
        writer.write(_post(rid, EVENT))
        status, _, _ = await _read_response(reader)
        assert status.startswith(b"HTTP/1.1 202")
        writer.write(_post(rid, EVENT))
        result = await api.result()
        writer.close()
    assert not result.ok
    assert "twice" in result.error


async def test_mock_fails_an_unknown_request_id_and_an_error_post() -> None:
    async with MockRuntimeAPI(1, EVENT, timeout_s=30) as api:
        reader, writer = await asyncio.open_connection("127.0.0.1", await api.start())
        await _next(reader, writer)
        writer.write(_post(b"not-a-handed-out-id", EVENT))
        result = await api.result()
        writer.close()
    assert not result.ok
    assert "unknown request id" in result.error

    async with MockRuntimeAPI(1, EVENT, timeout_s=30) as api:
        reader, writer = await asyncio.open_connection("127.0.0.1", await api.start())
        rid = await _next(reader, writer)
        path = proto.error_path(rid.decode()).encode()
        writer.write(b"POST %s HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}" % path)
        result = await api.result()
        writer.close()
    assert not result.ok
    assert "posted an error" in result.error


async def test_mock_parses_partial_pipelined_chunked_and_expect_requests() -> None:
    n = 3
    async with MockRuntimeAPI(n, EVENT, timeout_s=30) as api:
        reader, writer = await asyncio.open_connection("127.0.0.1", await api.start())
        # 1: the /next request a byte at a time, then a Content-Length answer split mid-body.
        request = f"GET {proto.NEXT_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        for i in range(len(request)):
            writer.write(request[i : i + 1])
            await writer.drain()
        status, headers, body = await _read_response(reader)
        assert body == EVENT
        post = _post(headers[proto.H_REQUEST_ID.encode()], json.dumps(json.loads(EVENT)).encode())
        writer.write(post[: len(post) - 5])
        await writer.drain()
        writer.write(post[len(post) - 5 :])
        status, _, _ = await _read_response(reader)
        assert status.startswith(b"HTTP/1.1 202")
        # 2: a chunked answer with a trailer, announced with Expect: 100-continue.
        rid = await _next(reader, writer)
        path = proto.response_path(rid.decode()).encode()
        writer.write(
            b"POST %s HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n" % path
        )
        status, _, _ = await _read_response(reader)
        assert status.startswith(b"HTTP/1.1 100")
        writer.write(b"5\r\n" + EVENT[:5] + b"\r\n" + b"%x\r\n" % (len(EVENT) - 5) + EVENT[5:])
        writer.write(b"\r\n0\r\nX-Trailer: 1\r\n\r\n")
        status, _, _ = await _read_response(reader)
        assert status.startswith(b"HTTP/1.1 202")
        # 3: /next and the answer pipelined on one write after it.
        rid = await _next(reader, writer)
        writer.write(_post(rid, EVENT) + f"GET {proto.NEXT_PATH} HTTP/1.1\r\n\r\n".encode())
        result = await api.result()
        writer.close()
    assert result.ok, result.error
    assert result.answered == n
    assert result.json_equal_answers == 0  # the json.dumps rendering is matched byte for byte
    assert result.elapsed_ns > 0


async def test_mock_serves_concurrent_connections() -> None:
    n = 8
    async with MockRuntimeAPI(n, EVENT, timeout_s=30) as api:
        port = await api.start()
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(n)]
        ids = await asyncio.gather(*(_next(r, w) for r, w in conns))
        assert len(set(ids)) == n
        for (_, w), rid in zip(conns, ids, strict=True):
            w.write(_post(rid, EVENT))
        result = await api.result()
        for _, w in conns:
            w.close()
    assert result.ok, result.error
    assert result.max_in_flight == n
    assert result.connections == n


async def test_mock_takes_256_connections_at_once() -> None:
    # concurrency.py's N = 256 pollers connect in one burst, before the mock's loop runs
    # again. Past the listen backlog the kernel drops handshakes, and a poller would
    # start a TCP retransmission timeout (1 s) late: here the loop is held while the
    # kernel completes every handshake, and a dropped one would time out.
    async with MockRuntimeAPI(1, EVENT, timeout_s=30) as api:
        port = await api.start()
        socks = []
        try:
            for _ in range(256 + 44):
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        finally:
            for sock in socks:
                sock.close()
    assert len(socks) == 300


async def test_mock_times_the_part_after_the_warm_up_answers() -> None:
    n, warm_after = 4, 2
    async with MockRuntimeAPI(n, EVENT, timeout_s=30, warm_after=warm_after) as api:
        reader, writer = await asyncio.open_connection("127.0.0.1", await api.start())
        for _ in range(n):
            rid = await _next(reader, writer)
            writer.write(_post(rid, EVENT))
            status, _, _ = await _read_response(reader)
            assert status.startswith(b"HTTP/1.1 202")
        result = await api.result()
        writer.close()
    assert result.ok, result.error
    assert result.answered_at_full == warm_after
    assert result.first_next_ns < result.full_ns < result.last_answer_ns


def test_concurrency_benchmark_loses_and_repeats_nothing() -> None:
    contender = h.CONTENDER_BY_KEY["aiolambda"]
    why = contender.available()
    if why:
        pytest.skip(why)
    n_conc, rounds = 8, 3
    with h.EventFile(h.TINY_EVENT) as event:
        result = h.run_once(
            contender,
            event,
            n_conc * rounds,
            h.placement(split=False),
            timeout_s=20,
            env_extra={"AWS_LAMBDA_MAX_CONCURRENCY": str(n_conc)},
            handler="sleep.handler",
            warm_after=n_conc,  # concurrency.py times the rounds after its warm-up
        )
    # ok: every one of the 24 invocations answered exactly once, with its own event.
    assert result.ok, result.error
    assert result.warm_n == n_conc * (rounds - 1)
    assert 0 < result.warm_elapsed_s < result.elapsed_s
    assert result.connections >= n_conc  # one keep-alive connection per poller
    assert result.max_in_flight > 1  # invocations overlapped
