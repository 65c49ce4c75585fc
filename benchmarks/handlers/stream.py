"""Streaming benchmark handler: the same bytes, streamed or returned whole.

The event says ``mode`` (``"streamed"`` or ``"buffered"``), ``size`` (bytes),
``chunk`` (bytes per yield) and ``pause_ms`` (time to produce each chunk; 0 = free).
The bytes come from one preallocated block, so the figures measure the runtime and
the transport, not the production of data.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

_BLOCK = b"x" * (1 << 20)


async def _chunks(size: int, chunk: int, pause_s: float) -> AsyncIterator[bytes]:
    block = _BLOCK[:chunk]  # one object, yielded again and again
    remaining = size
    while remaining > 0:
        if pause_s:
            await asyncio.sleep(pause_s)
        yield block if remaining >= chunk else block[:remaining]
        remaining -= chunk


async def handler(event: Any, context: Any) -> Any:
    size, chunk = int(event["size"]), int(event.get("chunk", 65536))
    pause_s = float(event.get("pause_ms", 0)) / 1000
    if event["mode"] == "streamed":
        return _chunks(size, min(chunk, len(_BLOCK)), pause_s)
    if pause_s:  # the same production time, spent before anything can be sent
        await asyncio.sleep(pause_s * -(-size // chunk))
    return b"x" * size
