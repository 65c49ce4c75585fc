"""Sync hooks, registered both ways (calls with arguments, and decorators)."""

import os

from snapshot_restore_py import register_after_restore, register_before_snapshot

EVENTS: list[str] = []


def note(name: str, *, suffix: str = "") -> None:
    EVENTS.append(name + suffix)
    print(f"hook {name}{suffix}", flush=True)


register_before_snapshot(note, "before-1", suffix="!")


@register_before_snapshot
def before_2() -> None:
    note("before-2")


register_after_restore(note, "after-1", suffix="!")


@register_after_restore
def after_2() -> None:
    note("after-2")


def handler(event: object, context: object) -> dict[str, object]:
    return {"events": EVENTS, "pid": os.getpid()}
