"""A plain before-snapshot hook that starts an event loop of its own."""

import asyncio

from snapshot_restore_py import register_before_snapshot

EVENTS: list[str] = []


async def _flush() -> None:
    EVENTS.append("flushed")


@register_before_snapshot
def flush() -> None:
    asyncio.run(_flush())


def handler(event: object, context: object) -> dict[str, object]:
    return {"events": EVENTS}
