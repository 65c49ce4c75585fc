"""Echo handlers with the after-restore hook a careful SnapStart function has."""

from __future__ import annotations

import random
from typing import Any

from snapshot_restore_py import register_after_restore, register_before_snapshot

STATE = {"snapshots": 0, "restores": 0}


@register_before_snapshot
def before_snapshot() -> None:
    STATE["snapshots"] += 1


@register_after_restore
def after_restore() -> None:
    random.seed()  # every restored copy would otherwise draw the same numbers
    STATE["restores"] += 1


def sync_handler(event: Any, context: Any) -> Any:
    """For both runtimes: awslambdaric only runs plain functions."""
    return {"event": event, **STATE}


async def handler(event: Any, context: Any) -> Any:
    """aiolambda's ``async def`` path."""
    return {"event": event, **STATE}
