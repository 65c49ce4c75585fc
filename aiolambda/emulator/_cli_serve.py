"""``aiolambda serve``: keep a function running behind a local Invoke API."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING

from aiolambda.emulator import _limits as lim
from aiolambda.emulator._cli_common import (
    add_function_options,
    directory_option,
    emulator_kwargs,
    fail,
    int_option,
    is_loopback,
    port_option,
    wrapper_note,
)

if TYPE_CHECKING:
    import argparse

    from aiolambda.emulator import Emulator


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.epilog = (
        "example: aiolambda serve examples/hello/app.handler --port 8080, then "
        "curl -XPOST http://127.0.0.1:8080/2015-03-31/functions/function/invocations -d '{}'"
    )
    add_function_options(parser)
    parser.add_argument(
        "--port",
        type=port_option,
        default=8080,
        help="invoke port, 0 for any free one (default: 8080)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="invoke address to bind (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--runtime-api-port",
        type=port_option,
        default=0,
        help="port of the Runtime API on 127.0.0.1 (default: any free port)",
    )
    parser.add_argument(
        "--no-spawn",
        action="store_true",
        help="start no runtime: run your own (e.g. under a debugger) against the "
        "printed AWS_LAMBDA_RUNTIME_API",
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="start a new runtime (a new init) when a file under the task root changes; "
        "invocations in flight finish first (needs: pip install 'aiolambda-runtime[reload]')",
    )
    parser.add_argument(
        "--reload-dir",
        action="append",
        type=directory_option,
        default=[],
        metavar="DIR",
        help="with --reload: watch DIR instead of the task root (repeatable)",
    )
    parser.add_argument(
        "--concurrency",
        type=int_option(1, lim.MAX_CONCURRENCY, " (Lambda Managed Instances' maximum)"),
        default=None,
        metavar="N",
        help="Lambda Managed Instances mode: AWS_LAMBDA_MAX_CONCURRENCY=N, "
        f"1 to {lim.MAX_CONCURRENCY}",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; returns the exit code."""
    if not is_loopback(args.host):
        print(
            f"aiolambda: warning: binding {args.host}: the emulator has no authentication, "
            "anyone who can reach this address can invoke the function",
            file=sys.stderr,
        )
    try:
        kwargs = emulator_kwargs(args)
    except ValueError as exc:
        return fail(str(exc))
    if args.reload_dir and not args.reload:
        return fail("--reload-dir needs --reload")
    if args.reload:
        from aiolambda.emulator._reload import missing_watchfiles

        if args.no_spawn:
            return fail("--reload needs a runtime to replace: it cannot go with --no-spawn")
        problem = missing_watchfiles()
        if problem is not None:
            return fail(problem)
    return asyncio.run(_serve(args, kwargs))


async def _serve(args: argparse.Namespace, kwargs: dict[str, object]) -> int:
    from aiolambda.emulator import Emulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    emulator = Emulator(
        args.handler,
        host=args.host,
        port=args.port,
        concurrency=args.concurrency,
        runtime_api_port=args.runtime_api_port,
        spawn=not args.no_spawn,
        log_stream=sys.stderr,
        record=False,
        **kwargs,  # type: ignore[arg-type]
    )
    try:
        await emulator.start()
    except (OSError, ValueError) as exc:
        await emulator.close()
        return fail(f"cannot start: {exc}")
    try:
        print(f"aiolambda: serving {args.handler} at {emulator.invoke_url}", flush=True)
        print(
            f"aiolambda: Runtime API at {emulator.runtime_api}; press Ctrl-C to stop",
            flush=True,
        )
        note = wrapper_note(emulator, kwargs["env"])  # type: ignore[arg-type]
        if note is not None:
            print(note, flush=True)
        if args.no_spawn:
            print(
                f"aiolambda: no runtime started; run yours with "
                f"AWS_LAMBDA_RUNTIME_API={emulator.runtime_api}",
                flush=True,
            )
        if args.reload:
            await _serve_reloading(args, emulator, stop)
        else:
            await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await emulator.close()
    return 0


async def _serve_reloading(
    args: argparse.Namespace, emulator: Emulator, stop: asyncio.Event
) -> None:
    import os

    from aiolambda.emulator._reload import watch

    directories = [os.path.abspath(d) for d in args.reload_dir] or [emulator.task_root]
    watcher = asyncio.create_task(watch(emulator, directories, sys.stdout, stop))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait((watcher, waiter), return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    waiter.cancel()
    await watcher  # a watcher that failed (a directory removed) ends serve with its error
