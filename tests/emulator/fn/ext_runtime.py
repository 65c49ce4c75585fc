"""A standard-library runtime that can register a no-op internal extension.

Lambda sends SIGTERM at shutdown only when an extension is registered; this runtime
records the signal in the file named by SIGTERM_MARKER so a test can see it.

The Runtime API loop runs on a thread and the main thread waits for SIGTERM with
``sigwait``: a Python-level handler can miss a signal that lands just before a
blocking ``recv`` (it only runs between bytecodes), and Lambda never answers the
pending ``/next`` that would wake it.
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
import threading


def main() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # the thread inherits it
    threading.Thread(target=serve, daemon=True).start()
    signal.sigwait({signal.SIGTERM})
    with open(os.environ["SIGTERM_MARKER"], "w", encoding="utf-8") as fh:
        fh.write("terminated")
    sys.stdout.flush()
    os._exit(0)


def serve() -> None:
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
