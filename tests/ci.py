"""Skips that cannot hide a regression in CI.

A test that needs a tool this machine lacks (AWS's RIE, strace) skips on a developer's
machine, saying why; in CI (``CI`` set, as every CI service and ``.ci/run`` set it) the
same absence fails the test, so a lost install step cannot turn a tier green by skipping.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True under CI (``CI=true``, or any value but empty, ``0``, ``false`` or ``no``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with ``reason``; in CI, fail with it instead."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: a missing prerequisite fails the run)", pytrace=False)
    pytest.skip(reason)
