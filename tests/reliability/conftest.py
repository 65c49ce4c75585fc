import pytest

from tests.reliability._runner import TRANSPORTS


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Reliability tests run over both transports (and, via the root conftest, both loops)."""
    return str(request.param)
