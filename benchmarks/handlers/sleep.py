"""I/O-bound handlers for the concurrency benchmark: 50 ms of waiting, then echo."""

from __future__ import annotations

import asyncio
import time
from typing import Any

SLEEP_S = 0.05


async def handler(event: Any, context: Any) -> Any:
    """Waits on the event loop, so other invocations run meanwhile."""
    await asyncio.sleep(SLEEP_S)
    return event


def sync_handler(event: Any, context: Any) -> Any:
    """Blocks its process: the process-per-request model (awslambdaric)."""
    time.sleep(SLEEP_S)
    return event
