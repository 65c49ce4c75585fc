"""Handler loading, compatible with awslambdaric's handler strings.

``"dir/sub.module.function"`` is split at the last dot; ``/`` in the module part
becomes ``.``. Failures raise :class:`~aiolambda._core.errors.InitError` with
awslambdaric's error types, which the bootstrap posts to ``/runtime/init/error``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import FunctionType
from typing import TYPE_CHECKING, Any, Final

from aiolambda._core import protocol as p
from aiolambda._core.errors import InitError
from aiolambda._core.precedence import too_old

if TYPE_CHECKING:
    from aiolambda._core.typed import EventDecoder

HandlerFunc = Callable[[Any, Any], Any]

_CO_COROUTINE: Final = 0x80  # inspect.CO_COROUTINE, without importing inspect (~5 ms)
_CO_ASYNC_GENERATOR: Final = 0x200
# `async def/with/for`, `await`, ASGI adapters; `import asyncio` alone is no sign (asyncio.run).
_ASYNC_MARKS: Final = (b"async ", b"await", b"asgi")


class Handler:
    """A loaded handler and whether it must be awaited on the loop (``is_async``); read-only.

    ``decode`` turns the event bytes into what the handler's event annotation asks for
    (see :mod:`aiolambda._core.typed`); ``None`` means plain JSON. A plain class: a
    dataclass or named tuple generates code at every cold start.
    """

    __slots__ = ("decode", "func", "is_async", "name")

    def __init__(
        self,
        func: HandlerFunc,
        is_async: bool,
        name: str,
        decode: EventDecoder | None = None,
    ) -> None:
        self.func = func
        self.is_async = is_async
        self.name = name
        self.decode = decode

    def __repr__(self) -> str:
        return f"Handler(name={self.name!r}, is_async={self.is_async}, decode={self.decode!r})"


def is_async_callable(func: object) -> bool:
    """True for ``async def`` functions, also behind ``functools.wraps`` decorators,
    and for objects whose ``__call__`` is ``async def``."""
    if (
        type(func) is FunctionType
        and not hasattr(func, "__wrapped__")
        and not hasattr(func, "_is_coroutine_marker")
    ):
        # The usual plain function: its code flags say it all (unless a decorator or
        # Python 3.12's inspect.markcoroutinefunction says otherwise).
        return bool(func.__code__.co_flags & _CO_COROUTINE)
    import inspect

    target = inspect.unwrap(func) if callable(func) else func
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(target, "__call__", None)  # noqa: B004 - the method itself is inspected
    return call is not None and inspect.iscoroutinefunction(call)


def is_async_generator_function(func: object) -> bool:
    """``async def`` with ``yield`` (a streamed handler), also behind ``functools.wraps``."""
    for _ in range(100):  # a __wrapped__ chain, bounded as inspect.unwrap bounds it
        wrapped = getattr(func, "__wrapped__", None)
        if wrapped is None:
            break
        func = wrapped
    code = getattr(func, "__code__", None)
    return code is not None and bool(code.co_flags & _CO_ASYNC_GENERATOR)


def source_looks_async(handler: str) -> bool:
    """Before the import: does the handler's module look like it serves an async handler?

    Finds the module as the import will (without importing its packages) and reads its
    source: ``async def NAME(`` says yes, ``def NAME(`` says no; a name bound some
    other way (``handler = Adapter(app)``) says yes if the source mentions ``async ``,
    ``await`` or ``asgi`` anywhere. A module without a readable source says yes: erring
    that way only costs the sync driver's speed.
    """
    from importlib.machinery import PathFinder

    module, _, name = handler.rpartition(".")
    parts = module.replace("/", ".").split(".")
    path: list[str] | None = None
    spec = None
    for depth, part in enumerate(parts):
        spec = PathFinder.find_spec(part, path)
        if spec is None:
            return True  # not found this way (a namespace package, an import hook...)
        if depth + 1 < len(parts):
            path = list(spec.submodule_search_locations or ())
    origin = spec.origin if spec is not None else None
    if not origin or not origin.endswith(".py"):
        return True
    try:
        with open(origin, "rb") as source:
            text = source.read()
    except OSError:
        return True
    defined = b"def " + name.encode("utf-8", "replace") + b"("
    if b"async " + defined in text:
        return True
    if defined in text:
        return False
    return any(mark in text for mark in _ASYNC_MARKS)


def load_handler(handler: str) -> Handler:
    """Import the module named by ``handler`` and return its function."""
    problem = too_old()  # the function's own orjson or uvloop, which the runtime uses too
    if problem is not None:
        raise InitError(p.IMPORT_MODULE_ERROR, problem)
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise InitError(p.MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {exc}") from None
    if not module_name or not function_name:
        raise InitError(p.MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': empty name")
    import_name = module_name.replace("/", ".")
    if import_name.split(".")[0] in sys.builtin_module_names:
        raise InitError(
            p.BUILT_IN_MODULE_CONFLICT,
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(import_name)
    except ImportError as exc:
        raise InitError(
            p.IMPORT_MODULE_ERROR, f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise InitError(
            p.USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{module_name}': {exc}", trace
        ) from None
    try:
        func = getattr(module, function_name)
    except AttributeError:
        raise InitError(
            p.HANDLER_NOT_FOUND, f"Handler '{function_name}' missing on module '{module_name}'"
        ) from None
    if not callable(func):
        raise InitError(
            p.HANDLER_NOT_FOUND,
            f"Handler '{function_name}' on module '{module_name}' is not callable",
        )
    return Handler(
        func=func, is_async=is_async_callable(func), name=handler, decode=_event_decoder(func)
    )


def _event_decoder(func: HandlerFunc) -> EventDecoder | None:
    # The usual `def handler(event, context)` has no annotation to read: it skips the
    # typed-events module and inspect.signature (~0.5 ms of its cold start).
    if isinstance(func, FunctionType) and not _has_annotations(func):
        return None
    from aiolambda._core.typed import event_decoder

    return event_decoder(func)


def _has_annotations(func: FunctionType) -> bool:
    # Python 3.14 evaluates annotations lazily: a function with some has __annotate__, and
    # reading __annotations__ could run it (and fail on a TYPE_CHECKING-only name).
    if getattr(func, "__annotate__", None) is not None:
        return True
    return bool(func.__annotations__)
