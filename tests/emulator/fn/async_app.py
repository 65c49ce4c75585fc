"""``async def`` handlers for the aiolambda runtime under the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

# Shared by concurrent invocations in one process: how many arrived, and when all did.
_rendezvous: dict[str, Any] = {"arrived": 0, "event": None}


async def hello(event: Any, context: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    print(f"greeting {event.get('name')}")
    return {"message": f"Hello, {event.get('name', 'world')}!", "id": context.aws_request_id}


async def fail(event: Any, context: Any) -> None:
    raise KeyError("missing")


async def slow(event: Any, context: Any) -> str:
    await asyncio.sleep(float(event["seconds"]))
    return "done"


async def rendezvous(event: Any, context: Any) -> int:
    """Finish only once ``event["n"]`` invocations are in flight at the same time."""
    if _rendezvous["event"] is None:
        _rendezvous["event"] = asyncio.Event()
    _rendezvous["arrived"] += 1
    if _rendezvous["arrived"] >= int(event["n"]):
        _rendezvous["event"].set()
    await _rendezvous["event"].wait()
    return int(_rendezvous["arrived"])


async def blocker(event: Any, context: Any) -> str:
    """Blocks the event loop, so no deadline cancellation can run: only a kill stops it."""
    import time

    time.sleep(float(event["seconds"]))
    return "woke up"


async def pid(event: Any, context: Any) -> int:
    import os

    return os.getpid()
