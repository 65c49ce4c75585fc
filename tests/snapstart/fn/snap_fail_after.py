"""An after-restore hook that raises."""

from snapshot_restore_py import register_after_restore


@register_after_restore
def reconnect() -> None:
    raise ConnectionError("database unreachable after restore")


def handler(event: object, context: object) -> str:
    return "unreachable"
