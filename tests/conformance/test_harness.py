"""The RIE harness itself: a port taken between choosing it and RIE's bind is retried."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.rie as rie_harness
from tests.conformance.conftest import run


def test_a_port_lost_to_another_process_is_retried(
    rie: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CI failure this guards: RIE panicked with "bind: address already in use" on a
    # port free_port() had just returned. Here the first Runtime API port handed out is
    # held by a listener, so RIE's first start must fail. (A taken invoke port is not
    # staged: the readiness probe would connect to the holder and never learn of it.)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        real = rie_harness.free_port
        handed: Iterator[int] = iter([real(), busy])
        monkeypatch.setattr(rie_harness, "free_port", lambda: next(handed, None) or real())
        done = run(rie, "app.echo", [{"n": 1}])
    assert [r.json() for r in done.replies] == [{"n": 1}]
    assert "address already in use" not in done.output
