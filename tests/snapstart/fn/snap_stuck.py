"""An after-restore hook that never returns."""

import threading

from snapshot_restore_py import register_after_restore


@register_after_restore
def wait_forever() -> None:
    print("hook stuck", flush=True)
    threading.Event().wait()


def handler(event: object, context: object) -> str:
    return "unreachable"
