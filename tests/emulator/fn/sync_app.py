"""Synchronous handlers (awslambdaric style) used by the emulator tests."""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def echo(event: Any, context: Any) -> dict[str, Any]:
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "cwd": os.getcwd(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "max_concurrency": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"),
    }


def fail(event: Any, context: Any) -> None:
    raise ValueError("boom")


def talk(event: Any, context: Any) -> str:
    print(f"hello from {context.aws_request_id}")
    print("to stderr too", file=sys.stderr)
    return "said it"


def nap(event: Any, context: Any) -> str:
    time.sleep(float(event["seconds"]))
    return "rested"


def crash(event: Any, context: Any) -> None:
    print("about to crash", flush=True)
    os._exit(3)


def huge(event: Any, context: Any) -> str:
    return "x" * (7 * 1024 * 1024)


def pid(event: Any, context: Any) -> int:
    return os.getpid()
