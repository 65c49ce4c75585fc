"""What each annotation resolves to at load time, and the decoders' results and errors."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
from typing import Any

import pytest

from aiolambda._core import protocol as p
from aiolambda._core.errors import RuntimeFault
from aiolambda._core.handler import load_handler
from aiolambda._core.typed import _dataclass_decoder, event_decoder

from ._support import FN, REPO


@pytest.fixture
def forms(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.syspath_prepend(str(FN))
    return "annotated_forms"


def test_string_annotations_are_resolved_once_at_load(forms: str) -> None:
    handler = load_handler(f"{forms}.model")
    assert handler.decode is not None
    ping = handler.decode(b'{"n": "7"}', p.CT_JSON)
    assert type(ping).__name__ == "Ping" and ping.n == 7


@pytest.mark.parametrize(
    "name",
    [
        "typed_dict",
        "extensions_typed_dict",
        "optional_dict",
        "mapping",
        "list_of_dicts",
        "unannotated",
    ],
)
def test_plain_annotations_keep_the_plain_path(forms: str, name: str) -> None:
    assert load_handler(f"{forms}.{name}").decode is None


def test_an_annotation_only_type_checkers_see_keeps_the_plain_path_with_a_warning(
    forms: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aiolambda"):
        assert load_handler(f"{forms}.type_checking_only").decode is None
    assert "event annotation ignored, the handler gets plain JSON" in caplog.text
    assert "EventForTypeCheckersOnly" in caplog.text


def test_containers_of_models_are_validated(forms: str) -> None:
    handler = load_handler(f"{forms}.list_of_models")
    assert handler.decode is not None
    assert [ping.n for ping in handler.decode(b'[{"n": 1}, {"n": "2"}]', None)] == [1, 2]
    with pytest.raises(RuntimeFault) as info:
        handler.decode(b'[{"n": 1}, {}]', None)
    assert info.value.message == "Event does not match list[Ping] (1 error): 1.n: Field required"


def test_a_model_built_on_first_use_is_built_at_load(forms: str) -> None:
    handler = load_handler(f"{forms}.deferred")
    assert handler.decode is not None
    assert handler.decode(b'{"n": 3}', None).n == 3


def test_only_the_event_annotation_must_resolve(forms: str) -> None:
    assert load_handler(f"{forms}.context_only_for_checkers").decode is not None


def test_callable_objects_are_read_from_their_call_method(forms: str) -> None:
    handler = load_handler(f"{forms}.instance")
    assert handler.decode is not None
    assert handler.decode(b'{"n": 1}', None).n == 1


@pytest.mark.parametrize("name", ["wrapped", "event_parser_with_envelope"])
def test_decorated_handlers_keep_the_plain_path(forms: str, name: str) -> None:
    # Behind a decorator the annotation says what the decorator passes on
    # (list[Ping] out of an SQS envelope), not what the runtime must hand it.
    handler = load_handler(f"{forms}.{name}")
    assert handler.decode is None
    assert handler.is_async == (name == "wrapped")


class Custom:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw


def test_unknown_classes_keep_the_plain_path(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(event: Custom, context: Any) -> None: ...

    with caplog.at_level(logging.WARNING, logger="aiolambda"):
        assert event_decoder(handler) is None
    assert "pydantic cannot validate Custom" in caplog.text


def test_the_content_type_does_not_matter_to_a_typed_handler(forms: str) -> None:
    decode = load_handler(f"{forms}.model").decode
    assert decode is not None
    assert decode(b'{"n": 2}', "text/plain").n == 2


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


def test_dataclass_without_pydantic_takes_the_top_level_fields() -> None:
    decode = _dataclass_decoder(Point)
    assert decode(b'{"x": 1, "z": 3}', None) == Point(1, 0)  # unknown keys ignored
    assert decode(b'{"x": "not checked"}', None) == Point("not checked")  # type: ignore[arg-type]
    with pytest.raises(RuntimeFault) as info:
        decode(b'{"y": 1}', None)
    assert info.value.error_type == p.INVALID_EVENT
    assert "missing 1 required positional argument: 'x'" in info.value.message
    with pytest.raises(RuntimeFault) as info:
        decode(b"[]", None)
    assert (
        info.value.message
        == "Event does not match Point: (event): expected a JSON object, got list"
    )
    with pytest.raises(RuntimeFault) as info:
        decode(b"{", None)
    assert info.value.error_type == p.UNMARSHAL_ERROR


def test_long_error_lists_are_cut() -> None:
    from pydantic import create_model

    wide: Any = create_model("Wide", **{f"a{i}": (int, ...) for i in range(12)})

    async def handler(event: Any, context: Any) -> None: ...

    handler.__annotations__["event"] = wide  # what the module's own evaluation gives
    decode = event_decoder(handler)
    assert decode is not None
    with pytest.raises(RuntimeFault) as info:
        decode(b"{}", None)
    assert info.value.message.startswith(
        "Event does not match Wide (12 errors): a0: Field required;"
    )
    assert info.value.message.endswith("a9: Field required; and 2 more")


def test_the_default_path_imports_neither_pydantic_nor_powertools() -> None:
    code = (
        "import sys; sys.path.insert(0, 'examples/hello');"
        "from aiolambda._core.handler import load_handler;"
        "import aiolambda._core.bootstrap, aiolambda._core.invocation, aiolambda.batch;"
        "assert load_handler('app.handler').decode is None;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pydantic_core', 'aws_lambda_powertools')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_dataclass_without_pydantic_installed_is_built_unchecked() -> None:
    code = (
        "import sys; sys.modules['pydantic'] = None  # import pydantic now raises ImportError\n"
        "import dataclasses\n"
        "from aiolambda._core.typed import event_decoder\n"
        "@dataclasses.dataclass\n"
        "class Point:\n"
        "    x: int\n"
        "    y: int = 0\n"
        "def handler(event: Point, context): ...\n"
        "decode = event_decoder(handler)\n"
        'print(decode(b\'{"x": "1", "z": 2}\', None))\n'
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Point(x='1', y=0)"
