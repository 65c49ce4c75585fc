"""Integrations with other libraries, each imported only when that library is in use.

:func:`watch` is what the bootstrap calls when several invocations share the process:
libraries already imported get their per-invocation state made invocation-local now
(:mod:`aiolambda._compat.tasklocal`), the others when they are first imported. A
function that uses none of them pays for this module and one name check per import.
"""

from __future__ import annotations

import sys
from typing import Any, Final

WATCHED: Final = ("aws_lambda_powertools",)


class _Watcher:
    """A ``sys.meta_path`` entry that only notices the first import of a watched library."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        """Always ``None``: the import itself goes on through the other finders."""
        if fullname in WATCHED:
            sys.meta_path.remove(self)
            from aiolambda._compat.tasklocal import install

            install(self.concurrency, check=False)  # inside an invocation: nothing to refuse


def watch(concurrency: int) -> None:
    """``concurrency`` > 1 invocations share this process from now on."""
    if any(name in sys.modules for name in WATCHED):
        from aiolambda._compat.tasklocal import install

        install(concurrency)
    else:
        sys.meta_path.insert(0, _Watcher(concurrency))
