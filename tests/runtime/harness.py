"""Run aiolambda's runtime in-process against the emulator (both on the test's loop)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiolambda._core.config import RuntimeConfig
from aiolambda._core.errors import Redactor
from aiolambda._core.handler import Handler, is_async_callable
from aiolambda._core.invocation import Invoker, SyncExecutor
from aiolambda._core.logs import LogSink
from aiolambda._core.runtime import Runtime
from aiolambda.emulator import Emulator

TRANSPORTS = ("lean", "aiohttp")


def r_stuck(invoker: Invoker) -> bool:
    return invoker.unreclaimable


@dataclass
class Running:
    emu: Emulator
    runtime: Runtime
    invoker: Invoker
    task: asyncio.Task[int]
    log_path: str

    def frames(self) -> list[tuple[int, str]]:
        """The telemetry frames written so far: (frame type, message)."""
        with open(self.log_path, "rb") as f:
            data = f.read()
        out = []
        while data:
            frame_type, length, _ts = struct.unpack(">IIQ", data[:16])
            out.append((frame_type, data[16 : 16 + length].decode()))
            data = data[16 + length :]
        return out


@contextlib.asynccontextmanager
async def running(
    func: Callable[..., Any],
    *,
    transport: str,
    timeout: float = 3.0,
    concurrency: int | None = None,
    env: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> AsyncIterator[Running]:
    """Start an emulator (no child process) and an in-process runtime serving ``func``."""
    async with Emulator(spawn=False, timeout=timeout, concurrency=concurrency) as emu:
        fd, log_path = tempfile.mkstemp(prefix="aiolambda-frames-")
        environ = {
            "AWS_LAMBDA_RUNTIME_API": emu.runtime_api,
            "_HANDLER": "test.handler",
            "AWS_LAMBDA_FUNCTION_NAME": "test_function",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/test_function",
            "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
            "AIOLAMBDA_TRANSPORT": transport,
            "_LAMBDA_TELEMETRY_LOG_FD": str(fd),
        }
        if concurrency is not None:
            environ["AWS_LAMBDA_MAX_CONCURRENCY"] = str(concurrency)
        environ.update(env or {})
        config = RuntimeConfig.from_environ(environ)
        handler = Handler(func=func, is_async=is_async_callable(func), name="test.handler")
        executor = None if handler.is_async else SyncExecutor(config.max_concurrency)
        redact = Redactor(secrets)
        sink = LogSink(config.telemetry_fd, json=config.log_format == "JSON", redact=redact)
        invoker = Invoker(
            config, handler, executor=executor, redact=redact, log_writer=sink.write_raw
        )
        runtime = Runtime(config, invoker, sink)
        task = asyncio.get_running_loop().create_task(runtime.serve())
        try:
            yield Running(emu, runtime, invoker, task, log_path)
        finally:
            runtime.stop()
            await task
            if executor is not None:
                executor.shutdown(wait=not r_stuck(invoker), cancel_futures=True)
            os.close(fd)
            os.unlink(log_path)
