"""An integration written for the stock runtime's bootstrap, whose flush blocks."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any

import __main__

bootstrap: Any = __main__.bootstrap  # where integrations look for the stock runtime's module
original = bootstrap.LambdaRuntimeClient.post_invocation_result
hook_waiting = threading.Event()
second_ran = threading.Event()


def blocking_flush(self: Any, invoke_id: str, result_data: Any, *args: Any) -> Any:
    if result_data.get("first"):
        hook_waiting.set()
        # Blocks until the other invocation's handler has run on the loop: a hook run on
        # the loop's thread would wait forever (bounded here), as that handler could not.
        ok = second_ran.wait(10)
        sys.stdout.write(f"HOOK {invoke_id} waited ok={ok}\n")
        sys.stdout.flush()
    return original(self, invoke_id, result_data, *args)


bootstrap.LambdaRuntimeClient.post_invocation_result = blocking_flush


async def handler(event: Any, context: Any) -> Any:
    if not event.get("first"):
        await asyncio.to_thread(hook_waiting.wait, 10)
        second_ran.set()
    return {"first": bool(event.get("first")), "rid": context.aws_request_id}
