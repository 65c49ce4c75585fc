"""A CPU-bound handler for ``benchmarks/workers.py``: a few milliseconds of hashing."""

from __future__ import annotations

import hashlib
from typing import Any


async def handler(event: Any, context: Any) -> Any:
    data = b"x" * 1024
    for _ in range(int(event.get("rounds", 4000)) if isinstance(event, dict) else 4000):
        data = hashlib.sha256(data).digest() * 32
    return {"digest": data[:8].hex()}
