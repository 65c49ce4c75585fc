"""``aiolambda layer build``: build the layer zip and print how to deploy it.

Progress goes to stderr as plain lines; the result and the AWS CLI commands go to
stdout, so ``aiolambda layer build … > deploy.txt`` keeps just the useful part.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from aiolambda._layer import LayerBuild


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``build`` sub-subcommand and its options to ``aiolambda layer``."""
    from aiolambda._layer import ARCH_MACHINE, LAYER_TRANSPORTS, PYTHON_GLIBC, Target

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
        help=(
            f"the function's runtime Python ({', '.join(PYTHON_GLIBC)}; default {host.python}: "
            "this interpreter's version if Lambda has it, else the newest)"
        ),
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
    build.add_argument(
        "--transport",
        default="lean",
        help=(
            f"the Runtime API transport the layer carries ({', '.join(LAYER_TRANSPORTS)}; "
            "default lean). aiohttp adds aiohttp and its dependencies, for "
            "AIOLAMBDA_TRANSPORT=aiohttp"
        ),
    )
    build.add_argument(
        "--compile-with",
        metavar="PYTHON",
        help=(
            "the Python X.Y interpreter that compiles the layer's bytecode "
            "(default: this one if it is X.Y, else pythonX.Y on PATH)"
        ),
    )
    build.add_argument(
        "--no-bytecode",
        action="store_true",
        help="ship sources only (each cold start then compiles aiolambda: slower)",
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


# Lambda's function name: 1-64 letters, digits, hyphens or underscores.
_FUNCTION_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The start of a PEP 508 requirement; anything starting with "-" would reach pip as an option.
_REQUIREMENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*([<>=!~;@(].*)?")
_INDEX_URL_RE = re.compile(r"(https?|file)://\S+")


def check_options(args: argparse.Namespace) -> str | None:
    """The one-line complaint about the first bad option value, or None when all are fine."""
    from aiolambda._layer import _ARCH_ALIASES, ARCH_MACHINE, LAYER_TRANSPORTS, PYTHON_GLIBC

    python = args.python.removeprefix("python")
    if python not in PYTHON_GLIBC:
        return f"--python {args.python!r}: choose one of {', '.join(PYTHON_GLIBC)}"
    if _ARCH_ALIASES.get(args.arch, args.arch) not in ARCH_MACHINE:
        return f"--arch {args.arch!r}: choose one of {', '.join(ARCH_MACHINE)}"
    if args.transport not in LAYER_TRANSPORTS:
        return f"--transport {args.transport!r}: choose one of {', '.join(LAYER_TRANSPORTS)}"
    if args.no_bytecode and args.compile_with is not None:
        return "--compile-with and --no-bytecode: choose one"
    if args.output.exists() and not args.output.is_dir():
        return f"--output {str(args.output)!r}: not a directory"
    for requirement in args.extra:
        if not _REQUIREMENT_RE.fullmatch(requirement):
            return (
                f"--with {requirement!r}: not a package requirement "
                "(for example aws-lambda-powertools or 'boto3>=1.34')"
            )
    if args.index_url is not None and not _INDEX_URL_RE.fullmatch(args.index_url):
        return f"--index-url {args.index_url!r}: use an http://, https:// or file:// URL"
    if not _FUNCTION_NAME_RE.fullmatch(args.function_name):
        return (
            f"--function-name {args.function_name!r}: use 1 to 64 letters, digits, "
            "hyphens or underscores"
        )
    return None


def run(args: argparse.Namespace) -> int:
    """Run ``aiolambda layer build``; returns the process exit code."""
    from aiolambda._layer import LayerError, Target, build_layer

    problem = check_options(args)
    if problem is not None:
        print(f"aiolambda layer build: error: {problem}", file=sys.stderr)
        return 2
    try:
        target = Target.parse(args.python, args.arch)
        build = build_layer(
            target,
            args.output,
            extra_requirements=args.extra,
            index_url=args.index_url,
            strip=not args.no_strip,
            transport=args.transport,
            bytecode=not args.no_bytecode,
            compile_with=args.compile_with,
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
        f"{len(build.wheels)} wheels, {len(build.stripped)} shared objects stripped, "
        + (f"bytecode compiled by {build.compiled_by}." if build.compiled_by else "no bytecode.")
    )
    print(f"sha256 {build.sha256}")
    publish, update, create = deploy_commands(build, function_name)
    print("\n# 1. Publish the layer (prints nothing; keeps the new version's ARN in $LAYER_ARN):")
    print(publish)
    print(
        "\n# 2a. Use it on an existing function, keeping its other layers (--layers replaces "
        "the whole list). Note: --environment replaces all of the function's variables; "
        "add yours to the list."
    )
    print(update)
    print("\n# 2b. Or create a function from function.zip (your code, e.g. app.py):")
    print(create)
    sys.stdout.flush()
