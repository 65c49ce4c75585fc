"""Sentry set up where another module named ``bootstrap`` hides the runtime's surface."""

from __future__ import annotations

import sys
import types
from typing import Any

sys.modules["bootstrap"] = types.ModuleType("bootstrap")

from _sentry_setup import init  # noqa: E402 - after the module it must find

init()


def handler(event: Any, context: Any) -> Any:
    raise ValueError("not reported")
