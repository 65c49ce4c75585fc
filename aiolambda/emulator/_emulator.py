"""``Emulator``: a local Lambda (Runtime API + Invoke API + process supervision)."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from typing import IO, TYPE_CHECKING, Any, Final

from aiohttp import web

from aiolambda._core import protocol as p
from aiolambda.emulator import _limits as lim
from aiolambda.emulator._engine import Engine, EngineConfig, Invocation, LogBuffer
from aiolambda.emulator._http import HTTPServer
from aiolambda.emulator._invoke_api import RIE_INVOKE_PATH, make_app
from aiolambda.emulator._process import Supervisor

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Mapping, Sequence
    from types import TracebackType

    from aiolambda.emulator._types import InvokeResult, RecordedRequest

DEFAULT_INIT_TIMEOUT_S: Final = 10.0  # Lambda's init phase budget for on-demand functions
DEFAULT_REGION: Final = "us-east-1"


def _json_text(value: str | Mapping[str, Any] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _event_bytes(event: Any) -> bytes:
    if isinstance(event, bytes | bytearray | memoryview):
        return bytes(event)
    if isinstance(event, str):
        return event.encode()
    return json.dumps(event).encode()


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


class Emulator:
    """A local stand-in for the Lambda service, for tests, benchmarks and ``aiolambda serve``.

    ``async with Emulator("app.handler") as emu`` starts the Runtime API on an
    ephemeral loopback port, the Invoke API on ``host:port`` and (with
    ``spawn=True``) the bootstrap as a child process with the Lambda environment.
    With ``spawn=False`` only the servers start: run a runtime yourself, e.g. as a
    task on the same event loop, pointed at :attr:`runtime_api`.

    The Runtime API always binds 127.0.0.1 (``runtime_api_port``, default
    ephemeral); the Invoke API binds ``host:port``.

    Invocations queue in FIFO order; without ``concurrency`` one is in flight at a
    time (a second ``/next`` meanwhile gets 403), with ``concurrency=N`` up to N,
    as on Lambda Managed Instances. :meth:`invoke` always returns: a timeout gives a
    ``Sandbox.Timedout`` error, a dead runtime a ``Runtime.ExitError``.

    ``snapstart=True`` starts the runtime with ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``
    (and, as Lambda does for SnapStart, without the log group and stream variables).
    Its ``GET /runtime/restore/next`` is the snapshot: it is answered when the first
    invocation arrives, ``snapshot_pause`` seconds later, and that invocation's REPORT
    line carries ``Restore Duration`` and ``Billed Restore Duration``. A failed hook
    reaches that invocation as its error (``Runtime.BeforeSnapshotError`` or
    ``Runtime.AfterRestoreError``). Without ``snapstart`` the route answers 403.

    ``api_trace``, when given, gets one line per Runtime/Extensions API request.
    ``layers`` (zips or directories, in Lambda's order) are merged into a temporary
    stand-in for ``/opt``: see ``docs/emulator.md`` for what it provides and lacks.
    """

    def __init__(
        self,
        handler: str | None = None,
        *,
        task_root: str | os.PathLike[str] | None = None,
        bootstrap: Sequence[str] | None = None,
        spawn: bool = True,
        timeout: float = 3.0,
        init_timeout: float = DEFAULT_INIT_TIMEOUT_S,
        memory: int = 128,
        function_name: str = "test_function",
        concurrency: int | None = None,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        runtime_api_port: int = 0,
        region: str | None = None,
        log_stream: IO[str] | None = None,
        record: bool = True,
        snapstart: bool = False,
        snapshot_pause: float = 0.0,
        api_trace: IO[str] | None = None,
        layers: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        if not all(math.isfinite(t) and t > 0 for t in (timeout, init_timeout)):
            raise ValueError("timeouts must be positive numbers of seconds")
        if not lim.MIN_MEMORY_MB <= memory <= lim.MAX_MEMORY_MB:
            raise ValueError(
                f"memory must be from {lim.MIN_MEMORY_MB} to {lim.MAX_MEMORY_MB} MB, got {memory}"
            )
        if concurrency is not None and not 1 <= concurrency <= lim.MAX_CONCURRENCY:
            raise ValueError(
                f"concurrency must be from 1 to {lim.MAX_CONCURRENCY}, got {concurrency}"
            )
        if not 0 <= snapshot_pause < init_timeout:
            # The pause and the after-restore hooks share the init budget, as on Lambda
            # the restore (snapshot load, runtime, hooks) has a limit of its own.
            raise ValueError("snapshot_pause must be at least 0 and below init_timeout")
        if spawn and bootstrap is None and not handler:
            raise ValueError("spawn=True needs a handler or a bootstrap command")
        self.handler = handler
        self.task_root = os.path.abspath(task_root if task_root is not None else os.getcwd())
        self._own_bootstrap = bootstrap is not None
        self.bootstrap = (
            list(bootstrap)
            if bootstrap is not None
            else [sys.executable, "-m", "aiolambda", handler or ""]
        )
        self.spawn = spawn
        self.timeout = timeout
        self.memory = memory
        self.function_name = function_name
        self.concurrency = concurrency
        self.host = host
        self.port = port
        self.runtime_api_port = runtime_api_port
        self.region = region or os.environ.get("AWS_REGION") or DEFAULT_REGION
        self.snapstart = snapstart
        self._extra_env = dict(env or {})
        self._logs = LogBuffer(log_stream)
        self._config = EngineConfig(
            timeout=timeout,
            init_timeout=init_timeout,
            concurrency=concurrency,
            function_name=function_name,
            memory=memory,
            region=self.region,
            handler=handler,
            record=record,
            snapstart=snapstart,
            snapshot_pause=snapshot_pause,
        )
        self._api_trace = api_trace
        self.layers = [os.fspath(layer) for layer in layers]
        self._scratch: str | None = None
        self.opt_dir: str | None = None
        """The merged layers (Lambda's ``/opt``), a temporary directory; None without layers."""
        self.exec_wrapper: str | None = None
        """The exec wrapper the runtime starts through (``AWS_LAMBDA_EXEC_WRAPPER``), if any."""
        self._engine: Engine | None = None
        self._runtime_server: HTTPServer | None = None
        self._invoke_runner: web.AppRunner | None = None
        self._supervisor: Supervisor | None = None
        self._runtime_port = 0
        self._invoke_port = 0

    # -- lifecycle --------------------------------------------------------------------
    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the servers and, in spawn mode, the runtime."""
        engine = Engine(self._config, self._logs)
        engine.api_trace = self._api_trace
        self._engine = engine
        server = HTTPServer(engine.handle, engine.body_limit, engine.open_stream)
        await server.start("127.0.0.1", self.runtime_api_port)
        self._runtime_server = server
        self._runtime_port = server.port
        try:
            app = make_app(engine, lambda: str(uuid.uuid4()))
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            self._invoke_runner = runner
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self._invoke_port = int(runner.addresses[0][1])
            if self.spawn:
                extensions = self._prepare_layers()
                supervisor = Supervisor(
                    engine,
                    self.bootstrap,
                    self.environment(),
                    self.task_root,
                    self._logs,
                    extensions=extensions,
                )
                await supervisor.start()
                self._supervisor = supervisor
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop the runtime and the servers; anything still pending gets an error answer."""
        if self._engine is not None:
            self._engine.close("Runtime exited with error: the emulator shut down")
        if self._supervisor is not None:
            await self._supervisor.close()  # SIGTERM (or SIGKILL), then wait for the exit
        if self._engine is not None:
            self._engine.release_polls()
        if self._invoke_runner is not None:
            await self._invoke_runner.cleanup()
            self._invoke_runner = None
        if self._runtime_server is not None:
            await self._runtime_server.close()
            self._runtime_server = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _prepare_layers(self) -> list[str]:
        """Merge the layers into a stand-in ``/opt``, pick the exec wrapper; the extensions."""
        from aiolambda.emulator import _layers

        wrapper = self._extra_env.get(_layers.EXEC_WRAPPER_ENV)
        if not self.layers and wrapper is None:
            return []
        self._scratch = tempfile.mkdtemp(prefix="aiolambda-")
        opt = os.path.join(self._scratch, "opt")
        os.mkdir(opt)
        _layers.merge_layers(self.layers, opt)
        self.opt_dir = opt
        ships_aiolambda = os.path.isfile(os.path.join(opt, _layers.AIOLAMBDA_WRAPPER))
        if ships_aiolambda and wrapper is None and not self._own_bootstrap:
            # aiolambda's own layer: run it the way its function configuration must say.
            wrapper = f"{_layers.LAMBDA_OPT}/{_layers.AIOLAMBDA_WRAPPER}"
            self._extra_env[_layers.EXEC_WRAPPER_ENV] = wrapper
        if wrapper is not None and not self._own_bootstrap:
            # Lambda's managed runtimes honour the wrapper; a custom bootstrap would not.
            local = os.path.join(self.task_root, _layers.local_path(wrapper, opt))
            self.exec_wrapper = local
            self.bootstrap = _layers.wrapped_bootstrap(local, self._scratch)
        return _layers.extensions(opt)

    def environment(self) -> dict[str, str]:
        """The environment the runtime process gets: ours without ``PYTHON*``, Lambda's, ``env``."""
        today = time.strftime("%Y/%m/%d", time.gmtime())
        lambda_env = {
            p.ENV_RUNTIME_API: self.runtime_api,
            p.ENV_TASK_ROOT: self.task_root,
            p.ENV_FUNCTION_NAME: self.function_name,
            p.ENV_FUNCTION_VERSION: "$LATEST",
            p.ENV_FUNCTION_MEMORY: str(self.memory),
            p.ENV_FUNCTION_TIMEOUT: _seconds_text(self.timeout),
            p.ENV_LOG_GROUP: f"/aws/lambda/{self.function_name}",
            p.ENV_LOG_STREAM: f"{today}/[$LATEST]{uuid.uuid4().hex}",
            p.ENV_INITIALIZATION_TYPE: (
                "on-demand" if self.concurrency is None else "lambda-managed-instances"
            ),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "TZ": ":UTC",
        }
        if self.handler:
            lambda_env[p.ENV_HANDLER] = self.handler
        if self.concurrency is not None:
            lambda_env[p.ENV_MAX_CONCURRENCY] = str(self.concurrency)
        if self.snapstart:
            lambda_env[p.ENV_INITIALIZATION_TYPE] = p.INIT_TYPE_SNAP_START
            # Not set for SnapStart functions: a restored copy would carry stale values.
            del lambda_env[p.ENV_LOG_GROUP], lambda_env[p.ENV_LOG_STREAM]
        # Lambda never sets PYTHONUNBUFFERED or PYTHONDONTWRITEBYTECODE (and its
        # PYTHONPATH is its own /var/runtime): a developer's shell that sets them would
        # hide bugs that show on Lambda, such as block-buffered prints. Only ``env``
        # can give the function PYTHON* variables.
        inherited = {
            k: v
            for k, v in os.environ.items()
            if k not in (p.ENV_MAX_CONCURRENCY, p.ENV_HANDLER, p.ENV_TELEMETRY_FD)
            and not k.startswith("PYTHON")
        }
        env = {**inherited, **lambda_env, **self._extra_env}
        if self.opt_dir is not None:
            # Lambda's PATH ends with /opt/bin and its LD_LIBRARY_PATH with /opt/lib.
            opt = self.opt_dir
            env["AIOLAMBDA_OPT_DIR"] = opt
            for name, sub in (("PATH", "bin"), ("LD_LIBRARY_PATH", "lib")):
                env[name] = os.pathsep.join(filter(None, [env.get(name), f"{opt}/{sub}"]))
        return env

    # -- addresses --------------------------------------------------------------------
    @property
    def runtime_api(self) -> str:
        """``127.0.0.1:PORT``: the value of ``AWS_LAMBDA_RUNTIME_API``."""
        return f"127.0.0.1:{self._runtime_port}"

    @property
    def invoke_port(self) -> int:
        return self._invoke_port

    @property
    def endpoint_url(self) -> str:
        """Base URL for ``boto3.client("lambda", endpoint_url=…)``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._invoke_port}"

    @property
    def invoke_url(self) -> str:
        """RIE's invoke URL: ``http://127.0.0.1:PORT/2015-03-31/functions/function/invocations``."""
        return f"{self.endpoint_url}{RIE_INVOKE_PATH}"

    # -- invoking ---------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the emulator is not started (use 'async with Emulator(...)')")
        return self._engine

    def submit(
        self,
        event: Any = b"{}",
        *,
        content_type: str = p.CT_JSON,
        headers: Mapping[str, str] | None = None,
        omit_headers: Sequence[str] = (),
        request_id: str | None = None,
        client_context: str | Mapping[str, Any] | None = None,
        identity: str | Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        trace_id: str | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> asyncio.Future[InvokeResult]:
        """Queue an invocation and return a future of its result (see :meth:`invoke`)."""
        inv = Invocation(
            request_id if request_id is not None else str(uuid.uuid4()),
            _event_bytes(event),
            content_type=content_type,
            extra_headers=(headers or {}).items(),
            omit=omit_headers,
            client_context=_json_text(client_context),
            identity=_json_text(identity),
            tenant_id=tenant_id,
            trace_id=trace_id,
        )
        inv.on_chunk = on_chunk
        return self.engine.submit(inv)

    async def invoke(
        self,
        event: Any = b"{}",
        *,
        content_type: str = p.CT_JSON,
        headers: Mapping[str, str] | None = None,
        omit_headers: Sequence[str] = (),
        request_id: str | None = None,
        client_context: str | Mapping[str, Any] | None = None,
        identity: str | Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        trace_id: str | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> InvokeResult:
        """Invoke the function once and wait for the result.

        ``event`` is sent as is when it is ``bytes`` or ``str``, else as JSON.
        ``headers`` add to or replace headers of the ``/next`` response and
        ``omit_headers`` removes some: both are written verbatim, so tests can hand
        a runtime hostile input. ``client_context``/``identity`` may be JSON text
        or a mapping. ``on_chunk`` is called with each piece of a streamed response
        as it arrives. Never hangs: every failure comes back as an error result.
        """
        return await self.submit(
            event,
            content_type=content_type,
            headers=headers,
            omit_headers=omit_headers,
            request_id=request_id,
            client_context=client_context,
            identity=identity,
            tenant_id=tenant_id,
            trace_id=trace_id,
            on_chunk=on_chunk,
        )

    # -- observing --------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every Runtime/Extensions API request so far, in the order they were answered."""
        return self.engine.requests

    @property
    def results(self) -> list[InvokeResult]:
        """Every finished invocation, in the order they finished (``Event`` ones too)."""
        return self.engine.results

    def answers(self, request_id: str) -> list[RecordedRequest]:
        """The ``/response`` and ``/error`` posts for ``request_id``, accepted or not."""
        return self.engine.answers(request_id)

    @property
    def next_calls(self) -> int:
        """How many times ``/next`` has been called."""
        return self.engine.next_calls

    async def wait_for_next_calls(self, n: int) -> None:
        """Return once ``/next`` has been called ``n`` times in total."""
        await self.engine.wait_for_next_calls(n)

    async def wait_for_requests(self, n: int) -> None:
        """Return once ``n`` Runtime API requests have been answered and recorded."""
        if not self._config.record:
            raise RuntimeError("the emulator runs with record=False")
        await self.engine.wait_for_requests(n)

    async def wait_for_snapshot(self) -> None:
        """SnapStart: return once the runtime's ``/restore/next`` is pending (its snapshot)."""
        await self.engine.wait_for_snapshot()

    @property
    def init_error(self) -> Any:
        """The last ``/runtime/init/error`` document (parsed JSON), or ``None``."""
        return self.engine.init_error

    async def wait_init_error(self) -> Any:
        """Wait for an init error post and return its document."""
        return await self.engine.wait_init_error()

    @property
    def logs(self) -> str:
        """All runtime output so far (init included) with START/END/REPORT lines."""
        return self._logs.text()

    @property
    def in_flight(self) -> int:
        """Invocations handed to the runtime and not answered yet."""
        return self.engine.in_flight

    @property
    def extensions(self) -> list[str]:
        """Names of the extensions registered by the current runtime."""
        return [ext.name for ext in self.engine.extensions.values()]

    @property
    def returncode(self) -> int | None:
        """Exit status of the last runtime process that ended (spawn mode)."""
        return self._supervisor.returncode if self._supervisor is not None else None

    @property
    def exit_codes(self) -> list[int]:
        """Exit status of every runtime process that ended, oldest first (spawn mode)."""
        return list(self._supervisor.exit_codes) if self._supervisor is not None else []

    @property
    def pid(self) -> int | None:
        """Process id of the running runtime (spawn mode), or ``None``."""
        return self._supervisor.pid if self._supervisor is not None else None

    @property
    def starts(self) -> int:
        """How many times a runtime process was started (restarts included)."""
        return self._supervisor.starts if self._supervisor is not None else 0

    def replace_runtime(self) -> None:
        """Start a new runtime (a new init) for the next invocation; spawn mode only.

        Invocations in flight finish on the current runtime first; those that arrive
        meanwhile wait for the new one. ``aiolambda serve --reload`` calls it on a change.
        """
        if self._supervisor is None:
            raise RuntimeError("no runtime process: the emulator runs with spawn=False")
        self._supervisor.replace()

    async def wait_exit(self) -> int | None:
        """Wait for the running runtime process to end and return its exit status."""
        if self._supervisor is None:
            raise RuntimeError("no runtime process: the emulator runs with spawn=False")
        return await self._supervisor.wait_exit()
