"""``aiolambda event``: print a sample event for an event source, with values changed."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``event`` options to ``parser``."""
    from aiolambda.events import SOURCES

    parser.usage = "%(prog)s SOURCE [--set PATH=VALUE ...] | --list"
    parser.epilog = (
        f"sources: {', '.join(SOURCES)}. Example: aiolambda event sqs --set "
        "Records.0.body=hi | aiolambda invoke app.handler --event-file -"
    )
    parser.add_argument("source", nargs="?", metavar="SOURCE", help="the event source")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="set a value by dotted path, list items by index (Records.0.body=hi); where "
        "the event holds a string VALUE is that text, elsewhere it is parsed as JSON when "
        "valid, else a string (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="name the sources and exit")


def run(args: argparse.Namespace) -> int:
    """Print the event; 2 on an unknown source or a bad ``--set``."""
    from aiolambda.events import SOURCES, PathError, sample, set_text

    if args.list:
        for name, what in SOURCES.items():
            print(f"{name:<16} {what}")
        return 0
    if args.source is None:
        return _fail("name a SOURCE, or use --list to see them")
    if args.source not in SOURCES:
        return _fail(f"unknown source {args.source!r}; choose from: {', '.join(SOURCES)}")
    event = sample(args.source)
    for assignment in args.set:
        path, sep, text = assignment.partition("=")
        if not sep:
            return _fail(f"--set {assignment!r}: expects PATH=VALUE")
        try:
            set_text(event, path, text)
        except PathError as exc:
            return _fail(f"--set {assignment!r}: {exc}")
    sys.stdout.write(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
    return 0


def _fail(message: str) -> int:
    print(f"aiolambda event: error: {message}", file=sys.stderr)
    return 2
