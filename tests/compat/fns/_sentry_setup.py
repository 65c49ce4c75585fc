"""Sentry's documented Lambda setup, with a transport that prints what it would send."""

from __future__ import annotations

import json
import sys
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration
from sentry_sdk.transport import Transport


class PrintingTransport(Transport):
    """Records each error event on stdout (one JSON line), in the sending thread."""

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type != "event" or item.payload.json is None:
                continue
            event: dict[str, Any] = item.payload.json
            (exc,) = event["exception"]["values"][-1:]
            record = {
                "type": exc["type"],
                "value": exc["value"],
                "rid": event.get("extra", {}).get("lambda", {}).get("aws_request_id"),
                "mechanism": exc.get("mechanism", {}).get("type"),
            }
            # one write per line: transports of concurrent invocations share stdout
            sys.stdout.write("SENTRY " + json.dumps(record) + "\n")
            sys.stdout.flush()


def init() -> None:
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",
        transport=PrintingTransport,
        integrations=[AwsLambdaIntegration(timeout_warning=True)],
    )
