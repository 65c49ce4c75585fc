"""The I/O-bound handler of the concurrency benchmark: 50 ms of waiting, then echo."""

from __future__ import annotations

import asyncio
from typing import Any

SLEEP_S = 0.05


async def handler(event: Any, context: Any) -> Any:
    """Waits on the event loop, so other invocations run meanwhile."""
    await asyncio.sleep(SLEEP_S)
    return event
