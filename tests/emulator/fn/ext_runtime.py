"""A standard-library runtime that can register a no-op internal extension.

Lambda sends SIGTERM at shutdown only when an extension is registered; this runtime
records the signal in the file named by SIGTERM_MARKER so a test can see it.
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    with open(os.environ["SIGTERM_MARKER"], "w", encoding="utf-8") as fh:
        fh.write("terminated")
    sys.exit(0)


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    if os.environ.get("REGISTER_EXTENSION") == "1":
        conn.request(
            "POST",
            "/2020-01-01/extension/register",
            body=b'{"events": []}',
            headers={"Lambda-Extension-Name": "sigterm-helper"},
        )
        reply = conn.getresponse()
        reply.read()
        print(f"extension registered: {reply.status}", flush=True)
    while True:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        reply = conn.getresponse()
        event = reply.read()
        request_id = reply.getheader("Lambda-Runtime-Aws-Request-Id")
        conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=event)
        conn.getresponse().read()


if __name__ == "__main__":
    main()
