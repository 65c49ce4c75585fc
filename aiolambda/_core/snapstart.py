"""SnapStart: the runtime hooks around the snapshot and the ``/restore/next`` exchange.

With ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`` Lambda initialises the function
when a version is published, snapshots the environment, and resumes copies of that
snapshot on cold starts. The runtime's part, as awslambdaric 4.2.2 plays it
(``bootstrap.on_init_complete``):

1. once the handler is loaded, run the before-snapshot hooks, last registered first;
2. ``GET /runtime/restore/next``: Lambda takes the snapshot while it is pending and
   answers it after a restore;
3. run the after-restore hooks in registration order;
4. poll ``/next`` as usual.

A before-snapshot hook that raises (or a ``/restore/next`` that fails) is posted to
``/runtime/init/error`` as ``Runtime.BeforeSnapshotError`` and the process exits 64;
an after-restore hook that raises is posted to ``/runtime/restore/error`` as
``Runtime.AfterRestoreError`` and the process exits 65: awslambdaric's exit codes.

Hooks are registered with ``snapshot_restore_py`` (``register_before_snapshot``,
``register_after_restore``), the package AWS's Python runtime ships. aiolambda never
imports it: code that registers a hook has imported it already, so the registry is
read from ``sys.modules``, and a function without hooks pays nothing. ``async def``
hooks are awaited on the runtime's loop; plain ones run on the loop's thread, where
the handler module's own top-level code ran.

Connections: the one that carried ``/restore/next`` was open across the snapshot, so
it is closed as soon as the answer arrives; the invocation pollers open theirs after
the restore, and an after-restore error goes out on a fresh one too. The SIGTERM
extension's ``/event/next`` long-poll stays pending across the snapshot on purpose:
Lambda refuses a second ``/event/next`` from an extension that is already waiting,
and that poll never carries an invocation. The credential redactor, built from the
environment at init, re-reads it after the after-restore hooks.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from aiolambda._core import protocol as p
from aiolambda._core.config import RuntimeConfig
from aiolambda._core.errors import ErrorReport, Redactor, RuntimeAPIError, from_exception
from aiolambda._core.logs import LogSink, format_error_for_log

if TYPE_CHECKING:
    from aiolambda._core.client import RuntimeAPIClient

EXIT_BEFORE_SNAPSHOT_ERROR: Final = 64  # awslambdaric's sys.exit codes
EXIT_AFTER_RESTORE_ERROR: Final = 65
REGISTRY_MODULE: Final = "snapshot_restore_py"

Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def _registry(getter_name: str) -> list[Hook]:
    """The live list behind ``snapshot_restore_py.get_*`` (empty when never imported)."""
    module = sys.modules.get(REGISTRY_MODULE)
    getter = getattr(module, getter_name, None)
    if getter is None:
        return []
    hooks = getter()
    return hooks if isinstance(hooks, list) else []


def has_async_hooks() -> bool:
    """Whether a registered hook is ``async def``: then only the asyncio driver runs them."""
    from aiolambda._core.handler import is_async_callable

    hooks = _registry("get_before_snapshot") + _registry("get_after_restore")
    return any(is_async_callable(func) for func, _, _ in hooks)


async def _call(hook: Hook) -> None:
    func, args, kwargs = hook
    result = func(*args, **kwargs)
    if hasattr(type(result), "__await__"):
        await result


def _call_sync(hook: Hook) -> None:
    func, args, kwargs = hook
    result = func(*args, **kwargs)
    if hasattr(type(result), "__await__"):  # a sync-looking hook that returned a coroutine
        import asyncio

        asyncio.run(_awaited(result))


async def _awaited(awaitable: Any) -> None:
    await awaitable


async def run_before_snapshot() -> None:
    """Run and consume the before-snapshot hooks, the last registered first."""
    hooks = _registry("get_before_snapshot")
    while hooks:
        await _call(hooks.pop())


async def run_after_restore() -> None:
    """Run the after-restore hooks in registration order."""
    for hook in _registry("get_after_restore"):
        await _call(hook)


class SnapStart:
    """The restore flow of one runtime process; ``await SnapStart(...).complete_init()``."""

    def __init__(self, config: RuntimeConfig, sink: LogSink, redact: Redactor) -> None:
        self._config = config
        self._sink = sink
        self._redact = redact

    def _client(self) -> RuntimeAPIClient:
        from aiolambda._core.client import RuntimeAPIClient
        from aiolambda._core.transport import connect

        config = self._config
        conn = connect(config.transport, config.runtime_api_host, config.runtime_api_port)
        return RuntimeAPIClient(conn, self._redact)

    def complete_init_sync(self) -> int:
        """:meth:`complete_init` for the sync driver: blocking calls, sync hooks."""
        from aiolambda._core.client_sync import SyncRuntimeAPIClient

        host, port = self._config.runtime_api_host, self._config.runtime_api_port
        client = SyncRuntimeAPIClient(host, port, self._redact)
        try:
            hooks = _registry("get_before_snapshot")
            while hooks:
                _call_sync(hooks.pop())
            client.restore_next()
        except BaseException as exc:
            report = self._report(exc, p.BEFORE_SNAPSHOT_ERROR)
            self._post_sync(client.post_init_error, report)
            return EXIT_BEFORE_SNAPSHOT_ERROR
        finally:
            client.close()  # opened before the snapshot: don't trust it after
        try:
            for hook in _registry("get_after_restore"):
                _call_sync(hook)
        except BaseException as exc:
            self._refresh_secrets()
            report = self._report(exc, p.AFTER_RESTORE_ERROR)
            try:
                self._post_sync(lambda r: client.post_init_error(r, p.RESTORE_ERROR_PATH), report)
            finally:
                client.close()
            return EXIT_AFTER_RESTORE_ERROR
        self._refresh_secrets()
        return 0

    def _post_sync(self, post: Callable[[ErrorReport], Any], report: ErrorReport) -> None:
        try:
            post(report)
        except RuntimeAPIError as exc:
            print(f"aiolambda: could not report the SnapStart error: {exc}", file=sys.stderr)

    async def complete_init(self) -> int:
        """Hooks, snapshot, restore, hooks; 0 when the runtime may poll, else the exit code."""
        client = self._client()
        try:
            await run_before_snapshot()
            await client.restore_next()
        except BaseException as exc:
            _reraise_own_cancellation(exc)
            report = self._report(exc, p.BEFORE_SNAPSHOT_ERROR)
            await self._post(client.post_init_error, report)
            return EXIT_BEFORE_SNAPSHOT_ERROR
        finally:
            # Opened before the snapshot: whatever state it is in now, don't trust it.
            await client.close()
        try:
            await run_after_restore()
        except BaseException as exc:
            _reraise_own_cancellation(exc)
            self._refresh_secrets()
            report = self._report(exc, p.AFTER_RESTORE_ERROR)
            client = self._client()
            try:
                await self._post(client.post_restore_error, report)
            finally:
                await client.close()
            return EXIT_AFTER_RESTORE_ERROR
        self._refresh_secrets()
        return 0

    def _refresh_secrets(self) -> None:
        # The redactor was built from the environment at init; a hook may have put fresh
        # credentials there for this restored environment: never let those reach a log.
        self._redact.extend(os.environ[n] for n in p.SECRET_ENV_NAMES if n in os.environ)

    def _report(self, exc: BaseException, header_type: str) -> ErrorReport:
        report = from_exception(exc, "", self._redact)
        text = format_error_for_log(
            report.error_type,
            report.error_message,
            report.stack_trace,
            json=self._config.log_format == "JSON",
        )
        self._sink.write(text, logging.ERROR)
        return ErrorReport(
            report.error_type,
            report.error_message,
            report.stack_trace,
            request_id=report.request_id,
            header_type=header_type,
        )

    async def _post(self, post: Callable[[ErrorReport], Any], report: ErrorReport) -> None:
        try:
            await post(report)
        except RuntimeAPIError as exc:
            print(f"aiolambda: could not report the SnapStart error: {exc}", file=sys.stderr)


def _reraise_own_cancellation(exc: BaseException) -> None:
    """A hook's own CancelledError is its failure; the runtime's cancellation is not."""
    import asyncio  # on the asyncio driver: imported already

    task = asyncio.current_task()
    if isinstance(exc, asyncio.CancelledError) and task is not None and task.cancelling():
        raise exc
