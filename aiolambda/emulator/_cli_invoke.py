"""``aiolambda invoke``: start the function, invoke it once, print the result, stop."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from aiolambda.emulator._cli_common import add_function_options, emulator_kwargs, fail

if TYPE_CHECKING:
    import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``invoke`` options to ``parser``."""
    parser.epilog = (
        "The result goes to stdout and the function's logs to stderr; the exit status "
        "is 1 when the function fails. Example: "
        'aiolambda invoke examples/hello/app.handler --event \'{"name": "Ada"}\''
    )
    add_function_options(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--event", default=None, help="the event as JSON text (default: {})")
    source.add_argument(
        "--event-file", default=None, help="file holding the JSON event ('-' for stdin)"
    )


def _read_event(args: argparse.Namespace) -> bytes:
    from aiolambda.emulator._invoke_api import json_problem

    if args.event_file == "-":
        data = sys.stdin.buffer.read()
    elif args.event_file is not None:
        with open(args.event_file, "rb") as fh:
            data = fh.read()
    else:
        data = (args.event if args.event is not None else "{}").encode("utf-8", "surrogateescape")
    # The Invoke API only takes JSON (Lambda answers 400): say so before starting anything.
    problem = json_problem(data or b"{}")
    if problem is not None:
        raise ValueError(problem)
    return data or b"{}"


def run(args: argparse.Namespace) -> int:
    """Invoke once; 0 on success, 1 on a function error, 2 on bad usage."""
    try:
        event = _read_event(args)
    except OSError as exc:
        return fail(f"cannot read the event: {exc}")
    except ValueError as exc:
        return fail(f"the event is not valid JSON: {exc}")
    try:
        kwargs = emulator_kwargs(args)
    except ValueError as exc:
        return fail(str(exc))
    return asyncio.run(_invoke(args.handler, event, kwargs))


async def _invoke(handler: str, event: bytes, kwargs: dict[str, object]) -> int:
    from aiolambda.emulator import Emulator

    try:
        async with Emulator(handler, log_stream=sys.stderr, **kwargs) as emulator:  # type: ignore[arg-type]
            result = await emulator.invoke(event)
    except OSError as exc:
        return fail(f"cannot start the runtime: {exc}")
    out = sys.stdout.buffer
    out.write(result.payload)
    if not result.payload.endswith(b"\n"):
        out.write(b"\n")
    out.flush()
    return 0 if result.ok else 1
