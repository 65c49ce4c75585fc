"""Typed events: the handler's event annotation decides what the handler receives.

Resolved once, when the handler is loaded (:func:`event_decoder`), from the annotation of
the first parameter of the function the runtime calls (not through decorators); each
invocation then calls the chosen decoder on the raw event bytes:

* a pydantic v2 model (Powertools' parser models included): validated straight from the
  JSON bytes by the model's own validator, as ``Model.model_validate_json`` does;
* a Powertools event source data class (``DictWrapper`` subclass): the decoded JSON
  object, wrapped (Powertools' classes read the dict lazily and check nothing);
* a dataclass: validated by pydantic (``TypeAdapter``) when pydantic is installed,
  otherwise built from the object's top-level keys (no type checks);
* anything else pydantic can validate (``Annotated`` discriminated unions,
  ``list[Model]``, …): a ``TypeAdapter`` built once.

No annotation, ``Any``, ``dict``/``Mapping``, ``list``, ``str``, a ``TypedDict`` (not
checked: it is a dict at runtime) and unions of these keep the plain path: no decoder,
the event is decoded exactly as before, at the same cost. An annotation that cannot be
resolved (a name imported under ``TYPE_CHECKING``) or turned into a decoder also keeps
the plain path, with one warning line at init.

A decoding failure raises :class:`~aiolambda._core.errors.RuntimeFault`: bytes that are
not JSON give ``Runtime.UnmarshalError`` (as for plain handlers); JSON that does not
match the type gives ``Runtime.InvalidEvent`` with the failing fields in the message.
pydantic and Powertools are imported only when an annotation names their types (and
then they are already imported by the handler's module).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import logging
import re
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, Final

import orjson

from aiolambda._core import protocol as p
from aiolambda._core.bigint import exact_loads, may_hold_big_int
from aiolambda._core.errors import RuntimeFault

EventDecoder = Callable[[bytes, "str | None"], Any]
"""``decode(body, content_type) -> event``; raises ``RuntimeFault`` on a bad event."""

log = logging.getLogger("aiolambda")

_MAX_LISTED_ERRORS: Final = 10
# Only messages use it: a pattern that re compiles on first use, not at every cold start.
_MODULE_PREFIX: Final = r"\b(?:[A-Za-z_][\w]*\.)+(?=[A-Za-z_])"
_PLAIN_TYPES: Final = frozenset(
    {
        dict,
        list,
        str,
        bytes,
        int,
        float,
        bool,
        object,
        type(None),
        collections.abc.Mapping,
        collections.abc.MutableMapping,
        collections.abc.Sequence,
        collections.abc.MutableSequence,
        collections.abc.Collection,
        collections.abc.Iterable,
    }
)
_DICT_WRAPPER_MODULE: Final = "aws_lambda_powertools.utilities.data_classes.common"


class _NoDecoder(Exception):
    """The annotation asks for a type this module cannot produce; keep the plain path."""


def event_decoder(func: Callable[..., Any]) -> EventDecoder | None:
    """The decoder ``func``'s event annotation asks for, or ``None`` for plain JSON.

    A decorated handler (``functools.wraps``) keeps the plain path: the annotation it
    shows is the wrapped function's, and says what the decorator passes on, not what it
    takes (Powertools' ``@event_parser`` reads it to parse the event itself).
    """
    if inspect.unwrap(func) is not func:
        log.info("decorated handler: its event annotation is left to the decorator")
        return None
    try:
        annotation = _event_annotation(func)
        if _is_plain(annotation):
            return None
        return _decoder_for(annotation)
    except _NoDecoder as exc:
        log.warning("event annotation ignored, the handler gets plain JSON: %s", exc)
        return None


def _event_annotation(func: Callable[..., Any]) -> Any:
    """The first parameter's annotation, string annotations evaluated in the function's module."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins and C callables: nothing to read
        return inspect.Parameter.empty
    except NameError as exc:  # Python 3.14's lazy annotations naming an unknown name
        raise _NoDecoder(f"cannot resolve the event annotation ({exc})") from None
    params = list(signature.parameters.values())
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return inspect.Parameter.empty
    annotation = params[0].annotation
    if not isinstance(annotation, str):
        return annotation
    target: Any = func
    if not inspect.isfunction(target) and not inspect.ismethod(target):
        target = getattr(type(target), "__call__", target)  # noqa: B004 - the method is wanted
    namespace = getattr(target, "__globals__", {})
    try:
        # What typing.get_type_hints does, for the one annotation that matters here:
        # the context's or return's annotation may name things only a type checker sees.
        return eval(annotation, namespace)  # the handler module's own text
    except Exception as exc:
        raise _NoDecoder(f"cannot resolve the event annotation {annotation!r} ({exc})") from None


def _is_plain(annotation: Any) -> bool:
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is None:
        return True
    if isinstance(annotation, typing.TypeVar) or _is_typeddict(annotation):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_plain(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return all(_is_plain(arg) for arg in typing.get_args(annotation))
    if origin is None:
        return annotation in _PLAIN_TYPES
    # dict[str, Any] and list[dict[str, Any]] stay plain; list[Order] does not.
    return origin in _PLAIN_TYPES and all(_is_plain(arg) for arg in typing.get_args(annotation))


def _is_typeddict(annotation: Any) -> bool:
    if typing.is_typeddict(annotation):
        return True
    # typing_extensions has a TypedDict of its own before Python 3.13 (aws_lambda_typing's).
    extensions = sys.modules.get("typing_extensions")
    return extensions is not None and bool(extensions.is_typeddict(annotation))


def _decoder_for(annotation: Any) -> EventDecoder:
    if isinstance(annotation, type):
        if _is_pydantic_model(annotation):
            return _model_decoder(annotation)
        if _is_dict_wrapper(annotation):
            return _dict_wrapper_decoder(annotation)
        if dataclasses.is_dataclass(annotation):
            try:
                return _adapter_decoder(annotation)
            except _NoDecoder:
                return _dataclass_decoder(annotation)
    return _adapter_decoder(annotation)


def _is_pydantic_model(cls: type) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and issubclass(cls, pydantic.BaseModel)


def _is_dict_wrapper(cls: type) -> bool:
    common = sys.modules.get(_DICT_WRAPPER_MODULE)
    return common is not None and issubclass(cls, common.DictWrapper)


def _model_decoder(model: Any) -> EventDecoder:
    from pydantic import ValidationError

    if not model.__pydantic_complete__:
        try:
            model.model_rebuild()
        except Exception as exc:
            raise _NoDecoder(f"{model.__name__} is not fully defined ({exc})") from None
    # The model's own validator: model_validate_json calls exactly this, with its defaults.
    validate = model.__pydantic_validator__.validate_json
    return _validating(validate, ValidationError, model.__name__)


def _adapter_decoder(annotation: Any) -> EventDecoder:
    try:
        from pydantic import TypeAdapter, ValidationError
    except ImportError:
        raise _NoDecoder(f"decoding into {_name(annotation)} needs pydantic") from None
    try:
        adapter: Any = TypeAdapter(annotation)
        # The adapter's validator itself: TypeAdapter.validate_json only wraps this call.
        validate = adapter.validator.validate_json
    except Exception as exc:  # PydanticSchemaGenerationError, undefined forward references
        raise _NoDecoder(f"pydantic cannot validate {_name(annotation)} ({exc})") from None
    return _validating(validate, ValidationError, _name(annotation))


def _validating(
    validate: Callable[[bytes], Any], error: type[Exception], name: str
) -> EventDecoder:
    """A decoder calling pydantic's ``validate_json``; its errors become InvalidEvent."""

    def decode(body: bytes, content_type: str | None) -> Any:
        try:
            return validate(body)
        except error as exc:
            raise _validation_fault(exc, name) from None

    return decode


def _dict_wrapper_decoder(cls: type) -> EventDecoder:
    name = cls.__name__

    def decode(body: bytes, content_type: str | None) -> Any:
        return cls(_json_object(body, name))

    return decode


def _dataclass_decoder(cls: type) -> EventDecoder:
    """Without pydantic: the top-level fields by name, unknown keys ignored, no type checks."""
    names = frozenset(f.name for f in dataclasses.fields(cls) if f.init)
    name = cls.__name__

    def decode(body: bytes, content_type: str | None) -> Any:
        data = _json_object(body, name)
        try:
            return cls(**{key: value for key, value in data.items() if key in names})
        except TypeError as exc:  # a missing field: the message names it
            raise RuntimeFault(p.INVALID_EVENT, f"Event does not match {name}: {exc}") from None

    return decode


def _json_object(body: bytes, name: str) -> dict[str, Any]:
    try:
        # Integers beyond 64 bits stay exact, as in untyped events (see codec.decode_event).
        data = exact_loads(body) if may_hold_big_int(body) else orjson.loads(body)
    except ValueError as exc:  # orjson.JSONDecodeError and json's are ValueErrors
        raise RuntimeFault(p.UNMARSHAL_ERROR, f"Unable to unmarshal input: {exc}") from None
    if not isinstance(data, dict):
        raise RuntimeFault(
            p.INVALID_EVENT,
            f"Event does not match {name}: (event): expected a JSON object, "
            f"got {type(data).__name__}",
        )
    return data


def _validation_fault(exc: Any, name: str) -> RuntimeFault:
    """``loc: msg`` for each failing field; input values are left out (events carry data)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if errors and errors[0]["type"] == "json_invalid":
        return RuntimeFault(p.UNMARSHAL_ERROR, f"Unable to unmarshal input: {errors[0]['msg']}")
    parts = [
        f"{'.'.join(str(part) for part in error['loc']) or '(event)'}: {error['msg']}"
        for error in errors[:_MAX_LISTED_ERRORS]
    ]
    if len(errors) > _MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - _MAX_LISTED_ERRORS} more")
    count = len(errors)
    plural = "error" if count == 1 else "errors"
    return RuntimeFault(
        p.INVALID_EVENT, f"Event does not match {name} ({count} {plural}): " + "; ".join(parts)
    )


def _name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    if typing.get_origin(annotation) is typing.Annotated:  # the metadata says nothing useful
        return _name(typing.get_args(annotation)[0])
    # list[app.Order] -> list[Order]; typing.Annotated[...] -> Annotated[...]
    return re.sub(_MODULE_PREFIX, "", repr(annotation))
