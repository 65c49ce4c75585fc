"""Powertools' Bedrock agent, Bedrock agent functions and AppSync Events resolvers.

Each handler records what it knows before it waits for the other invocations of the
batch, and reads the resolver's event and context again after.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aws_lambda_powertools.event_handler import (
    AppSyncEventsResolver,
    BedrockAgentFunctionResolver,
    BedrockAgentResolver,
)

_started = [0]
_all_in = asyncio.Event()
_lock = threading.Lock()
_threads_started = [0]
_threads_in = threading.Event()


async def _together(n: int) -> None:
    _started[0] += 1
    if _started[0] >= n:
        _all_in.set()
    await asyncio.wait_for(_all_in.wait(), 10)
    await asyncio.sleep(0)


def _together_in_threads(n: int) -> None:
    with _lock:
        _threads_started[0] += 1
        if _threads_started[0] >= n:
            _threads_in.set()
    _threads_in.wait(10)


agent = BedrockAgentResolver()  # validation on, as by default


@agent.get("/item", description="one item")
async def item() -> dict[str, Any]:
    item = agent.current_event.parameters[0].value
    await _together(int(agent.current_event.session_attributes["n"]))
    return {
        "item": item,
        "param": agent.current_event.parameters[0].value,
        "session": agent.current_event.session_id,
        "rid": agent.lambda_context.aws_request_id,
    }


async def agent_handler(event: dict[str, Any], context: Any) -> Any:
    response = await agent.resolve_async(event, context)
    return {"rid": context.aws_request_id, "response": response}


tools = BedrockAgentFunctionResolver()


@tools.tool(name="lookup", description="look an item up")
def lookup(item: str) -> dict[str, Any]:
    _together_in_threads(int(tools.current_event.session_attributes["n"]))
    return {"item": item, "session": tools.current_event.session_id}


def tools_handler(event: dict[str, Any], context: Any) -> Any:
    """A plain def handler (threads with AIOLAMBDA_SYNC_THREADS=1)."""
    return {"rid": context.aws_request_id, "response": tools.resolve(event, context)}


channels = AppSyncEventsResolver()


@channels.on_publish("/default/*")
def publish(payload: dict[str, Any]) -> dict[str, Any]:
    _together_in_threads(int(payload["n"]))
    return {
        "item": payload["item"],
        "channel": channels.current_event.info.channel_path,
        "rid": channels.lambda_context.aws_request_id,
    }


def channels_handler(event: dict[str, Any], context: Any) -> Any:
    return {"rid": context.aws_request_id, "response": channels.resolve(event, context)}
