"""Reports whether the garbage collector runs while the handler initialises and runs."""

from __future__ import annotations

import gc
from typing import Any

ENABLED_AT_IMPORT = gc.isenabled()


async def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"at_import": ENABLED_AT_IMPORT, "in_handler": gc.isenabled()}
