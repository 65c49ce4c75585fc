"""A module that fails at import time: its handler can only ever report an init error."""

from __future__ import annotations

raise RuntimeError("cannot start: missing configuration")


def handler(event: object, context: object) -> None:  # pragma: no cover - never reached
    return None
