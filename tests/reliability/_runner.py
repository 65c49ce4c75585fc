"""Run aiolambda's runtime in-process against any Runtime API address (the test's loop).

Like ``tests/runtime/harness.py``, but pointed at a :class:`FaultServer` instead of the
emulator, and with the runtime's logs captured: the ``aiolambda`` logger's records are
kept (redacted by the same :class:`Redactor` the bootstrap would build) and the
telemetry frames can be read back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiolambda._core.config import RuntimeConfig
from aiolambda._core.errors import Redactor
from aiolambda._core.handler import Handler, is_async_callable
from aiolambda._core.invocation import Invoker, SyncExecutor
from aiolambda._core.logs import LogSink
from aiolambda._core.runtime import Runtime
from tests.lambda_env import lambda_environ

TRANSPORTS = ("lean", "aiohttp")
REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


class _Keep(logging.Handler):
    def __init__(self, redact: Redactor) -> None:
        super().__init__(logging.DEBUG)
        self.redact = redact
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.redact(f"{record.levelname} {record.getMessage()}"))


@dataclass
class Served:
    runtime: Runtime
    invoker: Invoker
    task: asyncio.Task[int]
    log_path: str
    _keep: _Keep
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def log_lines(self) -> list[str]:
        """The ``aiolambda`` logger's records so far: ``LEVEL message``."""
        return list(self._keep.lines)

    def frames(self) -> list[str]:
        """The telemetry frames the runtime wrote (error logs of invocations)."""
        with open(self.log_path, "rb") as f:
            data = f.read()
        out = []
        while data:
            _type, length, _ts = struct.unpack(">IIQ", data[:16])
            out.append(data[16 : 16 + length].decode())
            data = data[16 + length :]
        return out


@contextlib.asynccontextmanager
async def serving(
    func: Callable[..., Any],
    *,
    api: str,
    transport: str,
    env: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> AsyncIterator[Served]:
    """Run the runtime for ``func`` against ``api`` until the block ends (or it exits)."""
    fd, log_path = tempfile.mkstemp(prefix="aiolambda-reliability-")
    environ = {
        "AWS_LAMBDA_RUNTIME_API": api,
        "_HANDLER": "test.handler",
        "AWS_LAMBDA_FUNCTION_NAME": "reliability",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AIOLAMBDA_TRANSPORT": transport,
        "_LAMBDA_TELEMETRY_LOG_FD": str(fd),
        **(env or {}),
    }
    config = RuntimeConfig.from_environ(environ)
    handler = Handler(func=func, is_async=is_async_callable(func), name="test.handler")
    executor = None if handler.is_async else SyncExecutor(config.max_concurrency)
    redact = Redactor(secrets)
    sink = LogSink(config.telemetry_fd, json=False, redact=redact)
    invoker = Invoker(config, handler, executor=executor, redact=redact, log_writer=sink.write_raw)
    keep = _Keep(redact)
    logger = logging.getLogger("aiolambda")
    logger.addHandler(keep)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    runtime = Runtime(config, invoker, sink)
    task = asyncio.get_running_loop().create_task(runtime.serve())
    try:
        yield Served(runtime, invoker, task, log_path, keep)
    finally:
        runtime.stop()
        await task
        logger.removeHandler(keep)
        logger.setLevel(old_level)
        if executor is not None:
            executor.shutdown(wait=not invoker.unreclaimable, cancel_futures=True)
        os.close(fd)
        os.unlink(log_path)


def child_env(api: str, handler: str, **extra: str) -> dict[str, str]:
    """Environment for ``python -m aiolambda`` as a child process against ``api``."""
    return lambda_environ(
        runtime_api=api,
        handler=handler,
        task_root=str(FIXTURES),
        function_name="reliability",
        PYTHONPATH=str(REPO),
        **extra,
    )


async def spawn(env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """Start ``python -m aiolambda`` with ``env``; stdout and stderr are piped together."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiolambda",
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for the child to exit by itself; its exit code and output."""
    assert proc.stdout is not None
    output = await proc.stdout.read()
    return await proc.wait(), output.decode("utf-8", "replace")


async def stop(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    """SIGTERM the child, then wait for it; its exit code and output."""
    if proc.returncode is None:
        proc.terminate()
    return await finish(proc)
