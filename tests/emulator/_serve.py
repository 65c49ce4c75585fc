"""``aiolambda serve`` run as a user runs it, for the inner-loop tests."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING

from ._support import HERE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

CLI = [sys.executable, "-m", "aiolambda.cli"]


class Served:
    """A running ``aiolambda serve``: its invoke URL and its stdout, line by line."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url
        self.stderr = b""

    async def wait_line(self, prefix: str) -> str:
        """The next stdout line starting with ``prefix`` (bounded: the stream ends at exit)."""
        assert self.proc.stdout is not None
        while line := (await self.proc.stdout.readline()).decode():
            if line.startswith(prefix):
                return line
        raise AssertionError(f"serve ended before printing {prefix!r}")


@contextlib.asynccontextmanager
async def serve(*args: str, cwd: Path = HERE) -> AsyncIterator[Served]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", *args, "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=cwd,
    )  # fmt: skip
    served = None
    assert proc.stderr is not None
    # Drained all along: a StreamReader stops reading a pipe past 64 KB, and serve would
    # then block on its next log line.
    stderr = asyncio.ensure_future(proc.stderr.read())
    try:
        assert proc.stdout is not None
        first = (await proc.stdout.readline()).decode()
        assert first.startswith("aiolambda: serving "), first
        served = Served(proc, first.rsplit(" ", 1)[1].strip())
        yield served
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.stdout is not None
        _, err, _ = await asyncio.wait_for(
            asyncio.gather(proc.stdout.read(), stderr, proc.wait()), 60
        )
        if served is not None:
            served.stderr = err
