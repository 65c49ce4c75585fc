"""``aiolambda invoke``: start the function, invoke it once, print the result, stop."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING

from aiolambda.emulator._cli_common import (
    add_function_options,
    emulator_kwargs,
    fail,
    wrapper_note,
)
from aiolambda.emulator._invoke_options import (
    client_context_option,
    identity_option,
    tenant_id_option,
    trace_id_option,
)

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
    parser.add_argument(
        "--client-context",
        type=client_context_option,
        default=None,
        metavar="JSON",
        help='the client context as a JSON object, e.g. \'{"custom": {"k": "v"}}\' '
        "(context.client_context)",
    )
    parser.add_argument(
        "--identity",
        type=identity_option,
        default=None,
        metavar="JSON",
        help='the Cognito identity, e.g. \'{"cognitoIdentityId": "…", '
        '"cognitoIdentityPoolId": "…"}\' (context.identity)',
    )
    parser.add_argument(
        "--tenant-id",
        type=tenant_id_option,
        default=None,
        metavar="ID",
        help="the tenant id of a tenant-isolated function (context.tenant_id)",
    )
    parser.add_argument(
        "--trace-id",
        type=trace_id_option,
        default=None,
        metavar="HEADER",
        help="the X-Ray trace header, e.g. Root=1-…;Parent=…;Sampled=1 "
        "(_X_AMZN_TRACE_ID and context.xray_trace_id; default: a fresh one)",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="print the result only, not the logs"
    )
    verbosity.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show the runtime's debug lines: AWS_LAMBDA_LOG_LEVEL=DEBUG (unless --env "
        "sets it) and every Runtime API request the runtime makes",
    )


def _read_event(args: argparse.Namespace) -> bytes:
    from aiolambda.emulator._caller_api import json_problem

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
    if args.verbose:
        kwargs["env"].setdefault("AWS_LAMBDA_LOG_LEVEL", "DEBUG")
        kwargs["api_trace"] = sys.stderr
    kwargs["log_stream"] = None if args.quiet else sys.stderr
    return asyncio.run(_invoke(args, event, kwargs))


async def _invoke(args: argparse.Namespace, event: bytes, kwargs: dict[str, object]) -> int:
    from aiolambda._core import protocol as p
    from aiolambda.emulator import Emulator
    from aiolambda.emulator._engine import decode_error_trailer

    out = sys.stdout.buffer
    written = bytearray(b"\n")  # the last byte written (a newline: nothing yet)

    def on_chunk(data: bytes) -> None:
        # A streamed response is printed as it arrives.
        if data:
            out.write(data)
            out.flush()
            written[-1:] = data[-1:]

    try:
        user_env = dict(kwargs["env"])  # type: ignore[call-overload]
        async with Emulator(args.handler, **kwargs) as emulator:  # type: ignore[arg-type]
            note = wrapper_note(emulator, user_env)
            if note is not None and not args.quiet:
                print(note, file=sys.stderr, flush=True)
            result = await emulator.invoke(
                event,
                on_chunk=on_chunk,
                client_context=args.client_context,
                identity=args.identity,
                tenant_id=args.tenant_id,
                trace_id=args.trace_id,
            )
    except OSError as exc:
        return fail(f"cannot start the runtime: {exc}")
    except ValueError as exc:  # a layer that cannot be unpacked
        return fail(f"cannot use the layer: {exc}")
    if not result.streamed:
        out.write(result.payload)
        written[-1:] = result.payload[-1:] or b"\n"
    if written[-1:] != b"\n" or not result.payload:
        out.write(b"\n")
    out.flush()
    error_body = result.trailers.get(p.H_ERROR_BODY.lower())
    if error_body is not None:
        # A mid-stream error arrives in the trailers, after the body printed above.
        document = decode_error_trailer(error_body)
        shown = json.dumps(document) if document is not None else error_body
        sys.stderr.write(f"stream ended with {result.error_type}: {shown}\n")
    return 0 if result.ok else 1
