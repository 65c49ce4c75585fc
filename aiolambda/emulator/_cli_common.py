"""Options shared by ``aiolambda serve`` and ``aiolambda invoke``."""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import re
import sys
from typing import TYPE_CHECKING, Any, Final

from aiolambda.emulator import _limits as lim

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# In "-- CMD…", this text in any argument stands for HANDLER, so it is typed once.
HANDLER_PLACEHOLDER: Final = "{handler}"
# A bare "python" in "-- CMD…" means the interpreter running aiolambda (the venv's),
# not whichever one PATH finds first.
_BARE_PYTHON: Final = frozenset({"python", "python3"})
_FUNCTION_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def int_option(low: int, high: int, note: str = "") -> Callable[[str], int]:
    """An argparse ``type`` accepting an integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {low} to {high}{note}, got {text!r}"
            )
        return value

    return parse


def seconds_option(text: str) -> float:
    """An argparse ``type`` for a timeout: a number of seconds, 0 < S <= Lambda's 900."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= lim.MAX_TIMEOUT_S):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds greater than 0 and at most {lim.MAX_TIMEOUT_S}, "
            f"got {text!r}"
        )
    return value


# An argparse ``type`` for a TCP port.
port_option: Final = int_option(0, lim.MAX_PORT, " (0: any free port)")


def env_option(text: str) -> str:
    """An argparse ``type`` for ``--env NAME=VALUE``."""
    name, sep, _ = text.partition("=")
    if not sep or not name or "\0" in text:
        raise argparse.ArgumentTypeError(f"expects NAME=VALUE, got {text!r}")
    return text


def env_file_option(text: str) -> dict[str, str]:
    """An argparse ``type`` for ``--env-file FILE``: the file read and parsed now."""
    from aiolambda.emulator._dotenv import DotenvError, parse_dotenv

    try:
        with open(text, encoding="utf-8") as fh:
            content = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {exc}") from None
    try:
        return parse_dotenv(content, text)
    except DotenvError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def layer_option(text: str) -> str:
    """An argparse ``type`` for ``--layer``: a layer zip or an unpacked layer directory."""
    from aiolambda.emulator._layers import LayerError, check_layer

    try:
        return check_layer(text)
    except LayerError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def directory_option(text: str) -> str:
    """An argparse ``type`` for an existing directory."""
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"must be an existing directory, got {text!r}")
    return text


def function_name_option(text: str) -> str:
    """An argparse ``type`` for a function name as Lambda allows it (it goes into the ARN)."""
    if not _FUNCTION_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be 1 to 64 letters, digits, hyphens or underscores, got {text!r}"
        )
    return text


def add_function_options(parser: argparse.ArgumentParser) -> None:
    """HANDLER, the function settings and the optional ``-- BOOTSTRAP…`` command."""
    parser.add_argument(
        "handler",
        metavar="HANDLER",
        help="handler as Lambda's _HANDLER, e.g. app.handler or examples/hello/app.handler",
    )
    parser.add_argument(
        "--task-root",
        type=directory_option,
        default=None,
        metavar="DIR",
        help="the function's code directory: LAMBDA_TASK_ROOT and the runtime's cwd "
        "(default: the current directory)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds_option,
        default=3.0,
        metavar="S",
        help=f"function timeout in seconds, up to {lim.MAX_TIMEOUT_S} (default: 3)",
    )
    parser.add_argument(
        "--memory",
        type=int_option(lim.MIN_MEMORY_MB, lim.MAX_MEMORY_MB, " (Lambda's memory sizes, in MB)"),
        default=128,
        metavar="MB",
        help=f"memory size in MB, {lim.MIN_MEMORY_MB} to {lim.MAX_MEMORY_MB}, for the context "
        "(default: 128)",
    )
    parser.add_argument(
        "--function-name",
        type=function_name_option,
        default="test_function",
        metavar="NAME",
        help="function name (default: test_function)",
    )
    parser.add_argument(
        "--env",
        action="append",
        type=env_option,
        default=[],
        metavar="NAME=VALUE",
        help="environment variable for the runtime (repeatable); the only way to give it "
        "PYTHON* variables, which it does not inherit",
    )
    parser.add_argument(
        "--env-file",
        action="append",
        type=env_file_option,
        default=[],
        metavar="FILE",
        help="read environment variables from a .env file: NAME=VALUE lines, '#' comments, "
        "single or double quotes (repeatable; --env wins over it)",
    )
    parser.add_argument(
        "--layer",
        action="append",
        type=layer_option,
        default=[],
        metavar="ZIP_OR_DIR",
        help="a layer, as a zip or a directory (repeatable, in Lambda's order: later files "
        "win). Its python/ goes on sys.path, its extensions/ run, and "
        "AWS_LAMBDA_EXEC_WRAPPER=/opt/... finds its wrapper; /opt is a temporary directory",
    )
    parser.add_argument(
        "--snapstart",
        action="store_true",
        help="SnapStart: AWS_LAMBDA_INITIALIZATION_TYPE=snap-start; /restore/next is answered "
        "when the first invocation arrives, and its REPORT shows the Restore Duration",
    )
    parser.add_argument(
        "--snapshot-pause-ms",
        # Below the 10 s init budget, which the pause and the after-restore hooks share.
        type=int_option(0, 9999, " (milliseconds, under the 10 s init budget)"),
        default=0,
        metavar="MS",
        help="with --snapstart: hold /restore/next this long after the first invocation "
        "arrives, as restoring a snapshot takes time (default: 0)",
    )
    parser.usage = "%(prog)s HANDLER [options] [-- BOOTSTRAP ...]"
    parser.description = (
        f"{parser.description or ''}. Everything after '--' is the command run as the "
        "runtime (default: python -m aiolambda HANDLER); in it, {handler} stands for "
        "HANDLER and a bare 'python' for this interpreter, e.g. "
        "-- python -m awslambdaric {handler}"
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
        if not sep or not key or "\0" in pair:
            raise ValueError(f"argument --env: expects NAME=VALUE, got {pair!r}")
        env[key] = value
    return env


def merged_env(args: argparse.Namespace) -> dict[str, str]:
    """``--env-file`` files in order, then ``--env`` pairs, later ones winning."""
    env: dict[str, str] = {}
    for file_env in args.env_file:
        env.update(file_env)
    env.update(parse_env(args.env))
    return env


def bootstrap_command(argv: Sequence[str], handler: str) -> list[str] | None:
    """The ``-- CMD…`` list with ``{handler}`` filled in and a bare ``python`` resolved."""
    if not argv:
        return None
    command = [arg.replace(HANDLER_PLACEHOLDER, handler) for arg in argv]
    if command[0] in _BARE_PYTHON:
        command[0] = sys.executable
    return command


def split_path_handler(args: argparse.Namespace) -> None:
    """Turn an absolute HANDLER (``/srv/fn/app.handler``) into ``--task-root /srv/fn``
    and ``app.handler``, in place.

    Lambda's ``_HANDLER`` is relative to the task root (``dir/app.handler`` imports
    ``dir.app``); an absolute one would become a relative import of ``.srv.fn.app`` and
    fail with a TypeError inside the runtime. A shell's tab completion produces exactly
    such paths, so the CLI takes them when no task root is given.
    """
    handler: str = args.handler
    if not handler.startswith("/"):
        return
    if args.task_root is not None:
        raise ValueError(
            f"HANDLER {handler!r} is an absolute path: with --task-root, give it relative "
            "to that directory (e.g. app.handler)"
        )
    directory, _, name = handler.rpartition("/")
    if "." not in name:
        raise ValueError(
            f"HANDLER {handler!r} names no function: expected /path/to/module.function"
        )
    if not os.path.isdir(directory or "/"):
        raise ValueError(f"HANDLER {handler!r}: {directory!r} is not a directory")
    args.task_root = directory or "/"
    args.handler = name


def emulator_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``Emulator`` from the parsed shared options (an absolute
    HANDLER is first split into a task root and a handler: see :func:`split_path_handler`)."""
    split_path_handler(args)
    if args.snapshot_pause_ms and not args.snapstart:
        raise ValueError("--snapshot-pause-ms needs --snapstart")
    return {
        "snapstart": args.snapstart,
        "snapshot_pause": args.snapshot_pause_ms / 1000,
        "task_root": args.task_root,
        "bootstrap": bootstrap_command(args.bootstrap, args.handler),
        "timeout": args.timeout,
        "memory": args.memory,
        "function_name": args.function_name,
        "env": merged_env(args),
        "layers": args.layer,
    }


def wrapper_note(emulator: Any, env: dict[str, str]) -> str | None:
    """The line saying that aiolambda's layer runs through its exec wrapper, when it was implied."""
    if emulator.exec_wrapper is None or "AWS_LAMBDA_EXEC_WRAPPER" in env:
        return None
    return (
        "aiolambda: the layer ships aiolambda's exec wrapper: running with "
        "AWS_LAMBDA_EXEC_WRAPPER=/opt/aiolambda (on Lambda, set it in the function's "
        "environment)"
    )


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
