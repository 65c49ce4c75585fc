"""A before-snapshot hook that raises."""

from snapshot_restore_py import register_before_snapshot

RAN: list[str] = []


@register_before_snapshot
def runs_second() -> None:
    RAN.append("second")


@register_before_snapshot
def refuses() -> None:
    raise ValueError("cannot snapshot: a socket is open")


def handler(event: object, context: object) -> str:
    return "unreachable"
