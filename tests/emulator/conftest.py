"""Emulator tests: the aiolambda_runtime marker and the user-facing emulator fixture."""

from __future__ import annotations

from typing import TYPE_CHECKING

# The fixture users get from ``pytest_plugins = ["aiolambda.testing"]``; importing it
# here registers it for these tests the same way.
from aiolambda.testing import lambda_emulator_factory  # noqa: F401

if TYPE_CHECKING:
    import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "aiolambda_runtime: runs `python -m aiolambda` (the project's own runtime) as bootstrap",
    )
