"""The soak, shortened: 20 000 invocations through one runtime process, nothing leaked.

The full million is ``python benchmarks/soak.py`` (see RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

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


def _report(**last: int) -> dict[str, Any]:
    sample = {"n": 0, "rss": 20_000_000, "fds": 5, "tasks": 2, "threads": 1, "objects": 185}
    samples = [{**sample, "n": 1_000}, {**sample, "n": 2_000}, {**sample, "n": 3_000, **last}]
    return {"errors": [], "answered": 3_000, "n": 3_000, "exit_code": 0, "warmup": 1_000,
            "samples": samples}  # fmt: skip


@pytest.mark.parametrize(
    ("last", "problem"),
    [
        ({"objects": 185 + 2_000}, "GC-tracked objects grew by 2000"),
        ({"rss": 23_000_000}, "RSS grew 3.00 MB"),
        ({"fds": 6}, "fds: 5 after warm-up, 6 at the end"),
        ({"tasks": 3}, "tasks: 2 after warm-up, 3 at the end"),
        ({"threads": 2}, "threads: 1 after warm-up, 2 at the end"),
    ],
)
def test_the_verdict_reports_each_kind_of_leak(last: dict[str, int], problem: str) -> None:
    assert soak.verdict(_report()) == []
    problems = soak.verdict(_report(**last))
    assert len(problems) == 1 and problems[0].startswith(problem), problems
