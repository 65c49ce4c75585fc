"""Annotation forms the resolver must read (this module uses string annotations)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Optional, TypedDict

import typing_extensions
from aws_lambda_powertools.utilities.parser import envelopes, event_parser
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from some_types_only_package import EventForTypeCheckersOnly  # type: ignore[import-not-found]


class Ping(BaseModel):
    n: int


class Shape(TypedDict):
    n: int


class ExtensionsShape(typing_extensions.TypedDict):
    n: int


class Deferred(BaseModel):
    model_config = ConfigDict(defer_build=True)
    n: int


async def model(event: Ping, context: Any) -> Any:
    return event


async def typed_dict(event: Shape, context: Any) -> Any:
    return event


async def extensions_typed_dict(event: ExtensionsShape, context: Any) -> Any:
    return event


async def deferred(event: Deferred, context: Any) -> Any:
    return event


async def list_of_dicts(event: list[dict[str, Any]], context: Any) -> Any:
    return event


async def list_of_models(event: list[Ping], context: Any) -> Any:
    return event


async def optional_dict(event: Optional[dict[str, Any]], context: Any) -> Any:  # noqa: UP045
    return event


async def mapping(event: Mapping[str, Any], context: Any) -> Any:
    return event


async def unannotated(event, context):  # type: ignore[no-untyped-def]
    return event


async def type_checking_only(event: EventForTypeCheckersOnly, context: Any) -> Any:
    return event


async def context_only_for_checkers(event: Ping, context: EventForTypeCheckersOnly) -> Any:
    return event


def logged(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(event: Any, context: Any) -> Any:
        return func(event, context)

    return wrapper


@logged
async def wrapped(event: Ping, context: Any) -> Any:
    return event


class Callable_:
    async def __call__(self, event: Ping, context: Any) -> Any:
        return event


instance = Callable_()


@event_parser(model=Ping, envelope=envelopes.SqsEnvelope)
def event_parser_with_envelope(event: list[Ping], context: Any) -> Any:
    return [ping.n for ping in event]
