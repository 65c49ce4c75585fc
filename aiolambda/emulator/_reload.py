"""``aiolambda serve --reload``: a new runtime after each change to the function's files.

Changes are watched with watchfiles (the optional ``reload`` extra), which uses the
platform's file events (inotify, FSEvents, ...) and groups a burst of writes, such as an
editor's save, into one change.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
from typing import IO, TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aiolambda.emulator import Emulator

INSTALL_HINT: Final = "pip install 'aiolambda-runtime[reload]'"
# How often watchfiles' thread wakes without a change: only the first wake-up is used,
# to tell that the watch is in place.
_WAKE_MS: Final = 500


def missing_watchfiles() -> str | None:
    """Why ``--reload`` cannot work here (one line), or None when it can."""
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return f"--reload needs the watchfiles package: {INSTALL_HINT}"
    return None


def _drop_stale_bytecode(paths: Sequence[str]) -> None:
    # A source edited within the second its bytecode was written, keeping its size,
    # would look unchanged to the import system (pyc files record whole seconds):
    # the new runtime must compile what was saved.
    for path in paths:
        if path.endswith(".py"):
            with contextlib.suppress(OSError, ValueError, NotImplementedError):
                os.unlink(importlib.util.cache_from_source(path))


async def watch(
    emulator: Emulator, directories: Sequence[str], out: IO[str], stop: asyncio.Event
) -> None:
    """Replace the runtime after each change under ``directories``, until ``stop`` is set."""
    from watchfiles import DefaultFilter, awatch

    ready = False
    async for changes in awatch(
        *directories,
        watch_filter=DefaultFilter(),
        stop_event=stop,
        rust_timeout=_WAKE_MS,
        yield_on_timeout=True,
    ):
        if not ready:
            ready = True
            print(f"aiolambda: watching {', '.join(directories)} for changes", file=out, flush=True)
        if not changes:
            continue
        paths = sorted({path for _, path in changes})
        _drop_stale_bytecode(paths)
        emulator.replace_runtime()
        # An editor's temporary files come and go within the burst: name what is left.
        named = [path for path in paths if os.path.exists(path)] or paths
        shown = ", ".join(_relative(path, directories) for path in named[:3])
        more = f" and {len(named) - 3} more" if len(named) > 3 else ""
        print(
            f"aiolambda: reloading: {shown}{more} changed; the next invocation gets a new "
            "runtime (a new init)",
            file=out,
            flush=True,
        )


def _relative(path: str, directories: Sequence[str]) -> str:
    for directory in directories:
        if path.startswith(os.path.join(directory, "")):
            return os.path.relpath(path, directory)
    return path
