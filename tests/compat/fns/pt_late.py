"""Powertools first imported inside an invocation, not at init."""

from __future__ import annotations

from typing import Any


async def handler(event: dict[str, Any], context: Any) -> Any:
    import pt_resolvers  # imports Powertools' Event Handler on the first call

    return await pt_resolvers.handler(event, context)
