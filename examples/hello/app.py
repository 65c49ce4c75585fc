"""The smallest aiolambda function: an ``async def`` handler.

It needs nothing beyond aiolambda-runtime.
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/hello/requirements.txt
    aiolambda invoke examples/hello/app.handler --event '{"name": "Ada"}'
"""

from __future__ import annotations

import asyncio
from typing import Any


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Greet the caller; awaits once to show the handler runs on the event loop."""
    await asyncio.sleep(0)
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {
        "message": f"Hello, {name}!",
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
