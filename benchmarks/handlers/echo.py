"""Echo handlers: the answer is the event, so the mock can check every byte."""

from __future__ import annotations

from typing import Any


async def handler(event: Any, context: Any) -> Any:
    """aiolambda's main use: an ``async def`` handler."""
    return event


def sync_handler(event: Any, context: Any) -> Any:
    """The same echo as a plain function (awslambdaric, and aiolambda's sync path)."""
    return event
