"""Per-invocation state of libraries, when one process runs several invocations at once.

Libraries written for one invocation per process keep an invocation's data on shared
objects: Powertools' resolvers put the current event on a class, its Logger appends
keys to a dict every invocation shares. With ``AWS_LAMBDA_MAX_CONCURRENCY`` > 1 and an
``async def`` handler (or ``AIOLAMBDA_SYNC_THREADS=1``) aiolambda runs those
invocations in one process, so it turns such attributes into *invocation-local* ones:
a data descriptor on the class (which wins over the instance ``__dict__``, and, on a
metaclass, over assignments to the class itself) keeps what an invocation writes in a
context variable, keyed by the invocation's request id.

The rule, for every attribute listed in a library's table (``powertools_state``):

- code outside an invocation (module init, shutdown) reads and writes the process
  value, as before: what init sets, every invocation starts from; so does the first
  assignment of an object's attribute (its ``__init__``), even inside an invocation;
- an invocation reads the process value until it writes its own; a mutable value
  (a dict of log keys) is copied on first use, so changing it in place stays within
  the invocation; two attributes that shared one object share one copy;
- what an invocation writes is gone when it ends; tasks and threads it starts see
  what it had written by then, and what they write stays theirs (context variables).

Nothing is installed when one invocation runs per process, or before a listed library
is imported: the bootstrap calls :func:`aiolambda._compat.watch` after the handler
module is loaded, and a finder on ``sys.meta_path`` patches listed modules imported
later.
"""

from __future__ import annotations

import copy
import sys
import weakref
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from types import ModuleType
from typing import Any, Final

from aiolambda._core.context import request_id_var

_MISSING: Final[Any] = object()
_DELETED: Final[Any] = object()

Clone = Callable[[Any], Any]


class Attr:
    """One attribute of ``cls`` (``module:Class``) made invocation-local.

    ``on_class``: the library assigns it on the class itself (``BaseRouter.current_event
    = …``), so the class's metaclass gets a descriptor too. ``clone``: how a mutable
    value is copied for an invocation (``None``: values are only replaced). A plain
    class: a NamedTuple would generate code at import."""

    __slots__ = ("clone", "cls", "name", "on_class")

    def __init__(
        self, cls: str, name: str, *, on_class: bool = False, clone: Clone | None = None
    ) -> None:
        self.cls = cls
        self.name = name
        self.on_class = on_class
        self.clone = clone


def shallow(value: Any) -> Any:
    return copy.copy(value) if value is not None else None


class _State:
    """What one invocation wrote: ``(id(owner), name) -> (owner, value)``; never mutated."""

    __slots__ = ("request_id", "values")

    def __init__(self, request_id: str, values: dict[tuple[int, str], tuple[Any, Any]]) -> None:
        self.request_id = request_id
        self.values = values


_state_var: ContextVar[_State | None] = ContextVar("aiolambda_library_state", default=None)
_EMPTY: Final[dict[tuple[int, str], tuple[Any, Any]]] = {}


def _values() -> dict[tuple[int, str], tuple[Any, Any]] | None:
    """This invocation's values, ``None`` outside an invocation."""
    request_id = request_id_var.get()
    if request_id is None:
        return None
    state = _state_var.get()
    if state is None or state.request_id != request_id:
        return _EMPTY
    return state.values


def _write(owner: Any, key: tuple[int, str], value: Any, extra: tuple[Any, ...] = ()) -> None:
    request_id = request_id_var.get()
    assert request_id is not None
    state = _state_var.get()
    values = dict(state.values) if state is not None and state.request_id == request_id else {}
    # The owner is kept with the value: its id cannot be reused while the state lives.
    values[key] = (owner, value)
    for clone_key, original, clone in extra:
        values[clone_key] = (original, clone)
    _state_var.set(_State(request_id, values))


def _local(
    values: dict[tuple[int, str], tuple[Any, Any]],
    owner: Any,
    key: tuple[int, str],
    shared: Any,
    clone: Clone | None,
) -> Any:
    """The invocation's value, given that it wrote none: ``shared``, copied if mutable."""
    if clone is None or shared is None or shared is _MISSING:
        return shared
    # Copies are keyed by the shared object, so aliases (a router sharing its
    # resolver's context dict) keep sharing one copy within the invocation.
    clone_key = (id(shared), "\0clone")
    found = values.get(clone_key)
    mine = found[1] if found is not None else clone(shared)
    _write(owner, key, mine, () if found is not None else ((clone_key, shared, mine),))
    return mine


class _ClassLevel:
    """The class-level value of an attribute, for the class and its instances."""

    __slots__ = ("clone", "key", "name", "owner", "process_value")

    def __init__(self, owner: type, name: str, value: Any, clone: Clone | None) -> None:
        self.owner = owner
        self.name = name
        self.key = (id(owner), name)
        self.process_value = value
        self.clone = clone

    def get(self) -> Any:
        values = _values()
        if values is not None:
            found = values.get(self.key)
            if found is not None:
                value = found[1]
            else:
                value = _local(values, self.owner, self.key, self.process_value, self.clone)
        else:
            value = self.process_value
        if value is _MISSING or value is _DELETED:
            raise AttributeError(
                f"type object {self.owner.__name__!r} has no attribute {self.name!r}"
            )
        return value

    def set(self, value: Any) -> None:
        if request_id_var.get() is None:
            self.process_value = value
        else:
            _write(self.owner, self.key, value)


class _InstanceAttr:
    """Data descriptor in the class's ``__dict__``: instance values, then the class's."""

    def __init__(self, owner: type, name: str, class_value: Any, clone: Clone | None) -> None:
        self.name = name
        self.clone = clone
        self.level = _ClassLevel(owner, name, class_value, clone)

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self.level.get()
        name = self.name
        key = (id(obj), name)
        values = _values()
        if values is not None:
            found = values.get(key)
            if found is not None:
                if found[1] is _DELETED:
                    raise AttributeError(name)
                return found[1]
        shared = obj.__dict__.get(name, _MISSING)
        if shared is _MISSING:
            return self.level.get()
        if values is None:
            return shared
        return _local(values, obj, key, shared, self.clone)

    def __set__(self, obj: Any, value: Any) -> None:
        # An attribute's first value is the process value, wherever it is set: an object
        # made during an invocation (a module imported lazily) is set up for all.
        if request_id_var.get() is None or self.name not in obj.__dict__:
            obj.__dict__[self.name] = value
        else:
            _write(obj, (id(obj), self.name), value)

    def __delete__(self, obj: Any) -> None:
        if request_id_var.get() is None:
            del obj.__dict__[self.name]
        else:
            _write(obj, (id(obj), self.name), _DELETED)


class _MetaAttr:
    """Data descriptor on a metaclass: ``Class.name = value`` becomes invocation-local.

    Classes made later from a patched class share its metaclass: what they assign is
    kept for each of them the same way (their instances read the patched class's)."""

    def __init__(self, owner: type, name: str) -> None:
        self.owner = owner
        self.name = name
        self.subclasses: weakref.WeakKeyDictionary[type, _ClassLevel] = weakref.WeakKeyDictionary()

    def _level(self, cls: type) -> _ClassLevel | None:
        if cls is self.owner:
            attr = self.owner.__dict__.get(self.name)
            return attr.level if isinstance(attr, _InstanceAttr) else None
        return self.subclasses.get(cls)

    def __get__(self, cls: type, meta: type | None = None) -> Any:
        for klass in cls.__mro__:
            level = self._level(klass)
            if level is not None:
                try:
                    return level.get()
                except AttributeError:
                    if klass is self.owner:
                        raise
                    continue
            if self.name in klass.__dict__:
                found = klass.__dict__[self.name]
                return found.__get__(None, cls) if hasattr(found, "__get__") else found
        raise AttributeError(self.name)

    def __set__(self, cls: type, value: Any) -> None:
        level = self._level(cls)
        if level is None:
            level = self.subclasses[cls] = _ClassLevel(cls, self.name, _MISSING, None)
        level.set(value)


def patch_class(cls: type, attrs: Iterable[Attr]) -> None:
    """Make ``attrs`` of ``cls`` invocation-local (idempotent)."""
    meta_attrs: dict[str, _MetaAttr] = {}
    for attr in attrs:
        current = cls.__dict__.get(attr.name, _MISSING)
        if isinstance(current, _InstanceAttr):
            continue
        if current is not _MISSING and hasattr(current, "__get__"):
            raise TypeError(f"{cls.__qualname__}.{attr.name} is already a descriptor")
        type.__setattr__(cls, attr.name, _InstanceAttr(cls, attr.name, current, attr.clone))
        if attr.on_class:
            meta_attrs[attr.name] = _MetaAttr(cls, attr.name)
    if meta_attrs:
        meta = type(cls)
        # A subclass of the class's own metaclass, with the same layout: only the
        # descriptors are added, so the class keeps working as before.
        cls.__class__ = type(f"TaskLocal{meta.__name__}", (meta,), meta_attrs)


class Library:
    """A library's table: module -> attributes; ``check`` refuses what cannot be local."""

    def __init__(
        self,
        top: str,
        attrs: Sequence[Attr],
        check: Callable[[int], None] | None = None,
    ) -> None:
        self.top = top
        self.by_module: dict[str, dict[str, list[Attr]]] = {}
        for attr in attrs:
            module, _, qualname = attr.cls.partition(":")
            self.by_module.setdefault(module, {}).setdefault(qualname, []).append(attr)
        self.check = check

    def patch(self, module: ModuleType) -> None:
        for qualname, attrs in self.by_module.get(module.__name__, {}).items():
            cls = getattr(module, qualname, None)
            if isinstance(cls, type):
                patch_class(cls, attrs)


class _Finder:
    """Patches a listed module right after it is first imported (a ``sys.meta_path``
    finder; importlib.abc is not imported for it: it costs ~7 ms)."""

    def __init__(self, libraries: Sequence[Library]) -> None:
        self.owners = {name: lib for lib in libraries for name in lib.by_module}

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        library = self.owners.get(fullname)
        if library is None:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_patch(module: ModuleType) -> None:
            exec_module(module)
            library.patch(module)

        spec.loader = _PatchingLoader(loader, exec_and_patch)
        return spec


class _PatchingLoader:
    def __init__(self, loader: Any, exec_module: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._exec = exec_module

    def create_module(self, spec: Any) -> ModuleType | None:
        create: Callable[[Any], ModuleType | None] | None = getattr(
            self._loader, "create_module", None
        )
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        self._exec(module)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, …
        return getattr(self._loader, name)


_installed: list[_Finder] = []


def install(concurrency: int, *, check: bool = True) -> None:
    """``concurrency`` > 1 invocations share this process (see :func:`aiolambda._compat.watch`).

    Patches the listed libraries already imported, refuses (``InitError``) what cannot
    be made local when ``check``, and watches for listed modules imported later."""
    if _installed:
        return
    from aiolambda._compat.powertools_state import POWERTOOLS

    libraries = [POWERTOOLS]
    for library in libraries:
        if check and library.top in sys.modules and library.check is not None:
            library.check(concurrency)
        for name in library.by_module:
            module = sys.modules.get(name)
            if module is not None:
                library.patch(module)
    finder = _Finder(libraries)
    sys.meta_path.insert(0, finder)
    _installed.append(finder)
