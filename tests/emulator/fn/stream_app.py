"""Streaming handlers for the spawn-mode and CLI tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


async def chunks(event: Any, context: Any) -> AsyncIterator[str]:
    for i in range(int(event.get("n", 3))):
        yield f"part{i}\n"
    if event.get("fail"):
        raise ValueError("mid-stream failure")
