"""The conformance tier: real handler files under AWS's Runtime Interface Emulator.

The machinery (finding, starting, invoking and stopping RIE) is ``tests.rie``; here
are the fixture that skips without the binary and ``run``/``rie_function`` bound to
this tier's handler directory ``fn/``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from tests import rie as _rie
from tests.rie import AIOLAMBDA, AWSLAMBDARIC, RUNTIMES, Finished, Frame, Reply, RieFunction

__all__ = [
    "AIOLAMBDA", "AWSLAMBDARIC", "FN", "RUNTIMES", "Finished", "Frame", "Reply",
    "RieFunction", "rie_function", "run",
]  # fmt: skip

FN = Path(__file__).resolve().parent / "fn"

run = functools.partial(_rie.run, task_root=FN)
rie_function = functools.partial(_rie.rie_function, task_root=FN)


@pytest.fixture(autouse=True)
def _over_both_drivers(driver: str) -> str:
    """Every conformance test runs once per driver (``driver`` in tests/conftest.py)."""
    return driver


@pytest.fixture(scope="session")
def rie() -> Path:
    """The RIE binary; skips the test with the reason when it is absent."""
    return _rie.require_rie()
