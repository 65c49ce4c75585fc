"""Emulator tests: register the marker for tests that need the aiolambda runtime itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "aiolambda_runtime: runs `python -m aiolambda` (the project's own runtime) as bootstrap",
    )
