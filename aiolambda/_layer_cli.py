"""``aiolambda layer build``: build the layer zip and print how to deploy it.

Progress goes to stderr as plain lines; the result and the AWS CLI commands go to
stdout, so ``aiolambda layer build … > deploy.txt`` keeps just the useful part.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from aiolambda._layer import LayerBuild


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``build`` sub-subcommand and its options to ``aiolambda layer``."""
    from aiolambda._layer import ARCH_MACHINE, PYTHON_GLIBC, Target

    host = Target.host()
    commands = parser.add_subparsers(dest="layer_command", metavar="{build}", required=True)
    build = commands.add_parser(
        "build",
        help="build a layer zip for one Python version and architecture",
        description=(
            "Build a Lambda layer zip holding aiolambda, its dependencies (manylinux "
            "wheels for the target) and the exec wrapper /opt/aiolambda. Works from any "
            "host: wheels are chosen for the target, not for this machine."
        ),
    )
    build.add_argument(
        "--python",
        default=host.python,
        metavar="X.Y",
        help=f"the function's runtime Python ({', '.join(PYTHON_GLIBC)}; default {host.python})",
    )
    build.add_argument(
        "--arch",
        default=host.arch,
        help=f"the function's architecture ({', '.join(ARCH_MACHINE)}; default {host.arch})",
    )
    build.add_argument(
        "--output",
        type=Path,
        default=Path("dist"),
        metavar="DIR",
        help="directory for the zip (default: ./dist)",
    )
    build.add_argument(
        "--with",
        dest="extra",
        action="append",
        default=[],
        metavar="REQUIREMENT",
        help="also ship this package in the layer (repeatable), e.g. aws-lambda-powertools",
    )
    build.add_argument("--index-url", help="package index to use instead of pip's configured one")
    build.add_argument(
        "--no-strip", action="store_true", help="keep debug symbols in shared objects"
    )
    build.add_argument(
        "--function-name",
        default="my-function",
        help="function name to put in the printed AWS CLI commands",
    )


def _progress(message: str) -> None:
    print(f"aiolambda layer: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run ``aiolambda layer build``; returns the process exit code."""
    from aiolambda._layer import LayerError, Target, build_layer

    try:
        target = Target.parse(args.python, args.arch)
        build = build_layer(
            target,
            args.output,
            extra_requirements=args.extra,
            index_url=args.index_url,
            strip=not args.no_strip,
            progress=_progress,
        )
    except LayerError as exc:
        print(f"aiolambda layer build: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aiolambda layer build: interrupted; no zip written", file=sys.stderr)
        return 130
    try:
        _report(build, args.function_name)
    except BrokenPipeError:
        # stdout was closed early (piped into `head`): the zip is built, so that is fine.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _report(build: LayerBuild, function_name: str) -> None:
    from aiolambda._layer import deploy_commands

    target = build.target
    mb = 1024 * 1024
    print(
        f"Built {build.path} for {target.runtime} on {target.arch}: "
        f"{build.zipped_bytes / mb:.1f} MB zipped, {build.unzipped_bytes / mb:.1f} MB unzipped, "
        f"{len(build.wheels)} wheels, {len(build.stripped)} shared objects stripped."
    )
    print(f"sha256 {build.sha256}")
    publish, update, create = deploy_commands(build, function_name)
    print("\n# 1. Publish the layer (prints nothing; keeps the new version's ARN in $LAYER_ARN):")
    print(publish)
    print(
        "\n# 2a. Use it on an existing function. Note: --environment replaces all of the "
        "function's variables; add yours to the list."
    )
    print(update)
    print("\n# 2b. Or create a function from function.zip (your code, e.g. app.py):")
    print(create)
    sys.stdout.flush()
