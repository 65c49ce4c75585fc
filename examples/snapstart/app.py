"""A SnapStart function on aiolambda: what to drop before the snapshot, what to renew after.

Lambda initialises a SnapStart function once, when a version is published, and starts
every cold environment from a snapshot of that initialised process. Everything the
module built at init is then shared by all the copies: open connections (their peers
forgot them long ago), seeded random generators, ids meant to be unique, cached
credentials. The hooks of ``snapshot_restore_py`` (shipped with AWS's Python runtime;
``pip install snapshot-restore-py`` elsewhere) put that right; aiolambda runs them, and
awaits the ``async def`` ones on its event loop.

Needs snapshot-restore-py (``requirements.txt``).
From the repository's root, install what it needs and run it::

    pip install -c constraints.txt -e . -r examples/snapstart/requirements.txt
    aiolambda invoke examples/snapstart/app.handler --snapstart --event '{}'

or keep it running (the first invocation triggers the "restore")::

    aiolambda serve examples/snapstart/app.handler --snapstart --snapshot-pause-ms 200
    curl -XPOST http://127.0.0.1:8080/2015-03-31/functions/function/invocations -d '{}'
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import aiohttp
from snapshot_restore_py import register_after_restore, register_before_snapshot


class State:
    """What init builds; it is in the snapshot, which is the point of SnapStart."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = aiohttp.ClientSession()
        self.environment_id = str(uuid.uuid4())
        self.restores = 0


state = State()


@register_before_snapshot
async def close_connections() -> None:
    """Connections would be dead after a restore: close them while it is clean to do so."""
    if state.session is not None:
        await state.session.close()
        state.session = None


@register_after_restore
async def reopen_connections() -> None:
    """A new session (and its connection pool) for this restored environment."""
    state.session = aiohttp.ClientSession()


@register_after_restore
def renew_uniqueness() -> None:
    """Every copy of the snapshot holds the same generator state and the same ids."""
    random.seed()  # or use secrets / random.SystemRandom, which need no reseeding
    state.environment_id = str(uuid.uuid4())
    state.restores += 1


async def handler(event: Any, context: Any) -> dict[str, Any]:
    """Report the state the hooks maintain."""
    session = state.session
    return {
        "environment_id": state.environment_id,
        "restores": state.restores,
        "session_open": session is not None and not session.closed,
        "lucky_number": random.randint(1, 1_000_000),
        "request_id": context.aws_request_id,
    }
