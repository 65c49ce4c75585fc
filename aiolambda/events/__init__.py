"""Realistic sample events, one per event source, as Lambda delivers them.

The same samples back ``aiolambda event SOURCE``, this project's typed-event tests and
its examples, and each one validates against Powertools' parser model for its source.

>>> from aiolambda.events import sample
>>> sample("sqs")["Records"][0]["eventSource"]
'aws:sqs'
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Final

__all__ = ["SOURCES", "PathError", "sample", "sample_bytes", "set_path", "set_text"]

# source name -> what it is, in ``aiolambda event --list`` order.
SOURCES: Final[dict[str, str]] = {
    "sqs": "Amazon SQS: a batch of messages",
    "s3": "Amazon S3: an object-created notification",
    "dynamodb-stream": "DynamoDB Streams: inserts and modifications of items",
    "kinesis": "Kinesis Data Streams: a batch of records",
    "sns": "Amazon SNS: a notification",
    "eventbridge": "EventBridge: an event from a rule",
    "apigw-rest": "API Gateway REST API (payload format 1.0)",
    "apigw-http": "API Gateway HTTP API (payload format 2.0)",
    "alb": "Application Load Balancer target group",
    "function-url": "Lambda function URL",
    "schedule": "EventBridge scheduled rule (cron or rate)",
    "ses": "Amazon SES: a received email",
}


class PathError(ValueError):
    """A ``--set`` path that does not lead to a value of the event."""


def sample_bytes(source: str) -> bytes:
    """The sample for ``source`` as stored (JSON text); ``KeyError`` for an unknown source."""
    if source not in SOURCES:
        raise KeyError(source)
    return resources.files(__name__).joinpath(f"{source}.json").read_bytes()


def sample(source: str) -> Any:
    """A fresh copy of the sample event for ``source``, decoded."""
    return json.loads(sample_bytes(source))


def set_text(event: Any, path: str, text: str) -> None:
    """``--set PATH=TEXT``: where the event holds a string, ``text`` as it is; else JSON.

    Bodies, attributes and headers are strings on the wire (an SQS body holding JSON is
    JSON *text*), so a string stays a string; elsewhere (numbers, objects, lists, new
    keys) ``text`` is parsed as JSON when it is valid JSON, and is a string otherwise.
    """
    value: Any = text
    if not isinstance(_current(event, path), str):
        try:
            value = json.loads(text)
        except ValueError:
            value = text
    set_path(event, path, value)


def _current(event: Any, path: str) -> Any:
    node = event
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif (
            isinstance(node, list)
            and part.lstrip("-").isdigit()
            and -len(node) <= int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            return None
    return node


def set_path(event: Any, path: str, value: Any) -> None:
    """Set the value at dotted ``path`` in ``event``, in place.

    Segments are object keys, or list indexes (``Records.0.body``; negative ones count
    from the end). Every segment but the last must exist; the last may add a new key to
    an object, never an item to a list.
    """
    parts = path.split(".")
    if not path or "" in parts:
        raise PathError(f"{path!r} is not a dotted path such as Records.0.body")
    node = event
    for depth, part in enumerate(parts):
        where = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(node, dict):
            if last:
                node[part] = value
                return
            if part not in node:
                raise PathError(f"{where}: no such key (there are: {', '.join(node) or 'none'})")
            node = node[part]
        elif isinstance(node, list):
            try:
                index = int(part)
            except ValueError:
                raise PathError(f"{where}: {part!r} is not a list index") from None
            if not -len(node) <= index < len(node):
                raise PathError(f"{where}: index {index} is out of range ({len(node)} items)")
            if last:
                node[index] = value
                return
            node = node[index]
        else:
            above = ".".join(parts[:depth]) or "the event"
            raise PathError(f"{where}: {above} is a {type(node).__name__}, not an object or list")
