"""``os.environ["_X_AMZN_TRACE_ID"]`` of the running invocation, when several run at once.

botocore (boto3 and aiobotocore: the ``X-Amzn-Trace-Id`` header Lambda's recursive
loop detection relies on), aws-xray-sdk and OpenTelemetry's X-Ray propagator read the
invocation's trace header from the process environment, as the stock runtime sets it
before each invocation. With one invocation at a time the runtime does the same. With
``AWS_LAMBDA_MAX_CONCURRENCY`` > 1 one process value cannot be right for N tasks, so
``os.environ`` is given a view of that one key backed by the invocation's context
variable: inside an invocation's task (and the threads it runs sync code in, which get
a copy of its context) ``os.environ.get``, ``os.getenv``, ``in`` and ``[...]`` return
that invocation's header; outside an invocation they return the process's value.

The object stays the same (``from os import environ`` elsewhere sees the view); only
its class changes, to a subclass that overrides the readers. What cannot be per task:
the C-level environment (``getenv(3)`` in extensions, and what a subprocess inherits
unless given ``env=os.environ.copy()``), and writes to the key, which stay
process-wide as before.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Final

from aiolambda._core.context import trace_id_var
from aiolambda._core.protocol import ENV_TRACE_ID

_KEY: Final = ENV_TRACE_ID


class _TaskTraceEnviron(os._Environ[str]):
    """``os.environ`` whose ``_X_AMZN_TRACE_ID`` is the current invocation's."""

    def __getitem__(self, key: str) -> str:
        if key == _KEY:
            value = trace_id_var.get()
            if value is not None:
                return value
        result: str = super().__getitem__(key)
        return result

    def __iter__(self) -> Iterator[str]:
        yield from super().__iter__()
        if self._only_in_view():
            yield _KEY

    def __len__(self) -> int:
        return super().__len__() + (1 if self._only_in_view() else 0)

    def _only_in_view(self) -> bool:
        if trace_id_var.get() is None:
            return False
        try:
            super().__getitem__(_KEY)
        except KeyError:
            return True
        return False

    def copy(self) -> dict[str, Any]:
        return dict(self)


def install_trace_view() -> None:
    """Give ``os.environ`` the per-invocation view of the trace header (idempotent)."""
    environ: Any = os.environ
    if type(environ) is os._Environ:
        environ.__class__ = _TaskTraceEnviron
