"""aiolambda: an asyncio runtime client for AWS Lambda.

Write ``async def handler(event, context)`` (plain ``def`` works too) and run it with
``python -m aiolambda module.handler`` as the Lambda runtime, or locally with
``aiolambda invoke`` / ``aiolambda serve``.
"""

from __future__ import annotations

from aiolambda._core.context import (
    ClientContext,
    CognitoIdentity,
    Context,
    current_request_id,
    current_trace_id,
)
from aiolambda.streaming import StreamingResponse

__version__ = "0.1.0"

__all__ = [
    "ClientContext",
    "CognitoIdentity",
    "Context",
    "StreamingResponse",
    "__version__",
    "current_request_id",
    "current_trace_id",
]
