"""Sentry set up, then the module's own init fails."""

from __future__ import annotations

from _sentry_setup import init

init()
raise RuntimeError("init failed on purpose")


def handler(event: object, context: object) -> object:  # never reached
    return None
