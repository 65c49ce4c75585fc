"""Running real libraries' handlers (tests/compat/fns) through the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiolambda.emulator import Emulator, InvokeResult

FNS = Path(__file__).parent / "fns"
N = 8
# None: one invocation at a time (on-demand Lambda); N: Managed Instances, N in flight.
LEVELS = (None, N)
BASE_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


@contextlib.asynccontextmanager
async def function(
    handler: str,
    concurrency: int | None,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 15,
) -> AsyncIterator[Emulator]:
    """The handler in fns/, spawned as a real ``python -m aiolambda`` runtime."""
    async with Emulator(
        handler,
        task_root=FNS,
        concurrency=concurrency,
        timeout=timeout,
        env={**BASE_ENV, **(env or {})},
    ) as emu:
        yield emu


async def invoke_all(emu: Emulator, events: Iterable[Any]) -> list[InvokeResult]:
    """Submit every event at once; every invocation must be answered exactly once."""
    results = await asyncio.gather(*(emu.submit(event) for event in events))
    for res in results:
        answers = emu.answers(res.request_id)
        assert len(answers) == 1, (res.request_id, answers)
    return list(results)


def json_lines(text: str, key: str) -> list[dict[str, Any]]:
    """The JSON objects in the output that have ``key``.

    Worker processes share one output pipe here (on Lambda each has its own log
    connection), and ``print`` writes the text and its newline separately, so two
    processes' documents can end up on one line, back to back: each is read.
    """
    decoder = json.JSONDecoder()
    found = []
    for raw in text.splitlines():
        line, pos = raw.strip(), 0
        while pos < len(line) and line[pos] == "{":
            try:
                doc, pos = decoder.raw_decode(line, pos)
            except ValueError:
                break
            if isinstance(doc, dict) and key in doc:
                found.append(doc)
            while pos < len(line) and line[pos].isspace():
                pos += 1
    return found


def together(concurrency: int | None) -> int:
    """How many invocations an async handler waits for, to overlap for sure."""
    return concurrency or 1
