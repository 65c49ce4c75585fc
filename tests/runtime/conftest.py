import pytest

from tests.runtime.harness import TRANSPORTS


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Each runtime test runs over both transports (and, via the root conftest, both loops)."""
    return str(request.param)
