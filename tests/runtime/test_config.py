import pytest

from aiolambda._core.config import DEFAULT_TIMEOUT_MARGIN_MS, ConfigError, RuntimeConfig

BASE = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "_HANDLER": "app.handler"}


def test_defaults_from_minimal_environment() -> None:
    config = RuntimeConfig.from_environ(BASE)
    assert (config.runtime_api_host, config.runtime_api_port) == ("127.0.0.1", 9001)
    assert config.runtime_api == "127.0.0.1:9001"
    assert config.handler == "app.handler"
    assert config.max_concurrency == 1
    assert config.transport == "lean"
    assert config.loop == "auto"
    assert config.log_format == "Text"
    assert config.log_level is None
    assert config.timeout_margin_ms == DEFAULT_TIMEOUT_MARGIN_MS
    assert config.function_version == "$LATEST"
    assert config.opt_dir == "/opt"


def test_function_metadata_and_knobs() -> None:
    env = BASE | {
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "7",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
        "AWS_LAMBDA_LOG_FORMAT": "json",
        "AWS_LAMBDA_LOG_LEVEL": "debug",
        "AWS_LAMBDA_MAX_CONCURRENCY": "64",
        "_LAMBDA_TELEMETRY_LOG_FD": "3",
        "AIOLAMBDA_TRANSPORT": "AIOHTTP",
        "AIOLAMBDA_LOOP": "asyncio",
        "AIOLAMBDA_TIMEOUT_MARGIN_MS": "0",
    }
    config = RuntimeConfig.from_environ(env, handler="other.fn")
    assert config.handler == "other.fn"
    assert config.function_name == "fn"
    assert config.memory_limit_in_mb == "256"  # a str, as awslambdaric gives it
    assert config.log_format == "JSON"
    assert config.log_level == "DEBUG"
    assert config.max_concurrency == 64
    assert config.telemetry_fd == 3
    assert config.transport == "aiohttp"
    assert config.loop == "asyncio"
    assert config.timeout_margin_ms == 0


def test_config_is_frozen() -> None:
    config = RuntimeConfig.from_environ(BASE)
    with pytest.raises(AttributeError):
        config.handler = "x.y"  # type: ignore[misc]
    changed = config._replace(handler="x.y")
    assert (changed.handler, config.handler) == ("x.y", BASE["_HANDLER"])


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("AWS_LAMBDA_RUNTIME_API", "", "AWS_LAMBDA_RUNTIME_API is not set"),
        ("AWS_LAMBDA_RUNTIME_API", "localhost", "is not host:port"),
        ("AWS_LAMBDA_RUNTIME_API", "localhost:99999", "is not host:port"),
        ("AWS_LAMBDA_MAX_CONCURRENCY", "0", "must be at least 1"),
        ("AWS_LAMBDA_MAX_CONCURRENCY", "many", "is not an integer"),
        ("AIOLAMBDA_TIMEOUT_MARGIN_MS", "-5", "must not be negative"),
        ("AIOLAMBDA_TRANSPORT", "curl", "choose one of lean, aiohttp"),
        ("AIOLAMBDA_LOOP", "trio", "choose one of auto, uvloop, asyncio"),
        ("AIOLAMBDA_SYNC_THREADS", "maybe", "use 1 or 0"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        RuntimeConfig.from_environ(BASE | {name: value})
    assert name in str(info.value)


def test_sync_threads_is_an_opt_in() -> None:
    assert RuntimeConfig.from_environ(BASE).sync_threads is False
    assert RuntimeConfig.from_environ(BASE | {"AIOLAMBDA_SYNC_THREADS": "1"}).sync_threads


def test_unknown_log_level_is_ignored_not_fatal() -> None:
    assert RuntimeConfig.from_environ(BASE | {"AWS_LAMBDA_LOG_LEVEL": "LOUD"}).log_level is None


def test_ipv6_runtime_api() -> None:
    config = RuntimeConfig.from_environ(BASE | {"AWS_LAMBDA_RUNTIME_API": "[::1]:9001"})
    assert (config.runtime_api_host, config.runtime_api_port) == ("::1", 9001)


def test_pipelining_is_on_unless_turned_off() -> None:
    assert RuntimeConfig.from_environ(BASE).pipeline is True
    for off in ("0", "false", "off"):
        assert RuntimeConfig.from_environ(BASE | {"AIOLAMBDA_PIPELINE": off}).pipeline is False
    assert RuntimeConfig.from_environ(BASE | {"AIOLAMBDA_PIPELINE": "1"}).pipeline is True
    with pytest.raises(ConfigError, match="AIOLAMBDA_PIPELINE"):
        RuntimeConfig.from_environ(BASE | {"AIOLAMBDA_PIPELINE": "maybe"})
