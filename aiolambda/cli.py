"""The ``aiolambda`` command line: ``run``, ``serve``, ``invoke`` and ``layer build``.

Each subcommand lives in its own module and is imported only when it is chosen, so
``aiolambda run`` pays no more at cold start than ``python -m aiolambda``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

# subcommand -> (module providing configure(parser) and run(args) -> int, one-line help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("aiolambda._core.bootstrap", "run HANDLER as the Lambda runtime (the bootstrap)"),
    "serve": ("aiolambda.emulator._cli_serve", "serve a function on a local Lambda emulator"),
    "invoke": (
        "aiolambda.emulator._cli_invoke",
        "invoke a function once locally and print the result",
    ),
    "layer": ("aiolambda._layer_cli", "build a Lambda layer zip of aiolambda"),
    "event": ("aiolambda.events._cli", "print a sample event for an event source"),
    "check": (
        "aiolambda.emulator._cli_check",
        "check that a handler answers the same when invocations run concurrently",
    ),
}


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line: what is wrong and where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _top_level_help() -> str:
    names = ",".join(_COMMANDS)
    lines = [f"usage: aiolambda [-V | --version] {{{names}}} ...", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in _COMMANDS.items()]
    lines += ["", "options:", "  -h, --help     show this help and exit"]
    lines += ["  -V, --version  print aiolambda's version and exit"]
    lines += ["", "Run 'aiolambda COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aiolambda`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_top_level_help())
        return 0 if args else 2
    if args[0] in {"-V", "--version"}:
        from aiolambda import __version__

        print(__version__)
        return 0
    command = args[0]
    if command not in _COMMANDS:
        print(f"aiolambda: unknown command {command!r}\n\n{_top_level_help()}", file=sys.stderr)
        return 2
    module_name, help_ = _COMMANDS[command]
    module = importlib.import_module(module_name)
    parser = _Parser(prog=f"aiolambda {command}", description=help_)
    module.configure(parser)
    namespace = parser.parse_args(args[1:])
    return int(module.run(namespace))


if __name__ == "__main__":
    raise SystemExit(main())
