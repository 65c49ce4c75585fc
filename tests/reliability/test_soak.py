"""The soak, shortened: 20 000 invocations through one runtime process, nothing leaked.

The full million is ``python benchmarks/soak.py`` (see RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import soak  # noqa: E402

N = 20_000


@pytest.mark.parametrize(("sync", "n"), [(False, N), (True, N // 4)], ids=["async", "sync"])
def test_soak_answers_every_invocation_once_and_leaks_nothing(sync: bool, n: int) -> None:
    report = asyncio.run(soak.soak(n, sync=sync, every=1_000, warmup=n // 4, timeout_s=120.0))
    assert report["answered"] == n, report["output_tail"]
    assert report["handed"] == n
    assert report["connections"] == 1  # one keep-alive connection for the whole run
    assert soak.verdict(report) == [], soak.summary(report)
    samples = report["samples"]
    assert [s["n"] for s in samples] == list(range(1_000, n + 1, 1_000))


def test_the_soak_server_rejects_what_it_should() -> None:
    # Its checks must be able to fail: an unknown id, a repeated answer, a wrong body.
    async def run() -> list[str]:
        loop = asyncio.get_running_loop()
        api = soak._Api(2, loop.create_future())
        sent: list[bytes] = []

        class Conn:
            transport = None

            def write(self, data: bytes) -> None:
                sent.append(data)

        conn = Conn()
        prefix = b"/2018-06-01/runtime/invocation/"
        api.on_request(conn, b"POST", prefix + b"soak-0000000000/response", soak.EVENT)  # type: ignore[arg-type]
        api.on_request(conn, b"GET", b"/2018-06-01/runtime/invocation/next", b"")  # type: ignore[arg-type]
        api.on_request(conn, b"POST", prefix + b"soak-0000000000/response", b"{}")  # type: ignore[arg-type]
        api.on_request(conn, b"POST", prefix + b"soak-0000000000/response", soak.EVENT)  # type: ignore[arg-type]
        assert sent[0].startswith(b"HTTP/1.1 400")
        assert sent[1].startswith(b"HTTP/1.1 200")
        assert sent[3].startswith(b"HTTP/1.1 400")
        return api.errors

    errors = asyncio.run(run())
    assert len(errors) == 3
    assert (
        "not awaiting" in errors[0] and "wrong answer" in errors[1] and "not awaiting" in errors[2]
    )
