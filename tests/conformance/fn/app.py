"""Handlers the conformance tier runs under RIE, with aiolambda and with awslambdaric."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

log = logging.getLogger("app")


def echo(event: Any, context: Any) -> Any:
    return event


def prints(event: Any, context: Any) -> Any:
    print(f"print {event['n']} {context.aws_request_id}")
    return event["n"]


def print_then_exit(event: Any, context: Any) -> Any:
    print(f"last words {context.aws_request_id}")
    sys.stderr.write("stderr words\n")
    os._exit(1)


def big_ints(event: Any, context: Any) -> Any:
    return {"in": event, "out": 2**64 + 1, "neg": -(2**63) - 1, "huge": 10**40}


def _lookup(table: dict[str, int]) -> int:
    return 1 + table["missing"] * 2  # a partial-line expression: 3.11+ would mark it ~~~^^^


def raises(event: Any, context: Any) -> Any:
    if event.get("kind") == "nested":
        return _lookup({})
    raise ValueError("boom\nsecond line")


def logs(event: Any, context: Any) -> Any:
    log.debug("debug line")
    log.info("info line")
    log.warning("warning line")
    log.error("error line")
    log.critical("critical line")
    log.warning({"a": 1, "b": "two"})
    log.warning("with extra", extra={"order_id": 7})
    log.log(25, "custom level 25")
    try:
        {}["k"]  # raises on purpose
    except KeyError:
        log.exception("caught")
    logging.info("root info")
    logging.warning("root warning")
    context.log("context log line one\ncontext log line two\n")
    print("end of logs")
    return "logged"


def sleeps(event: Any, context: Any) -> Any:
    print(f"sleeping {context.aws_request_id}")
    time.sleep(event["s"])
    return "woke"


async def sleeps_async(event: Any, context: Any) -> Any:
    import asyncio

    print(f"sleeping {context.aws_request_id}")
    await asyncio.sleep(event["s"])
    return "woke"


def oversized(event: Any, context: Any) -> Any:
    return "x" * (6 * 1024 * 1024 + 100)


def exits(event: Any, context: Any) -> Any:
    print(f"exiting {context.aws_request_id}")
    sys.exit(event.get("code"))


def unicode(event: Any, context: Any) -> Any:
    return {"text": "zażółć ✓ 日本", "nan": event.get("nan", 0)}


async def echo_or_fail(event: Any, context: Any) -> Any:
    if event.get("fail"):
        raise ValueError(f"asked to fail {event['n']}")
    return {"n": event["n"], "id": context.aws_request_id}
