"""Options shared by ``aiolambda serve`` and ``aiolambda invoke``."""

from __future__ import annotations

import ipaddress
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence


def add_function_options(parser: argparse.ArgumentParser) -> None:
    """HANDLER, the function settings and the optional ``-- BOOTSTRAP…`` command."""
    parser.add_argument(
        "handler",
        metavar="HANDLER",
        help="handler as Lambda's _HANDLER, e.g. app.handler or examples/hello/app.handler",
    )
    parser.add_argument(
        "--task-root",
        default=None,
        help="the function's code directory: LAMBDA_TASK_ROOT and the runtime's cwd "
        "(default: the current directory)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="function timeout in seconds (default: 3)"
    )
    parser.add_argument(
        "--memory", type=int, default=128, help="memory size in MB, for the context (default: 128)"
    )
    parser.add_argument(
        "--function-name", default="test_function", help="function name (default: test_function)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment variable for the runtime (repeatable)",
    )
    parser.add_argument(
        "--snapstart",
        action="store_true",
        help="SnapStart: AWS_LAMBDA_INITIALIZATION_TYPE=snap-start; /restore/next is answered "
        "when the first invocation arrives, and its REPORT shows the Restore Duration",
    )
    parser.add_argument(
        "--snapshot-pause-ms",
        type=int,
        default=0,
        metavar="MS",
        help="with --snapstart: hold /restore/next this long after the first invocation "
        "arrives, as restoring a snapshot takes time (default: 0)",
    )
    parser.usage = "%(prog)s HANDLER [options] [-- BOOTSTRAP ...]"
    parser.description = (
        f"{parser.description or ''}. Everything after '--' is the command run as the "
        "runtime (default: python -m aiolambda HANDLER)"
    )
    _split_bootstrap(parser)


def _split_bootstrap(parser: argparse.ArgumentParser) -> None:
    # argparse cannot take "HANDLER --opt X -- CMD..." with a trailing positional list
    # (it binds the empty list right after HANDLER), so "--" is split off beforehand.
    parse = parser.parse_args

    def parse_args(
        args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        argv = list(sys.argv[1:] if args is None else args)
        bootstrap: list[str] = []
        if "--" in argv:
            cut = argv.index("--")
            argv, bootstrap = argv[:cut], argv[cut + 1 :]
        result = parse(argv, namespace)
        result.bootstrap = bootstrap
        return result

    setattr(parser, "parse_args", parse_args)  # noqa: B010 - instance-level override


def parse_env(pairs: list[str]) -> dict[str, str]:
    """``["A=1", "B=2"]`` -> ``{"A": "1", "B": "2"}``; raises ``ValueError`` on a bad pair."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def emulator_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``Emulator`` from the parsed shared options."""
    if args.snapshot_pause_ms < 0:
        raise ValueError(f"--snapshot-pause-ms must not be negative, got {args.snapshot_pause_ms}")
    if args.snapshot_pause_ms and not args.snapstart:
        raise ValueError("--snapshot-pause-ms needs --snapstart")
    return {
        "snapstart": args.snapstart,
        "snapshot_pause": args.snapshot_pause_ms / 1000,
        "task_root": args.task_root,
        "bootstrap": list(args.bootstrap) or None,
        "timeout": args.timeout,
        "memory": args.memory,
        "function_name": args.function_name,
        "env": parse_env(args.env),
    }


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fail(message: str) -> int:
    print(f"aiolambda: {message}", file=sys.stderr)
    return 2
