"""``async def`` hooks (awaited on the runtime's loop under aiolambda) and a sync one."""

import asyncio

from snapshot_restore_py import register_after_restore, register_before_snapshot

EVENTS: list[str] = []
LOOPS: set[int] = set()


@register_before_snapshot
async def close_pool() -> None:
    LOOPS.add(id(asyncio.get_running_loop()))
    await asyncio.sleep(0)
    EVENTS.append("async-before")


async def reopen_pool(name: str) -> None:
    LOOPS.add(id(asyncio.get_running_loop()))
    await asyncio.sleep(0)
    EVENTS.append(f"async-after:{name}")


register_after_restore(reopen_pool, "db")


@register_after_restore
def reseed() -> None:
    EVENTS.append("sync-after")


async def handler(event: object, context: object) -> dict[str, object]:
    LOOPS.add(id(asyncio.get_running_loop()))
    return {"events": EVENTS, "loops": len(LOOPS)}


def sync_handler(event: object, context: object) -> dict[str, object]:
    """For awslambdaric, which runs only plain functions."""
    return {"events": EVENTS}
