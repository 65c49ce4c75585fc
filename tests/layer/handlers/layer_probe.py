"""Reports where the runtime's modules came from, to prove the layer served them."""

from __future__ import annotations

import os
import sys
from typing import Any

import orjson

import aiolambda


async def handler(event: Any, context: Any) -> dict[str, Any]:
    return {
        "event": event,
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "aiolambda": aiolambda.__file__,
        "orjson": orjson.__file__,
        "loop_module": type(__import__("asyncio").get_running_loop()).__module__,
        "sys_path": sys.path[:3],
        "pythonpath": os.environ.get("PYTHONPATH"),
        "opt_dir": os.environ.get("AIOLAMBDA_OPT_DIR"),
        "request_id": context.aws_request_id,
    }
