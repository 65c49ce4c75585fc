"""Process wiring: ``python -m aiolambda [HANDLER]`` and ``aiolambda run [HANDLER]``.

Reads the environment once, arranges ``sys.path`` as Lambda's managed Python
runtime does, sets up logging, loads the handler (reporting failures to
``/runtime/init/error``) and runs the invoke loop of one of two drivers, chosen by
:func:`needs_loop`: the sync driver (:mod:`aiolambda._core.runtime_sync`, blocking
sockets, no asyncio) or the asyncio driver (:mod:`aiolambda._core.runtime`).
Nothing here imports asyncio until the asyncio driver is chosen.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import site
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aiolambda._core import observe
from aiolambda._core import protocol as p
from aiolambda._core.config import ConfigError, RuntimeConfig
from aiolambda._core.errors import ErrorReport, InitError, Redactor, from_exception, from_fault
from aiolambda._core.handler import (
    Handler,
    is_async_generator_function,
    load_handler,
    source_looks_async,
)
from aiolambda._core.logs import LogSink, configure_logging, format_error_for_log, unbuffer_stdio

if TYPE_CHECKING:
    import argparse  # only the CLI's `aiolambda run` passes a parser; ~5 ms to import
    import asyncio
    import subprocess  # only AIOLAMBDA_WORKERS starts processes

    from aiolambda._core.isolation import Zygote
    from aiolambda._core.runtime_sync import Handoff

EXIT_INIT_ERROR = 1
EXIT_USAGE = 2
_WORKER_GRACE_S = 5.0

USAGE = """usage: python -m aiolambda [HANDLER]

Run HANDLER (module.function, default: $_HANDLER) as the AWS Lambda runtime,
talking to the Runtime API at $AWS_LAMBDA_RUNTIME_API."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``aiolambda run``."""
    parser.add_argument("handler", nargs="?", help="module.function (default: $_HANDLER)")


def run(args: argparse.Namespace) -> int:
    """``aiolambda run``."""
    return main([args.handler] if args.handler else [])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the runtime; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in {"-h", "--help"}:
        print(USAGE)
        return 0
    if len(args) > 1:
        print(USAGE, file=sys.stderr)
        return EXIT_USAGE
    try:
        config = RuntimeConfig.from_environ(os.environ, handler=args[0] if args else None)
    except ConfigError as exc:
        print(f"aiolambda: {exc}", file=sys.stderr)
        return EXIT_USAGE
    unbuffer_stdio()
    workers = _start_workers(config, args) if config.workers > 1 else []
    if workers:
        config = config._replace(max_concurrency=_share(config, 0))
    zygote = None
    if config.max_concurrency > 1 and not config.sync_threads and not config.snapstart:
        # Before the handler is imported: if it is sync, workers are forked from here.
        # (A SnapStart snapshot holds one process: there a sync handler uses threads.)
        from aiolambda._core.isolation import Zygote  # not imported when one runs at a time

        zygote = Zygote.fork()
        if zygote is None:  # this is such a worker: one invocation at a time
            workers = []
            # The first process registers the SIGTERM extension and passes SIGTERM on.
            config = config._replace(max_concurrency=1, enable_sigterm=False)
    # Both AWS runtime clients drop these so the function's own subprocesses don't inherit them.
    os.environ.pop(p.ENV_TELEMETRY_FD, None)
    os.environ.pop(p.ENV_TELEMETRY_SOCKET, None)
    setup_sys_path(config)
    if config.transport == "aiohttp" and not _importable("aiohttp"):
        print(
            "aiolambda: AIOLAMBDA_TRANSPORT=aiohttp but aiohttp is not installed "
            "(build the layer with: aiolambda layer build --transport aiohttp)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    redact = Redactor(os.environ[name] for name in p.SECRET_ENV_NAMES if name in os.environ)
    if config.telemetry_socket is not None:
        _redirect_output_to_socket(config.telemetry_socket)
    sink = LogSink(config.telemetry_fd, json=config.log_format == "JSON", redact=redact)
    configure_logging(sink, json=config.log_format == "JSON", level=config.log_level)
    forked = zygote is not None
    if needs_loop(config, None, forked=forked):
        code = _run_loop(config, sink, redact, zygote)
    else:
        code = _serve_sync(config, sink, redact, zygote, workers)
    code = max(code, _stop_workers(workers))
    if code != 0 or _abandoned_threads():
        sys.stdout.flush()
        sys.stderr.flush()
        # A handler thread that outlived its timeout would block interpreter shutdown.
        os._exit(code)
    return code


def needs_loop(config: RuntimeConfig, handler: Handler | None, *, forked: bool) -> bool:
    """Whether the asyncio driver serves (else the sync driver): the rule in one place.

    Asked before the handler's import (``handler`` is None), and once more after it if
    the answer was no. ``forked``: this process is one of the one-per-invocation
    workers of a sync handler (``AWS_LAMBDA_MAX_CONCURRENCY`` > 1, see ``isolation``).
    """
    if config.driver == "asyncio" or (config.max_concurrency > 1 and not forked):
        return True  # forced, or concurrent invocations in one process
    if handler is None:  # the module is imported inside the loop if it may want one
        return config.driver == "auto" and source_looks_async(config.handler)
    return (
        handler.is_async
        or is_async_generator_function(handler.func)
        or (config.snapstart and _has_async_snapstart_hooks())
    )


def _has_async_snapstart_hooks() -> bool:
    from aiolambda._core.snapstart import has_async_hooks

    return has_async_hooks()


def _abandoned_threads() -> int:
    executors = sys.modules.get("aiolambda._core.executors")  # only the asyncio driver's
    return executors.abandoned_threads() if executors is not None else 0


def _start_collecting() -> None:
    # The exec wrapper and `python -m aiolambda` start with the collector off: the
    # runtime's own imports make no cyclic garbage, and collections over them are a
    # good part of the cold start. Freeze what they made, then collect as usual while
    # the handler's module initialises (skipping the frozen objects).
    gc.freeze()
    gc.enable()


def _serve_sync(
    config: RuntimeConfig,
    sink: LogSink,
    redact: Redactor,
    zygote: Zygote | None,
    workers: list[subprocess.Popen[bytes]],
) -> int:
    """The sync driver, from the handler's import (outside any loop) to the last answer."""
    _start_collecting()
    handler = _load_or_report(config, sink, redact)
    if handler is None:
        if zygote is not None:
            zygote.dismiss()
        return EXIT_INIT_ERROR
    if needs_loop(config, handler, forked=zygote is not None):
        return _run_loop(config, sink, redact, zygote, handler=handler)
    from aiolambda._core.runtime_sync import SyncRuntime, retire

    concurrency = config.max_concurrency
    config = config._replace(max_concurrency=1)

    def retire_all(code: int) -> None:
        _stop_workers(workers)
        retire(code)

    if "asyncio" in sys.modules:
        _give_main_thread_an_event_loop()
    runtime = SyncRuntime(config, handler, sink, redact, retire=retire_all)
    init_complete = None
    if config.snapstart:
        from aiolambda._core.snapstart import SnapStart

        init_complete = SnapStart(config, sink, redact).complete_init_sync
    elif zygote is not None:
        forking = zygote

        def init_complete() -> int:
            # After the SIGTERM extension registered: a worker's first /next ends init.
            forking.spawn_sync(concurrency - 1, runtime)
            return 0

    gc.freeze()  # see _serve
    try:
        result = runtime.serve(on_init_complete=init_complete)
        if not isinstance(result, int):
            # The handler returned an awaitable or a stream: the asyncio driver takes over
            # this invocation and the rest (init is over: no extension, no SnapStart).
            config = config._replace(enable_sigterm=False, snapstart=False)
            result = _run_loop(config, sink, redact, None, handler=handler, handoff=result)
    finally:
        if zygote is not None:
            result = max(result if isinstance(result, int) else 1, zygote.stop_sync())
    return result


def _give_main_thread_an_event_loop() -> None:
    """The function imported asyncio: let its sync code find a loop that is not running
    (``asyncio.get_event_loop()``, Mangum), as the asyncio driver's handler threads do."""
    import asyncio

    # Without asyncio's DEBUG "Using selector: ..." line, which AWS's runtime never logs.
    notices = logging.getLogger("asyncio")
    disabled, notices.disabled = notices.disabled, True
    try:
        asyncio.set_event_loop(asyncio.new_event_loop())
    finally:
        notices.disabled = disabled


def _run_loop(
    config: RuntimeConfig,
    sink: LogSink,
    redact: Redactor,
    zygote: Zygote | None,
    *,
    handler: Handler | None = None,
    handoff: Handoff | None = None,
) -> int:
    """The asyncio driver: a loop for the rest of the process."""
    import asyncio

    with asyncio.Runner(loop_factory=_loop_factory(config.loop)) as runner:
        return runner.run(_serve(config, sink, redact, zygote, handler=handler, handoff=handoff))


async def _serve(
    config: RuntimeConfig,
    sink: LogSink,
    redact: Redactor,
    zygote: Zygote | None,
    *,
    handler: Handler | None = None,
    handoff: Handoff | None = None,
) -> int:
    # Imported here: the transport and runtime are not needed to print usage or config errors.
    from aiolambda._core.hooks import run_init_hooks
    from aiolambda._core.invocation import Invoker, SyncExecutor
    from aiolambda._core.runtime import Runtime

    if handler is None:
        _start_collecting()
        # Imported inside the running loop, so module-level code may use it.
        handler = _load_or_report(config, sink, redact)
    if handler is not None and handoff is None:
        try:
            await run_init_hooks()  # e.g. an ASGI app's lifespan startup (aiolambda.asgi)
        except SystemExit:
            raise
        except BaseException as exc:
            _report_init_error(config, sink, from_exception(exc, "", redact), redact)
            handler = None
    if handler is None or (zygote is not None and handler.is_async):
        if zygote is not None:
            zygote.dismiss()
            zygote = None
        if handler is None:
            return EXIT_INIT_ERROR
    concurrency = config.max_concurrency
    if zygote is not None:
        # A sync handler: one process per concurrent invocation, as AWS's Python runtime
        # runs it. This one serves one invocation; the zygote forks the others.
        config = config._replace(max_concurrency=1)
    executor = None if handler.is_async else SyncExecutor(config.max_concurrency)
    invoker = Invoker(config, handler, executor=executor, redact=redact, log_writer=sink.write_raw)
    init_complete = None
    if config.snapstart:
        from aiolambda._core.snapstart import SnapStart

        init_complete = SnapStart(config, sink, redact).complete_init
    elif zygote is not None:
        forking = zygote

        async def init_complete() -> int:
            # After the SIGTERM extension registered: a worker's first /next ends init,
            # and Lambda refuses a registration after that (403).
            forking.spawn(concurrency - 1, runtime)
            return 0

    runtime = Runtime(config, invoker, sink, on_init_complete=init_complete)
    # Everything allocated so far lives as long as the process: keep the collector off it.
    # No gc.collect() first: import-time garbage is next to none, and a full collection
    # over everything the handler imported costs 4 ms at cold start (11 ms with boto3).
    gc.freeze()
    code = EXIT_INIT_ERROR
    try:
        code = await runtime.serve(handoff=handoff)
    finally:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if zygote is not None:
            code = max(code, await zygote.stop())
    return code


def _load_or_report(config: RuntimeConfig, sink: LogSink, redact: Redactor) -> Handler | None:
    """Import the handler; report a failure to ``/runtime/init/error`` and return None."""
    try:
        observe.before_import()  # integrations hook its bootstrap surface (Sentry's)
        handler, warnings = observe.prepare(load_handler(config.handler), config.max_concurrency)
        for warning in warnings:
            logging.getLogger("aiolambda").warning("%s", warning)
        # Sync handlers get a process per concurrent invocation (the zygote) unless threads.
        if config.max_concurrency > 1 and (
            handler.is_async or config.sync_threads or config.snapstart
        ):
            from aiolambda._compat import watch  # libraries' per-invocation state

            watch(config.max_concurrency)
        return handler
    except InitError as fault:
        report = from_fault(fault, "", redact)
        observe.init_failed(report.error_type, report.error_message, list(report.stack_trace))
    except SystemExit:
        raise  # the module called sys.exit(): the process exits, as under awslambdaric
    except BaseException as exc:  # an exception in the module's own init code
        report = from_exception(exc, "", redact)
        observe.init_failed(report.error_type, report.error_message, list(report.stack_trace))
    _report_init_error(config, sink, report, redact)
    return None


def _report_init_error(
    config: RuntimeConfig, sink: LogSink, report: ErrorReport, redact: Redactor
) -> None:
    """Log and post an init error (on a blocking connection: nothing else runs yet)."""
    sink.write(
        format_error_for_log(
            report.error_type,
            report.error_message,
            report.stack_trace,
            json=config.log_format == "JSON",
        ),
        logging.ERROR,
    )
    from aiolambda._core.client_sync import SyncRuntimeAPIClient
    from aiolambda._core.errors import RuntimeAPIError

    client = SyncRuntimeAPIClient(config.runtime_api_host, config.runtime_api_port, redact)
    try:
        client.post_init_error(report)
    except RuntimeAPIError as exc:
        print(f"aiolambda: could not report the init error: {exc}", file=sys.stderr)
    finally:
        client.close()


def _share(config: RuntimeConfig, index: int) -> int:
    """Worker ``index``'s part of ``AWS_LAMBDA_MAX_CONCURRENCY``, split as evenly as possible."""
    count = min(config.workers, config.max_concurrency)
    base, extra = divmod(config.max_concurrency, count)
    return base + (1 if index < extra else 0)


def _start_workers(config: RuntimeConfig, args: Sequence[str]) -> list[subprocess.Popen[bytes]]:
    """``AIOLAMBDA_WORKERS=W``: W-1 more runtime processes, each with its share of pollers.

    This process is worker 0. Each worker initialises the handler once and polls on
    its own connections, so CPU-bound handlers can use more than one core.
    """
    import subprocess

    count = min(config.workers, config.max_concurrency)
    pass_fds = (config.telemetry_fd,) if config.telemetry_fd is not None else ()
    started = []
    for index in range(1, count):
        env = dict(os.environ)
        env["AIOLAMBDA_WORKERS"] = "1"
        # This process registers the SIGTERM extension and passes SIGTERM on (_stop_workers).
        env.pop("AIOLAMBDA_ENABLE_SIGTERM", None)
        env[p.ENV_MAX_CONCURRENCY] = str(_share(config, index))
        started.append(
            subprocess.Popen([sys.executable, "-m", "aiolambda", *args], env=env, pass_fds=pass_fds)
        )
    return started


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> int:
    """Pass the shutdown on to the other workers; returns the worst exit code."""
    if not workers:
        return 0
    import subprocess

    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    code = 0
    for worker in workers:
        try:
            returned = worker.wait(timeout=_WORKER_GRACE_S)
        except subprocess.TimeoutExpired:
            worker.kill()
            returned = worker.wait()
        code = max(code, 1 if returned else 0)
    return code


def _importable(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


def setup_sys_path(config: RuntimeConfig) -> None:
    """Put the task root and layer paths first on ``sys.path``, in the managed runtime's
    order (:func:`aiolambda._core.precedence.lambda_sys_path` holds it)."""
    from aiolambda._core.precedence import lambda_sys_path  # __main__ imported it already

    wanted = lambda_sys_path(config.task_root, config.opt_dir)
    sys.path[:] = wanted + [entry for entry in sys.path if entry not in wanted]
    for path in wanted[1:]:
        site.addsitedir(path)  # honours .pth files in layers, as the managed runtime does


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    import asyncio

    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def _redirect_output_to_socket(path: str) -> None:
    """Lambda Managed Instances: stdout and stderr go to the log provider socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        print(f"aiolambda: cannot connect to the log socket {path}: {exc}", file=sys.stderr)
        sock.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(sock.fileno(), 1)
    os.dup2(sock.fileno(), 2)
    sock.close()
