import functools
import itertools
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aiolambda._core.errors import InitError
from aiolambda._core.handler import is_async_callable, load_handler

_counter = itertools.count()


@pytest.fixture
def code_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def write_module(root: Path, source: str, *, package: str = "") -> str:
    """Write a uniquely named module (optionally in a package dir) and return its dotted name."""
    name = f"handler_mod_{next(_counter)}"
    directory = root / package if package else root
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return f"{package}/{name}" if package else name


def test_async_and_sync_handlers_load(code_dir: Path) -> None:
    mod = write_module(code_dir, "async def a(e, c): return e\ndef s(e, c): return e\n")
    assert load_handler(f"{mod}.a").is_async
    assert not load_handler(f"{mod}.s").is_async


def test_directory_path_handler_uses_last_dot_split(code_dir: Path) -> None:
    mod = write_module(code_dir, "def handler(e, c): return 'deep'\n", package="src/pkg")
    handler = load_handler(f"{mod}.handler")
    assert handler.func(None, None) == "deep"


@pytest.mark.parametrize("name", ["nodots", "", "trailing.", ".leading"])
def test_malformed_names(name: str) -> None:
    with pytest.raises(InitError) as info:
        load_handler(name)
    assert info.value.error_type == "Runtime.MalformedHandlerName"
    assert f"Bad handler '{name}'" in info.value.message


def test_builtin_module_conflict() -> None:
    with pytest.raises(InitError) as info:
        load_handler("sys.exit")
    assert info.value.error_type == "Runtime.BuiltInModuleConflict"


def test_missing_module(code_dir: Path) -> None:
    with pytest.raises(InitError) as info:
        load_handler("no_such_module_xyz.handler")
    assert info.value.error_type == "Runtime.ImportModuleError"
    assert info.value.message == (
        "Unable to import module 'no_such_module_xyz': No module named 'no_such_module_xyz'"
    )


def test_import_error_inside_module(code_dir: Path) -> None:
    mod = write_module(code_dir, "import not_installed_dep_xyz\n")
    with pytest.raises(InitError) as info:
        load_handler(f"{mod}.handler")
    assert info.value.error_type == "Runtime.ImportModuleError"
    assert "not_installed_dep_xyz" in info.value.message


def test_syntax_error(code_dir: Path) -> None:
    mod = write_module(code_dir, "def handler(e, c)\n    return 1\n")
    with pytest.raises(InitError) as info:
        load_handler(f"{mod}.handler")
    assert info.value.error_type == "Runtime.UserCodeSyntaxError"
    assert info.value.message.startswith(f"Syntax error in module '{mod}'")
    assert info.value.stack and "Line 1" in info.value.stack[0]


def test_missing_attribute(code_dir: Path) -> None:
    mod = write_module(code_dir, "def other(e, c): pass\n")
    with pytest.raises(InitError) as info:
        load_handler(f"{mod}.handler")
    assert info.value.error_type == "Runtime.HandlerNotFound"
    assert info.value.message == f"Handler 'handler' missing on module '{mod}'"


def test_not_callable(code_dir: Path) -> None:
    mod = write_module(code_dir, "handler = 42\n")
    with pytest.raises(InitError) as info:
        load_handler(f"{mod}.handler")
    assert info.value.error_type == "Runtime.HandlerNotFound"


def test_exception_in_module_init_propagates_as_itself(code_dir: Path) -> None:
    mod = write_module(code_dir, "raise ValueError('bad config')\n")
    with pytest.raises(ValueError, match="bad config"):
        load_handler(f"{mod}.handler")
    assert mod not in sys.modules


def test_async_detection_sees_through_wraps_and_callables() -> None:
    async def coro(e: Any, c: Any) -> Any:
        return e

    @functools.wraps(coro)
    def decorated(e: Any, c: Any) -> Any:  # a sync wrapper, as Powertools builds
        return coro(e, c)

    class AsyncCallable:
        async def __call__(self, e: Any, c: Any) -> Any:
            return e

    class SyncCallable:
        def __call__(self, e: Any, c: Any) -> Any:
            return e

    assert is_async_callable(coro)
    assert is_async_callable(decorated)
    assert is_async_callable(AsyncCallable())
    assert not is_async_callable(SyncCallable())
    assert not is_async_callable(lambda e, c: e)
