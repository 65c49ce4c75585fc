"""An async Lambda handler packaged as a container image (see Dockerfile).

The image installs ``requirements.txt``.
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/container/requirements.txt
    aiolambda invoke --task-root examples/container app.handler --event '{"ping": 1}'
"""

from __future__ import annotations

import asyncio
from typing import Any


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Echo the event back with the request id, after an awaited pause."""
    await asyncio.sleep(0)
    return {"echo": event, "request_id": context.aws_request_id}
