"""An async Lambda handler served by aiolambda through the layer's exec wrapper.

It needs nothing beyond aiolambda-runtime (the layer brings it on Lambda).
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/sam/function/requirements.txt
    aiolambda invoke examples/sam/function/app.handler --event '{"name": "SAM"}'
"""

from __future__ import annotations

import asyncio
from typing import Any


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Greet the caller; the sleeps run concurrently, so this takes ~10 ms, not 30."""
    name = event.get("name", "world")
    await asyncio.gather(*(asyncio.sleep(0.01) for _ in range(3)))
    return {
        "message": f"hello, {name}",
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
