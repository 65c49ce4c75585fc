"""A plain ``def`` handler for the sync driver's pipelining test under RIE."""

from typing import Any


def echo_or_fail(event: Any, context: Any) -> Any:
    if event.get("fail"):
        raise ValueError(f"asked to fail {event['n']}")
    return {"n": event["n"], "id": context.aws_request_id}
