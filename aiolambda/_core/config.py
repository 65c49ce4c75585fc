"""The runtime's configuration, parsed once from the environment into a frozen value.

Nothing else in the runtime reads ``os.environ``: ``RuntimeConfig.from_environ`` is
called once by the bootstrap, and every other module receives values.

See: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
"""

# No `from __future__ import annotations` here: typing.NamedTuple turns each string
# annotation into a ForwardRef and compiles it, ~0.3 ms of every cold start for 22 fields.
from collections.abc import Mapping
from typing import NamedTuple

from aiolambda._core import protocol as p
from aiolambda._core.transport import TRANSPORT_KINDS

DEFAULT_TIMEOUT_MARGIN_MS = 500
LOOPS = ("auto", "uvloop", "asyncio")
DRIVERS = ("auto", "sync", "asyncio")
LOG_FORMATS = ("Text", "JSON")
# AWS_LAMBDA_LOG_LEVEL values; TRACE maps to DEBUG and FATAL to CRITICAL as awslambdaric does.
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


class ConfigError(ValueError):
    """An environment variable has a value the runtime cannot work with."""


class RuntimeConfig(NamedTuple):
    """Everything the runtime needs from the process environment.

    Build it with :meth:`from_environ`; it never changes afterwards (``_replace``
    makes a changed copy). A named tuple, not a dataclass: a frozen dataclass of
    this size generates its methods with ``exec`` at every cold start (~1.5 ms).
    """

    runtime_api_host: str
    runtime_api_port: int
    handler: str
    task_root: str
    function_name: str
    function_version: str
    memory_limit_in_mb: str
    log_group_name: str
    log_stream_name: str
    log_format: str
    log_level: str | None
    max_concurrency: int
    telemetry_fd: int | None
    telemetry_socket: str | None
    transport: str
    loop: str
    timeout_margin_ms: int
    opt_dir: str
    enable_sigterm: bool
    workers: int
    sync_threads: bool
    """``AIOLAMBDA_SYNC_THREADS``: sync handlers share one process in threads instead of
    one process per concurrent invocation."""
    snapstart: bool = False
    """``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``: run the restore flow after init."""
    driver: str = "auto"
    """``AIOLAMBDA_DRIVER``: ``auto`` (see ``bootstrap.needs_loop``), ``sync`` (import the
    handler outside a loop and serve it without one when it allows) or ``asyncio``."""
    pipeline: bool = True
    """``AIOLAMBDA_PIPELINE``: send ``GET /next`` in the same write as an answer; ``0``
    sends them one at a time (see ``exchange.Pipelining`` for the fallback)."""

    @property
    def runtime_api(self) -> str:
        """``host:port`` of the Runtime API."""
        return f"{self.runtime_api_host}:{self.runtime_api_port}"

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, handler: str | None = None
    ) -> "RuntimeConfig":
        """Parse the Lambda environment (``handler`` overrides ``_HANDLER``).

        Raises :class:`ConfigError` with a message naming the variable at fault.
        """
        api = environ.get(p.ENV_RUNTIME_API, "")
        if not api:
            raise ConfigError(
                f"{p.ENV_RUNTIME_API} is not set: aiolambda runs as a Lambda runtime "
                "(use 'aiolambda serve' or 'aiolambda invoke' to run a function locally)"
            )
        host, port = _split_host_port(api)
        handler = handler or environ.get(p.ENV_HANDLER, "")
        log_format = environ.get(p.ENV_LOG_FORMAT, "Text")
        log_format = "JSON" if log_format.upper() == "JSON" else "Text"
        level = environ.get(p.ENV_LOG_LEVEL, "").upper() or None
        if level is not None and level not in LOG_LEVELS:
            level = None
        snapstart = environ.get(p.ENV_INITIALIZATION_TYPE) == p.INIT_TYPE_SNAP_START
        max_concurrency = _positive_int(environ, p.ENV_MAX_CONCURRENCY, 1)
        workers = _positive_int(environ, "AIOLAMBDA_WORKERS", 1)
        if snapstart and min(workers, max_concurrency) > 1:
            # One snapshot holds one runtime; extra worker processes would each need a
            # restore of their own, and Lambda answers /restore/next once.
            raise ConfigError(
                f"AIOLAMBDA_WORKERS={workers} cannot be used with SnapStart "
                f"({p.ENV_INITIALIZATION_TYPE}={p.INIT_TYPE_SNAP_START}): unset it; "
                f"{p.ENV_MAX_CONCURRENCY} still runs concurrent invocations on one loop"
            )
        return cls(
            runtime_api_host=host,
            runtime_api_port=port,
            handler=handler,
            task_root=environ.get(p.ENV_TASK_ROOT, ""),
            function_name=environ.get(p.ENV_FUNCTION_NAME, ""),
            function_version=environ.get(p.ENV_FUNCTION_VERSION, "$LATEST"),
            memory_limit_in_mb=environ.get(p.ENV_FUNCTION_MEMORY, ""),
            log_group_name=environ.get(p.ENV_LOG_GROUP, ""),
            log_stream_name=environ.get(p.ENV_LOG_STREAM, ""),
            log_format=log_format,
            log_level=level,
            max_concurrency=max_concurrency,
            telemetry_fd=_optional_int(environ, p.ENV_TELEMETRY_FD),
            telemetry_socket=environ.get(p.ENV_TELEMETRY_SOCKET) or None,
            transport=_choice(environ, "AIOLAMBDA_TRANSPORT", TRANSPORT_KINDS),
            loop=_choice(environ, "AIOLAMBDA_LOOP", LOOPS),
            timeout_margin_ms=_non_negative_int(
                environ, "AIOLAMBDA_TIMEOUT_MARGIN_MS", DEFAULT_TIMEOUT_MARGIN_MS
            ),
            opt_dir=environ.get("AIOLAMBDA_OPT_DIR", "/opt"),
            enable_sigterm=_flag(environ, "AIOLAMBDA_ENABLE_SIGTERM"),
            workers=workers,
            sync_threads=_flag(environ, "AIOLAMBDA_SYNC_THREADS"),
            snapstart=snapstart,
            driver=_choice(environ, "AIOLAMBDA_DRIVER", DRIVERS),
            pipeline=_flag(environ, "AIOLAMBDA_PIPELINE", default=True),
        )


def _split_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{p.ENV_RUNTIME_API}={value!r} is not host:port")
    return host.strip("[]"), int(port)


def _optional_int(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not an integer") from None


def _non_negative_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _optional_int(environ, name)
    if value is None:
        return default
    if value < 0:
        raise ConfigError(f"{name}={value} must not be negative")
    return value


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _non_negative_int(environ, name, default)
    if value == 0:
        raise ConfigError(f"{name}=0 must be at least 1")
    return value


def _flag(environ: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={value!r}: use 1 or 0")


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = environ.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: choose one of {', '.join(choices)}")
    return value
