"""SnapStart in the frozen config: parsed once, workers refused clearly."""

from __future__ import annotations

import pytest

from aiolambda._core.config import ConfigError, RuntimeConfig

BASE = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "_HANDLER": "app.handler"}


@pytest.mark.parametrize(
    ("init_type", "expected"),
    [("snap-start", True), ("on-demand", False), ("provisioned-concurrency", False), ("", False)],
)
def test_initialization_type(init_type: str, expected: bool) -> None:
    config = RuntimeConfig.from_environ({**BASE, "AWS_LAMBDA_INITIALIZATION_TYPE": init_type})
    assert config.snapstart is expected


def test_workers_with_snapstart_are_refused() -> None:
    env = {
        **BASE,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
        "AWS_LAMBDA_MAX_CONCURRENCY": "4",
        "AIOLAMBDA_WORKERS": "2",
    }
    with pytest.raises(ConfigError, match=r"AIOLAMBDA_WORKERS=2 cannot be used with SnapStart"):
        RuntimeConfig.from_environ(env)
    # Without SnapStart the same setting is fine; with one poller no worker would start.
    assert RuntimeConfig.from_environ({**env, "AWS_LAMBDA_INITIALIZATION_TYPE": ""}).workers == 2
    single = RuntimeConfig.from_environ({**env, "AWS_LAMBDA_MAX_CONCURRENCY": "1"})
    assert single.snapstart and single.max_concurrency == 1
    concurrent = RuntimeConfig.from_environ({**env, "AIOLAMBDA_WORKERS": "1"})
    assert concurrent.snapstart and concurrent.max_concurrency == 4
