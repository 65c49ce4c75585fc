"""The blocking twin of sleep.py for awslambdaric: one process per concurrent invocation.

A module of its own so awslambdaric does not pay for importing asyncio.
"""

from __future__ import annotations

import time
from typing import Any

SLEEP_S = 0.05


def handler(event: Any, context: Any) -> Any:
    """Blocks its process for 50 ms, then echoes."""
    time.sleep(SLEEP_S)
    return event
