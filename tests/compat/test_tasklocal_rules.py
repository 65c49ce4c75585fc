"""The rules of invocation-local attributes (aiolambda/_compat/tasklocal.py), pinned directly.

Invocations are simulated as the runtime runs them: each in a context of its own with
its request id set (the context variable the runtime sets).
"""

from __future__ import annotations

import asyncio
import contextvars
from abc import ABC
from typing import Any

from aiolambda._compat.tasklocal import Attr, patch_class, shallow
from aiolambda._core.context import request_id_var


def make_classes() -> tuple[type, type]:
    class Base(ABC):  # ABCMeta, as Powertools' routers have
        current: Any = None
        keys: dict[str, Any]

        def __init__(self) -> None:
            self.keys = {}

    class Alias:
        def __init__(self, base: Any) -> None:
            self.keys = base.keys  # the same dict, as a router shares its resolver's

    patch_class(
        Base, [Attr("m:Base", "current", on_class=True), Attr("m:Base", "keys", clone=shallow)]
    )
    patch_class(Alias, [Attr("m:Alias", "keys", clone=shallow)])
    return Base, Alias


def in_invocation(rid: str, fn: Any) -> Any:
    def run() -> Any:
        request_id_var.set(rid)
        return fn()

    return contextvars.copy_context().run(run)


def test_init_values_are_where_every_invocation_starts() -> None:
    base_cls, _ = make_classes()
    obj = base_cls()
    obj.keys["service"] = "shop"  # init code
    base_cls.current = "init"

    def first() -> Any:
        obj.keys["order"] = 1
        base_cls.current = "first"
        return dict(obj.keys), base_cls.current, obj.current

    assert in_invocation("r1", first) == ({"service": "shop", "order": 1}, "first", "first")
    second = in_invocation("r2", lambda: (dict(obj.keys), base_cls.current))
    assert second == ({"service": "shop"}, "init")
    assert obj.keys == {"service": "shop"} and base_cls.current == "init"


def test_a_new_invocation_in_the_same_context_starts_afresh() -> None:
    base_cls, _ = make_classes()
    obj = base_cls()

    def two_in_a_row() -> Any:
        request_id_var.set("r1")
        obj.keys["a"] = 1
        request_id_var.set("r2")  # the poller's next invocation
        return dict(obj.keys)

    assert contextvars.copy_context().run(two_in_a_row) == {}


def test_aliases_share_one_copy_within_an_invocation() -> None:
    base_cls, alias_cls = make_classes()
    obj = base_cls()
    alias = alias_cls(obj)

    def change() -> Any:
        alias.keys["x"] = 1
        return dict(obj.keys)

    assert in_invocation("r1", change) == {"x": 1}
    assert obj.keys == {} and alias.keys == {}


def test_tasks_see_what_was_written_before_they_started() -> None:
    base_cls, _ = make_classes()
    obj = base_cls()

    async def invocation() -> Any:
        request_id_var.set("r1")
        obj.keys["before"] = 1
        base_cls.current = "parent"

        async def child() -> Any:
            seen = (dict(obj.keys), base_cls.current)
            base_cls.current = "child"
            return seen

        seen = await asyncio.create_task(child())
        return seen, base_cls.current

    seen, after = asyncio.run(invocation())
    assert seen == ({"before": 1}, "parent")
    assert after == "parent"  # the child's write stayed its own


def test_subclasses_assign_their_own_attributes() -> None:
    base_cls, _ = make_classes()

    class Sub(base_cls):  # type: ignore[misc, valid-type]
        pass

    Sub.current = "sub"
    assert Sub.current == "sub" and base_cls.current is None
    assert in_invocation("r1", lambda: Sub.current) == "sub"
    in_invocation("r1", lambda: setattr(Sub, "current", "local"))
    assert Sub.current == "sub"


def test_objects_made_during_an_invocation_are_set_up_for_all() -> None:
    base_cls, _ = make_classes()
    made = in_invocation("r1", base_cls)  # e.g. a module imported lazily by a handler
    in_invocation("r1", lambda: made.keys.update(mine=1))
    assert in_invocation("r2", lambda: dict(made.keys)) == {}
