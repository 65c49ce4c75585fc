"""One cache of fresh virtual environments for the whole session (see tests/venvs.py)."""

from __future__ import annotations

import pytest

from tests.venvs import VenvCache


@pytest.fixture(scope="session")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> VenvCache:
    return VenvCache(tmp_path_factory.mktemp("venvs"))
